"""What the app counts, in Prometheus's text format.

Counters of this process (requests, EHR calls, token refreshes) are prometheus_client metrics;
under gunicorn they are shared by its workers through PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py
sets it). Payment figures come from the database at scrape time (`PaymentCollector`), so a
worker that dies takes nothing with it and every web process tells the same story.
"""

import hmac
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from smartapp.monitoring.payment_figures import Buckets


REQUESTS = Counter(
    "smartapp_http_requests", "Requests answered, by view", ["view", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "smartapp_http_request_duration_seconds", "Time to answer a request, by view", ["view"]
)
EHR_CALLS = Counter(
    "smartapp_ehr_calls",
    "Calls to an EHR (FHIR, Messages API, authorization server), by resource and answer",
    ["api", "resource", "method", "status"],
)
EHR_CALL_SECONDS = Histogram(
    "smartapp_ehr_call_duration_seconds", "Time an EHR took to answer", ["api", "resource"]
)
TOKEN_REFRESHES = Counter(
    "smartapp_token_refreshes", "Access-token refreshes, by outcome (ok, failed)", ["outcome"]
)


def ehr_call_labels(url: str) -> tuple[str, str]:
    """("fhir", "Appointment") from a FHIR URL; ids, tenants, queries and hosts never become
    labels (they would make a series per patient)."""
    parts = [part for part in urlsplit(url).path.split("/") if part]
    if ".well-known" in parts:
        return "discovery", parts[-1]
    if "message" in parts or "messaging" in parts:
        named = [part for part in parts if part.isalpha() and part not in ("message", "messaging")]
        return "messages", named[0] if named else ""
    for step in ("token", "authorize", "revoke", "jwk", "introspect"):
        if step in parts:
            return "authorization", step
    types = [part for part in parts if part.isalpha() and part[0].isupper()]
    if types:  # FHIR resource types are capitalised; the last one is the one asked for
        return "fhir", types[-1]
    return ("fhir", "metadata") if parts and parts[-1] == "metadata" else ("other", "")


def count_ehr_call(method: str, url: str, status: str, seconds: float) -> None:
    api, resource = ehr_call_labels(url)
    EHR_CALLS.labels(api, resource, method.upper(), status).inc()
    EHR_CALL_SECONDS.labels(api, resource).observe(seconds)


class PaymentCollector(Collector):
    """Payments by state, capture→posted and Account waits, the oldest waiting: read now."""

    def collect(self) -> Iterator[Metric]:
        from smartapp.monitoring import payment_figures  # the models: not at import (lib.http)

        by_state = GaugeMetricFamily("smartapp_payments", "Payments by state", labels=["state"])
        for state, count in payment_figures.payments_by_state().items():
            by_state.add_metric([state], count)
        yield by_state
        attempts = CounterMetricFamily(
            "smartapp_payment_attempts",
            "Workers' look-ups and posts for payments, by kind and result (from the database)",
            labels=["kind", "result"],
        )
        for (kind, result), count in payment_figures.attempts_by_kind_and_result().items():
            attempts.add_metric([kind, result], count)
        yield attempts
        yield _histogram(
            "smartapp_payment_capture_to_posted_seconds",
            "Time from the card capture to the payment posted in Millennium",
            payment_figures.capture_to_posted(),
        )
        yield _histogram(
            "smartapp_payment_account_wait_seconds",
            "Time a payment waited for its visit's Account to appear",
            payment_figures.account_waits(),
        )
        oldest = GaugeMetricFamily(
            "smartapp_payment_oldest_waiting_seconds",
            "Age of the oldest payment captured and not yet posted (0: none)",
        )
        oldest.add_metric([], payment_figures.oldest_waiting_seconds(now=time.time()))
        yield oldest


def _histogram(name: str, documentation: str, figures: "Buckets") -> Metric:
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], buckets=figures.cumulative(), sum_value=figures.total)
    return family


def counters_registry() -> CollectorRegistry:
    """The counters: this process's, or (multiprocess mode) every process's sharing the folder."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in _own_collectors():
            registry.register(collector)
    return registry


def metrics_text() -> bytes:
    registry = counters_registry()
    registry.register(PaymentCollector())
    return generate_latest(registry)


SCRAPE_REFUSED = "A bearer token is required.\n"
SCRAPE_CHALLENGE = 'Bearer realm="metrics"'  # WWW-Authenticate with a refusal


def scrape_allowed(authorization: str, *, token: str) -> bool:
    """The scrape's `Authorization` header carries the token (compared in constant time)."""
    return hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode())


def _own_collectors() -> list[Collector]:
    return [REQUESTS, REQUEST_SECONDS, EHR_CALLS, EHR_CALL_SECONDS, TOKEN_REFRESHES]
