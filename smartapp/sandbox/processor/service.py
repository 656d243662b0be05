"""The card processor's rules: sessions (idempotent by reference), test cards, charges, refunds."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.db import IntegrityError, transaction
from django.db.models import F

from smartapp.sandbox import links
from smartapp.sandbox.processor.models import Charge, CheckoutSession, Merchant, Refund

REFERENCE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# number → (outcome, brand, failure code, message)
TEST_CARDS = {
    "4242424242424242": ("captured", "visa", "", ""),
    "5555555555554444": ("captured", "mastercard", "", ""),
    "4000000000000002": ("declined", "visa", "card_declined", "The card was declined."),
    "4000000000009995": ("failed", "visa", "processing_error", "The processor had an error."),
}
PAYABLE = {"open", "declined", "failed"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def merchant_for(api_key: str) -> Merchant | None:
    if not api_key:
        return None
    for merchant in Merchant.objects.all():
        if hmac.compare_digest(merchant.api_key, api_key):
            return merchant
    return None


def signature(merchant: Merchant, session_id: str) -> str:
    return hmac.new(merchant.api_key.encode(), session_id.encode(), hashlib.sha256).hexdigest()


def checkout_url(session: CheckoutSession) -> str:
    return f"{links.base_url()}/sandbox/processor/checkout/{session.session_id}"


def return_url(session: CheckoutSession) -> str:
    query = {"session": session.session_id, "sig": signature(session.merchant, session.session_id)}
    joiner = "&" if urlsplit(session.return_url).query else "?"
    return f"{session.return_url}{joiner}{urlencode(query)}"


def cancel_url(session: CheckoutSession) -> str:
    joiner = "&" if urlsplit(session.cancel_url).query else "?"
    return f"{session.cancel_url}{joiner}{urlencode({'session': session.session_id})}"


def amount_of(value: Any, field: str = "amount") -> Decimal:
    if not isinstance(value, str):
        raise ApiError(400, "invalid_request", f'{field} must be a decimal string like "12.50"')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ApiError(400, "invalid_request", f"{field} is not a number") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise ApiError(400, "invalid_request", f"{field} must be positive, at most 2 decimals")
    return amount.quantize(Decimal("0.01"))


def _url(payload: dict[str, Any], field: str) -> str:
    value = payload.get(field)
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(400, "invalid_request", f"{field} must be an absolute http(s) URL")
    return str(value)


def create_session(merchant: Merchant, payload: Any) -> tuple[CheckoutSession, bool]:
    """(session, created). The same reference gives back the same session."""
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object")
    amount = amount_of(payload.get("amount"))
    if payload.get("currency") != "USD":
        raise ApiError(400, "invalid_request", "currency must be USD")
    reference = payload.get("reference")
    if not isinstance(reference, str) or not REFERENCE.match(reference):
        raise ApiError(400, "invalid_request", "reference: 1-100 letters, digits, - or _")
    description = payload.get("description", "")
    if not isinstance(description, str) or len(description) > 200:
        raise ApiError(400, "invalid_request", "description must be text (at most 200)")
    fields = {
        "amount": amount,
        "currency": "USD",
        "description": description,
        "return_url": _url(payload, "return_url"),
        "cancel_url": _url(payload, "cancel_url"),
    }
    existing = CheckoutSession.objects.filter(merchant=merchant, reference=reference).first()
    if existing is None:
        try:
            with transaction.atomic():
                session = CheckoutSession.objects.create(
                    merchant=merchant, reference=reference, session_id=_new_id("cs"), **fields
                )
                return session, True
        except IntegrityError:  # a concurrent create with the same reference won
            existing = CheckoutSession.objects.get(merchant=merchant, reference=reference)
    if existing.amount != amount or existing.currency != "USD":
        raise ApiError(409, "reference_conflict", "This reference has a different amount")
    return existing, False


def session_json(session: CheckoutSession) -> dict[str, Any]:
    charge = Charge.objects.filter(session=session).first()
    failure = None
    if session.failure_code:
        failure = {"code": session.failure_code, "message": session.failure_message}
    return {
        "id": session.session_id,
        "object": "checkout_session",
        "status": session.status,
        "amount": f"{session.amount:.2f}",
        "currency": session.currency,
        "reference": session.reference,
        "description": session.description,
        "return_url": session.return_url,
        "cancel_url": session.cancel_url,
        "checkout_url": checkout_url(session),
        "created_at": _stamp(session.created_at),
        "updated_at": _stamp(session.updated_at),
        "charge": charge_json(charge) if charge else None,
        "failure": failure,
    }


def charge_json(charge: Charge) -> dict[str, Any]:
    if charge.amount_refunded >= charge.amount:
        status = "refunded"
    elif charge.amount_refunded > 0:
        status = "partially_refunded"
    else:
        status = "succeeded"
    return {
        "id": charge.charge_id,
        "object": "charge",
        "session": charge.session.session_id,
        "reference": charge.session.reference,
        "status": status,
        "amount": f"{charge.amount:.2f}",
        "currency": charge.currency,
        "amount_refunded": f"{charge.amount_refunded:.2f}",
        "brand": charge.brand,
        "last4": charge.last4,
        "exp_month": charge.exp_month,
        "exp_year": charge.exp_year,
        "created_at": _stamp(charge.created_at),
        "refunds": [refund_json(r) for r in charge.refunds.order_by("pk")],
    }


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.refund_id,
        "object": "refund",
        "charge": refund.charge.charge_id,
        "amount": f"{refund.amount:.2f}",
        "status": "succeeded",
        "created_at": _stamp(refund.created_at),
    }


@dataclass
class Card:
    number: str
    exp_month: int
    exp_year: int


def pay(session_id: str, card: Card) -> CheckoutSession:
    """One attempt on the hosted page; a captured session is never charged twice."""
    outcome, brand, code, message = TEST_CARDS[card.number]
    with transaction.atomic():
        session = CheckoutSession.objects.select_for_update().get(session_id=session_id)
        if session.status not in PAYABLE:
            return session
        if outcome != "captured":
            session.status, session.failure_code, session.failure_message = outcome, code, message
            session.save()
            return session
        # Claims the session first, so two submits cannot both capture it.
        claimed = CheckoutSession.objects.filter(pk=session.pk, status__in=PAYABLE).update(
            status="captured", failure_code="", failure_message=""
        )
        if claimed:
            Charge.objects.create(
                session=session,
                charge_id=_new_id("ch"),
                amount=session.amount,
                currency=session.currency,
                brand=brand,
                last4=card.number[-4:],
                exp_month=card.exp_month,
                exp_year=card.exp_year,
            )
        session.refresh_from_db()
        return session


def refund(merchant: Merchant, charge_id: str, payload: Any, key: str) -> tuple[Refund, bool]:
    """(refund, created); `key` (Idempotency-Key) repeats give back the first refund."""
    charge = Charge.objects.filter(charge_id=charge_id, session__merchant=merchant).first()
    if charge is None:
        raise ApiError(404, "not_found", "No such charge")
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object")
    if key:
        earlier = Refund.objects.filter(charge=charge, idempotency_key=key).first()
        if earlier is not None:
            return earlier, False
    with transaction.atomic():
        locked = Charge.objects.select_for_update().get(pk=charge.pk)
        left = locked.amount - locked.amount_refunded
        if left <= 0:
            raise ApiError(422, "charge_not_refundable", "The charge is already fully refunded")
        amount = left if payload.get("amount") is None else amount_of(payload["amount"])
        if amount > left:
            raise ApiError(422, "refund_exceeds_charge", f"At most {left:.2f} can be refunded")
        Charge.objects.filter(pk=locked.pk).update(amount_refunded=F("amount_refunded") + amount)
        made = Refund.objects.create(
            charge=locked, refund_id=_new_id("re"), amount=amount, idempotency_key=key
        )
    return made, True
