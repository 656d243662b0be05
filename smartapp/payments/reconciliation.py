"""The billing office's daily reconciliation: the processor's charges and refunds against our
postings to Millennium, one row per payment, exceptions first.

Millennium's FinancialTransactions cannot be read back, so "posted" is our own evidence: the 201
(or the balance proof) recorded on the payment. The processor side is the processor's own list
of the day's charges, never our copy of it.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Q

from smartapp.payments.models import Payment, PaymentSettings, ReconciliationRun, State
from smartapp.payments.processor import (
    NotConfigured,
    ProcessorCharge,
    ProcessorError,
    processor_for,
)
from smartapp.tenants.models import Tenant

MATCHED = "matched"
NOT_POSTED = "captured, not posted"
POSTED_UNCAPTURED = "posted without a capture"
AMOUNTS_DIFFER = "amounts differ"
REFUND_NOT_REVERSED = "refunded, posting not reversed"
UNKNOWN_CHARGE = "processor charge without a payment"
EXCEPTIONS = (POSTED_UNCAPTURED, AMOUNTS_DIFFER, UNKNOWN_CHARGE, REFUND_NOT_REVERSED, NOT_POSTED)


@dataclass(frozen=True)
class ReconciliationRow:
    verdict: str
    reference: str  # our posting id ("" for a charge we do not know)
    method: str
    amount: Decimal | None  # ours
    processor_amount: Decimal | None
    refunded: Decimal
    state: str
    why: str


@dataclass(frozen=True)
class Reconciliation:
    tenant: Tenant
    day: date
    rows: list[ReconciliationRow]
    processor_note: str  # "" or why the processor's side is missing

    @property
    def exceptions(self) -> list[ReconciliationRow]:
        return [row for row in self.rows if row.verdict != MATCHED]

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for r in self.rows if r.verdict == v) for v in (MATCHED, *EXCEPTIONS)}


def _day_bounds(tenant: Tenant, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=tenant.zone)
    return start, start + timedelta(days=1)


def _processor_charges(
    tenant: Tenant, start: datetime, end: datetime
) -> tuple[list[ProcessorCharge], str]:
    settings = PaymentSettings.objects.filter(tenant=tenant).first()
    if settings is None:
        return [], ""
    try:
        return processor_for(settings).charges_between(start=start, end=end), ""
    except NotConfigured:
        return [], ""
    except ProcessorError as error:
        return [], f"The card processor's list of charges could not be read: {error.message}"


def _reversed_in_millennium(payment: Payment) -> Decimal:
    return sum(
        (r.amount for r in payment.reversals.all() if r.state == State.POSTED), Decimal("0.00")
    )


def _refund_verdict(refund: Payment) -> tuple[str, str]:
    """A refund's own row: the money went back; its reversal is posted, or not yet."""
    if refund.state == State.POSTED:
        return MATCHED, ""
    if refund.state == State.CANCELLED:
        return MATCHED, "refund refused by the processor: nothing moved"
    return NOT_POSTED, f"refund {refund.get_state_display()}: {refund.message}"[:300]


def _verdict(payment: Payment, charge: ProcessorCharge | None) -> tuple[str, str]:
    if payment.is_reversal:
        return _refund_verdict(payment)
    posted = payment.state == State.POSTED
    if payment.by_card and charge is None and posted:
        return POSTED_UNCAPTURED, "posted, but the processor has no such charge that day"
    if payment.captured_at is None and posted:
        return POSTED_UNCAPTURED, "posted without a recorded capture"
    if charge is not None and charge.amount != payment.amount:
        return AMOUNTS_DIFFER, f"processor {charge.amount}, ours {payment.amount}"
    reversed_ = _reversed_in_millennium(payment) if payment.posted_at is not None else None
    if charge is not None and reversed_ is not None and charge.refunded != reversed_:
        return (
            REFUND_NOT_REVERSED,
            f"{charge.refunded} refunded at the processor, {reversed_} reversed in Millennium",
        )
    if not posted and payment.state not in (State.REFUNDED, State.CANCELLED):
        return NOT_POSTED, f"{payment.get_state_display()}: {payment.message}"[:300]
    return MATCHED, ""


def _row(payment: Payment, charge: ProcessorCharge | None) -> ReconciliationRow:
    verdict, why = _verdict(payment, charge)
    return ReconciliationRow(
        verdict=verdict,
        reference=payment.posting_id,
        method=payment.method,
        amount=payment.amount,
        processor_amount=charge.amount if charge else None,
        refunded=charge.refunded if charge else Decimal("0"),
        state=payment.state,
        why=why,
    )


def reconciliation_for(*, tenant: Tenant, day: date) -> Reconciliation:
    """The day's report for one tenant (the clinic's calendar day)."""
    start, end = _day_bounds(tenant, day)
    charges, note = _processor_charges(tenant, start, end)
    by_id = {charge.charge_id: charge for charge in charges}
    that_day = Q(captured_at__gte=start, captured_at__lt=end) | Q(
        posted_at__gte=start, posted_at__lt=end
    )
    payments = Payment.objects.filter(
        Q(charge_id__in=list(by_id)) | that_day, tenant=tenant
    ).prefetch_related("reversals")
    rows = [_row(p, by_id.get(p.charge_id)) for p in payments.order_by("captured_at", "id")]
    known = {p.charge_id for p in payments if p.charge_id}
    rows += [
        ReconciliationRow(UNKNOWN_CHARGE, "", "card", None, c.amount, c.refunded, "", c.charge_id)
        for c in charges
        if c.charge_id not in known
    ]
    rows.sort(key=lambda row: (row.verdict == MATCHED, row.verdict))
    return Reconciliation(tenant=tenant, day=day, rows=rows, processor_note=note)


def reconciliation_csv(report: Reconciliation) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["verdict", "reference", "method", "amount", "processor_amount", "refunded", "state", "why"]
    )
    for row in report.rows:
        writer.writerow(
            [
                row.verdict,
                row.reference,
                row.method,
                row.amount or "",
                row.processor_amount or "",
                row.refunded,
                row.state,
                row.why,
            ]
        )
    return out.getvalue()


def reconciliation_record(*, report: Reconciliation) -> ReconciliationRun:
    """Keeps the day's counts (the staff queue shows the latest run's exceptions)."""
    run, _ = ReconciliationRun.objects.update_or_create(
        tenant=report.tenant,
        day=report.day,
        defaults={
            "exceptions": len(report.exceptions),
            "counts": report.counts(),
            "note": report.processor_note[:500],
        },
    )
    return run
