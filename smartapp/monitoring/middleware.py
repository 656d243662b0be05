import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from smartapp.lib.logs import log_context_start
from smartapp.monitoring import views
from smartapp.monitoring.metrics import REQUEST_SECONDS, REQUESTS

PROBES: dict[str, tuple[str, Callable[[HttpRequest], HttpResponse]]] = {
    "/healthz": ("monitoring:healthz", views.healthz),
    "/readyz": ("monitoring:readyz", views.readyz),
}
# A proxy's request id is kept when it is a plain token; anything else gets our own.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestMetricsMiddleware:
    """Counts and times each answer by view name (never by path: paths carry ids), and starts
    the request's log context with its correlation id (the proxy's X-Request-ID, else ours)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        correlation_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        log_context_start(correlation_id=correlation_id)
        started = time.perf_counter()
        response = self.get_response(request)
        view = _view_name(request)
        REQUESTS.labels(view, request.method or "", str(response.status_code)).inc()
        REQUEST_SECONDS.labels(view).observe(time.perf_counter() - started)
        response["X-Request-ID"] = correlation_id
        return response


def _view_name(request: HttpRequest) -> str:
    """The URL pattern's name; a probe answered before URL resolution, static files and paths
    that match nothing get a fixed name each."""
    match = getattr(request, "resolver_match", None)
    if match and match.view_name:
        return str(match.view_name)
    if request.path in PROBES:
        return PROBES[request.path][0]
    return "static" if request.path.startswith(settings.STATIC_URL or "/static/") else "unmatched"


class HealthProbeMiddleware:
    """/healthz and /readyz answer before Django checks the Host header: a load balancer or
    Docker's HEALTHCHECK asks by IP address, which ALLOWED_HOSTS rightly does not list."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path)
        if probe is not None and request.method == "GET":
            return probe[1](request)
        return self.get_response(request)
