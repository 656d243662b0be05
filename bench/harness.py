"""Runs smartapp and the Millennium sandbox as real gunicorn servers for benchmarks.

Two servers on loopback, one database (a SQLite file, or PostgreSQL via `Stack.database_url`): the sandbox ("EHR", with injected latency) and the app
(which reaches the sandbox over HTTP, as it would reach Millennium). Nothing here is imported by
the app; benchmarks drive both with `requests` like a browser would.
"""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

import requests

from smartapp.demo.processes import free_port, wait_for_port

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The gunicorn worker processes (children of the master)."""
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.append(int(stat.parent.name))
        return children

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Database:
    """The stack's database from outside the app: sqlite3 or psycopg, autocommit, `?` parameters."""

    connection: "sqlite3.Connection | psycopg.Connection[Any]"

    def __init__(self, url: str) -> None:
        self.postgres = not url.startswith("sqlite")
        if self.postgres:
            import psycopg

            self.connection = psycopg.connect(url, autocommit=True)
        else:
            self.connection = sqlite3.connect(
                url.removeprefix("sqlite:///"), timeout=30, isolation_level=None
            )
            self.connection.execute("PRAGMA busy_timeout = 30000")

    def execute(self, sql: str, params: list | tuple | None = None):  # noqa: ANN201
        if self.postgres and params is not None:
            sql = sql.replace("%", "%%").replace("?", "%s")
        return (
            self.connection.execute(sql, params)
            if params is not None
            else (self.connection.execute(sql))
        )

    def close(self) -> None:
        self.connection.close()


@dataclass
class Stack:
    """A database, the sandbox server and the app server, seeded and registered.

    The database is a SQLite file in `workdir` unless `database_url` names another (PostgreSQL).
    """

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="smartapp-bench-")))
    sandbox: Server = field(init=False)  # both set by start()
    app: Server = field(init=False)
    tenants: dict = field(default_factory=dict)
    database_url: str = ""

    @property
    def db_path(self) -> Path:
        return self.workdir / "bench.sqlite3"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.db_path}"

    def db(self) -> Database:
        return Database(self.db_url)

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "SECRET_KEY": "bench-secret-key",
            "FIELD_ENCRYPTION_KEYS": "bSdF7c4dYb2V8mWqJb2zv8Qz3n2Yq7m8xR4a9s0d1fE=",
            "DATABASE_URL": self.db_url,
            "SANDBOX_ENABLED": "1",
            "LOG_LEVEL": "INFO",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            **extra,
        }

    def manage(self, *args: str, **env: str) -> None:
        subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env(**env),
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(
        self,
        *,
        latency_ms: int,
        day_appointments: int = 40,
        size: int = 8,
        app_workers: int = 2,
        app_worker_class: str = "gthread",
        sandbox_env: dict[str, str] | None = None,
    ) -> "Stack":
        sandbox_port, app_port = free_port(), free_port()
        self.manage("migrate", "--noinput")
        tenants_file = self.workdir / "tenants.json"
        self.manage(
            "sandbox_seed",
            "--base-url",
            f"http://127.0.0.1:{sandbox_port}",
            "--app-url",
            f"http://127.0.0.1:{app_port}",
            "--size",
            str(size),
            "--day-appointments",
            str(day_appointments),
            "--tenants-file",
            str(tenants_file),
        )
        self.manage("register_tenants", str(tenants_file))
        self.tenants = json.loads(tenants_file.read_text())["tenants"][0]
        self.sandbox = self._gunicorn(
            "sandbox",
            sandbox_port,
            workers=2,
            threads=16,
            env={"SANDBOX_LATENCY_MS": str(latency_ms), **(sandbox_env or {})},
        )
        self.app = self._gunicorn(
            "app", app_port, workers=app_workers, threads=8, worker_class=app_worker_class
        )
        return self

    def _gunicorn(
        self,
        name: str,
        port: int,
        *,
        workers: int,
        threads: int,
        worker_class: str = "gthread",
        env: dict[str, str] | None = None,
    ) -> Server:
        log_path = self.workdir / f"{name}.log"
        command = [
            PYTHON,
            "-m",
            "gunicorn",
            "smartapp.wsgi:application",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
            "--access-logfile",
            "/dev/null",  # the bench measures; it does not keep access logs
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            worker_class,
            "--threads",
            str(threads),
            "--timeout",
            "120",
        ]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env(**(env or {})),
            stdout=open(log_path, "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port("127.0.0.1", port, timeout=30)
        return Server(name, port, process, log_path)

    def stop(self) -> None:
        for name in ("app", "sandbox"):
            server = getattr(self, name, None)  # None when start() failed before it
            if server:
                server.stop()

    def audit_count(self) -> int:
        db = self.db()
        try:
            return db.execute("SELECT COUNT(*) FROM audit_auditevent").fetchone()[0]
        finally:
            db.close()

    def first(self, table: str, column: str = "fhir_id") -> str:
        db = self.db()
        try:
            return db.execute(
                f"SELECT {column} FROM sandbox_{table} WHERE tenant_id = ? ORDER BY {column} LIMIT 1",  # noqa: S608
                [self.tenants["ehr_tenant_id"]],
            ).fetchone()[0]
        finally:
            db.close()


# --- journeys over HTTP, as a browser would make them -------------------------------------------


def _found(pattern: str, text: str) -> str:
    """The pattern's first group in a page the stack must have served it in."""
    match = re.search(pattern, text)
    if match is None:
        raise LookupError(f"{pattern!r} is not in the page")
    return match[1]


def _csrf_post(
    browser: requests.Session, url: str, data: dict[str, str], *, action: str = ""
) -> requests.Response:
    """GETs the form page for its CSRF token, then POSTs to the form's action (default: itself)."""
    page = browser.get(url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    return browser.post(
        urljoin(page.url, action) if action else page.url,
        data={**data, "csrfmiddlewaretoken": token[1] if token else ""},
        allow_redirects=False,
        headers={"Referer": page.url},
    )


def ehr_launch_url(stack: Stack) -> str:
    """What the sandbox EHR page frames: the app's /launch?iss=…&launch=… for the first people."""
    ehr = requests.Session()
    posted = _csrf_post(
        ehr,
        f"{stack.sandbox.url}/sandbox/ehr/",
        {
            "client": next(
                c["client_id"] for c in stack.tenants["clients"] if c["persona"] == "provider"
            ),
            "practitioner": stack.first("practitioner"),
            "patient": stack.first("patient"),
            "need_patient_banner": "on",
        },
    )
    frame = ehr.get(urljoin(posted.url, posted.headers["Location"]))
    return unescape(_found(r'<iframe[^>]*src="([^"]+)"', frame.text))


def follow(browser: requests.Session, url: str) -> tuple[requests.Response, int]:
    """Follows redirects by hand; returns the final page and how many browser round trips it took."""
    trips = 0
    while True:
        response = browser.get(url, allow_redirects=False)
        trips += 1
        if response.status_code not in (301, 302, 303):
            return response, trips
        url = urljoin(response.url, response.headers["Location"])


def clinician_session(stack: Stack) -> tuple[requests.Session, str]:
    """A browser session after a clinician EHR launch, and the launch's page prefix /l/<id>/."""
    browser = requests.Session()
    page, _ = follow(browser, ehr_launch_url(stack))
    return browser, _found(r"(/l/[0-9a-f-]{36}/)", page.url)


def patient_session(stack: Stack) -> tuple[requests.Session, str]:
    browser = requests.Session()
    start = _csrf_post(
        browser, f"{stack.app.url}/", {"tenant": "sandbox", "persona": "patient"}, action="/signin"
    )
    login = browser.get(start.headers["Location"])
    txn = _found(r'name="txn" value="([^"]+)"', login.text)
    consent = _csrf_post(browser, login.url, {"txn": txn, "user": stack.first("patient")})
    consent_url = urljoin(login.url, consent.headers["Location"])
    decided = _csrf_post(browser, consent_url, {"txn": txn, "decision": "allow"})
    page, _ = follow(browser, urljoin(consent_url, decided.headers["Location"]))
    return browser, _found(r"(/l/[0-9a-f-]{36}/)", page.url)


def _client_credentials(stack: Stack, token_endpoint: str, scope: str) -> str:
    system = next(c for c in stack.tenants["clients"] if c["persona"] == "system")
    response = requests.post(
        token_endpoint,
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(system["client_id"], system["client_secret"]),
        timeout=30,
    )
    return response.json()["access_token"]


def system_token(stack: Stack, scope: str) -> str:
    """A system token for the provider FHIR host, from the token endpoint its discovery names."""
    config = requests.get(
        f"{stack.tenants['provider_fhir_base']}/.well-known/smart-configuration", timeout=30
    ).json()
    return _client_credentials(stack, config["token_endpoint"], scope)


OUTBOUND = re.compile(
    r"smartapp\.http (GET|POST|PATCH|PUT|DELETE) (\S+) -> (\d+) .*elapsed_ms=([\d.]+)"
)


class OutboundLog:
    """The app server's log of its outbound calls (smartapp.http lines), read incrementally."""

    def __init__(self, server: Server) -> None:
        self.path = server.log_path
        self.offset = self.path.stat().st_size

    def since_last(self) -> list[tuple[str, str, float]]:
        time.sleep(0.05)  # let the server flush its log line
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            text = log.read().decode(errors="replace")
            self.offset = log.tell()
        return [(m[1], m[2], float(m[4])) for m in OUTBOUND.finditer(text)]


def messages_token(stack: Stack) -> str:
    """A system token for the Messages API host (its own host-scoped token endpoint)."""
    return _client_credentials(
        stack, stack.tenants["messages_token_endpoint"], "oraclehealth:millennium:message"
    )
