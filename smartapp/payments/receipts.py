"""A receipt per captured payment: what was paid, for which visit (in words), how, and where it
stands in Millennium; printable, and emailed once where the hospital and the patient have email."""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings as django_settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import dateformat, timezone, translation
from django.utils.translation import gettext as _

from smartapp.clinical.visits import Visit, fill_visit_names, visit_from
from smartapp.fhir import errors as fhir
from smartapp.fhir.gateway import FhirGateway
from smartapp.payments.models import Attempt, Payment, State
from smartapp.payments.money import money_text
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
        brand = payment.card_brand.capitalize() if payment.card_brand else _("Card")
        if payment.card_last4:
            return _("%(brand)s ending %(last4)s") % {"brand": brand, "last4": payment.card_last4}
        return brand
    return _("%(method)s at the desk") % {"method": payment.get_method_display()}


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
    """A moment in the hospital's zone, as the active language writes it ("5 Mar 2026, 09:30")."""
    if moment is None:
        return _("not recorded")
    return dateformat.format(moment.astimezone(zone), _("j M Y, H:i"))


def _visit_words(visit: Visit | None, zone: ZoneInfo) -> str:
    if visit is None:
        return _("see your visits")
    words = _when(visit.start, zone)
    if visit.location:
        words += f", {visit.location}"
    if visit.attending:
        words += ", " + _("with %(who)s") % {"who": visit.attending}
    return words


def receipt_text(receipt: Receipt) -> str:
    """The receipt as plain text (the email's body), in the active language."""
    zone = receipt.zone
    lines = [
        _("%(hospital)s: receipt for your payment") % {"hospital": receipt.hospital},
        "",
        _("Amount: %(amount)s")
        % {"amount": _("%(amount)s USD") % {"amount": money_text(receipt.amount)}},
        _("Paid: %(when)s (%(zone)s time)")
        % {"when": _when(receipt.paid_at, zone), "zone": zone.key},
        _("Paid by: %(how)s") % {"how": receipt.paid_by},
        _("Visit: %(visit)s") % {"visit": _visit_words(receipt.visit, zone)},
        _("Reference: %(reference)s") % {"reference": receipt.reference},
        _("Status: %(headline)s. %(detail)s")
        % {"headline": receipt.words.headline, "detail": receipt.words.detail},
        *(
            _("Refund %(when)s: %(amount)s. %(detail)s")
            % {
                "when": _when(line.at, zone),
                "amount": money_text(line.amount),
                "detail": line.words.detail,
            }
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
    # In the patient's language when they paid (a worker has no request, so no language of its own).
    with translation.override(payment.language or django_settings.LANGUAGE_CODE):
        receipt = receipt_for(payment=payment, gateway=gateway)
        subject = _("%(hospital)s: receipt %(reference)s") % {
            "hospital": receipt.hospital,
            "reference": receipt.reference,
        }
        body = receipt_text(receipt)
    send_mail(subject, body, settings.receipt_from, [address])
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
