"""The outbox worker: post a captured payment to Millennium exactly once.

A step takes a visit's due payments: claim the rows (conditional UPDATE: works on SQLite and
PostgreSQL, across processes), lock the visit, search its guarantor-balance Account once (the
search gives the Account and its balance), then for each payment write a `sending` attempt with
the balance as evidence (committed BEFORE the POST) and POST /Basic. An unclear answer (timeout,
5xx, dropped connection, a worker killed mid-POST) leaves the attempt unresolved and stops the
step; the next step decides from a fresh read of the balance whether it landed. A write is never
sent again blindly.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q, Sum
from django.utils import timezone

from smartapp.fhir import errors as fhir
from smartapp.fhir.gateway import AuditContext, FhirGateway
from smartapp.lib import claims
from smartapp.payments.ehr import AccountBalance, financial_transaction, guarantor_account
from smartapp.payments.models import (
    DUE_STATES,
    Attempt,
    Payment,
    PaymentSettings,
    State,
    VisitLock,
)
from smartapp.tenants.models import Tenant

logger = logging.getLogger(__name__)
TokenProvider = Callable[[], str]
OURS_LANDED = (Attempt.Result.POSTED, Attempt.Result.LANDED)


def _lease() -> timedelta:
    return timedelta(seconds=settings.PAYMENT_CLAIM_SECONDS)


def payments_claim(*, payment_ids: list[int]) -> str:
    """Claims those of the payments that are due and free, all under one returned claim token."""
    now = timezone.now()
    token = uuid.uuid4().hex
    Payment.objects.filter(claims.free(now), pk__in=payment_ids, state__in=DUE_STATES).filter(
        next_check_at__lte=now
    ).update(claimed_until=now + _lease(), claim_token=token, updated_at=now)
    return token


def payment_claim(*, payment_id: int) -> str | None:
    """Claims a due payment for this worker; returns the claim token, or None if not ours."""
    token = payments_claim(payment_ids=[payment_id])
    return token if Payment.objects.filter(pk=payment_id, claim_token=token).exists() else None


@dataclass
class Job:
    payment: Payment
    token: str
    settings: PaymentSettings
    gateway: FhirGateway
    unresolved: Attempt | None = None

    @property
    def visit(self) -> tuple[int, str]:
        return self.payment.tenant_id, self.payment.encounter_id


def _claimed_jobs(payment_ids: list[int]) -> list[Job]:
    """Claims the due ones of `payment_ids` and loads them (one query each way), unclear first."""
    token = payments_claim(payment_ids=payment_ids)
    in_doubt = Attempt.objects.in_doubt().filter(payment=OuterRef("pk"))
    payments = (
        Payment.objects.filter(claim_token=token)
        .select_related("tenant__payment_settings", "launch")
        .annotate(in_doubt=Exists(in_doubt))
    )
    tokens: dict[int, TokenProvider] = {}
    jobs = []
    for payment in sorted(payments, key=lambda p: (not p.in_doubt, payment_ids.index(p.pk))):
        provider = tokens.setdefault(payment.tenant_id, _system_tokens(payment.tenant))
        job = Job(payment, token, _settings(payment), _gateway(payment, provider))
        if payment.in_doubt:
            job.unresolved = payment.attempts.in_doubt().latest("id")
        jobs.append(job)
    return jobs


def _release(jobs: list[Job], *, again: bool) -> None:
    """Gives back claims this step did not use; `again`: the beat sends them at its next tick."""
    if jobs:
        Payment.objects.filter(
            pk__in=[job.payment.pk for job in jobs], claim_token=jobs[0].token
        ).update(
            claimed_until=None,
            claim_token="",
            **({"enqueued_at": None} if again else {}),
        )


def _save(job: Job, **fields: object) -> bool:
    """Updates the row only while this worker still holds the claim; releases it."""
    now = timezone.now()
    fields = {
        "claimed_until": None,
        "claim_token": "",
        "enqueued_at": None,
        "account_id": job.payment.account_id,
        **fields,
    }
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


def _lock(job: Job) -> bool:
    """Holds the visit's lock, or takes over one whose holder's lease ran out (a dead worker)."""
    payment, now = job.payment, timezone.now()
    visit = {"tenant": payment.tenant, "encounter_id": payment.encounter_id}
    until = now + _lease()
    if VisitLock.objects.filter(claims.free(now) | Q(holder=job.token), **visit).update(
        holder=job.token, claimed_until=until
    ):
        return True
    try:  # the visit's first payment: its lock row does not exist yet
        VisitLock.objects.create(holder=job.token, claimed_until=until, **visit)
    except IntegrityError:  # another worker created it first, and holds it
        return False
    return True


def _unlock(job: Job) -> None:
    payment = job.payment
    VisitLock.objects.filter(
        tenant=payment.tenant, encounter_id=payment.encounter_id, holder=job.token
    ).update(holder="", claimed_until=None)


def _others_in_doubt(job: Job, account_id: str) -> bool:
    """Another of our payments to this Account has an unresolved write: its evidence comes first."""
    return (
        Attempt.objects.in_doubt()
        .filter(payment__tenant=job.payment.tenant, account_id=account_id)
        .exclude(payment=job.payment)
        .exists()
    )


def payment_process(*, payment_id: int) -> str:
    """One step of a due payment: look up, wait, resolve or post. Returns the state it left."""
    return visit_process(payment_ids=[payment_id])[payment_id]


def visit_process(*, payment_ids: list[int]) -> dict[int, str]:
    """One step of a visit's due payments, in order; returns the state each was left in.

    Under one visit lock, one Account search serves them all: each POST's balance evidence is the
    balance read less what the earlier POSTs of this step took off (each with a clear 201). The
    step stops at the first answer that is not a clear 201. A payment with an unclear write goes
    first and alone, after a fresh read. Payments the step does not reach come back with the beat.
    """
    results = dict.fromkeys(payment_ids, "not claimed")
    jobs = _claimed_jobs(payment_ids)
    if not jobs:
        return results
    first, rest = jobs[0], [job for job in jobs[1:] if job.visit == jobs[0].visit]
    _release([job for job in jobs[1:] if job.visit != first.visit], again=True)
    again = first.unresolved is not None
    try:
        again = _visit_step(first, rest, results) or again
    except Exception:
        if results[first.payment.pk] == "not claimed":
            results[first.payment.pk] = _recover(first)
        else:
            logger.exception("payment %s: visit step failed", first.payment.posting_id)
    finally:
        _release(rest, again=again)
    return results


def _recover(job: Job) -> str:
    """After an unexpected error: a `sending` attempt stays unresolved, so nothing is re-sent blindly."""
    logger.exception("payment %s: step failed", job.payment.posting_id)
    if Payment.objects.filter(pk=job.payment.pk, claim_token=job.token).exists():
        return _later(job, message="An internal error interrupted this payment; retrying.")
    return "error"


def _visit_step(first: Job, rest: list[Job], results: dict[int, str]) -> bool:
    """Steps `first`, then as many of `rest` as it should (taking them off `rest`).

    Returns True when the ones left should come back at the beat's next tick.
    """
    if not _lock(first):
        results[first.payment.pk] = _later(
            first, message="Another payment for this visit is posting.", delay=1
        )
        return True
    try:
        if first.unresolved is not None:
            results[first.payment.pk] = _locked_step(first)
            return True
        return _post_in_turn(first, rest, results)
    finally:
        _unlock(first)


def _post_in_turn(first: Job, rest: list[Job], results: dict[int, str]) -> bool:
    """One search, then each payment in turn (the visit lock keeps our other writes out)."""
    found = _look_up(first, Attempt.Kind.LOOKUP)
    if isinstance(found, str):
        results[first.payment.pk] = found
        return False
    if found is not None and _others_in_doubt(first, found.account_id):
        results[first.payment.pk] = _later(
            first, message="Waiting for another payment to this account to be confirmed.", delay=2
        )
        return False
    balance = found.balance if found else None
    deadline = time.monotonic() + settings.CELERY_TASK_SOFT_TIME_LIMIT / 3
    job = first
    while True:
        problem = _missing(job, found)
        try:
            state = _no_account(job, problem) if problem else _post_to(job, found, balance)
        except Exception:
            state = _recover(job)
        results[job.payment.pk] = state
        if not problem and state != State.POSTED:
            return False  # an unclear or refused write: the rest wait for a fresh read
        if state == State.POSTED and balance is not None:
            balance -= job.payment.amount
        if not rest:
            return False
        if time.monotonic() > deadline:
            return True
        job = rest.pop(0)


def _missing(job: Job, found: AccountBalance | None) -> str:
    """Why this payment cannot post to the Account found ("" if it can)."""
    if found is None:
        return "The visit has no guarantor-balance Account yet (not registered)."
    if job.payment.account_id and found.account_id != job.payment.account_id:
        return "The visit's account is no longer found."
    return ""


def _no_account(job: Job, problem: str) -> str:
    kind = Attempt.Kind.VERIFY if job.unresolved else Attempt.Kind.LOOKUP
    _attempt(job, kind, Attempt.Result.NO_ACCOUNT, account_id=job.payment.account_id)
    return _later(job, message=problem)


def _post_to(job: Job, found: AccountBalance, balance: Decimal | None) -> str:
    """Posts `job` to the Account found, with `balance` as its evidence."""
    job.payment.account_id = found.account_id
    return _post(job, AccountBalance(found.account_id, balance))


def _settings(payment: Payment) -> PaymentSettings:
    try:
        return payment.tenant.payment_settings
    except PaymentSettings.DoesNotExist:
        return PaymentSettings.objects.get_or_create(tenant=payment.tenant)[0]


def _system_tokens(tenant: Tenant) -> TokenProvider:
    """The tenant's system token, read once a step (it is reused until a minute before expiry)."""
    from smartapp.tenants.system_client import system_access_token

    return cache(lambda: system_access_token(tenant=tenant))


def _gateway(payment: Payment, tokens: TokenProvider) -> FhirGateway:
    """The tenant's system client (patients cannot read Accounts or post payments)."""
    tenant = payment.tenant
    launch = payment.launch_id and str(payment.launch.public_id)
    return FhirGateway(
        base_url=tenant.provider_fhir_base,
        token=tokens,
        audit_context=AuditContext(
            who=payment.taken_by or "system",
            tenant=tenant.slug,
            launch_id=launch or None,
            patient_id=payment.patient_id,
            reason=f"payment {payment.posting_id} on behalf of patient, launch {launch or '-'}",
        ),
    )


def _locked_step(job: Job) -> str:
    """A payment alone, under its visit's lock: a fresh read, then resolve and/or post."""
    kind = Attempt.Kind.VERIFY if job.unresolved else Attempt.Kind.LOOKUP
    found = _look_up(job, kind)
    if isinstance(found, str):
        return found
    problem = _missing(job, found)
    if problem:
        return _no_account(job, problem)
    assert found is not None
    job.payment.account_id = found.account_id
    if job.unresolved is not None:
        verdict = _resolve(job, found)
        if verdict != Attempt.Result.NOT_LANDED:
            return verdict
        job.unresolved = None
    if _others_in_doubt(job, found.account_id):
        return _later(
            job, message="Waiting for another payment to this account to be confirmed.", delay=2
        )
    return _post(job, found)


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
        verdict = Attempt.Result.LANDED
    elif drop == 0:
        verdict = Attempt.Result.NOT_LANDED
    else:
        verdict = Attempt.Result.ERROR
    if verdict != Attempt.Result.ERROR:
        _settle(attempt, verdict)
    _attempt(job, Attempt.Kind.VERIFY, verdict, account_id=now.account_id, outcome_text=note)
    if verdict == Attempt.Result.LANDED:
        _save(
            job,
            state=State.POSTED,
            posted_at=timezone.now(),
            next_check_at=None,
            message="Posted (confirmed by the account balance after an unclear answer).",
        )
        return State.POSTED
    if verdict == Attempt.Result.NOT_LANDED:
        return verdict
    _save(
        job,
        state=State.NEEDS_ATTENTION,
        next_check_at=None,
        message=f"Cannot tell whether the payment landed: {note}. Check the account in Millennium, then mark resolved.",
    )
    return State.NEEDS_ATTENTION


def _settle(attempt: Attempt, result: str) -> None:
    Attempt.objects.filter(pk=attempt.pk, result__in=Attempt.UNRESOLVED).update(result=result)


def _start_post(job: Job, balance: AccountBalance) -> Attempt | None:
    """Commits `posting` and then a `sending` attempt with the balance evidence, before the POST.

    No transaction is needed: a crash between the two leaves `posting` with nothing sent, which
    the next step treats as a fresh payment.
    """
    held = Payment.objects.filter(pk=job.payment.pk, claim_token=job.token).update(
        state=State.POSTING, account_id=balance.account_id, updated_at=timezone.now()
    )
    if not held:
        return None
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
