"""/healthz, /readyz and /metrics: cheap, unauthenticated (but /metrics), no patient data."""

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from smartapp.monitoring.metrics import (
    SCRAPE_CHALLENGE,
    SCRAPE_REFUSED,
    metrics_text,
    scrape_allowed,
)
from smartapp.monitoring.readiness import readiness_failures

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers (a load balancer's liveness probe: nothing else is asked)."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> HttpResponse:
    """Database, broker and cache answer and migrations are applied; 503 names what does not."""
    failures = readiness_failures()
    if failures:
        return JsonResponse({"status": "not ready", "failing": failures}, status=503)
    return JsonResponse({"status": "ready"})


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("metrics are off: set METRICS_TOKEN")
    if not scrape_allowed(request.headers.get("Authorization", ""), token=token):
        response = HttpResponse(SCRAPE_REFUSED, status=401, content_type="text/plain")
        response["WWW-Authenticate"] = SCRAPE_CHALLENGE
        return response
    return HttpResponse(metrics_text(), content_type=PROMETHEUS_TEXT)
