"""The pytest plugin (entry point `pytest11: smartapp`): the kit's fixtures and its marker.

Loaded before pytest-django configures Django, so nothing here imports a model at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from smartapp.testing.ledger import Ledger
from smartapp.testing.millennium import DEFAULT_SIZE, Millennium, Seeds
from smartapp.testing.system import SystemClient

if TYPE_CHECKING:
    import subprocess


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smartapp", "smartapp test kit (smartapp.testing)")
    group.addoption(
        "--millennium-size",
        type=int,
        default=None,
        help=f"size of the seeded Millennium sandbox: clinicians (patients are twice this); "
        f"default {DEFAULT_SIZE}; a test's @pytest.mark.millennium(size=N) wins",
    )
    parser.addini(
        "millennium_env",
        type="linelist",
        help="NAME=value lines set in the environment before Django loads its settings (ones "
        "already set win); {rootdir} stands for the suite's root folder",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """`millennium_env` from the ini file, before pytest-django imports the settings."""
    for line in early_config.getini("millennium_env"):
        name, _, value = str(line).partition("=")
        if name.strip():
            os.environ.setdefault(
                name.strip(), value.strip().replace("{rootdir}", str(early_config.rootpath))
            )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "millennium(size=N): seed the `millennium` fixture's sandbox at this size "
        "(clinicians; patients are twice this), once per session per size",
    )


def _size(request: pytest.FixtureRequest) -> int:
    marker = request.node.get_closest_marker("millennium")
    if marker is not None and "size" in marker.kwargs:
        return int(marker.kwargs["size"])
    option = request.config.getoption("--millennium-size")
    return int(option) if option else DEFAULT_SIZE


@pytest.fixture(scope="session")
def _millennium_seeds(
    django_db_setup: Any, live_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeds]:
    seeds = Seeds(live_server.url, Path(tmp_path_factory.mktemp("millennium")))
    yield seeds
    seeds.close()


@pytest.fixture
def millennium(
    request: pytest.FixtureRequest,
    _millennium_seeds: Seeds,
    transactional_db: None,
    live_server: Any,
    settings: Any,
) -> Iterator[Millennium]:
    """The Millennium sandbox, seeded once a session (per size), served over real HTTP by the
    live server and registered as the app's tenant; copied back before each test, so every test
    starts from the same data with every knob off. Implies `transactional_db`."""
    from django.core.cache import cache

    cache.clear()  # discovery and JWKS, cached per process
    sandbox = Millennium(
        url=live_server.url, snapshot=_millennium_seeds.ready(_size(request)), settings=settings
    )
    yield sandbox
    sandbox.settle()
    cache.clear()


@pytest.fixture
def millennium_ledger(millennium: Millennium) -> Ledger:
    """What Millennium received during this test: `.transactions`, `.appointments`,
    `.messages` (read live)."""
    return millennium.ledger()


@pytest.fixture
def system_client(millennium: Millennium) -> SystemClient:
    """Someone else at the hospital acting at Millennium meanwhile (the front desk booking a
    slot, another system), with the tenant's system account."""
    return SystemClient(millennium.tenant)


@pytest.fixture(scope="session")
def _millennium_redis() -> Iterator[str]:
    from smartapp.testing import _worker

    with _worker.redis() as url:
        yield url


@pytest.fixture
def millennium_worker(
    millennium: Millennium, _millennium_redis: str, settings: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process (with beat) on a real Redis, sharing the test database:
    payments post as in production (`wait_for_state` without `run_inline`)."""
    from smartapp.celery import app
    from smartapp.testing import _worker

    previous = str(app.conf.broker_url or "")
    broker = f"{_millennium_redis}/0"
    _worker.use_broker(broker)
    env = {
        **_worker.shared_database_env(broker=broker, settings=settings),
        "PAYMENT_BEAT_SECONDS": "0.5",
        "PAYMENT_BACKOFF_BASE_SECONDS": "0.2",
        "PAYMENT_UNKNOWN_SETTLE_SECONDS": "0",
    }
    try:
        with _worker.worker(broker, env=env) as process:
            yield process
    finally:
        if previous:
            _worker.use_broker(previous)
