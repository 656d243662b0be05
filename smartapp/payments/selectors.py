"""Reads: a launch's payments (only its patient's), and the ops page's lists."""

import uuid
from datetime import timedelta

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone

from smartapp.launch.models import Launch
from smartapp.payments.models import Payment, ReconciliationRun, State

AGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}


def payments_for_launch(*, launch: Launch) -> QuerySet[Payment]:
    """The patient's payments (a refund shows on the payment it gives back, not as its own)."""
    return Payment.objects.filter(
        tenant=launch.tenant, patient_id=launch.patient_id, reverses__isnull=True
    )


def payment_for_launch(*, launch: Launch, public_id: uuid.UUID) -> Payment:
    """The payment if it is this launch's patient's, else 404 (never another patient's)."""
    payment = payments_for_launch(launch=launch).filter(public_id=public_id).first()
    if payment is None:
        raise Http404("no such payment")
    return payment


def payments_for_visit(*, launch: Launch, encounter_id: str) -> list[Payment]:
    return list(
        payments_for_launch(launch=launch)
        .filter(encounter_id=encounter_id)
        .exclude(state__in=(State.NEW, State.CANCELLED))
    )


def ops_payments(*, state: str = "", older_than: str = "") -> QuerySet[Payment]:
    """The ops page's list: by state, optionally only those waiting longer than an age."""
    rows = Payment.objects.select_related("tenant").prefetch_related("attempts")
    if state:
        rows = rows.filter(state=state)
    if older_than in AGES:
        rows = rows.filter(updated_at__lt=timezone.now() - AGES[older_than])
    return rows.order_by("created_at")


def ops_counts() -> dict[str, int]:
    counts = dict(Payment.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {value: counts.get(value, 0) for value in State.values}


def reconciliation_exceptions() -> list[ReconciliationRun]:
    """Each tenant's latest reconciliation, when it found exceptions (the staff queue's top)."""
    latest = ReconciliationRun.objects.order_by("tenant_id", "-day")
    seen: dict[int, ReconciliationRun] = {}
    for run in latest.select_related("tenant")[:200]:
        seen.setdefault(run.tenant_id, run)
    return [run for run in seen.values() if run.exceptions]
