"""The commands `docker-compose.yml` gives its services, read at test time and run as plain
processes (the drill runs what the image would run, with only addresses and names changed)."""

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


def _services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        raise AssertionError(f"{COMPOSE_FILE} has no services")
    return services


def _service(name: str) -> dict[str, Any]:
    services = _services()
    if not isinstance(services.get(name), dict):
        raise AssertionError(f"{COMPOSE_FILE} has no `{name}` service")
    return services[name]


def command(service: str) -> list[str]:
    """A service's command, which must be exec form (a list: what the image runs, no shell)."""
    given = _service(service).get("command")
    if not isinstance(given, list) or not given:
        raise AssertionError(
            f"{COMPOSE_FILE}: services.{service}.command should be an exec-form list, found {given!r}"
        )
    return [str(part) for part in given]


_VARIABLE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def environment(service: str, given: dict[str, str]) -> dict[str, str]:
    """A service's environment with compose's `${NAME:-default}` and `${NAME:?error}` filled
    from `given` (a required one missing fails, as `docker compose` would)."""
    raw = _service(service).get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)

    def fill(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if given.get(name):
            return given[name]
        if kind == "?":
            raise AssertionError(f"{service} needs {name}: {rest}")
        return rest if kind == "-" else ""

    return {str(key): _VARIABLE.sub(fill, str(value)) for key, value in raw.items()}


def with_option(command: list[str], names: tuple[str, ...], value: str) -> list[str]:
    """The command with an option's value replaced (`--name v`, `--name=v`), or appended."""
    result: list[str] = []
    replaced, skip = False, False
    for part in command:
        if skip:
            skip = False
            continue
        flag = part.split("=", 1)[0]
        if flag in names:
            result += [names[0], value]
            replaced, skip = True, "=" not in part
            continue
        result.append(part)
    return result if replaced else [*result, names[0], value]
