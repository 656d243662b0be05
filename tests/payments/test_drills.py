"""Drills with real Celery worker processes on a real Redis, posting to the sandbox over HTTP.

Afterwards the sandbox's ledger must hold each payment exactly once.
"""

import collections
import os
import signal
import time

import pytest
from django.utils import timezone

from smartapp.demo.processes import stop_process
from smartapp.payments.models import Attempt, Payment, State
from smartapp.testing._worker import shared_database_env
from smartapp.testing._worker import use_broker as celery_use_broker
from tests.payments.conftest import desk_row
from tests.payments.workers import start_worker, wait_ready

pytestmark = pytest.mark.django_db(transaction=True)
DRILL_PAYMENTS = 200


@pytest.fixture
def drill_env(redis_server, settings):
    from smartapp.celery import app

    broker = f"{redis_server}/0"
    celery_use_broker(broker)
    # Drain tasks an earlier test left behind.
    import redis

    redis.Redis.from_url(broker).flushdb()
    settings.SANDBOX_TIMEOUT_SLEEP_SECONDS = 1.5  # the live server: answers after our timeout
    yield app, shared_database_env(broker=broker, settings=settings)
    redis.Redis.from_url(broker).flushdb()  # no payment task outlives its test


def _wait_all_final(ids: list[int], seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = collections.Counter(
            Payment.objects.filter(pk__in=ids).values_list("state", flat=True)
        )
        if set(states) <= {State.POSTED, State.NEEDS_ATTENTION, State.FAILED}:
            return dict(states)
        time.sleep(0.5)
    return dict(
        collections.Counter(Payment.objects.filter(pk__in=ids).values_list("state", flat=True))
    )


def _ledger_counts(millennium) -> collections.Counter:
    return collections.Counter(row.identifier for row in millennium.ledger().transactions)


def test_two_workers_post_200_payments_exactly_once_with_20_percent_faults(
    tenant, drill_env, figure, millennium
):
    app, env = drill_env
    encounters = millennium.visits.registered()
    assert len(encounters) >= 4
    millennium.faults(0.2, ["basic_5xx", "basic_timeout_after_write", "basic_429"])
    payments = [
        desk_row(tenant, encounters[n % len(encounters)], f"{1 + n % 7}.{n % 100:02d}")
        for n in range(DRILL_PAYMENTS)
    ]
    Payment.objects.update(next_check_at=timezone.now())
    workers = [start_worker(env=env, name="w1", beat=True), start_worker(env=env, name="w2")]
    try:
        wait_ready(app, ["w1", "w2"], [w[0] for w in workers], [w[1] for w in workers])
        states = _wait_all_final([p.pk for p in payments], seconds=150)
    finally:
        for process, _ in workers:
            stop_process(process)
    counts = _ledger_counts(millennium)
    ours = [p.posting_id for p in payments]
    duplicates = [pid for pid in ours if counts[pid] > 1]
    posted = Payment.objects.filter(pk__in=[p.pk for p in payments], state=State.POSTED)
    unclear = Attempt.objects.filter(kind="post", result__in=["landed", "not_landed"]).count()
    figure(
        f"drill: {len(ours)} payments, 2 workers, states {states}, unclear answers {unclear}, ledger duplicates {len(duplicates)}"
    )
    assert duplicates == []
    assert states == {State.POSTED: DRILL_PAYMENTS}, states
    assert all(counts[p.posting_id] == 1 for p in posted)
    assert unclear > 0  # the faults really happened and were resolved from balances
    assert Attempt.objects.filter(kind="post", http_status=429).exists()


def test_a_worker_killed_while_posting_loses_nothing_and_posts_nothing_twice(
    tenant, drill_env, settings, figure, millennium
):
    app, env = drill_env
    millennium.latency(300)  # slow FHIR answers: a POST is in flight when we kill
    encounters = millennium.visits.registered()
    payments = [desk_row(tenant, encounters[n % len(encounters)], "1.05") for n in range(12)]
    Payment.objects.update(next_check_at=timezone.now())
    victim, victim_log = start_worker(env=env, name="victim", beat=True)
    try:
        wait_ready(app, ["victim"], [victim], [victim_log])
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and not Attempt.objects.filter(kind="post", result="sending").exists()
        ):
            time.sleep(0.02)
        assert Attempt.objects.filter(kind="post", result="sending").exists(), "no POST in flight"
        os.killpg(victim.pid, signal.SIGKILL)  # the whole worker, mid-POST
        victim.wait(timeout=10)
        stranded = Payment.objects.filter(state=State.POSTING).count()
        assert stranded >= 1
        rescuer, rescuer_log = start_worker(env=env, name="rescuer", beat=True)
        try:
            wait_ready(app, ["rescuer"], [rescuer], [rescuer_log])
            states = _wait_all_final([p.pk for p in payments], seconds=90)
        finally:
            stop_process(rescuer)
    finally:
        stop_process(victim)
    counts = _ledger_counts(millennium)
    figure(f"kill drill: {len(payments)} payments, {stranded} stranded mid-POST, states {states}")
    assert states == {State.POSTED: len(payments)}, states
    assert all(counts[p.posting_id] == 1 for p in payments)


def test_refunds_racing_postings_to_the_same_visits_post_once_and_the_balances_add_up(
    tenant, drill_env, figure, millennium
):
    from decimal import Decimal

    from smartapp.payments import refunds

    app, env = drill_env
    encounters = millennium.visits.registered()[:4]
    before = {e.fhir_id: millennium.visits.balance(e) for e in encounters}
    millennium.faults(0.2, ["basic_5xx", "basic_timeout_after_write", "basic_429"])

    def pay(n: int) -> Payment:
        return desk_row(tenant, encounters[n % len(encounters)], f"{2 + n % 5}.{n % 100:02d}")

    payments = [pay(n) for n in range(40)]
    given: list[Payment] = []
    workers = [start_worker(env=env, name="w1", beat=True), start_worker(env=env, name="w2")]
    try:
        wait_ready(app, ["w1", "w2"], [w[0] for w in workers], [w[1] for w in workers])
        deadline = time.monotonic() + 90
        while len(given) < 20 and time.monotonic() < deadline:  # refund as payments post
            posted = Payment.objects.filter(
                pk__in=[p.pk for p in payments], state=State.POSTED
            ).exclude(reversals__isnull=False)
            for paid in posted[: 20 - len(given)]:
                ask = refunds.RefundAsk(
                    payment=paid,
                    amount=Decimal("1.00"),
                    reason="drill",
                    by="drill",
                    request_key=f"drill-{paid.pk}",
                )
                given.append(refunds.posted_refund_start(ask=ask))
                payments.append(pay(len(payments)))  # more money in, to the same visits
            time.sleep(0.2)
        ids = [p.pk for p in payments + given]
        states = _wait_all_final(ids, seconds=150)
    finally:
        for process, _ in workers:
            stop_process(process)
    counts = _ledger_counts(millennium)
    ours = {p.posting_id for p in payments + given}
    kinds = collections.Counter(
        row.kind for row in millennium.ledger().transactions if row.identifier in ours
    )
    duplicates = [p.posting_id for p in payments + given if counts[p.posting_id] != 1]
    rows = Payment.objects.filter(pk__in=ids)
    moved = {e: Decimal("0.00") for e in before}
    for row in rows:
        moved[row.encounter_id] += row.balance_effect
    after = {e.fhir_id: millennium.visits.balance(e) for e in encounters}
    unclear = Attempt.objects.filter(kind="post", result__in=["landed", "not_landed"]).count()
    figure(
        f"refund drill: {len(payments)} payments and {len(given)} refunds on {len(encounters)} visits, 2 workers, states {states}, unclear answers {unclear}, ledger {dict(kinds)}, duplicates {len(duplicates)}"
    )
    assert len(given) == 20 and duplicates == []
    assert kinds == {"payment": len(payments), "adjustment": len(given)}
    assert states == {State.POSTED: len(ids)}, states
    assert after == {e: before[e] + moved[e] for e in before}
    assert unclear > 0  # the faults really happened
