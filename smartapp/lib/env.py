"""Typed readers for settings that come from the environment.

Every reader accepts `NAME_FILE` (a file holding the value: Docker and Kubernetes secrets) and
raises `ImproperlyConfigured`, naming the variable, for a value it does not understand: a typo
such as `SECURE_COOKIES=ture` must stop the process, not quietly mean "off".
"""

import math
import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    """The variable's value (from `NAME_FILE` when set), None when unset or empty."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            value = Path(file_path).read_text()
        except OSError as error:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_path} ({error})") from None
        return value.strip() or None
    return os.environ.get(name) or None


def env_str(name: str, default: str = "") -> str:
    """A string setting."""
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    """1/true/yes/on or 0/false/no/off (any case); anything else is refused."""
    value = _raw(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE or word in FALSE:
        return word in TRUE
    raise ImproperlyConfigured(f"{name}={value!r} is not a yes/no value (use 1 or 0)")


def env_int(name: str, default: int, *, minimum: int | None = 0) -> int:
    """A whole number (at least `minimum`, when given)."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = 0.0) -> float:
    """A number of seconds or the like (finite, at least `minimum`, when given)."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None
    if not math.isfinite(number) or (minimum is not None and number < minimum):
        raise ImproperlyConfigured(f"{name}={value!r} must be a number of at least {minimum}")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list (blank items dropped)."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_url(name: str, default: str = "", *, schemes: tuple[str, ...] = ()) -> str:
    """A URL with a scheme and a host (of one of `schemes`, when given); "" stays "" (unset)."""
    value = env_str(name, default)
    if not value:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ImproperlyConfigured(f"{name} is not a URL") from None
    if not parts.scheme or not (parts.netloc or parts.path):
        raise ImproperlyConfigured(f"{name} is not a URL (expected scheme://host/…)")
    if schemes and parts.scheme not in schemes:
        raise ImproperlyConfigured(f"{name} must start with {' or '.join(schemes)}://")
    return value
