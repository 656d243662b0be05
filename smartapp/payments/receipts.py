"""A receipt per captured payment: what was paid, for which visit (in words), how, and where it
stands in Millennium; printable, and emailed once where the hospital and the patient have email."""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from smartapp.clinical.visits import Visit, fill_visit_names, visit_from
from smartapp.fhir import errors as fhir
from smartapp.fhir.gateway import FhirGateway
from smartapp.payments.models import Attempt, Payment, State
from smartapp.payments.words import Words, payment_words, refund_words

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    hospital: str
    amount: Decimal
    currency: str
    paid_at: datetime | None
    zone: ZoneInfo
    visit: Visit | None  # None: the EHR could not say (the receipt still shows the rest)
    paid_by: str
    reference: str
    words: Words
    refunds: list["RefundLine"]


@dataclass(frozen=True)
class RefundLine:
    amount: Decimal
    at: datetime
    words: Words


def refund_lines(payment: Payment) -> list[RefundLine]:
    """The payment's refunds that moved or are moving money (a refused one moved nothing)."""
    return [
        RefundLine(r.amount, r.captured_at or r.created_at, refund_words(r))
        for r in payment.reversals.exclude(state=State.CANCELLED).order_by("created_at")
    ]


def _paid_by(payment: Payment) -> str:
    if payment.by_card:
        brand = (payment.card_brand or "card").capitalize()
        return f"{brand} ending {payment.card_last4}" if payment.card_last4 else brand
    return f"{payment.get_method_display()} at the desk"


def _visit(gateway: FhirGateway, encounter_id: str) -> Visit | None:
    try:
        visit = visit_from(gateway.read("Encounter", encounter_id))
        fill_visit_names(gateway=gateway, visits=[visit])
    except fhir.FhirError as error:
        logger.info("receipt: encounter %s unreadable (%s)", encounter_id, error.status)
        return None
    return visit


def receipt_for(*, payment: Payment, gateway: FhirGateway) -> Receipt:
    """The receipt's facts; `gateway` reads the visit (the viewer's own access, or the system's)."""
    return Receipt(
        hospital=payment.tenant.name,
        amount=payment.amount,
        currency=payment.currency,
        paid_at=payment.captured_at,
        zone=payment.tenant.zone,
        visit=_visit(gateway, payment.encounter_id),
        paid_by=_paid_by(payment),
        reference=payment.posting_id,
        words=payment_words(payment),
        refunds=refund_lines(payment),
    )


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%-d %b %Y, %H:%M") if moment else "not recorded"


def receipt_text(receipt: Receipt) -> str:
    """The receipt as plain text (the email's body)."""
    visit = receipt.visit
    lines = [
        f"{receipt.hospital}: receipt for your payment",
        "",
        f"Amount: ${receipt.amount:,.2f} {receipt.currency}",
        f"Paid: {_when(receipt.paid_at, receipt.zone)} ({receipt.zone.key})",
        f"Paid by: {receipt.paid_by}",
        f"Visit: {_when(visit.start, receipt.zone) if visit else 'see your visits'}"
        + (f", {visit.location}" if visit and visit.location else "")
        + (f", with {visit.attending}" if visit and visit.attending else ""),
        f"Reference: {receipt.reference}",
        f"Status: {receipt.words.headline}. {receipt.words.detail}",
        *(
            f"Refund {_when(line.at, receipt.zone)}: ${line.amount:,.2f}. {line.words.detail}"
            for line in receipt.refunds
        ),
    ]
    return "\n".join(lines) + "\n"


def receipt_email(*, payment: Payment, again: bool = False) -> str:
    """Emails the receipt once (`again`: staff re-send), reading the record with the system
    client; what happened, in words."""
    from smartapp.payments.claiming import payment_gateway
    from smartapp.payments.services import payment_settings

    settings = payment_settings(tenant=payment.tenant)
    if not settings.receipt_from:
        return "this hospital sends no receipt emails"
    gateway = payment_gateway(payment)
    address = _patient_email(gateway, payment.patient_id)
    if not address:
        return "the patient has no email address in the record"
    unsent = Q() if again else Q(receipt_sent_at__isnull=True)
    if not Payment.objects.filter(unsent, pk=payment.pk).update(receipt_sent_at=timezone.now()):
        return "already sent"
    receipt = receipt_for(payment=payment, gateway=gateway)
    send_mail(
        f"{receipt.hospital}: receipt {receipt.reference}",
        receipt_text(receipt),
        settings.receipt_from,
        [address],
    )
    Attempt.objects.create(
        payment=payment,
        kind=Attempt.Kind.STAFF if again else Attempt.Kind.PROCESSOR,
        result=Attempt.Result.OK,
        finished_at=timezone.now(),
        outcome_text="receipt emailed" + (" again" if again else ""),
    )
    return "sent"


def _patient_email(gateway: FhirGateway, patient_id: str) -> str:
    try:
        patient = gateway.read_json("Patient", patient_id)
    except fhir.FhirError:
        return ""
    for telecom in patient.get("telecom") or []:
        if isinstance(telecom, dict) and telecom.get("system") == "email" and telecom.get("value"):
            return str(telecom["value"])[:254]
    return ""
