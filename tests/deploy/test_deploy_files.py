"""The Dockerfile, docker-compose.yml, .dockerignore and requirements.lock follow the deployment
rules (README, "Running it for real"). Docker cannot run here, so the files are parsed, and what
they would run is run as plain processes: the build's Django commands with the build's settings
and no database or Redis, the healthcheck against a stand-in server, the web and Celery
commands loading the app with the compose file's environment. The cluster drill (tests/cluster)
runs the compose commands for real."""

import functools
import http.server
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# Nothing listens on port 9 (discard): a build command that tried a database or Redis would fail.
NO_DATABASE = "postgres://nobody@127.0.0.1:9/none"
NO_REDIS = "redis://127.0.0.1:9/0"
SECRETS = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "METRICS_TOKEN", "POSTGRES_PASSWORD")
APP_SERVICES = ("migrate", "web", "worker", "beat")


# --- the Dockerfile ---------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [rest for word, rest in self.instructions if word == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for rest in self.all("ENV"):
            for item in shlex.split(rest):
                name, _, value = item.partition("=")
                values[name] = value
        return values

    def commands(self) -> list[list[str]]:
        """Each RUN's commands (split on &&), as argument lists."""
        return [
            shlex.split(part)
            for rest in self.all("RUN")
            for part in rest.split("&&")
            if part.strip()
        ]


def dockerfile_stages() -> list[Stage]:
    """Instructions per stage: continuation lines joined, comments and blank lines dropped."""
    stages: list[Stage] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        keyword, _, rest = (pending + text).partition(" ")
        pending = ""
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else ""
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


def stage_named(name: str) -> Stage:
    return next(stage for stage in dockerfile_stages() if stage.name == name)


def build_stage() -> Stage:
    """The stage the final one copies the virtualenv from."""
    runtime = dockerfile_stages()[-1]
    copies = [rest.split() for rest in runtime.all("COPY") if rest.startswith("--from=")]
    venv = next(words for words in copies if "/opt/venv" in words)
    return stage_named(venv[0].removeprefix("--from="))


def manage_commands(stage: Stage) -> list[list[str]]:
    return [command for command in stage.commands() if command[1:2] == ["manage.py"]]


def healthcheck_argv() -> list[str]:
    (rest,) = dockerfile_stages()[-1].all("HEALTHCHECK")
    argv = json.loads(rest.split(" CMD ", 1)[1])
    assert isinstance(argv, list)
    return [str(word) for word in argv]


def test_the_image_is_built_in_one_stage_and_run_from_another():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    build, runtime = build_stage(), stages[-1]
    assert build.name != runtime.name
    # The same Python in both, so the copied virtualenv's interpreter links hold.
    assert build.base == runtime.base
    assert any(rest.startswith(f"--from={build.name} /opt/venv") for rest in runtime.all("COPY")), (
        "the runtime stage copies the build stage's virtualenv"
    )
    assert "/opt/venv/bin" in runtime.env()["PATH"].split(":")[0]


def test_dependencies_are_installed_at_build_from_the_lock_with_hashes():
    build = build_stage()
    lock_copied_to = next(
        rest.split()[1] for rest in build.all("COPY") if rest.split()[0] == "requirements.lock"
    )
    installs = [command for command in build.commands() if command[:2] == ["pip", "install"]]
    assert installs, "the build stage runs pip install"
    for command in installs:
        assert "--require-hashes" in command
        assert command[command.index("-r") + 1] == lock_copied_to
    for stage in dockerfile_stages():
        if stage.name != build.name:
            assert not any("pip" in command for command in stage.commands()), stage.name


def test_static_files_and_translations_are_made_at_build():
    commands = [command[2] for command in manage_commands(build_stage())]
    assert "collectstatic" in commands
    assert "compile_translations" in commands
    assert not any(command[0] == "migrate" for command in manage_commands(build_stage())), (
        "no database at build"
    )


def test_build_time_secrets_stay_in_the_build_stage():
    build, runtime = build_stage(), dockerfile_stages()[-1]
    env = build.env()
    assert env["DJANGO_DEBUG"] == "0"
    assert env["SECRET_KEY"]
    Fernet(
        env["FIELD_ENCRYPTION_KEYS"].encode()
    )  # a well-formed key, so settings load as in production
    assert base64_zero_key() == env["FIELD_ENCRYPTION_KEYS"], "a key that protects nothing"
    runtime_env = runtime.env()
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DJANGO_DEBUG", "METRICS_TOKEN"):
        assert name not in runtime_env, f"{name} must come from the deployment, not the image"


def base64_zero_key() -> str:
    import base64

    return base64.urlsafe_b64encode(bytes(32)).decode()


def test_the_image_runs_as_a_user_who_is_not_root():
    runtime = dockerfile_stages()[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0", "")
    created = " ".join(" ".join(command) for command in runtime.commands() if "useradd" in command)
    assert f"--uid {user}" in created or created.rstrip().endswith(user), created
    # The app's files are copied as root (no --chown): the user cannot change the code it runs.
    assert not any("--chown" in rest for rest in runtime.all("COPY"))


def test_the_image_starts_the_web_command_by_default():
    (cmd,) = dockerfile_stages()[-1].all("CMD")
    assert json.loads(cmd) == compose()["services"]["web"]["command"]


class _Probe(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Host", "")))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def probe_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Probe.seen = []
    yield server
    server.shutdown()
    server.server_close()


def test_the_healthcheck_asks_readyz_and_fails_when_not_ready(probe_server):
    """It asks 127.0.0.1 whatever ALLOWED_HOSTS says: the probes answer before Django's Host
    check (tests/monitoring: a probe by IP address is answered)."""
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"], "exec form, Python's urllib (no curl in slim images)"
    env = {
        "PATH": os.environ["PATH"],
        "GUNICORN_BIND": f"0.0.0.0:{probe_server.server_port}",
        "ALLOWED_HOSTS": "smartapp.example.org",
    }
    results = {}
    for status in (200, 503):
        _Probe.status = status
        results[status] = subprocess.run(
            [sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30
        ).returncode
    assert results[200] == 0
    assert results[503] != 0, "not ready is unhealthy"
    assert {path for path, _ in _Probe.seen} == {"/readyz"}


def build_env(tmp_path: Path) -> dict[str, str]:
    """The build stage's ENV as the build would see it, with nothing reachable."""
    env = {name: value for name, value in build_stage().env().items() if "$" not in value}
    env |= {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "DATABASE_URL": NO_DATABASE,
        "REDIS_URL": NO_REDIS,
        "STATIC_ROOT": str(tmp_path / "staticfiles"),
    }
    return env


def build_context_copy(target: Path) -> Path:
    """The files Docker would send as the build context (what .dockerignore lets through)."""
    for folder, dirnames, filenames in os.walk(ROOT):
        relative = Path(folder).relative_to(ROOT)
        dirnames[:] = [name for name in dirnames if not docker_ignored(str(relative / name))]
        for name in filenames:
            if not docker_ignored(str(relative / name)):
                (target / relative).mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(folder) / name, target / relative / name)
    return target


def test_the_build_commands_work_in_the_build_context_without_a_database_or_redis(tmp_path):
    """Run where the Dockerfile runs them: in a copy of the build context (no tests, no .mo,
    no .venv), with the build stage's settings. The copy's manage.py imports the copy's code."""
    context = build_context_copy(tmp_path / "app")
    assert not list(context.rglob("*.mo")) and not (context / "tests").exists()
    commands = manage_commands(build_stage())
    for command in commands:
        assert command[0] == "python"
        done = subprocess.run(
            [sys.executable, *command[1:]],
            cwd=context,
            env=build_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}\n{done.stderr}"
    assert (context / "locale" / "es" / "LC_MESSAGES" / "django.mo").stat().st_size > 1000
    collected = tmp_path / "staticfiles"
    ours = [path for path in (context / "static").rglob("*") if path.is_file()]
    assert ours
    for path in ours:
        assert (collected / path.relative_to(context / "static")).is_file(), path
    assert (collected / "admin" / "css" / "base.css").is_file()
    assert list(collected.rglob("*.css.gz")), "compressed for whitenoise"
    assert not (context / "db.sqlite3").exists(), "nothing touched a database"


def test_deploy_checks_leave_only_what_the_proxy_and_the_csp_do(tmp_path):
    """`check --deploy` with the image's settings and a deployment's: the warnings left are the
    proxy's job (HSTS, the HTTP→HTTPS redirect) and framing, which the CSP's frame-ancestors
    governs (the EHR frames the app: no X-Frame-Options)."""
    env = build_env(tmp_path) | {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "SECURE_COOKIES": "1",
        "BEHIND_PROXY": "1",
        "ALLOWED_HOSTS": "smartapp.example.org",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = set(re.findall(r"\((\w+\.[EW]\d+)\)", done.stdout + done.stderr))
    assert found <= {"security.W002", "security.W004", "security.W008"}, done.stderr


# --- .dockerignore ----------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@functools.cache
def dockerignore_patterns() -> tuple[str, ...]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def docker_ignored(path: str) -> bool:
    """Docker's rule: a pattern excludes a path when it matches the path or a parent folder;
    `!` brings one back; the last matching line wins."""
    patterns = dockerignore_patterns()
    parts = path.split("/")
    prefixes = ["/".join(parts[:count]) for count in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".git/config",
        ".venv/bin/python",
        ".demo/admin-password",
        "secrets/tenants.json",
        "tenants.json",
        "db.sqlite3",
        "tests/conftest.py",
        "smartapp/__pycache__/settings.cpython-311.pyc",
        "locale/es/LC_MESSAGES/django.mo",
        "staticfiles/admin/css/base.css",
    ],
)
def test_secrets_and_local_state_stay_out_of_the_image(path):
    assert docker_ignored(path)


def test_what_the_image_needs_is_in_its_build_context():
    needed = ["manage.py", "gunicorn.conf.py", "requirements.lock", "pyproject.toml"]
    for folder in ("smartapp", "templates", "static", "locale"):
        needed += [
            str(path.relative_to(ROOT))
            for path in (ROOT / folder).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".mo"
        ]
    assert len(needed) > 100
    assert [path for path in needed if docker_ignored(path)] == []


# --- docker-compose.yml -----------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


class MissingVariable(Exception):
    pass


VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}`."""

    def one(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if given.get(name):
            return given[name]
        if operator == "?":
            raise MissingVariable(name)
        return argument if operator == "-" else ""

    return VARIABLE.sub(one, value)


def service_env(service: str, given: dict[str, str]) -> dict[str, str]:
    environment = compose()["services"][service]["environment"]
    return {name: interpolate(str(value), given) for name, value in environment.items()}


def settings_variables() -> set[str]:
    """Every variable settings.py and gunicorn.conf.py read."""
    settings = (ROOT / "smartapp" / "settings.py").read_text()
    gunicorn = (ROOT / "gunicorn.conf.py").read_text()
    return set(re.findall(r"env_\w+\(\s*\"([A-Z_0-9]+)\"", settings)) | set(
        re.findall(r"environ\.get\(\"([A-Z_0-9]+)\"", gunicorn)
    )


GIVEN_SECRETS = {
    "SECRET_KEY": "s" * 60,
    "FIELD_ENCRYPTION_KEYS": base64_zero_key(),
    "METRICS_TOKEN": "m" * 40,
    "POSTGRES_PASSWORD": "p" * 20,
}


def test_compose_has_the_services_and_one_image_built_here():
    services = compose()["services"]
    assert set(services) >= {"migrate", "web", "worker", "beat", "redis", "postgres"}
    images = {services[name]["image"] for name in APP_SERVICES}
    assert len(images) == 1, "one image for migrate, web, worker and beat"
    for name in APP_SERVICES:
        assert services[name]["build"] == ".", name


def test_compose_runs_the_commands_the_drill_runs():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["web"]["command"] == [
        "gunicorn",
        "--config",
        "gunicorn.conf.py",
        "smartapp.wsgi:application",
    ]
    assert services["worker"]["command"] == [
        "celery",
        "-A",
        "smartapp",
        "--quiet",  # no banner: JSON logs stay JSON
        "worker",
        "--loglevel",
        "INFO",
    ]
    assert services["beat"]["command"] == [
        "celery",
        "-A",
        "smartapp",
        "--quiet",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        "/tmp/celerybeat-schedule",  # noqa: S108 - the container's own /tmp (a tmpfs)
    ]
    for name in APP_SERVICES:
        command = services[name]["command"]
        assert (VENV_BIN / command[0]).exists(), f"{command[0]} is not in the virtualenv"
        assert "entrypoint" not in services[name]
        assert "pip" not in " ".join(command), "dependencies come with the image"
    assert (ROOT / "gunicorn.conf.py").is_file()


def test_web_worker_and_beat_wait_for_migrate():
    services = compose()["services"]
    assert services["migrate"]["restart"] == "no", "one-shot"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name


def test_redis_keeps_an_append_only_file_and_postgres_says_when_it_is_ready():
    services = compose()["services"]
    redis = services["redis"]
    assert redis["image"].split(":")[1].startswith("7")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])


def test_web_can_be_scaled_and_the_workers_do_not_answer_the_web_healthcheck():
    services = compose()["services"]
    for port in services["web"]["ports"]:
        parts = str(port).split(":")
        assert len(parts) == 1 or parts[-2] == "", f"{port}: a fixed host port stops --scale web=3"
    for name in ("migrate", "worker", "beat"):
        assert "ports" not in services[name]
        assert services[name]["healthcheck"]["disable"] is True, name
    assert "healthcheck" not in services["web"], "the image's HEALTHCHECK on /readyz"


@pytest.mark.parametrize("secret", SECRETS)
def test_every_secret_is_required(secret):
    given = {name: value for name, value in GIVEN_SECRETS.items() if name != secret}
    services = ("postgres",) if secret == "POSTGRES_PASSWORD" else ()
    for service in (*APP_SERVICES, *services):
        with pytest.raises(MissingVariable, match=secret):
            service_env(service, given)


def test_compose_sets_only_variables_the_settings_read_and_the_ones_a_deployment_needs():
    environment = compose()["services"]["web"]["environment"]
    read = settings_variables()
    assert len(read) > 30
    assert set(environment) - read == set(), "a typo, or a variable nothing reads"
    assert {
        "DATABASE_URL",
        "REDIS_URL",
        "CACHE_URL",
        "SECRET_KEY",
        "FIELD_ENCRYPTION_KEYS",
        "METRICS_TOKEN",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SECURE_COOKIES",
        "BEHIND_PROXY",
        "FRAME_ANCESTORS",
        "TENANTS_FILE",
        "LOG_FORMAT",
    } <= set(environment)
    # One environment for every app service; the worker adds only the port of its own metrics.
    own = {"worker": {"WORKER_METRICS_PORT": "9808"}}
    for name in APP_SERVICES:
        assert compose()["services"][name]["environment"] == {**environment, **own.get(name, {})}
    assert set(own["worker"]) <= read


def test_the_tenant_file_is_where_the_secrets_folder_is_mounted():
    service = compose()["services"]["migrate"]
    tenants_file = service_env("migrate", GIVEN_SECRETS)["TENANTS_FILE"]
    volumes = [interpolate(volume, GIVEN_SECRETS) for volume in service["volumes"]]
    targets = [volume.split(":")[1] for volume in volumes]
    assert any(tenants_file.startswith(target + "/") for target in targets), (tenants_file, targets)
    assert all(volume.endswith(":ro") for volume in volumes)


def _app_process_env(tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    return service_env("web", GIVEN_SECRETS | (extra or {})) | {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }


def test_the_settings_take_the_compose_environment(tmp_path):
    """Compose's defaults are values the settings accept (a `SECURE_COOKIES=ture` would stop the
    process), and they mean production: no debug, no sandbox, shared cache, JSON logs."""
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({'debug': s.DEBUG, 'sandbox': 'smartapp.sandbox' in s.INSTALLED_APPS, "
        "'cache': s.CACHES['default']['BACKEND'], 'log_format': s.LOG_FORMAT, "
        "'proxy': s.SECURE_PROXY_SSL_HEADER, 'db': s.DATABASES['default']['ENGINE']}))"
    )
    for extra, proxy in (({}, None), ({"BEHIND_PROXY": "1"}, ["HTTP_X_FORWARDED_PROTO", "https"])):
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=_app_process_env(tmp_path, extra) | {"DJANGO_SETTINGS_MODULE": "smartapp.settings"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.splitlines()[-1]) == {
            "debug": False,
            "sandbox": False,
            "cache": "django.core.cache.backends.redis.RedisCache",
            "log_format": "json",
            "proxy": proxy,
            "db": "django.db.backends.postgresql",
        }


@pytest.mark.parametrize(
    ("service", "check"),
    [("web", ["--check-config"]), ("worker", ["report"]), ("beat", ["report"])],
)
def test_the_app_commands_load_the_app_with_the_compose_environment(tmp_path, service, check):
    """gunicorn's --check-config loads the WSGI app; `celery -A smartapp report` loads the Celery
    app and Django's settings. Neither connects to PostgreSQL or Redis."""
    command = compose()["services"][service]["command"]
    argv = command + check if service == "web" else command[:3] + check
    done = subprocess.run(
        argv, cwd=ROOT, env=_app_process_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    if service != "web":
        assert "smartapp" in done.stdout


# --- requirements.lock ------------------------------------------------------------------------


def lock_pins() -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes)."""
    pins: dict[str, tuple[str, int]] = {}
    current = ""
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        pinned = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", line)
        if pinned:
            current = canonicalize_name(pinned.group(1))
            assert current not in pins, f"{current} pinned twice"
            assert line.rstrip().endswith("\\"), f"{line}: its hashes must follow it"
            pins[current] = (pinned.group(2), 0)
        elif current and "--hash=sha256:" in line:
            version, hashes = pins[current]
            pins[current] = (version, hashes + line.count("--hash=sha256:"))
        elif line.strip() and not line.lstrip().startswith("#"):
            assert line.startswith(" "), f"unexpected line in requirements.lock: {line}"
    return pins


def runtime_requirements() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(text) for text in pyproject["project"]["dependencies"]]


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """The installed distributions these requirements pull in, extras and markers included."""
    names: set[str] = set()
    queue = [(canonicalize_name(req.name), frozenset(req.extras)) for req in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        names.add(name)
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is not None and not any(
                req.marker.evaluate({"extra": extra}) for extra in ("", *extras)
            ):
                continue
            queue.append((canonicalize_name(req.name), frozenset(req.extras)))
    return names


def test_the_lock_pins_every_runtime_dependency_and_nothing_else():
    pins = lock_pins()
    required = runtime_requirements()
    assert {"babel", "prometheus-client", "django", "celery", "gunicorn"} <= set(pins)
    for req in required:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is a dependency in pyproject.toml but not in the lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), (req, pins[name][0])
    closure = installed_closure(required)
    assert closure - set(pins) == set(), "pulled in by a dependency but not locked"
    assert set(pins) - closure == set(), "locked but needed by no runtime dependency"


def test_the_lock_is_what_the_virtualenv_runs_with_hashes():
    """The image installs exactly what the tests ran against. After changing a dependency:
    the command at the top of requirements.lock regenerates it from .venv."""
    drift = {
        name: (version, metadata.version(name))
        for name, (version, _) in lock_pins().items()
        if metadata.version(name) != version
    }
    assert drift == {}, f"lock vs .venv: {drift}"
    assert all(hashes >= 1 for _, hashes in lock_pins().values())
