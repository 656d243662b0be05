"""Is this process able to serve? The database, the broker and the cache answer, and every
migration is applied. Never the EHR: a tenant's outage must not take our processes out of the
load balancer."""

from collections.abc import Callable

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

CHECK_SECONDS = 2.0
_migrated: set[str] = set()  # once applied, they stay applied for this process's code


def _database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


def _migrations() -> None:
    if DEFAULT_DB_ALIAS in _migrated:
        return
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise RuntimeError("migrations not applied")
    _migrated.add(DEFAULT_DB_ALIAS)


def _broker() -> None:
    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=CHECK_SECONDS,
        socket_timeout=CHECK_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()


def _cache() -> None:
    cache.set("readyz", "1", timeout=10)
    if cache.get("readyz") != "1":
        raise RuntimeError("the cache did not keep a value")


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "migrations": _migrations,
    "broker": _broker,
    "cache": _cache,
}


def readiness_failures() -> dict[str, str]:
    """Each failing check's name and the kind of its error (no message: it may hold a URL)."""
    failures = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as error:  # noqa: BLE001 - any failure means "not ready", said by name
            failures[name] = type(error).__name__
    return failures
