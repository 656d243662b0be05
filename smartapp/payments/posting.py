"""The outbox worker: post a captured payment to Millennium exactly once.

Claim the row (conditional UPDATE: works on SQLite and PostgreSQL, across processes), find the
visit's guarantor-balance Account, lock that Account, read its balance, write a `sending` attempt
with that balance (committed BEFORE the POST), then POST /Basic. An unclear answer (timeout, 5xx,
dropped connection, a worker killed mid-POST) leaves the attempt unresolved; the next claim decides
from the Account's balance whether it landed. A write is never sent again blindly.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from smartapp.fhir import errors as fhir
from smartapp.fhir.gateway import AuditContext, FhirGateway
from smartapp.payments.ehr import AccountBalance, financial_transaction, guarantor_account
from smartapp.payments.models import (
    DUE_STATES,
    AccountLock,
    Attempt,
    Payment,
    PaymentSettings,
    State,
)

logger = logging.getLogger(__name__)
UNRESOLVED = (Attempt.Result.SENDING, Attempt.Result.UNKNOWN)
OURS_LANDED = (Attempt.Result.POSTED, Attempt.Result.LANDED)
LOCK_WAIT = timedelta(seconds=1)


def _lease() -> timedelta:
    return timedelta(seconds=settings.PAYMENT_CLAIM_SECONDS)


def _free(now: object) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def payment_claim(*, payment_id: int) -> str | None:
    """Claims a due payment for this worker; returns the claim token, or None if not ours."""
    now = timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        Payment.objects.filter(_free(now), pk=payment_id, state__in=DUE_STATES)
        .filter(next_check_at__lte=now)
        .update(claimed_until=now + _lease(), claim_token=token, updated_at=now)
    )
    return token if claimed == 1 else None


@dataclass
class Job:
    payment: Payment
    token: str
    settings: PaymentSettings
    gateway: FhirGateway
    unresolved: Attempt | None = None


def _save(job: Job, **fields: object) -> bool:
    """Updates the row only while this worker still holds the claim; releases it."""
    now = timezone.now()
    fields = {"claimed_until": None, "claim_token": "", "enqueued_at": None, **fields}
    done = Payment.objects.filter(pk=job.payment.pk, claim_token=job.token).update(
        updated_at=now, **fields
    )
    if not done:
        logger.error("payment %s: claim lost before saving %s", job.payment.posting_id, fields)
    return bool(done)


def _resting(job: Job) -> str:
    if job.unresolved is not None:
        return State.OUTCOME_UNKNOWN
    return State.CAPTURED if job.payment.account_id else State.AWAITING_ACCOUNT


def _escalated(job: Job) -> bool:
    since = job.payment.captured_at or job.payment.created_at
    return timezone.now() - since > timedelta(seconds=job.settings.escalate_after_seconds)


def _later(job: Job, *, message: str, delay: float | None = None, state: str = "") -> str:
    """Try again later (backing off, capped), or escalate once the tenant's time is up."""
    checks = job.payment.checks + 1
    cap = job.settings.backoff_cap_seconds
    if delay is None:
        delay = min(cap, settings.PAYMENT_BACKOFF_BASE_SECONDS * 2 ** min(job.payment.checks, 20))
    state = state or _resting(job)
    if _escalated(job) and state != State.NEEDS_ATTENTION:
        hours = job.settings.escalate_after_seconds / 3600
        message = f"Escalated after {hours:g} h: {message}"
        state, delay = State.NEEDS_ATTENTION, cap  # still looking, at the slowest pace
    when = timezone.now() + timedelta(seconds=delay)
    _save(job, state=state, next_check_at=when, checks=checks, message=message)
    return state


def _attempt(job: Job, kind: str, result: str, **fields: object) -> Attempt:
    return Attempt.objects.create(
        payment=job.payment, kind=kind, result=result, finished_at=timezone.now(), **fields
    )


def _from_error(error: fhir.FhirError) -> dict[str, object]:
    return {
        "http_status": error.status or None,
        "correlation_id": error.correlation[:200],
        "outcome_text": error.message or str(error),
    }


def _look_up(job: Job, kind: str) -> AccountBalance | None | str:
    """The Account (or None); on an EHR error, schedules a retry and returns the new state."""
    try:
        return guarantor_account(gateway=job.gateway, encounter_id=job.payment.encounter_id)
    except fhir.RateLimited as error:
        _attempt(job, kind, Attempt.Result.NOT_SENT, **_from_error(error))
        return _later(job, message="The EHR asked us to slow down.", delay=error.retry_after or 1)
    except fhir.FhirError as error:
        _attempt(job, kind, Attempt.Result.ERROR, **_from_error(error))
        return _later(job, message=f"Account look-up failed: {error.message or error}")


def _lock(job: Job, account_id: str) -> bool:
    tenant = job.payment.tenant
    try:
        row, _ = AccountLock.objects.get_or_create(tenant=tenant, account_id=account_id)
    except IntegrityError:
        row = AccountLock.objects.get(tenant=tenant, account_id=account_id)
    now = timezone.now()
    return bool(
        AccountLock.objects.filter(_free(now) | Q(holder=job.token), pk=row.pk).update(
            claimed_until=now + _lease(), holder=job.token
        )
    )


def _unlock(job: Job, account_id: str) -> None:
    AccountLock.objects.filter(
        tenant=job.payment.tenant, account_id=account_id, holder=job.token
    ).update(claimed_until=None, holder="")


def _others_in_doubt(job: Job, account_id: str) -> bool:
    """Another of our payments to this Account has an unresolved write: its evidence comes first."""
    return (
        Attempt.objects.filter(
            payment__tenant=job.payment.tenant,
            account_id=account_id,
            kind=Attempt.Kind.POST,
            result__in=UNRESOLVED,
        )
        .exclude(payment=job.payment)
        .exists()
    )


def payment_process(*, payment_id: int) -> str:
    """One step of a due payment: look up, wait, resolve or post. Returns the state it left."""
    token = payment_claim(payment_id=payment_id)
    if token is None:
        return "not claimed"
    payment = Payment.objects.select_related("tenant", "launch").get(pk=payment_id)
    job = Job(payment, token, _settings(payment), _gateway(payment))
    job.unresolved = (
        payment.attempts.filter(kind=Attempt.Kind.POST, result__in=UNRESOLVED)
        .order_by("-id")
        .first()
    )
    try:
        return _step(job)
    except Exception:
        # Whatever happened, a `sending` attempt stays unresolved, so nothing is re-sent blindly.
        logger.exception("payment %s: step failed", payment.posting_id)
        if Payment.objects.filter(pk=payment.pk, claim_token=token).exists():
            return _later(job, message="An internal error interrupted this payment; retrying.")
        return "error"


def _settings(payment: Payment) -> PaymentSettings:
    return PaymentSettings.objects.get_or_create(tenant=payment.tenant)[0]


def _gateway(payment: Payment) -> FhirGateway:
    """The tenant's system client (patients cannot read Accounts or post payments)."""
    from smartapp.tenants.system_client import system_access_token

    tenant = payment.tenant
    launch = payment.launch_id and str(payment.launch.public_id)
    return FhirGateway(
        base_url=tenant.provider_fhir_base,
        token=lambda: system_access_token(tenant=tenant),
        audit_context=AuditContext(
            who=payment.taken_by or "system",
            tenant=tenant.slug,
            launch_id=launch or None,
            patient_id=payment.patient_id,
            reason=f"payment {payment.posting_id} on behalf of patient, launch {launch or '-'}",
        ),
    )


def _step(job: Job) -> str:
    payment = job.payment
    if not payment.account_id:
        found = _look_up(job, Attempt.Kind.LOOKUP)
        if isinstance(found, str):
            return found
        if found is None:
            _attempt(job, Attempt.Kind.LOOKUP, Attempt.Result.NO_ACCOUNT)
            return _later(
                job, message="The visit has no guarantor-balance Account yet (not registered)."
            )
        _attempt(job, Attempt.Kind.LOOKUP, Attempt.Result.FOUND, account_id=found.account_id)
        payment.account_id = found.account_id
        Payment.objects.filter(pk=payment.pk).update(account_id=found.account_id)
    if not _lock(job, payment.account_id):
        return _later(job, message="Another payment to this account is posting.", delay=1)
    try:
        return _locked_step(job)
    finally:
        _unlock(job, payment.account_id)


def _locked_step(job: Job) -> str:
    payment = job.payment
    kind = Attempt.Kind.VERIFY if job.unresolved else Attempt.Kind.LOOKUP
    now_balance = _look_up(job, kind)
    if isinstance(now_balance, str):
        return now_balance
    if now_balance is None or now_balance.account_id != payment.account_id:
        _attempt(job, kind, Attempt.Result.NO_ACCOUNT, account_id=payment.account_id)
        return _later(job, message="The visit's account is no longer found.")
    if job.unresolved is not None:
        verdict = _resolve(job, now_balance)
        if verdict != Attempt.Result.NOT_LANDED:
            return verdict
        job.unresolved = None
    if _others_in_doubt(job, payment.account_id):
        return _later(
            job, message="Waiting for another payment to this account to be confirmed.", delay=2
        )
    return _post(job, now_balance)


def _ours_since(job: Job, attempt: Attempt) -> Decimal:
    """What our other payments put on this Account after `attempt` took its balance."""
    total = (
        Attempt.objects.filter(
            payment__tenant=job.payment.tenant,
            account_id=attempt.account_id,
            kind=Attempt.Kind.POST,
            result__in=OURS_LANDED,
            id__gt=attempt.id,
        )
        .exclude(payment=job.payment)
        .aggregate(total=Sum("payment__amount"))["total"]
    )
    return total or Decimal("0.00")


def _resolve(job: Job, now: AccountBalance) -> str:
    """After an unclear answer: did the write land? Decided by the balance, never by hope."""
    attempt, amount = job.unresolved, job.payment.amount
    assert attempt is not None
    if attempt.balance_before is None or now.balance is None:
        drop = None
    else:
        drop = attempt.balance_before - now.balance - _ours_since(job, attempt)
    note = (
        f"balance before {attempt.balance_before}, now {now.balance}; "
        f"dropped by {drop} (amount {amount}, our other postings since excluded)"
    )
    if drop == amount:
        _settle(attempt, Attempt.Result.LANDED)
        _attempt(
            job,
            Attempt.Kind.VERIFY,
            Attempt.Result.LANDED,
            account_id=now.account_id,
            outcome_text=note,
        )
        _save(
            job,
            state=State.POSTED,
            posted_at=timezone.now(),
            next_check_at=None,
            message="Posted (confirmed by the account balance after an unclear answer).",
        )
        return State.POSTED
    if drop == 0:
        _settle(attempt, Attempt.Result.NOT_LANDED)
        _attempt(
            job,
            Attempt.Kind.VERIFY,
            Attempt.Result.NOT_LANDED,
            account_id=now.account_id,
            outcome_text=note,
        )
        return Attempt.Result.NOT_LANDED
    _attempt(
        job, Attempt.Kind.VERIFY, Attempt.Result.ERROR, account_id=now.account_id, outcome_text=note
    )
    _save(
        job,
        state=State.NEEDS_ATTENTION,
        next_check_at=None,
        message=f"Cannot tell whether the payment landed: {note}. Check the account in Millennium, then mark resolved.",
    )
    return State.NEEDS_ATTENTION


def _settle(attempt: Attempt, result: str) -> None:
    Attempt.objects.filter(pk=attempt.pk, result__in=UNRESOLVED).update(result=result)


def _start_post(job: Job, balance: AccountBalance) -> Attempt | None:
    """Commits `posting` and a `sending` attempt with the balance evidence, before the POST."""
    now = timezone.now()
    with transaction.atomic():
        held = Payment.objects.filter(pk=job.payment.pk, claim_token=job.token).update(
            state=State.POSTING, claimed_until=now + _lease(), updated_at=now
        )
        if not held:
            return None
        AccountLock.objects.filter(
            tenant=job.payment.tenant, account_id=balance.account_id, holder=job.token
        ).update(claimed_until=now + _lease())
        return Attempt.objects.create(
            payment=job.payment,
            kind=Attempt.Kind.POST,
            result=Attempt.Result.SENDING,
            account_id=balance.account_id,
            balance_before=balance.balance,
        )


def _post(job: Job, balance: AccountBalance) -> str:
    attempt = _start_post(job, balance)
    if attempt is None:
        return "claim lost"
    body = financial_transaction(
        payment=job.payment, account_id=balance.account_id, settings=job.settings
    )
    try:
        written = job.gateway.create("Basic", body, patient_id=job.payment.patient_id)
    except fhir.RateLimited as error:  # refused before processing: nothing written
        _finish(attempt, Attempt.Result.NOT_SENT, **_from_error(error))
        return _later(
            job,
            message="The EHR asked us to slow down.",
            delay=error.retry_after or 1,
            state=State.CAPTURED,
        )
    except fhir.Unauthorized as error:  # token refused before processing
        _finish(attempt, Attempt.Result.NOT_SENT, **_from_error(error))
        return _later(
            job, message=f"The EHR refused our access: {error.message}", state=State.CAPTURED
        )
    except fhir.FhirError as error:
        if 400 <= error.status < 500:
            return _refused(job, attempt, error)
        return _unclear(job, attempt, _from_error(error))
    except Exception as error:  # includes Celery's soft time limit mid-request
        logger.exception("payment %s: POST interrupted", job.payment.posting_id)
        return _unclear(job, attempt, {"outcome_text": f"{type(error).__name__} while posting"})
    _finish(
        attempt,
        Attempt.Result.POSTED,
        http_status=201,
        correlation_id=written.correlation[:200],
        outcome_text=f"Basic/{written.resource_id}",
    )
    _save(
        job,
        state=State.POSTED,
        posted_at=timezone.now(),
        next_check_at=None,
        message=f"Posted as Basic/{written.resource_id}.",
    )
    return State.POSTED


def _finish(attempt: Attempt, result: str, **fields: object) -> None:
    Attempt.objects.filter(pk=attempt.pk).update(
        result=result, finished_at=timezone.now(), **fields
    )


def _refused(job: Job, attempt: Attempt, error: fhir.FhirError) -> str:
    _finish(attempt, Attempt.Result.REFUSED, **_from_error(error))
    text = error.message or f"HTTP {error.status}"
    _save(
        job, state=State.FAILED, next_check_at=None, message=f"The EHR refused the payment: {text}"
    )
    return State.FAILED


def _unclear(job: Job, attempt: Attempt, fields: dict[str, object]) -> str:
    _finish(attempt, Attempt.Result.UNKNOWN, **fields)
    settle = timedelta(seconds=settings.PAYMENT_UNKNOWN_SETTLE_SECONDS)
    _save(
        job,
        state=State.OUTCOME_UNKNOWN,
        next_check_at=timezone.now() + settle,
        message="Sent, but the EHR gave no clear answer; checking the account balance before anything else.",
    )
    return State.OUTCOME_UNKNOWN
