"""Balance evidence: how a payment is posted exactly once although a FinancialTransaction can
never be read back.

The argument, once. (1) Before each POST we commit a `sending` attempt holding the balance we
expect the Account to have then; only one worker posts to a visit's Account at a time (the visit
lock), so nothing of ours moves the balance between that read and the POST. (2) A clear 201 is
proof it landed; a clear 4xx is proof it did not. (3) Any other ending (timeout, 5xx, a dropped
connection, a killed worker) leaves the attempt unresolved, and nothing is sent for that payment
until a fresh read of the balance decides: it moved by exactly the write's effect (a payment
lowers the balance by its amount, a refund's reversing adjustment raises it), after taking off
what our own later postings to the Account moved, means it landed; it did not move means it did
not land and may be posted again; anything else goes to staff. (4) While any of our writes to an
Account is in doubt, no other payment is posted to it, so the next verdict reads clean evidence.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, F, Sum, When
from django.utils import timezone

from smartapp.payments.claiming import Job
from smartapp.payments.ehr import AccountBalance
from smartapp.payments.models import Actor, Attempt, State
from smartapp.payments.transitions import payment_move

OURS_LANDED = (Attempt.Result.POSTED, Attempt.Result.LANDED)


@dataclass(frozen=True)
class Verdict:
    """What the balance says about a write in doubt."""

    result: Attempt.Result  # LANDED, NOT_LANDED, or ERROR (cannot tell)
    note: str


def others_in_doubt(job: Job, account_id: str) -> bool:
    """Another of our payments to this Account has an unresolved write: its evidence comes first."""
    return (
        Attempt.objects.in_doubt()
        .filter(payment__tenant=job.payment.tenant, account_id=account_id)
        .exclude(payment=job.payment)
        .exists()
    )


def _ours_since(job: Job, attempt: Attempt) -> Decimal:
    """How our other postings to this Account moved its balance after `attempt` took it."""
    effect = Case(
        When(payment__reverses__isnull=False, then=F("payment__amount")),
        default=-F("payment__amount"),
    )
    total = (
        Attempt.objects.filter(
            payment__tenant=job.payment.tenant,
            account_id=attempt.account_id,
            kind=Attempt.Kind.POST,
            result__in=OURS_LANDED,
            id__gt=attempt.id,
        )
        .exclude(payment=job.payment)
        .aggregate(total=Sum(effect))["total"]
    )
    return total or Decimal("0.00")


def verdict_for(job: Job, attempt: Attempt, now: AccountBalance) -> Verdict:
    """Did the write in doubt land? Decided by the balance, never by hope."""
    effect = job.payment.balance_effect
    if attempt.balance_before is None or now.balance is None:
        moved = None
    else:
        moved = now.balance - attempt.balance_before - _ours_since(job, attempt)
    note = (
        f"balance before {attempt.balance_before}, now {now.balance}; "
        f"moved by {moved} (this write: {effect:+}, our other postings since excluded)"
    )
    if moved == effect:
        return Verdict(Attempt.Result.LANDED, note)
    if moved == 0:
        return Verdict(Attempt.Result.NOT_LANDED, note)
    return Verdict(Attempt.Result.ERROR, note)


def verdict_record(job: Job, attempt: Attempt, verdict: Verdict, account_id: str) -> Attempt:
    """Settles the attempt in doubt (when the balance could tell) and records the check."""
    if verdict.result != Attempt.Result.ERROR:
        Attempt.objects.filter(pk=attempt.pk, result__in=Attempt.UNRESOLVED).update(
            result=verdict.result
        )
    return Attempt.objects.create(
        payment=job.payment,
        kind=Attempt.Kind.VERIFY,
        result=verdict.result,
        finished_at=timezone.now(),
        account_id=account_id,
        outcome_text=verdict.note,
    )


def sending_start(job: Job, balance: AccountBalance) -> Attempt | None:
    """Commits `posting` with the `sending` attempt and its evidence, before the POST.

    None when the claim was lost (and then nothing is recorded as sent).
    """
    with transaction.atomic():
        attempt = Attempt.objects.create(
            payment=job.payment,
            kind=Attempt.Kind.POST,
            result=Attempt.Result.SENDING,
            account_id=balance.account_id,
            balance_before=balance.balance,
        )
        moved = payment_move(
            payment=job.payment,
            to=State.POSTING,
            actor=Actor.WORKER,
            reason="posting, with the balance recorded first",
            attempt=attempt,
            guard=job.held,
            account_id=balance.account_id,
        )
        if not moved:
            transaction.set_rollback(True)
            return None
    job.payment.account_id = balance.account_id
    return attempt


def attempt_finish(attempt: Attempt, result: Attempt.Result, **fields: object) -> None:
    Attempt.objects.filter(pk=attempt.pk).update(
        result=result, finished_at=timezone.now(), **fields
    )
