"""`manage.py demo`: the whole stack on one machine, no Docker, nothing pre-installed.

Migrates, seeds the Millennium sandbox, registers it as a tenant, then runs an embedded Redis,
a Celery worker, Celery beat and gunicorn until interrupted.
"""

import secrets
import signal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from redis import Redis

from smartapp.demo import processes


class DemoStopped(Exception):
    """SIGTERM (a service manager, `kill`, a test) or SIGINT (Ctrl-C) stops the demo."""


def _stop_on_signal(signum: int, frame: Any) -> None:
    raise DemoStopped


class Command(BaseCommand):
    help = "Run the demo: web, Celery worker and beat, embedded Redis, and the Millennium sandbox."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--redis-port", type=int, default=6380)
        parser.add_argument("--data-dir", default=".demo")
        parser.add_argument("--sandbox-size", type=int, default=20)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SANDBOX_ENABLED:
            raise CommandError(
                "The demo needs SANDBOX_ENABLED=1 (the README's demo command sets it)."
            )
        host, port = options["host"], options["port"]
        if not processes.port_is_free(host, port):
            raise CommandError(f"Port {port} is busy: stop what runs there or pass --port.")
        data_dir = Path(options["data_dir"]).resolve()
        (data_dir / "logs").mkdir(parents=True, exist_ok=True)
        base_url = f"http://{host}:{port}"

        group = processes.ProcessGroup(log_dir=data_dir / "logs")
        # SIGINT too: a demo started in the background by a script (`.ci/demo &`) inherits SIGINT
        # ignored, and Python then never raises KeyboardInterrupt for it.
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, _stop_on_signal)
        try:
            self._start_redis(group, port=options["redis_port"], data_dir=data_dir)
            self._prepare(base_url=base_url, data_dir=data_dir, size=options["sandbox_size"])
            self._start_services(group, options=options, data_dir=data_dir)
            self._announce(base_url=base_url, data_dir=data_dir)
            stopped = group.wait_any()
            self.stderr.write(f"{stopped} stopped; see {data_dir / 'logs' / (stopped + '.log')}")
        except DemoStopped:
            self.stdout.write("\nStopping…")
        finally:
            group.stop()

    def _prepare(self, *, base_url: str, data_dir: Path, size: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        tenants_file = data_dir / "tenants.json"
        call_command(
            "sandbox_seed",
            base_url=base_url,
            app_url=base_url,
            size=size,
            tenants_file=str(tenants_file),
        )
        call_command("register_tenants", str(tenants_file))
        self.staff_password = _ensure_staff_user(data_dir)

    def _start_redis(self, group: processes.ProcessGroup, *, port: int, data_dir: Path) -> None:
        if processes.port_is_free("127.0.0.1", port):
            group.start("redis", processes.redis_command(port=port, data_dir=data_dir))
            processes.wait_for_port("127.0.0.1", port)
        Redis.from_url(settings.CELERY_BROKER_URL).ping()

    def _start_services(
        self, group: processes.ProcessGroup, *, options: dict, data_dir: Path
    ) -> None:
        group.start("worker", processes.celery_worker_command())
        group.start("beat", processes.celery_beat_command(schedule_file=data_dir / "beat-schedule"))
        group.start("web", processes.gunicorn_command(host=options["host"], port=options["port"]))
        processes.wait_for_port(options["host"], options["port"], timeout=30)

    def _announce(self, *, base_url: str, data_dir: Path) -> None:
        lines = [
            "",
            "smartapp demo is running. Open:",
            f"  {base_url}/                 patient or clinician sign-in (standalone)",
            f"  {base_url}/sandbox/ehr/     the sandbox EHR: launch the app as a clinician",
            f"  {base_url}/admin/           staff admin (user 'admin', password {self.staff_password})",
            f"Logs: {data_dir / 'logs'}    Stop: Ctrl-C",
            "",
        ]
        self.stdout.write("\n".join(lines))


def _ensure_staff_user(data_dir: Path) -> str:
    """A staff login for the demo's admin pages; the password is kept in the data dir."""
    password_file = data_dir / "admin-password"
    if not password_file.exists():
        password_file.write_text(secrets.token_urlsafe(12))
        password_file.chmod(0o600)
    password = password_file.read_text().strip()
    user, _ = get_user_model().objects.get_or_create(username="admin")
    user.is_staff = user.is_superuser = True
    user.set_password(password)
    user.save()
    return password
