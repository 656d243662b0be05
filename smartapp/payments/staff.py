"""Staff actions on the ops page: retry now, mark resolved with a note, refund through the processor."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from smartapp.lib import row_leases
from smartapp.payments.models import Actor, Attempt, Payment, State
from smartapp.payments.processor import ProcessorError, processor_for
from smartapp.payments.services import enqueue_soon, payment_settings
from smartapp.payments.transitions import REFUNDABLE, RESOLVABLE, RETRYABLE, payment_move

logger = logging.getLogger(__name__)
REFUND_CLAIM = "refund"  # the claim token a refund holds while the processor answers


class ActionRefused(Exception):
    """The action does not fit the payment's state; the message says why, for staff."""


def staff_note(payment: Payment, by: str, text: str, result: str = Attempt.Result.OK) -> None:
    Attempt.objects.create(
        payment=payment,
        kind=Attempt.Kind.STAFF,
        result=result,
        finished_at=timezone.now(),
        outcome_text=text[:2000],
        by=by[:150],
    )


def payment_retry(*, payment: Payment, by: str) -> None:
    """Makes the payment due now (a refused one is posted again: a 422 wrote nothing)."""
    in_doubt, was = payment.attempts.in_doubt().exists(), payment.state
    target = State.OUTCOME_UNKNOWN if in_doubt else State.CAPTURED
    sources = (State.OUTCOME_UNKNOWN, State.NEEDS_ATTENTION) if in_doubt else RETRYABLE
    with transaction.atomic():
        moved = payment_move(
            payment=payment,
            to=target,
            actor=Actor.STAFF,
            reason="retry now",
            by=by,
            sources=sources,
            guard=row_leases.free(timezone.now()),
            next_check_at=timezone.now(),
            enqueued_at=None,
            checks=0,
        )
        if not moved:
            raise ActionRefused(
                "This payment cannot be retried now (it is final or being worked on)."
            )
        staff_note(payment, by, f"retry now (from {was})")
        enqueue_soon(payment)


def payment_resolve(*, payment: Payment, by: str, note: str, posted: bool) -> None:
    """Staff checked Millennium by hand: it is on the account (posted) or it is not to be posted."""
    if not note.strip():
        raise ActionRefused("Say what you checked or did (the note is required).")
    verdict = Attempt.Result.LANDED if posted else Attempt.Result.NOT_LANDED
    now = timezone.now()
    with transaction.atomic():
        moved = payment_move(
            payment=payment,
            to=State.POSTED if posted else State.CANCELLED,
            actor=Actor.STAFF,
            reason=f"resolved: {note}",
            by=by,
            sources=RESOLVABLE,
            guard=row_leases.free(now),
            next_check_at=None,
            posted_at=now if posted else None,
            resolved_by=by[:150],
            resolution_note=note[:2000],
            message=f"Resolved by {by}: {note}"[:2000],
        )
        if not moved:
            raise ActionRefused(
                "This payment cannot be resolved now (it is final or being worked on)."
            )
        payment.attempts.in_doubt().update(result=verdict)
        staff_note(payment, by, f"marked {'posted' if posted else 'not to be posted'}: {note}")


def payment_refund(*, payment: Payment, by: str, note: str = "") -> None:
    """Refunds the card charge (only while the payment is not, and cannot be, on the account)."""
    if payment.method != "card" or not payment.charge_id:
        raise ActionRefused("Only card payments with a charge can be refunded here.")
    if payment.attempts.in_doubt().exists():
        raise ActionRefused("A post of this payment may have landed: resolve that first.")
    lease = timezone.now() + timedelta(seconds=settings.PAYMENT_CLAIM_SECONDS)
    claimed = Payment.objects.filter(
        row_leases.free(timezone.now()), pk=payment.pk, state__in=REFUNDABLE
    ).update(claimed_until=lease, claim_token=REFUND_CLAIM)
    if not claimed:
        raise ActionRefused("This payment cannot be refunded in its state.")
    try:
        refund = processor_for(payment_settings(tenant=payment.tenant)).refund(
            charge_id=payment.charge_id, idempotency_key=f"refund-{payment.posting_id}"
        )
    except ProcessorError as error:
        Payment.objects.filter(pk=payment.pk, claim_token=REFUND_CLAIM).update(
            claimed_until=None, claim_token=""
        )
        staff_note(payment, by, f"refund failed: {error.message}", Attempt.Result.ERROR)
        raise ActionRefused(f"The processor did not refund: {error.message}") from None
    refunded = f"Refunded {refund.amount} to the card ({refund.refund_id})."
    payment_move(
        payment=payment,
        to=State.REFUNDED,
        actor=Actor.STAFF,
        reason=refunded,
        by=by,
        sources=REFUNDABLE,
        guard=Q(claim_token=REFUND_CLAIM),
        next_check_at=None,
        claimed_until=None,
        claim_token="",
        resolved_by=by[:150],
        resolution_note=note[:2000],
        message=refunded,
    )
    staff_note(payment, by, f"refunded {refund.amount} ({refund.refund_id}) {note}".strip())
