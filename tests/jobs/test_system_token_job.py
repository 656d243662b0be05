"""The system client's token, fetched by a real Celery worker on a real Redis."""

import time

import pytest
from django.db import connection

from smartapp.celery import app
from smartapp.tenants.models import SystemToken
from smartapp.tenants.tasks import refresh_system_tokens

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for_token(seconds: float = 20.0) -> SystemToken | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = SystemToken.objects.exclude(access_token="").first()
        if row is not None:
            return row
        time.sleep(0.2)
    return None


def test_a_worker_fetches_and_caches_the_system_token_encrypted(tenant, celery_worker_process):
    refresh_system_tokens.delay()

    row = _wait_for_token()
    assert row is not None, "the worker stored no system token"
    assert row.scope.split() and all(scope.startswith("system/") for scope in row.scope.split())
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM tenants_systemtoken WHERE id = %s", [row.pk])
        stored = cursor.fetchone()[0]
    assert stored and row.access_token not in stored


def _runs_done(seconds: float = 20.0, *, at_least: int) -> int:
    """How many refresh tasks the worker has finished, once it reaches `at_least`: its count of
    tasks taken (`total`, counted as a task starts), with none of them still running."""
    name = refresh_system_tokens.name
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline:
        inspect = app.control.inspect(timeout=0.5)
        stats = inspect.stats() or {}
        done = sum(worker.get("total", {}).get(name, 0) for worker in stats.values())
        running = [task for tasks in (inspect.active() or {}).values() for task in tasks]
        if done >= at_least and not running:
            break
    return done


def test_a_second_run_reuses_the_cached_token(tenant, celery_worker_process):
    refresh_system_tokens.delay()
    first = _wait_for_token()
    assert first is not None and _runs_done(at_least=1) == 1

    refresh_system_tokens.delay()
    assert _runs_done(at_least=2) == 2  # the second run really happened
    first_token = first.access_token
    first.refresh_from_db()
    assert first.access_token == first_token
