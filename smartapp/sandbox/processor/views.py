"""The card processor's HTTP side: a JSON API for merchants and the hosted checkout page."""

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from smartapp.sandbox.processor import service
from smartapp.sandbox.processor.forms import CardForm
from smartapp.sandbox.processor.models import Charge, CheckoutSession, Merchant

NO_STORE = {"Cache-Control": "no-store"}


def _json(body: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(body, status=status)
    for name, value in NO_STORE.items():
        response[name] = value
    return response


def _error(err: service.ApiError) -> JsonResponse:
    return _json(err.body(), err.status)


def _merchant(request: HttpRequest) -> Merchant:
    kind, _, key = request.headers.get("Authorization", "").partition(" ")
    merchant = service.merchant_for(key.strip()) if kind.lower() == "bearer" else None
    if merchant is None:
        raise service.ApiError(401, "invalid_api_key", "Missing or unknown API key")
    return merchant


def _payload(request: HttpRequest) -> Any:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise service.ApiError(400, "invalid_request", "The body is not JSON") from None


def _merchant_api(
    view: Callable[..., JsonResponse],
) -> Callable[..., JsonResponse]:
    """The merchant API's frame: bearer API key first, then the view; errors as the API's JSON."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, _merchant(request), *args, **kwargs)
        except service.ApiError as err:
            return _error(err)

    return wrapped


@require_http_methods(["GET", "POST"])
@_merchant_api
def sessions(request: HttpRequest, merchant: Merchant) -> JsonResponse:
    """POST: create (idempotent by reference); GET ?reference=: look one up."""
    if request.method == "POST":
        session, created = service.create_session(merchant, _payload(request))
        return _json(service.session_json(session), 201 if created else 200)
    reference = request.GET.get("reference", "")
    found = CheckoutSession.objects.filter(merchant=merchant, reference=reference).first()
    if found is None:
        raise service.ApiError(404, "not_found", "No session with that reference")
    return _json(service.session_json(found))


@require_GET
@_merchant_api
def session_detail(request: HttpRequest, merchant: Merchant, session_id: str) -> JsonResponse:
    session = CheckoutSession.objects.filter(merchant=merchant, session_id=session_id).first()
    if session is None:
        raise service.ApiError(404, "not_found", "No such session")
    return _json(service.session_json(session))


@require_GET
@_merchant_api
def charge_detail(request: HttpRequest, merchant: Merchant, charge_id: str) -> JsonResponse:
    charge = Charge.objects.filter(charge_id=charge_id, session__merchant=merchant).first()
    if charge is None:
        raise service.ApiError(404, "not_found", "No such charge")
    return _json(service.charge_json(charge))


@require_GET
@_merchant_api
def charges(request: HttpRequest, merchant: Merchant) -> JsonResponse:
    """The merchant's charges created in [created_gte, created_lt) (Unix seconds), oldest first."""
    from datetime import UTC, datetime

    try:
        start, end = (
            datetime.fromtimestamp(int(request.GET[key]), tz=UTC)
            for key in ("created_gte", "created_lt")
        )
    except (KeyError, ValueError, OverflowError, OSError):
        raise service.ApiError(
            400, "invalid_request", "created_gte and created_lt are required"
        ) from None
    found = Charge.objects.filter(
        session__merchant=merchant, created_at__gte=start, created_at__lt=end
    ).select_related("session")
    return _json(
        {"object": "list", "data": [service.charge_json(c) for c in found.order_by("created_at")]}
    )


@require_POST
@_merchant_api
def refund(request: HttpRequest, merchant: Merchant, charge_id: str) -> JsonResponse:
    key = request.headers.get("Idempotency-Key", "")[:200]
    made, created = service.refund(merchant, charge_id, _payload(request), key)
    return _json(service.refund_json(made), 201 if created else 200)


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    """The hosted page: the patient types a card here, never on smartapp."""
    session = get_object_or_404(
        CheckoutSession.objects.select_related("merchant"), session_id=session_id
    )
    if request.method == "POST" and "cancel" in request.POST:
        return HttpResponseRedirect(service.cancel_url(session), status=303)
    form = CardForm(request.POST or None)
    if request.method == "POST" and session.status in service.PAYABLE and form.is_valid():
        service.pay(session.session_id, form.card())
        return HttpResponseRedirect(service.return_url(session), status=303)
    context = {
        "session": session,
        "form": form,
        "paid": session.status == "captured",
        "return_link": service.return_url(session),
    }
    response = render(
        request, "sandbox/processor_checkout.html", context, status=400 if form.errors else 200
    )
    response["Cache-Control"] = "no-store"
    return response
