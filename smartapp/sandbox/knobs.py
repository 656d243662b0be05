"""Test knobs (issue 17): Millennium behaviours a test turns on over HTTP.

`POST /sandbox/control/knobs` with any of
`{"latency_ms": 100, "registration_delay_seconds": 0, "throttle": {"retry_after": 2, "times": 1},
"expire_tokens": true, "rotate_keys": true, "tenant_mismatch": {"times": 1}, "reset": true}`
changes only what it names (`"throttle": null` and `"tenant_mismatch": null` turn those off;
`"reset": true` clears every knob first). `GET` describes them and counts what they did.

Stored in one row (`Knobs`), so every server thread and process sees the same knobs; a test's
database restore clears them. Each FHIR and Messages API call reads the row once.
"""

import time
from typing import Any

from django.db import transaction
from django.db.models import F

from smartapp.sandbox import keys, latency
from smartapp.sandbox.models import Knobs, SigningKey

FIELDS = {
    "latency_ms",
    "registration_delay_seconds",
    "throttle",
    "expire_tokens",
    "rotate_keys",
    "tenant_mismatch",
    "reset",
}


def current() -> Knobs | None:
    return Knobs.objects.order_by("pk").first()


def _row() -> Knobs:
    row = Knobs.objects.select_for_update().order_by("pk").first()
    return row if row is not None else Knobs.objects.create()


def _count(value: Any, name: str, *, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number or null")
    return float(value)


def _times_of(value: Any, name: str) -> int | None:
    if not isinstance(value, dict) or set(value) - {"times", "retry_after"}:
        raise ValueError(f'{name} must be an object like {{"times": 1}} or null')
    return _count(value.get("times"), f"{name}.times")


def rotate_keys() -> None:
    """New access-token signing keys for every (environment, host): tokens signed before are
    refused with `unknown_kid`, as after a key rotation at Millennium (id_token keys stay)."""
    purposes = list(
        SigningKey.objects.filter(purpose__startswith="access:").values_list("purpose", flat=True)
    )
    SigningKey.objects.filter(purpose__in=purposes).delete()
    for purpose in purposes:
        keys.signing_key(purpose)


def configure(payload: dict[str, Any]) -> dict[str, Any]:
    """Changes the knobs the payload names (see the module's docstring)."""
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise ValueError(f"unknown knobs: {', '.join(unknown)}")
    with transaction.atomic():
        if payload.get("reset"):
            Knobs.objects.all().delete()
            latency.forget_most_waiting()
        row = _row()
        if "latency_ms" in payload:
            row.latency_ms = _count(payload["latency_ms"], "latency_ms")
            latency.forget_most_waiting()
        if "registration_delay_seconds" in payload:
            row.registration_delay_seconds = _seconds(
                payload["registration_delay_seconds"], "registration_delay_seconds"
            )
        if "throttle" in payload:
            throttle = payload["throttle"]
            if throttle is None:
                row.throttle_retry_after, row.throttle_remaining = None, None
            else:
                row.throttle_remaining = _times_of(throttle, "throttle")
                row.throttle_retry_after = _count(
                    throttle.get("retry_after", 1), "throttle.retry_after", allow_none=False
                )
        if "tenant_mismatch" in payload:
            mismatch = payload["tenant_mismatch"]
            row.tenant_mismatch = mismatch is not None
            row.tenant_mismatch_remaining = (
                None if mismatch is None else _times_of(mismatch, "tenant_mismatch")
            )
        if payload.get("expire_tokens"):
            row.tokens_expired_through = int(time.time())
        row.save()
        if payload.get("rotate_keys"):
            rotate_keys()
    return describe()


def describe() -> dict[str, Any]:
    row = current() or Knobs()
    return {
        "latency_ms": row.latency_ms,
        "registration_delay_seconds": row.registration_delay_seconds,
        "throttle": None
        if row.throttle_retry_after is None
        else {"retry_after": row.throttle_retry_after, "times": row.throttle_remaining},
        "tenant_mismatch": {"times": row.tenant_mismatch_remaining}
        if row.tenant_mismatch
        else None,
        "tokens_expired_through": row.tokens_expired_through,
        "counts": {
            "throttled": row.throttled,
            "expired": row.expired_refused,
            "tenant_mismatch": row.mismatched,
            "most_waiting_at_once": latency.most_waiting_at_once(),
        },
    }


def _take(row: Knobs, remaining: str, counter: str) -> bool:
    """Counts one use of a knob limited by `remaining` (null: unlimited); False when used up."""
    rows = Knobs.objects.filter(pk=row.pk)
    if getattr(row, remaining) is None:
        rows.update(**{counter: F(counter) + 1})
        return True
    taken = rows.filter(**{f"{remaining}__gt": 0}).update(
        **{remaining: F(remaining) - 1, counter: F(counter) + 1}
    )
    return taken == 1


def throttle_now(row: Knobs | None) -> int | None:
    """The Retry-After to answer this call with (a 429), or None to serve it."""
    if row is None or row.throttle_retry_after is None:
        return None
    if row.throttle_remaining == 0 or not _take(row, "throttle_remaining", "throttled"):
        return None
    return row.throttle_retry_after


def expired_by_knob(row: Knobs | None, issued_at: int) -> bool:
    """True when `expire_tokens` refuses a token issued at `issued_at` (epoch seconds)."""
    if row is None or row.tokens_expired_through is None:
        return False
    if issued_at > row.tokens_expired_through:
        return False
    Knobs.objects.filter(pk=row.pk).update(expired_refused=F("expired_refused") + 1)
    return True


def mismatch_now(row: Knobs | None) -> bool:
    """True when this call is refused with `tenant_mismatch`."""
    if row is None or not row.tenant_mismatch or row.tenant_mismatch_remaining == 0:
        return False
    return _take(row, "tenant_mismatch_remaining", "mismatched")
