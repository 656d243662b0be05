"""What Millennium received: FinancialTransactions, appointments and messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smartapp.payments.models import Payment


@dataclass(frozen=True)
class FinancialTransaction:
    """One accepted `POST /Basic` (a payment or an adjustment), as Millennium keeps it."""

    id: str  # FT-PL-… (payment) or FT-AL-… (adjustment)
    identifier: str  # the app's posting id
    kind: str  # payment | adjustment
    amount: Decimal
    currency: str
    alias: str
    method: str
    account: str  # the guarantor-balance Account it changed, "G…"
    at: datetime


@dataclass(frozen=True)
class AppointmentChange:
    """An Appointment created or changed since the test began."""

    fhir_id: str
    patient_id: str
    practitioner_id: str
    start: datetime
    status: str
    reason: str
    created: bool  # False: a seeded appointment changed (cancelled, rescheduled, checked in)


@dataclass(frozen=True)
class MessageSent:
    """A message written since the test began: `portal` (Messages API) or `communication` (FHIR)."""

    kind: str
    id: str
    patient_id: str
    subject: str


@dataclass(frozen=True)
class Baseline:
    """Internal: what the seed held, so the ledger shows only what a test sent."""

    appointment_versions: dict[int, int] = field(default_factory=dict)
    last_message_pk: int = 0
    last_communication_pk: int = 0

    @classmethod
    def now(cls) -> Baseline:
        from django.db.models import Max

        from smartapp.sandbox.models import Appointment, Communication, PortalMessage

        return cls(
            dict(Appointment.objects.values_list("pk", "version")),
            PortalMessage.objects.aggregate(top=Max("pk"))["top"] or 0,
            Communication.objects.aggregate(top=Max("pk"))["top"] or 0,
        )


class Ledger:
    """Read live: each property queries the sandbox afresh."""

    def __init__(self, baseline: Baseline | None = None) -> None:
        self._baseline = baseline or Baseline()

    @property
    def transactions(self) -> list[FinancialTransaction]:
        """Every FinancialTransaction Millennium accepted, oldest first (duplicates kept)."""
        from smartapp.sandbox.models import Posting

        return [
            FinancialTransaction(
                row.transaction_id,
                row.identifier,
                row.kind,
                row.amount,
                row.currency,
                row.alias,
                row.method,
                row.account_fhir_id,
                row.at,
            )
            for row in Posting.objects.order_by("pk")
        ]

    def for_payment(self, payment: Payment) -> list[FinancialTransaction]:
        """The FinancialTransactions carrying this payment's posting id."""
        return [row for row in self.transactions if row.identifier == payment.posting_id]

    @property
    def appointments(self) -> list[AppointmentChange]:
        """Appointments booked, or seeded ones changed, since the test began; by start."""
        from smartapp.sandbox.models import Appointment

        seeded = self._baseline.appointment_versions
        return [
            AppointmentChange(
                row.fhir_id,
                row.patient_fhir_id,
                row.practitioner_fhir_id,
                row.start,
                row.status,
                row.reason_text,
                created=row.pk not in seeded,
            )
            for row in Appointment.objects.order_by("start", "pk")
            if seeded.get(row.pk) != row.version
        ]

    @property
    def messages(self) -> list[MessageSent]:
        """Portal messages and FHIR Communications written since the test began, oldest first."""
        from smartapp.sandbox.models import Communication, PortalMessage

        portal = PortalMessage.objects.filter(pk__gt=self._baseline.last_message_pk, folder="SENT")
        sent = [
            MessageSent("portal", row.message_id, row.patient_fhir_id, row.subject)
            for row in portal.order_by("pk")
        ]
        communications = Communication.objects.filter(pk__gt=self._baseline.last_communication_pk)
        return sent + [
            MessageSent(
                "communication",
                row.fhir_id,
                row.patient_fhir_id,
                str((row.resource.get("topic") or {}).get("text") or ""),
            )
            for row in communications.order_by("pk")
        ]


def assert_posted_once(payment: Payment) -> FinancialTransaction:
    """Millennium holds exactly one FinancialTransaction for the payment, for its amount."""
    __tracebackhide__ = True
    payment.refresh_from_db()
    found = Ledger().for_payment(payment)
    if len(found) != 1:
        raise AssertionError(
            f"payment {payment.posting_id} reached Millennium {len(found)} times "
            f"(state {payment.state}): {found}"
        )
    if found[0].amount != payment.amount:
        raise AssertionError(
            f"payment {payment.posting_id} of {payment.amount} was posted as {found[0].amount}"
        )
    return found[0]
