"""Refunds of posted payments: the money back first (processor, or the desk), then a reversing
adjustment posted to Millennium through the same outbox and evidence as payments.

A refund is its own `Payment` row that `reverses` the posted one: created `new` under a lock on
the original (so two refunds together never give back more than was paid), refunded at the
processor with an idempotency key derived from the refund's own posting identifier, then
`captured` and posted by the worker as an `adjustment` with the tenant's refund alias. A
processor answer that never came leaves the refund `new`; asking again (staff, or the beat's
reconciliation) repeats the same key, so the card is never refunded twice.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from smartapp.audit import services as audit
from smartapp.payments.models import Actor, AmountSource, Attempt, Payment, State
from smartapp.payments.processor import ProcessorError, processor_for
from smartapp.payments.services import (
    at_desk_capture,
    enqueue_soon,
    payment_settings,
    processor_attempt_record,
    reconcile_before,
)
from smartapp.payments.staff import staff_note
from smartapp.payments.transitions import payment_move

logger = logging.getLogger(__name__)


class RefundRefused(Exception):
    """The refund cannot be made as asked; the message says why, for staff."""


@dataclass(frozen=True)
class RefundAsk:
    payment: Payment  # the posted payment to refund (part of)
    amount: Decimal
    reason: str
    by: str
    request_key: str  # the form's once-only key: a second submit finds the same refund


def refundable_left(*, payment: Payment) -> Decimal:
    """What may still be refunded of a payment: its amount less every refund not cancelled."""
    return payment.amount - payment.refunds_given()


def posted_refund_start(*, ask: RefundAsk) -> Payment:
    """Records the refund, then gives the money back: at the processor (a card charge) or at the
    desk (cash, check, or a card taken on the desk's own terminal)."""
    # A desk refund is captured as it is recorded; one still `new` waits for the processor.
    return refund_at_processor(refund=_refund_record(ask), by=ask.by)


def _refund_record(ask: RefundAsk) -> Payment:
    original = ask.payment
    if not ask.reason.strip():
        raise RefundRefused("Say why the money is given back (the reason is required).")
    if ask.amount <= 0:
        raise RefundRefused("The refund must be more than zero.")
    earlier = Payment.objects.filter(request_key=ask.request_key).first()
    if earlier is not None:  # the same form sent twice
        if earlier.reverses_id != original.pk:
            raise RefundRefused("This form was already used for another payment.")
        return earlier
    try:
        with transaction.atomic():
            # Write first: it takes the original's row (PostgreSQL) or the database (SQLite),
            # so two refunds at once see each other's amounts.
            if not Payment.objects.filter(pk=original.pk).update(updated_at=timezone.now()):
                raise RefundRefused("This payment no longer exists.")
            original.refresh_from_db()
            _refusal(original, ask.amount)
            return _reversal_create(ask, original)
    except IntegrityError:  # the same key, sent twice at once: the first one's refund
        first = Payment.objects.filter(request_key=ask.request_key, reverses=original).first()
        if first is None:
            raise RefundRefused("This form was already used for another payment.") from None
        return first


def _refusal(original: Payment, amount: Decimal) -> None:
    if original.is_reversal:
        raise RefundRefused("A refund cannot itself be refunded.")
    if original.state != State.POSTED:
        raise RefundRefused(
            "Only a payment posted to Millennium is refunded with a reversal; "
            f"this one is {original.get_state_display().lower()}."
        )
    left = refundable_left(payment=original)
    if amount > left:
        raise RefundRefused(f"At most ${left:,.2f} is left to refund on this payment.")


def _reversal_create(ask: RefundAsk, original: Payment) -> Payment:
    desk = not (original.by_card and original.charge_id)
    refund = Payment.objects.create(
        request_key=ask.request_key,
        tenant=original.tenant,
        launch=original.launch,
        patient_id=original.patient_id,
        encounter_id=original.encounter_id,
        account_id=original.account_id,
        amount=ask.amount,
        currency=original.currency,
        amount_source=AmountSource.REFUND,
        method=original.method,
        taken_by=ask.by[:200],
        reverses=original,
        refund_reason=ask.reason.strip()[:500],
        card_brand=original.card_brand,
        card_last4=original.card_last4,
        message="Refund recorded; giving the money back.",
    )
    staff_note(refund, ask.by, f"refund of {original.posting_id} asked: {ask.reason}"[:2000])
    audit.record(
        who=ask.by,
        action="write",
        what=f"Payment refund {refund.posting_id} of {original.posting_id}",
        tenant=original.tenant.slug,
        patient_id=original.patient_id,
        reason="staff refund of a posted payment",
    )
    if desk:
        handed = f"{original.get_method_display()} handed back at the desk."
        at_desk_capture(payment=refund, words=handed, by=ask.by)
    return refund


def refund_at_processor(*, refund: Payment, by: str) -> Payment:
    """Asks the processor for the refund (again: the same key and reference never refund twice).
    A refund already past the processor is left as it is."""
    if refund.state != State.NEW:
        return refund
    original = refund.reverses
    assert original is not None
    processor = processor_for(payment_settings(tenant=refund.tenant))
    try:
        made = processor.refund(
            charge_id=original.charge_id,
            idempotency_key=f"refund-{refund.posting_id}",
            amount=refund.amount,
            reference=refund.posting_id,
        )
    except ProcessorError as error:
        return _processor_failed(refund, by, error)
    if made.amount != refund.amount:
        text = f"the processor refunded {made.amount}, not {refund.amount} ({made.refund_id})"
        staff_note(refund, by, text, Attempt.Result.ERROR)
        Payment.objects.filter(pk=refund.pk).update(message=f"Check at the processor: {text}.")
        refund.refresh_from_db()
        return refund
    now = timezone.now()
    text = f"Refunded ${made.amount:,.2f} to the card ({made.refund_id}); reversal to post."
    with transaction.atomic():
        moved = payment_move(
            payment=refund,
            to=State.CAPTURED,
            actor=Actor.PROCESSOR,
            reason=text,
            by=by,
            sources=(State.NEW,),
            refund_id=made.refund_id[:100],
            captured_at=now,
            next_check_at=now,
            message=text,
        )
        if moved:
            processor_attempt_record(refund, Attempt.Result.OK, f"refund {made.refund_id}", 200)
            enqueue_soon(refund)
    refund.refresh_from_db()
    return refund


def _processor_failed(refund: Payment, by: str, error: ProcessorError) -> Payment:
    if error.unclear:  # it may have been made: only the same key may ask again
        text = (
            f"The processor did not answer the refund ({error.message}). Asking again cannot "
            "refund twice; the reconciliation asks again by itself."
        )
        processor_attempt_record(refund, Attempt.Result.UNKNOWN, text, error.status)
        Payment.objects.filter(pk=refund.pk, state=State.NEW).update(message=text)
    else:
        text = f"The processor refused the refund: {error.message}. No money moved."
        processor_attempt_record(refund, Attempt.Result.REFUSED, text, error.status)
        payment_move(
            payment=refund,
            to=State.CANCELLED,
            actor=Actor.PROCESSOR,
            reason=text,
            by=by,
            sources=(State.NEW,),
            message=text,
        )
    refund.refresh_from_db()
    return refund


def refunds_reconcile(*, older_than: timedelta | None = None) -> int:
    """Card refunds the processor never answered: asked again with the same key."""
    stale = Payment.objects.filter(
        state=State.NEW, reverses__isnull=False, created_at__lt=reconcile_before(older_than)
    ).select_related("tenant", "reverses")[:200]
    for refund in stale:
        refund_at_processor(refund=refund, by="reconciliation")
    return len(stale)
