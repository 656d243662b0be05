"""Messages API endpoints under `api/{tenant}/message/20241001/`.

Tokens come from the host-scoped token endpoint with host `api` (client_credentials, scope
`oraclehealth:millennium:message`); a token for any other host fails as `unknown_kid`.
"""

import json
import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from smartapp.sandbox import error_bodies, knobs, latency, links
from smartapp.sandbox.fhir import access as fhir_access
from smartapp.sandbox.messages import store
from smartapp.sandbox.messages.store import ApiError

API_HOST = "api"
SCOPE = "oraclehealth:millennium:message"
VERSION = "20241001"


def messages_api_base(base: str, tenant: str) -> str:
    return f"{base}/sandbox/api/{tenant}"


def _stamp(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    response["opc-request-id"] = request.headers.get("opc-request-id") or uuid.uuid4().hex
    return response


def _error(request: HttpRequest, err: ApiError) -> HttpResponse:
    body = {"code": err.code, "message": err.message}
    return _stamp(request, JsonResponse(body, status=err.status))


def _api(handler: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Token for host `api` with the message scope, then the handler; errors as Oracle JSON."""

    def view(request: HttpRequest, tenant: str, **kwargs: Any) -> HttpResponse:
        knob = knobs.current()
        latency.pause(knob.latency_ms if knob else None)
        retry_after = knobs.throttle_now(knob)
        if retry_after is not None:
            response = _error(request, ApiError(429, "TOO_MANY_REQUESTS", "Too many requests"))
            response["Retry-After"] = str(retry_after)
            return response
        access = fhir_access.authenticate(request, host=API_HOST, tenant=tenant, knob=knob)
        if isinstance(access, HttpResponse):
            return _stamp(request, access)
        if SCOPE not in access.scopes:
            return _stamp(request, error_bodies.insufficient_scope())
        try:
            return _stamp(request, handler(request, tenant, **kwargs))
        except ApiError as err:
            return _error(request, err)

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


def _body(request: HttpRequest) -> Any:
    if request.content_type != "application/json":
        raise store.invalid("Content-Type must be application/json")
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise store.invalid("The request body is not valid JSON") from None


def _page(request: HttpRequest, tenant: str, folder: str) -> HttpResponse:
    rows, more = store.listing(tenant, folder, dict(request.GET.lists()))
    return JsonResponse({"items": [store.summary(row) for row in rows], "hasMore": more})


def _inbox(request: HttpRequest, tenant: str) -> HttpResponse:
    return _page(request, tenant, "INBOX")


def _sent(request: HttpRequest, tenant: str) -> HttpResponse:
    if request.method == "GET":
        return _page(request, tenant, "SENT")
    row = store.create(tenant, _body(request))
    response = JsonResponse(store.detail(row), status=201)
    base = messages_api_base(links.base_url(request), tenant)
    response["Location"] = f"{base}/message/{VERSION}/patientMessages/{row.message_id}"
    return response


def _message(request: HttpRequest, tenant: str, message_id: str) -> HttpResponse:
    patient = store.patient_id(request.GET.get("patientId"))
    return JsonResponse(store.detail(store.one(tenant, message_id, patient)))


def _update_status(request: HttpRequest, tenant: str) -> HttpResponse:
    store.update_status(tenant, _body(request))
    return HttpResponse(status=204)


inbox_items = require_GET(_api(_inbox))
sent_items = csrf_exempt(require_http_methods(["GET", "POST"])(_api(_sent)))
patient_message = require_GET(_api(_message))
update_patient_message_status = csrf_exempt(require_POST(_api(_update_status)))
