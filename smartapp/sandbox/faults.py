"""Injected faults for Account and `POST /Basic`: 5xx, 429 with Retry-After, slow answers and
timeouts after the write (the posting is committed, then the answer comes too late).

Rates come from the last `POST /sandbox/control/faults` (stored, so every server process sees
them), else from `SANDBOX_FAULTS` (setting or environment, `basic_5xx=0.2,basic_429=0.1`).
Each call draws once from a per-process `random.Random`.
"""

import json
import os
import random
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from smartapp.sandbox import error_bodies
from smartapp.sandbox.fhir.basic import REQUEST_ID
from smartapp.sandbox.fhir.registry import InsufficientScope, OutcomeError
from smartapp.sandbox.in_flight import InFlight
from smartapp.sandbox.models import FaultSettings
from smartapp.sandbox.views import fhir

# Checked in this order against one draw; the rates add up (capped at 1).
KINDS = {
    "basic": ("basic_429", "basic_5xx", "basic_timeout_after_write"),
    "account": ("account_429", "account_5xx", "account_timeout"),
}
NAMES = frozenset(name for names in KINDS.values() for name in names)
RETRY_AFTER_SECONDS = 2
_rng = random.Random(20240502)  # noqa: S311 - fault draws, not secrets
_lock = threading.Lock()


def parse_spec(spec: str) -> dict[str, float]:
    """`basic_5xx=0.2,basic_429=0.1` → rates (unknown names and bad numbers are ignored)."""
    rates: dict[str, float] = {}
    for part in spec.split(","):
        name, _, value = part.strip().partition("=")
        try:
            rate = float(value)
        except ValueError:
            continue
        if name in NAMES:
            rates[name] = min(1.0, max(0.0, rate))
    return rates


def current() -> tuple[dict[str, float], int | None]:
    row = FaultSettings.objects.first()
    if row is not None:
        return dict(row.rates), row.remaining
    spec = getattr(settings, "SANDBOX_FAULTS", None) or os.environ.get("SANDBOX_FAULTS", "")
    return parse_spec(spec), None


def configure(payload: dict[str, Any]) -> dict[str, Any]:
    """Replaces the rates (`{"basic_5xx": 0.2, …, "times": N}`); `{}` turns faults off."""
    unknown = sorted(set(payload) - NAMES - {"times"})
    if unknown:
        raise ValueError(f"unknown fault names: {', '.join(unknown)}")
    rates: dict[str, float] = {}
    for name in NAMES & set(payload):
        value = payload[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"{name} must be a number from 0 to 1")
        rates[name] = float(value)
    times = payload.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 0):
        raise ValueError("times must be a non-negative integer")
    with transaction.atomic():
        FaultSettings.objects.all().delete()
        FaultSettings.objects.create(rates=rates, remaining=times)
    return describe()


def describe() -> dict[str, Any]:
    rates, remaining = current()
    return {"rates": {name: rates.get(name, 0.0) for name in sorted(NAMES)}, "times": remaining}


def _consume() -> bool:
    """Counts one injected fault against `times`; False once none are left."""
    row = FaultSettings.objects.first()
    if row is None or row.remaining is None:
        return True
    return (
        FaultSettings.objects.filter(pk=row.pk, remaining__gt=0).update(
            remaining=F("remaining") - 1
        )
        == 1
    )


def draw(resource: str) -> str:
    """The fault to inject on this call (`basic_5xx`, …) or ''."""
    rates, remaining = current()
    if remaining == 0 or not any(rates.get(name) for name in KINDS[resource]):
        return ""
    with _lock:
        roll = _rng.random()
    bound = 0.0
    for name in KINDS[resource]:
        bound += rates.get(name, 0.0)
        if roll < bound:
            return name if _consume() else ""
    return ""


_slow = InFlight()  # requests of this process inside an injected slow answer


def _slow_answer() -> None:
    """Sleeps as a slow server would, counted so tests can wait until none is in flight."""
    with _slow.inside():
        time.sleep(sleep_seconds())


def slow_answers_in_flight() -> int:
    return _slow.now


def sleep_seconds() -> float:
    raw: Any = getattr(settings, "SANDBOX_TIMEOUT_SLEEP_SECONDS", None)
    if raw is None:
        raw = os.environ.get("SANDBOX_TIMEOUT_SLEEP_SECONDS", 25)
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        return 25.0


def _outcome(request: HttpRequest, status: int, code: str, text: str) -> HttpResponse:
    body = OutcomeError(status, code, text).outcome()
    response = HttpResponse(json.dumps(body), status=status, content_type=fhir.FHIR_JSON)
    return fhir._stamp(request, response)


def _injected(request: HttpRequest, fault: str) -> HttpResponse | None:
    if fault.endswith("_429"):
        response = _outcome(request, 429, "throttled", "Too many requests (injected)")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if fault.endswith("_5xx"):
        return _outcome(request, 503, "transient", "Service unavailable (injected)")
    return None


def _with_request_id(request: HttpRequest) -> None:
    """Gives the call an opc-request-id (echoed by the FHIR view) and hands it to the ledger."""
    request_id = request.META.get("HTTP_OPC_REQUEST_ID") or uuid.uuid4().hex
    request.META["HTTP_OPC_REQUEST_ID"] = request_id
    request.__dict__.pop("headers", None)  # `headers` is cached from META
    REQUEST_ID.set(request_id)


def _call(view, request: HttpRequest, **kwargs: Any) -> HttpResponse:
    try:
        return view(request, **kwargs)
    except InsufficientScope:
        return fhir._stamp(request, error_bodies.insufficient_scope())


@csrf_exempt
def basic(request: HttpRequest, host: str, tenant: str) -> HttpResponse:
    """`{FHIR}/Basic`: the FHIR view, with this call's fault."""
    _with_request_id(request)
    fault = draw("basic") if request.method == "POST" else ""
    injected = _injected(request, fault)
    if injected is not None:
        return injected
    response = _call(fhir.resource_type, request, host=host, tenant=tenant, resource_type="Basic")
    if fault == "basic_timeout_after_write" and response.status_code == 201:
        _slow_answer()  # the posting is committed; the client has given up
    return response


@csrf_exempt
def account(request: HttpRequest, host: str, tenant: str, fhir_id: str = "") -> HttpResponse:
    """`{FHIR}/Account` and `{FHIR}/Account/{id}`: the FHIR views, with this call's fault."""
    _with_request_id(request)
    fault = draw("account")
    injected = _injected(request, fault)
    if injected is not None:
        return injected
    if fault == "account_timeout":
        _slow_answer()
    if fhir_id:
        return _call(
            fhir.resource,
            request,
            host=host,
            tenant=tenant,
            resource_type="Account",
            fhir_id=fhir_id,
        )
    return _call(fhir.resource_type, request, host=host, tenant=tenant, resource_type="Account")
