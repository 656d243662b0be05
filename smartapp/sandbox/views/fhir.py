"""FHIR hosts: discovery (no auth) and reads, searches, creates and patches via the handler registry."""

import json
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from smartapp.sandbox import discovery, error_bodies, knobs, latency, links
from smartapp.sandbox.fhir import access as fhir_access
from smartapp.sandbox.fhir import bundles
from smartapp.sandbox.fhir import params as fhir_params
from smartapp.sandbox.fhir.registry import (
    InsufficientScope,
    OutcomeError,
    ResourceHandler,
    handler_for,
)

FHIR_JSON = "application/fhir+json"
WRITES = {"create", "patch"}
JSON_TYPES = ("application/fhir+json", "application/json", "*/*", "application/*", "")
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "DELETE, GET, POST, PUT, PATCH, OPTIONS, HEAD",
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
        return _fhir(request, OutcomeError(404, "not-found", "Unknown tenant").outcome(), 404)
    base = links.base_url(request)
    return _fhir(request, discovery.capability_statement(base, host, tenant))


@require_GET
def smart_configuration(request: HttpRequest, host: str, tenant: str) -> HttpResponse:
    if not discovery.known_tenant(tenant):
        return _stamp(request, JsonResponse({"error": "unknown tenant"}, status=404))
    base = links.base_url(request)
    return _stamp(request, JsonResponse(discovery.smart_configuration(base, host, tenant)))


def throttled(request: HttpRequest, retry_after: int) -> HttpResponse:
    """The `throttle` knob's answer: 429 with Retry-After and an OperationOutcome, like the
    injected `basic_429` (Millennium's own 429 body is not documented)."""
    body = OutcomeError(429, "throttled", "Too many requests").outcome()
    response = _fhir(request, body, 429)
    response["Retry-After"] = str(retry_after)
    return response


def _raw_type(request: HttpRequest, handler: ResourceHandler | None) -> str:
    """The raw (non-FHIR) type a read asks for, when the resource offers one (Binary)."""
    if handler is None or _accepts_json(request):
        return ""
    accepted = [part.split(";")[0].strip() for part in request.headers.get("Accept", "").split(",")]
    return next((kind for kind in accepted if kind in handler.raw_types), "")


def _guard(request: HttpRequest, host: str, tenant: str, resource_type: str, interaction: str):
    """The handler and caller's access, or the error response Millennium would give first."""
    knob = knobs.current()
    latency.pause(knob.latency_ms if knob else None)
    retry_after = knobs.throttle_now(knob)
    if retry_after is not None:
        return throttled(request, retry_after)
    handler = handler_for(resource_type)
    raw = interaction == "read" and _raw_type(request, handler)
    if not _accepts_json(request) and not raw:
        return _stamp(request, HttpResponse(status=406, content_type=FHIR_JSON))
    access = fhir_access.authenticate(request, host=host, tenant=tenant, knob=knob)
    if isinstance(access, HttpResponse):
        return _stamp(request, access)
    if handler is None:
        return _fhir(
            request, OutcomeError(404, "not-supported", "Unknown resource type").outcome(), 404
        )
    if not fhir_access.authorize(access, handler, interaction):
        return _stamp(request, error_bodies.insufficient_scope())
    if interaction in WRITES and access.persona not in handler.write_personas:
        return _stamp(request, error_bodies.insufficient_scope())
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
        includes=lambda page: handler.includes(
            tenant=tenant, params=params, rows=page, access=access
        ),
    )
    return _fhir(request, bundle)


def _json_body(request: HttpRequest, content_types: tuple[str, ...]) -> Any:
    if request.content_type not in content_types:
        raise OutcomeError(415, "not-supported", f"Content-Type must be {content_types[0]}")
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise OutcomeError(400, "invalid", "The request body is not valid JSON") from None


def _written(request: HttpRequest, status: int, version: int) -> HttpResponse:
    """Millennium's answer to a write: no body, the new version as a weak ETag."""
    response = HttpResponse(status=status)
    response["Etag"] = f'W/"{version}"'
    response["Last-Modified"] = http_date()
    response["Cache-Control"] = "no-cache"
    response["Vary"] = "Origin"
    return _stamp(request, response)


def _create(request: HttpRequest, handler: ResourceHandler, access, host: str, tenant: str):
    body = _json_body(request, ("application/fhir+json", "application/json"))
    fhir_id, version = handler.create(tenant=tenant, body=body, access=access)
    response = _written(request, 201, version)
    fhir_base = links.fhir_base(links.base_url(request), host, tenant)
    response["Location"] = f"{fhir_base}/{handler.type_name}/{fhir_id}"
    return response


def _patch(request: HttpRequest, handler: ResourceHandler, access, tenant: str, fhir_id: str):
    operations = _json_body(request, ("application/json-patch+json",))
    if_match = request.headers.get("If-Match", "").strip()
    version = if_match.removeprefix("W/").strip('"')
    new_version = handler.patch(
        tenant=tenant, fhir_id=fhir_id, operations=operations, version=version, access=access
    )
    return _written(request, 200, new_version)


def _is_patch(request: HttpRequest) -> bool:
    """PATCH, or POST with Millennium's method override (`_method=patch` or the header)."""
    if request.method == "PATCH":
        return True
    override = request.headers.get("X-HTTP-Method-Override") or request.GET.get("_method", "")
    return request.method == "POST" and override.lower() == "patch"


@csrf_exempt
@require_http_methods(["GET", "POST"])
def resource_type(request: HttpRequest, host: str, tenant: str, resource_type: str) -> HttpResponse:
    interaction = "create" if request.method == "POST" else "search"
    guarded = _guard(request, host, tenant, resource_type, interaction)
    if isinstance(guarded, HttpResponse):
        return guarded
    handler, access = guarded
    try:
        if interaction == "create":
            return _create(request, handler, access, host, tenant)
        return _search(request, handler, access, host, tenant)
    except OutcomeError as err:
        return _fhir(request, err.outcome(), err.status)
    except InsufficientScope:
        return _stamp(request, error_bodies.insufficient_scope())


def _raw(request: HttpRequest, handler: ResourceHandler, access, tenant: str, fhir_id: str):
    found = handler.raw(tenant=tenant, fhir_id=fhir_id, access=access)
    if found is None:
        return _fhir(request, OutcomeError(404, "not-found", "Resource not found").outcome(), 404)
    content, content_type = found
    return _stamp(request, HttpResponse(content, content_type=f"{content_type}; charset=utf-8"))


@csrf_exempt
@require_http_methods(["GET", "PATCH", "POST"])
def resource(
    request: HttpRequest, host: str, tenant: str, resource_type: str, fhir_id: str
) -> HttpResponse:
    if request.method == "POST" and not _is_patch(request):
        return _fhir(request, OutcomeError(405, "not-supported", "Use PATCH").outcome(), 405)
    interaction = "patch" if _is_patch(request) else "read"
    guarded = _guard(request, host, tenant, resource_type, interaction)
    if isinstance(guarded, HttpResponse):
        return guarded
    handler, access = guarded
    try:
        if interaction == "patch":
            return _patch(request, handler, access, tenant, fhir_id)
        if _raw_type(request, handler):
            return _raw(request, handler, access, tenant, fhir_id)
        body = handler.read(tenant=tenant, fhir_id=fhir_id, access=access)
    except OutcomeError as err:
        return _fhir(request, err.outcome(), err.status)
    except InsufficientScope:
        return _stamp(request, error_bodies.insufficient_scope())
    if body is None:
        return _fhir(request, OutcomeError(404, "not-found", "Resource not found").outcome(), 404)
    response = _fhir(request, body)
    version = body.get("meta", {}).get("versionId")
    if version is not None:
        response["Etag"] = f'W/"{version}"'
    return response
