"""/healthz, /readyz and /metrics: what a load balancer and Prometheus ask, and what they get."""

import json
import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from smartapp.lib.logs import JsonFormatter, LogContextFilter
from smartapp.monitoring.metrics import ehr_call_labels
from smartapp.payments.models import Attempt, Payment, State, Transition
from smartapp.tenants.models import Tenant

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-for-tests"


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_healthz_answers_without_asking_anything(client, django_assert_num_queries):
    from smartapp.tenants.selectors import frame_ancestors

    frame_ancestors()  # every response's CSP reads the tenants' origins at most every 30 s
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_is_ready_when_database_broker_and_cache_answer(client, settings, redis_server):
    settings.CELERY_BROKER_URL = f"{redis_server}/0"
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready"}


def test_probes_by_ip_address_answer_though_the_host_is_not_allowed(client, settings, redis_server):
    settings.CELERY_BROKER_URL = f"{redis_server}/0"
    assert client.get("/healthz", HTTP_HOST="10.0.0.5:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.5:8000").status_code == 200
    assert client.get("/metrics", HTTP_HOST="10.0.0.5:8000").status_code == 400  # not a probe
    assert client.get("/", HTTP_HOST="10.0.0.5:8000").status_code == 400


def test_readyz_names_the_broker_when_it_does_not_answer(client, settings):
    from smartapp.demo.processes import free_port

    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == {"broker": "ConnectionError"}
    assert "127.0.0.1" not in response.content.decode()  # no URL (it could hold a password)


def test_readyz_names_unapplied_migrations(client, settings, redis_server, monkeypatch):
    from smartapp.monitoring import readiness

    settings.CELERY_BROKER_URL = f"{redis_server}/0"
    monkeypatch.setattr(readiness, "_migrated", set())
    monkeypatch.setattr(
        readiness.MigrationExecutor, "migration_plan", lambda self, targets: [("app", False)]
    )
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["failing"] == {
        "migrations": "RuntimeError"
    }


def test_metrics_are_not_served_without_a_token_configured(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("header", ["", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_metrics_refuse_a_missing_or_wrong_token(client, metrics_on, header):
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "smartapp_" not in response.content.decode()


def test_requests_are_counted_by_view_name_never_by_path(client, metrics_on):
    before = scrape(client)
    key = (
        "smartapp_http_requests_total",
        (("method", "GET"), ("status", "200"), ("view", "monitoring:healthz")),
    )
    for _ in range(3):
        client.get("/healthz")
    client.get("/no/such/page/12724066")

    after = scrape(client)
    assert after[key] - before.get(key, 0) == 3
    labels = " ".join(str(labels) for _, labels in after)
    assert "12724066" not in labels and "/no/such" not in labels
    assert any(dict(labels).get("view") == "unmatched" for _, labels in after)


def _payment(tenant: Tenant, n: int, state: State, **fields) -> Payment:
    return Payment.objects.create(
        request_key=f"metrics-{n}",
        tenant=tenant,
        patient_id="12724066",
        encounter_id=f"9795347{n}",
        amount=Decimal("10.00"),
        amount_source="entered",
        state=state,
        **fields,
    )


def test_payment_figures_come_from_the_database(client, metrics_on):
    tenant = Tenant.objects.create(
        slug="m", name="M", ehr_tenant_id="m1", provider_fhir_base="https://x/r4/m1"
    )
    now = timezone.now()
    for n, seconds in enumerate((2, 40, 7200)):  # posted after 2 s, 40 s and 2 h (one refunded)
        state = State.REFUNDED if n == 2 else State.POSTED
        _payment(tenant, n, state, captured_at=now - timedelta(seconds=seconds), posted_at=now)
    waiting = _payment(tenant, 7, State.AWAITING_ACCOUNT, captured_at=now - timedelta(minutes=30))
    Transition.objects.create(
        payment=waiting, source=State.CAPTURED, target=State.AWAITING_ACCOUNT, actor="worker",
        at=now - timedelta(minutes=30),
    )  # fmt: skip
    Transition.objects.create(
        payment=waiting, source=State.AWAITING_ACCOUNT, target=State.POSTING, actor="worker",
        at=now - timedelta(minutes=10),
    )  # fmt: skip

    for result in ("posted", "posted", "unknown"):
        Attempt.objects.create(payment=waiting, kind=Attempt.Kind.POST, result=result)

    figures = scrape(client)

    assert (
        figures[("smartapp_payment_attempts_total", (("kind", "post"), ("result", "posted")))] == 2
    )
    assert figures[("smartapp_payments", (("state", "posted"),))] == 2
    assert figures[("smartapp_payments", (("state", "refunded"),))] == 1
    assert figures[("smartapp_payments", (("state", "awaiting_account"),))] == 1
    assert figures[("smartapp_payments", (("state", "failed"),))] == 0
    assert figures[("smartapp_payment_capture_to_posted_seconds_count", ())] == 3
    assert figures[("smartapp_payment_capture_to_posted_seconds_bucket", (("le", "5.0"),))] == 1
    assert figures[("smartapp_payment_capture_to_posted_seconds_bucket", (("le", "60.0"),))] == 2
    assert figures[("smartapp_payment_capture_to_posted_seconds_bucket", (("le", "+Inf"),))] == 3
    assert figures[("smartapp_payment_capture_to_posted_seconds_sum", ())] == pytest.approx(
        7242, abs=1
    )
    assert figures[("smartapp_payment_account_wait_seconds_count", ())] == 1
    assert figures[("smartapp_payment_account_wait_seconds_sum", ())] == pytest.approx(1200, abs=1)
    assert 1790 < figures[("smartapp_payment_oldest_waiting_seconds", ())] < 1900


def test_no_waiting_payment_means_an_oldest_wait_of_zero(client, metrics_on):
    assert scrape(client)[("smartapp_payment_oldest_waiting_seconds", ())] == 0


CERNER_CALLS = [
    ("https://fhir-ehr-code.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Appointment/4817", ("fhir", "Appointment")),
    ("https://fhir-ehr-code.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/Slot?_id=1,2", ("fhir", "Slot")),
    ("https://fhir-ehr-code.cerner.com/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/metadata", ("fhir", "metadata")),
    ("https://fhir-ehr-code.cerner.com/r4/ec2458f2/.well-known/smart-configuration", ("discovery", "smart-configuration")),
    ("https://authorization.cerner.com/tenants/ec2458f2/protocols/oauth2/profiles/smart-v1/token", ("authorization", "token")),
    ("https://x.example/message/v1/patientMessages/inboxItems?patientId=1", ("messages", "patientMessages")),
]  # fmt: skip


@pytest.mark.parametrize(("url", "labels"), CERNER_CALLS)
def test_ehr_calls_are_labelled_by_api_and_resource(url, labels):
    assert ehr_call_labels(url) == labels


@given(
    st.lists(
        st.text(st.characters(codec="ascii", exclude_characters="/?#"), min_size=1), max_size=6
    )
)
def test_an_ehr_call_label_never_holds_an_id(segments):
    api, resource = ehr_call_labels("https://ehr.example/" + "/".join(segments))
    assert api in ("fhir", "messages", "authorization", "discovery", "other")
    assert resource == "" or resource.isalpha() or resource in segments[-1:]
    assert not any(ch.isdigit() for ch in resource) or api == "discovery"


def test_json_log_lines_carry_the_requests_correlation_id(client, caplog):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    keep.addFilter(LogContextFilter())
    logging.getLogger("django.request").addHandler(keep)
    try:
        response = client.get("/no/such/page", HTTP_X_REQUEST_ID="proxy-request-1234")
    finally:
        logging.getLogger("django.request").removeHandler(keep)

    lines = [json.loads(JsonFormatter().format(record)) for record in records]
    assert response["X-Request-ID"] == "proxy-request-1234"
    assert lines and all(line["correlation_id"] == "proxy-request-1234" for line in lines)
    assert {"time", "level", "logger", "message"} <= set(lines[0])


def test_a_hostile_request_id_is_replaced_by_ours(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="x\r\nSet-Cookie: a=b")
    assert (
        response["X-Request-ID"] != "x\r\nSet-Cookie: a=b" and len(response["X-Request-ID"]) == 32
    )
