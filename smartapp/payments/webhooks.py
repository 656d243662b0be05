"""Stripe's webhook events: verified, recorded once, then acted on by asking Stripe itself.

An event is recorded (id, type, when) before it acts, inside one transaction, so a redelivered
or duplicated event finds its row and changes nothing twice. It never carries the truth itself:
for a PaymentIntent event the app reads the PaymentIntent from Stripe, so events arriving out of
order (a failure after the success) settle to what Stripe says now.
"""

import logging
from typing import Any

import stripe
from django.db import IntegrityError, transaction
from django.utils import timezone

from smartapp.payments.models import (
    Actor,
    Attempt,
    Payment,
    PaymentSettings,
    ProcessorEvent,
    State,
)
from smartapp.payments.processor import ProcessorError, processor_for
from smartapp.payments.services import checkout_settle
from smartapp.tenants.models import Tenant

logger = logging.getLogger(__name__)
TOLERANCE_SECONDS = 300  # an older signature is refused (a replay)
STAFF_NOTES = {
    "charge.refunded": "Refunded at Stripe",
    "charge.dispute.created": "The card holder disputed this charge at Stripe",
}


class BadEvent(Exception):
    """Not a genuine, fresh event from this tenant's Stripe account."""


def stripe_event_verify(*, settings: PaymentSettings, payload: bytes, signature: str) -> Any:
    """The event, if its signature is this tenant's and fresh (stripe.Webhook.construct_event)."""
    if settings.processor_kind != "stripe" or not settings.processor_webhook_secret:
        raise BadEvent("this hospital takes no Stripe events")
    try:
        return stripe.Webhook.construct_event(
            payload, signature, settings.processor_webhook_secret, tolerance=TOLERANCE_SECONDS
        )
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise BadEvent(type(error).__name__) from None


def _object(event: Any) -> dict[str, Any]:
    found = event.to_dict().get("data", {}).get("object")
    return found if isinstance(found, dict) else {}


def _payment_of(tenant: Tenant, found: dict[str, Any]) -> Payment | None:
    reference = str((found.get("metadata") or {}).get("reference") or "")
    rows = Payment.objects.filter(tenant=tenant)
    if reference:
        return rows.filter(posting_id=reference).first()
    charge = str(found.get("id") or "") if found.get("object") == "charge" else ""
    return rows.filter(charge_id=charge).first() if charge else None


def stripe_event_receive(*, tenant: Tenant, settings: PaymentSettings, event: Any) -> str:
    """Records the event once and acts on it; what it did, in words (for the log and staff)."""
    found = _object(event)
    payment = _payment_of(tenant, found)
    try:
        with transaction.atomic():
            row = ProcessorEvent.objects.create(
                event_id=str(event.id)[:255],
                tenant=tenant,
                kind=str(event.type)[:100],
                payment=payment,
            )
    except IntegrityError:
        return "already received"
    outcome = _act(str(event.type), payment, settings)
    ProcessorEvent.objects.filter(pk=row.pk).update(outcome=outcome[:500])
    logger.info("stripe event %s %s: %s", event.type, event.id, outcome)
    return outcome


def _refunded_by_us(payment: Payment) -> bool:
    return payment.state == State.REFUNDED or payment.reversals.exclude(refund_id="").exists()


def _act(kind: str, payment: Payment | None, settings: PaymentSettings) -> str:
    if payment is None:
        return "no payment of ours"
    if kind.startswith("payment_intent.") and payment.processor_session_id:
        processor = processor_for(settings)
        try:
            checkout = processor.fetch_session(session_id=payment.processor_session_id)
        except ProcessorError as error:
            return f"Stripe not readable now ({error.message}); the reconciliation will settle it"
        settled = checkout_settle(payment=payment, checkout=checkout, actor=Actor.PROCESSOR)
        return f"payment is {settled.state} (Stripe says {checkout.status})"
    if kind == "charge.refunded" and _refunded_by_us(payment):
        return "our refund, confirmed by Stripe"
    if kind in STAFF_NOTES:
        Attempt.objects.create(
            payment=payment,
            kind=Attempt.Kind.PROCESSOR,
            result=Attempt.Result.ERROR,
            outcome_text=f"{STAFF_NOTES[kind]}: check the payment and its posting in Millennium.",
            finished_at=timezone.now(),
        )
        return STAFF_NOTES[kind]
    return "nothing to do"
