"""Writes: start a payment, run its checkout, record a desk payment, find due work.

Capture first (processor), then record, then post (posting.py). The posting identifier is fixed
when the row is created, before the processor or the EHR hears of the payment.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from smartapp.launch.models import Launch
from smartapp.lib import row_leases
from smartapp.payments.models import (
    DUE_STATES,
    Actor,
    AmountSource,
    Attempt,
    Method,
    Payment,
    PaymentSettings,
    State,
)
from smartapp.payments.processor import Checkout, Processor, ProcessorError, processor_for
from smartapp.payments.stripe_processor import StripeProcessor
from smartapp.payments.transitions import payment_move
from smartapp.tenants.models import Tenant

logger = logging.getLogger(__name__)


def payment_settings(*, tenant: Tenant) -> PaymentSettings:
    return PaymentSettings.objects.get_or_create(tenant=tenant)[0]


def receipt_soon(payment: Payment) -> None:
    """After commit, a worker emails the receipt (once; the hospital and patient need email)."""

    def send() -> None:
        from smartapp.payments.tasks import receipt_send

        try:
            receipt_send.delay(payment.pk)
        except Exception as error:  # broker down: staff can send it from the payment's page
            logger.warning("payment %s receipt not enqueued: %s", payment.posting_id, error)

    transaction.on_commit(send)


def enqueue_soon(payment: Payment) -> None:
    """After commit, ask a worker to process it now (the beat finds it anyway if this fails)."""

    def send() -> None:
        from smartapp.payments.tasks import payment_process

        try:
            payment_process.delay(payment.pk)
        except Exception as error:  # broker down: the beat task enqueues it when Redis is back
            logger.warning("payment %s not enqueued now: %s", payment.posting_id, error)

    transaction.on_commit(send)


@dataclass(frozen=True)
class NewPayment:
    launch: Launch
    encounter_id: str
    amount: Decimal
    amount_source: str
    request_key: str
    language: str = ""  # the patient's page language: their receipt email's


def payment_start(*, new: NewPayment) -> Payment:
    """The outbox row for a patient's card payment; the same form key returns the same row."""
    launch = new.launch
    try:
        with transaction.atomic():
            return Payment.objects.create(
                request_key=new.request_key,
                tenant=launch.tenant,
                launch=launch,
                patient_id=launch.patient_id,
                encounter_id=new.encounter_id,
                amount=new.amount,
                amount_source=new.amount_source,
                method=Method.CARD,
                language=new.language,
            )
    except IntegrityError:  # a double-clicked Pay: the first click's payment
        return _same_form(new.request_key, launch, new.encounter_id)


def processor_attempt_record(
    payment: Payment, result: str, text: str, status: int | None = None
) -> None:
    Attempt.objects.create(
        payment=payment,
        kind=Attempt.Kind.PROCESSOR,
        result=result,
        finished_at=timezone.now(),
        http_status=status,
        outcome_text=text[:2000],
    )


def checkout_begin(
    *, payment: Payment, return_url: str, cancel_url: str, card_page_url: str = ""
) -> str:
    """The card page's URL: the processor's hosted page, or ours with its card fields (the
    session is created once per posting identifier)."""
    checkout = processor_for(payment_settings(tenant=payment.tenant)).create_checkout(
        amount=payment.amount,
        reference=payment.posting_id,
        return_url=return_url,
        cancel_url=cancel_url,
        card_page_url=card_page_url,
        metadata={"tenant": payment.tenant.slug, "visit": payment.encounter_id},
    )
    Payment.objects.filter(pk=payment.pk, state=State.NEW).update(
        processor_session_id=checkout.session_id, checkout_url=checkout.checkout_url
    )
    payment.processor_session_id, payment.checkout_url = checkout.session_id, checkout.checkout_url
    if checkout.status == "captured":
        checkout_settle(payment=payment, checkout=checkout, actor=Actor.PROCESSOR)
    return checkout.checkout_url


def _matches(payment: Payment, checkout: Checkout) -> bool:
    return checkout.reference == payment.posting_id and checkout.amount == payment.amount


def checkout_settle(*, payment: Payment, checkout: Checkout, actor: Actor) -> Payment:
    """Applies what the processor says about the session (the only source we trust)."""
    if not _matches(payment, checkout):
        processor_attempt_record(
            payment, Attempt.Result.ERROR, f"session {checkout.session_id} is not this payment's"
        )
        return payment
    if checkout.status == "captured" and checkout.charge_id:
        _capture(payment, checkout, actor)
    elif checkout.status in ("declined", "failed") and payment.state == State.NEW:
        text = checkout.failure or f"card {checkout.status}"
        Payment.objects.filter(pk=payment.pk, state=State.NEW).update(message=text)
    payment.refresh_from_db()
    return payment


def _capture(payment: Payment, checkout: Checkout, actor: Actor) -> None:
    """new (or cancelled before any charge) → captured, exactly once, then post soon."""
    now = timezone.now()
    with transaction.atomic():
        captured = payment_move(
            payment=payment,
            to=State.CAPTURED,
            actor=actor,
            reason=f"captured, charge {checkout.charge_id}",
            sources=(State.NEW, State.CANCELLED),
            guard=Q(charge_id=""),
            processor_session_id=checkout.session_id,
            charge_id=checkout.charge_id,
            card_brand=checkout.brand[:20],
            card_last4=checkout.last4,
            card_expiry=checkout.expiry,
            captured_at=now,
            next_check_at=now,
            message="Card payment captured.",
        )
        if captured:
            processor_attempt_record(
                payment, Attempt.Result.OK, f"captured, charge {checkout.charge_id}", 200
            )
            enqueue_soon(payment)
            receipt_soon(payment)


def stripe_for(payment: Payment) -> StripeProcessor | None:
    """The payment's processor when it is Stripe (whose card fields live on our card page)."""
    processor = processor_for(payment_settings(tenant=payment.tenant))
    return processor if isinstance(processor, StripeProcessor) else None


def card_confirm(*, payment: Payment, stripe: StripeProcessor, setup_intent_id: str) -> Payment:
    """Pays with the card the browser set up at Stripe; Stripe's answer settles the payment."""
    try:
        checkout = stripe.pay_with_setup(
            session_id=payment.processor_session_id,
            setup_intent_id=setup_intent_id,
            reference=payment.posting_id,
        )
    except ProcessorError as error:
        if error.unclear:  # sent, no answer: a retry reuses the confirmation's idempotency key
            text = (
                "Stripe did not answer the card confirmation: the webhook or the checkout "
                "reconciliation settles it, and a retry cannot charge twice."
            )
            processor_attempt_record(payment, Attempt.Result.UNKNOWN, text)
        raise
    return checkout_settle(payment=payment, checkout=checkout, actor=Actor.PROCESSOR)


def checkout_return(*, payment: Payment, session_id: str) -> Payment:
    """The processor sent the patient back: ask the processor itself, never the query string."""
    if not payment.processor_session_id or session_id != payment.processor_session_id:
        logger.warning("payment %s: return with a session that is not its own", payment.posting_id)
        return payment
    if payment.state not in (State.NEW, State.CANCELLED):
        return payment  # a replayed return changes nothing
    checkout = processor_for(payment_settings(tenant=payment.tenant)).fetch_session(
        session_id=session_id
    )
    return checkout_settle(payment=payment, checkout=checkout, actor=Actor.PROCESSOR)


def _abandon(processor: Processor, payment: Payment) -> None:
    try:
        processor.abandon(session_id=payment.processor_session_id)
    except ProcessorError as error:  # it stays open at the processor; a late charge is still taken
        logger.warning(
            "reconcile %s: not abandoned at the processor: %s", payment.posting_id, error
        )


def reconcile_before(older_than: timedelta | None) -> datetime:
    """Rows older than this are reconciled (`older_than`, else the setting; 0 is meant)."""
    default = timedelta(seconds=settings.PAYMENT_CHECKOUT_RECONCILE_SECONDS)
    return timezone.now() - (default if older_than is None else older_than)


def checkouts_reconcile(*, older_than: timedelta | None = None) -> int:
    """Payments left at `new` (the patient closed the tab): captured → post; else cancel."""
    stale = Payment.objects.filter(
        state=State.NEW,
        method=Method.CARD,
        reverses__isnull=True,  # a refund left new is asked again (refunds.refunds_reconcile)
        created_at__lt=reconcile_before(older_than),
    ).select_related("tenant")[:200]
    done = 0
    for payment in stale:
        processor = processor_for(payment_settings(tenant=payment.tenant))
        try:  # the session we know, else (its creation went unanswered) a search by reference
            checkout = (
                processor.fetch_session(session_id=payment.processor_session_id)
                if payment.processor_session_id
                else processor.find_by_reference(reference=payment.posting_id)
            )
        except ProcessorError as error:
            logger.warning("reconcile %s: %s", payment.posting_id, error)
            continue
        if checkout is not None and checkout.status == "captured":
            checkout_settle(payment=payment, checkout=checkout, actor=Actor.RECONCILIATION)
        else:
            abandoned = "Checkout abandoned: nothing was charged."
            moved = payment_move(
                payment=payment,
                to=State.CANCELLED,
                actor=Actor.EXPIRY,
                reason=abandoned,
                sources=(State.NEW,),
                message=abandoned,
            )
            if moved and payment.processor_session_id:
                _abandon(processor, payment)
        done += 1
    return done


@dataclass(frozen=True)
class DeskPayment:
    launch: Launch
    encounter_id: str
    amount: Decimal
    method: str
    request_key: str
    tendered: Decimal | None = None
    check_number: str = ""
    card_brand: str = ""
    card_last4: str = ""
    card_expiry: str = ""


def desk_payment_record(*, desk: DeskPayment) -> Payment:
    """Money taken in person is already in hand: the row starts `captured` and posts soon."""
    launch = desk.launch
    taken = f"{Method(desk.method).label} taken at the desk."
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                request_key=desk.request_key,
                tenant=launch.tenant,
                launch=launch,
                patient_id=launch.patient_id,
                encounter_id=desk.encounter_id,
                amount=desk.amount,
                amount_source=AmountSource.DESK,
                method=desk.method,
                taken_by=launch.user_reference or "front desk",
                tendered=desk.tendered,
                check_number=desk.check_number,
                card_brand=desk.card_brand,
                card_last4=desk.card_last4,
                card_expiry=desk.card_expiry,
            )
            at_desk_capture(payment=payment, words=taken, by=payment.taken_by)
            return payment
    except IntegrityError:  # the same form submitted twice
        return _same_form(desk.request_key, launch, desk.encounter_id)


def at_desk_capture(*, payment: Payment, words: str, by: str) -> None:
    """Money taken (or handed back) at the desk is in hand: `new` → `captured`, to post now."""
    now = timezone.now()
    payment_move(
        payment=payment,
        to=State.CAPTURED,
        actor=Actor.STAFF,
        reason=words,
        by=by,
        sources=(State.NEW,),
        captured_at=now,
        next_check_at=now,
        message=words,
    )
    enqueue_soon(payment)


class KeyUsedElsewhere(Exception):
    """A form's once-only key already made a payment for another launch, patient or visit."""


def _same_form(key: str, launch: Launch, encounter_id: str) -> Payment:
    """The payment this very form made before (a double submit); never another one's."""
    payment = Payment.objects.filter(
        request_key=key,
        tenant=launch.tenant,
        launch=launch,
        patient_id=launch.patient_id,
        encounter_id=encounter_id,
    ).first()
    if payment is None:
        raise KeyUsedElsewhere(key)
    return payment


def _claim_due(*, limit: int) -> list[tuple[int, int, str]]:
    """(id, tenant, encounter) of due, unclaimed payments not enqueued lately, marked enqueued."""
    now = timezone.now()
    grace = now - timedelta(seconds=settings.PAYMENT_ENQUEUE_GRACE_SECONDS)
    with transaction.atomic():
        due = (
            Payment.objects.filter(state__in=DUE_STATES, next_check_at__lte=now)
            .filter(row_leases.free(now))
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=grace))
            .order_by("next_check_at", "id")
        )
        if connection.vendor == "postgresql":  # two beats never hand out the same rows
            due = due.select_for_update(skip_locked=True)
        rows = list(due.values_list("id", "tenant_id", "encounter_id")[:limit])
        Payment.objects.filter(id__in=[row[0] for row in rows]).update(enqueued_at=now)
    return rows


def payments_due_by_visit(*, limit: int = 2000, per_visit: int = 50) -> list[list[int]]:
    """Ids of due, unclaimed payments not enqueued lately (marked enqueued in the same step),
    grouped by visit (at most `per_visit` ids a group).

    A visit's payments are stepped together: one Account search serves them all. `limit` caps
    what one beat tick hands out (2,000 every 5 s is well above what the workers post).
    """
    visits: dict[tuple[int, str], list[list[int]]] = {}
    for payment_id, tenant_id, encounter_id in _claim_due(limit=limit):
        groups = visits.setdefault((tenant_id, encounter_id), [[]])
        if len(groups[-1]) == per_visit:
            groups.append([])
        groups[-1].append(payment_id)
    return [group for groups in visits.values() for group in groups]
