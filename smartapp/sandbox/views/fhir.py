"""FHIR hosts: discovery (no auth) and resource reads/searches through the handler registry."""

import json
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from smartapp.sandbox import discovery, errors, links
from smartapp.sandbox.fhir import access as fhir_access
from smartapp.sandbox.fhir import bundles
from smartapp.sandbox.fhir import params as fhir_params
from smartapp.sandbox.fhir.registry import FhirError, ResourceHandler, handler_for

FHIR_JSON = "application/fhir+json"
JSON_TYPES = ("application/fhir+json", "application/json", "*/*", "application/*", "")
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": (
        "ETag, Content-Location, Location, X-Request-Id, WWW-Authenticate, Date"
    ),
}


def _stamp(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    request_id = request.headers.get("opc-request-id") or uuid.uuid4().hex
    response["opc-request-id"] = request_id
    response["X-Request-Id"] = request_id
    for name, value in CORS.items():
        response[name] = value
    return response


def _fhir(request: HttpRequest, body: dict[str, Any], status: int = 200) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type=FHIR_JSON)
    return _stamp(request, response)


def _accepts_json(request: HttpRequest) -> bool:
    accepted = [part.split(";")[0].strip() for part in request.headers.get("Accept", "").split(",")]
    return any(kind in JSON_TYPES for kind in accepted)


@require_GET
def metadata(request: HttpRequest, host: str, tenant: str) -> HttpResponse:
    if not discovery.known_tenant(tenant):
        return _fhir(request, FhirError(404, "not-found", "Unknown tenant").outcome(), 404)
    base = links.base_url(request)
    return _fhir(request, discovery.capability_statement(base, host, tenant))


@require_GET
def smart_configuration(request: HttpRequest, host: str, tenant: str) -> HttpResponse:
    if not discovery.known_tenant(tenant):
        return _stamp(request, JsonResponse({"error": "unknown tenant"}, status=404))
    base = links.base_url(request)
    return _stamp(request, JsonResponse(discovery.smart_configuration(base, host, tenant)))


def _guard(request: HttpRequest, host: str, tenant: str, resource_type: str, interaction: str):
    """The handler and caller's access, or the error response Millennium would give first."""
    if not _accepts_json(request):
        return _stamp(request, HttpResponse(status=406, content_type=FHIR_JSON))
    handler = handler_for(resource_type)
    access = fhir_access.authenticate(request, host=host, tenant=tenant)
    if isinstance(access, HttpResponse):
        return _stamp(request, access)
    if handler is None:
        return _fhir(
            request, FhirError(404, "not-supported", "Unknown resource type").outcome(), 404
        )
    if not fhir_access.authorize(access, handler, interaction):
        return _stamp(request, errors.insufficient_scope())
    return handler, access


def _search(
    request: HttpRequest, handler: ResourceHandler, access, host: str, tenant: str
) -> HttpResponse:
    params = request.GET
    rows = handler.search(tenant=tenant, params=params, access=access)
    count = fhir_params.count(params, handler.default_count, handler.max_count)
    bundle = bundles.searchset(
        rows=rows,
        fhir_base=links.fhir_base(links.base_url(request), host, tenant),
        type_name=handler.type_name,
        params=params,
        count=count,
        include_total=handler.include_total,
    )
    return _fhir(request, bundle)


@csrf_exempt
@require_GET
def resource_type(request: HttpRequest, host: str, tenant: str, resource_type: str) -> HttpResponse:
    guarded = _guard(request, host, tenant, resource_type, "search")
    if isinstance(guarded, HttpResponse):
        return guarded
    handler, access = guarded
    try:
        return _search(request, handler, access, host, tenant)
    except FhirError as err:
        return _fhir(request, err.outcome(), err.status)


@csrf_exempt
@require_GET
def resource(
    request: HttpRequest, host: str, tenant: str, resource_type: str, fhir_id: str
) -> HttpResponse:
    guarded = _guard(request, host, tenant, resource_type, "read")
    if isinstance(guarded, HttpResponse):
        return guarded
    handler, access = guarded
    try:
        body = handler.read(tenant=tenant, fhir_id=fhir_id, access=access)
    except FhirError as err:
        return _fhir(request, err.outcome(), err.status)
    if body is None:
        return _fhir(request, FhirError(404, "not-found", "Resource not found").outcome(), 404)
    return _fhir(request, body)
