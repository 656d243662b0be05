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
def payments_enqueue_due() -> int:
    """Beat: sends a task for each payment that is due and not claimed."""
    ids = services.payments_due()
    for payment_id in ids:
        payment_process.delay(payment_id)
    return len(ids)


@shared_task(ignore_result=True)
def payments_reconcile_checkouts() -> int:
    """Beat: checkouts the patient never came back from are settled with the processor."""
    return services.checkouts_reconcile()
