"""Row claims by conditional UPDATE: one process at a time does a slow job for a row.

Works on every database (no SELECT … FOR UPDATE needed) and across processes; a claim expires
by itself so a crashed worker never blocks the row for longer than `seconds`.
"""

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone


def free(now: datetime, field: str = "claimed_until") -> Q:
    """Rows whose claim is free: never taken, given back, or its lease ran out."""
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": now})


def claim(
    *, model: type[models.Model], pk: int, field: str = "claimed_until", seconds: int = 30
) -> bool:
    now = timezone.now()
    updated = model._default_manager.filter(free(now, field), pk=pk).update(
        **{field: now + timedelta(seconds=seconds)}
    )
    return updated == 1


def release(*, model: type[models.Model], pk: int, field: str = "claimed_until") -> None:
    model._default_manager.filter(pk=pk).update(**{field: None})


def wait_until(predicate: Callable[[], bool], *, seconds: float, step: float = 0.1) -> bool:
    """Polls `predicate` until it holds or `seconds` pass; says whether it held."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
