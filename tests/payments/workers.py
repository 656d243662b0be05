"""Real Celery worker processes for the payment drills (own settings: short leases and timeouts)."""

import os
import subprocess
import tempfile
import time
from pathlib import Path

from smartapp.demo import processes

DRILL_ENV = {
    "PAYMENT_CLAIM_SECONDS": "8",
    "CELERY_TASK_TIME_LIMIT": "6",
    "CELERY_TASK_SOFT_TIME_LIMIT": "5",
    "HTTP_READ_TIMEOUT": "1",
    "HTTP_CONNECT_TIMEOUT": "1",
    "PAYMENT_UNKNOWN_SETTLE_SECONDS": "0.5",
    "PAYMENT_BACKOFF_BASE_SECONDS": "0.2",
    "PAYMENT_ENQUEUE_GRACE_SECONDS": "3",
    "PAYMENT_BEAT_SECONDS": "0.5",
    "SANDBOX_ENABLED": "1",
}


def start_worker(
    *, env: dict[str, str], name: str, beat: bool = False
) -> tuple[subprocess.Popen, Path]:
    folder = Path(tempfile.mkdtemp(prefix=f"smartapp-{name}-"))
    log = folder / "worker.log"
    command = processes.celery_worker_command(
        concurrency=2,
        hostname=name,
        beat_schedule=folder / "beat-schedule" if beat else None,
        standalone=True,
    )
    process = subprocess.Popen(
        command,
        env={**os.environ, **DRILL_ENV, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return process, log


def wait_ready(app, names: list[str], processes: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        answered = app.control.inspect(timeout=0.5).ping() or {}
        if all(any(key.startswith(f"{n}@") for key in answered) for n in names):
            return
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"a Celery worker died:\n{log.read_text()[-3000:]}")
    raise RuntimeError("the Celery workers did not start")


def wait_logged_ready(workers: list[tuple[subprocess.Popen, Path]], seconds: float = 60) -> None:
    """Waits until each worker's log says it is ready.

    Unlike `wait_ready`, no remote-control ping: the caller's Celery app need not know the broker.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(" ready." in log.read_text(errors="replace") for _, log in workers):
            return
        for process, log in workers:
            if process.poll() is not None:
                raise RuntimeError(f"a Celery worker died:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError("the Celery workers did not start")
