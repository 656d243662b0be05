"""Celery tasks: thin. They take ids and call services; the database is the source of truth."""

import logging

from celery import shared_task

from smartapp.payments import posting, services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def payment_process(payment_id: int) -> None:
    """One step of one payment (claims the row; a duplicate delivery finds it claimed)."""
    state = posting.payment_process(payment_id=payment_id)
    logger.info("payment %s step -> %s", payment_id, state)


@shared_task(ignore_result=True)
def visit_payments_process(payment_ids: list[int]) -> None:
    """One step of a visit's due payments, in order (each claimed; taken ones are skipped)."""
    states = posting.visit_process(payment_ids=payment_ids)
    for payment_id, state in states.items():
        logger.info("payment %s step -> %s", payment_id, state)


@shared_task(ignore_result=True)
def payments_enqueue_due() -> int:
    """Beat: sends a task for each visit with payments that are due and not claimed."""
    visits = services.payments_due_by_visit()
    for payment_ids in visits:
        visit_payments_process.delay(payment_ids)
    return sum(len(ids) for ids in visits)


@shared_task(ignore_result=True)
def payments_reconcile_checkouts() -> int:
    """Beat: checkouts the patient never came back from, and refunds the processor never
    answered, are settled with the processor."""
    from smartapp.payments.refunds import refunds_reconcile

    return services.checkouts_reconcile() + refunds_reconcile()


@shared_task(ignore_result=True)
def receipt_send(payment_id: int) -> None:
    """Emails a captured payment's receipt, once."""
    from smartapp.payments.models import Payment
    from smartapp.payments.receipts import receipt_email

    payment = Payment.objects.select_related("tenant").get(pk=payment_id)
    said = receipt_email(payment=payment)
    logger.info("payment %s receipt: %s", payment.posting_id, said)


@shared_task(ignore_result=True)
def payments_reconcile_yesterday() -> int:
    """Beat, nightly: yesterday's reconciliation for every tenant (kept for the staff queue)."""
    from datetime import timedelta

    from django.utils import timezone

    from smartapp.payments.reconciliation import reconciliation_for, reconciliation_record
    from smartapp.tenants.models import Tenant

    exceptions = 0
    for tenant in Tenant.objects.filter(enabled=True):
        day = timezone.now().astimezone(tenant.zone).date() - timedelta(days=1)
        exceptions += reconciliation_record(
            report=reconciliation_for(tenant=tenant, day=day)
        ).exceptions
    return exceptions
