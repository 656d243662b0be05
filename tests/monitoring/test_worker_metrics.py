"""A real Celery worker (prefork: its pool's child makes the EHR calls) serves what it called on
WORKER_METRICS_PORT, behind METRICS_TOKEN; the web's /metrics never saw those calls."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from smartapp.demo import processes
from smartapp.testing import assert_posted_once, launch_as_clinician, wait_for_state
from smartapp.testing._worker import shared_database_env, use_broker, worker
from tests.monitoring.scrapes import ehr_calls
from tests.testing.payments import desk_payment

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "worker-metrics-token"


@pytest.fixture
def metrics_env(millennium, _millennium_redis, settings):
    port, broker = processes.free_port(), f"{_millennium_redis}/0"
    env = {
        **shared_database_env(broker=broker, settings=settings),
        "PAYMENT_BEAT_SECONDS": "0.5",
        "PAYMENT_BACKOFF_BASE_SECONDS": "0.2",
        "WORKER_METRICS_PORT": str(port),
        "METRICS_TOKEN": TOKEN,
    }
    return port, broker, env


@pytest.fixture
def metrics_worker(metrics_env, settings):
    port, broker, env = metrics_env
    previous = str(settings.CELERY_BROKER_URL)
    use_broker(broker)
    try:
        with worker(broker, env=env):
            yield f"http://127.0.0.1:{port}"
    finally:
        use_broker(previous)


def test_a_workers_posting_calls_are_served_on_its_own_port(client, millennium, metrics_worker):
    visit = millennium.visits.registered()[0]
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)

    payment = desk_payment(client, launched, visit, "4.00")
    wait_for_state(payment, "posted", timeout=60)
    assert_posted_once(payment)

    bearer = {"Authorization": f"Bearer {TOKEN}"}
    scraped = requests.get(f"{metrics_worker}/metrics", headers=bearer, timeout=10)
    assert scraped.status_code == 200 and scraped.headers["Content-Type"].startswith("text/plain")
    calls = ehr_calls(scraped.text)
    # Cerner's FinancialTransaction is a Basic resource: posted once, after finding the Account.
    assert calls.get(("fhir", "Basic", "POST", "201")) == 1, calls
    assert calls.get(("fhir", "Account", "GET", "200"), 0) >= 1, calls
    assert "smartapp_payments{" not in scraped.text  # the web's (from the database), not here


def test_the_workers_port_wants_the_token_and_serves_only_metrics(metrics_worker):
    anonymous = requests.get(f"{metrics_worker}/metrics", timeout=10)
    wrong = requests.get(
        f"{metrics_worker}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    elsewhere = requests.get(
        f"{metrics_worker}/", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )

    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith(
        "Bearer"
    )
    assert wrong.status_code == 401 and "smartapp_" not in wrong.text
    assert elsewhere.status_code == 404


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"WORKER_METRICS_PORT": "9808"}, "set METRICS_TOKEN too"),
        ({"WORKER_METRICS_PORT": "99999", "METRICS_TOKEN": "t"}, "is not a port"),
        ({"WORKER_METRICS_PORT": "ninety", "METRICS_TOKEN": "t"}, "not a whole number"),
    ],
)
def test_a_worker_metrics_port_it_cannot_use_stops_the_process(extra, words):
    env = {"PATH": os.environ["PATH"], "DJANGO_DEBUG": "1", **extra}
    started = subprocess.run(
        [sys.executable, "-c", "import django, smartapp; django.setup()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode != 0 and words in started.stderr, started.stderr[-800:]


def test_a_worker_started_after_one_was_killed_serves_on_the_same_port(metrics_env, settings):
    """Scrapes leave the port's connections in TIME_WAIT (the server closes them); the worker
    restarted in a killed one's place still binds it."""
    port, broker, env = metrics_env
    url, bearer = f"http://127.0.0.1:{port}/metrics", {"Authorization": f"Bearer {TOKEN}"}
    previous = str(settings.CELERY_BROKER_URL)
    use_broker(broker)
    try:
        with worker(broker, env=env) as killed:
            assert all(requests.get(url, headers=bearer, timeout=10).ok for _ in range(5))
            killed.kill()
            killed.wait(timeout=10)
            with worker(broker, env=env) as restarted:
                scraped = requests.get(url, headers=bearer, timeout=10)
                log = Path(f"/proc/{restarted.pid}/fd/1").read_text()
    finally:
        use_broker(previous)
    assert scraped.status_code == 200, scraped.text  # nothing counted yet: an empty answer
    assert "worker metrics on port" in log and "not served" not in log
