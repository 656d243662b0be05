"""The posting step: a visit's due payments, posted to Millennium exactly once.

A step claims the rows (claiming.py), locks the visit, searches its guarantor-balance Account
once (the search gives the Account and its balance), then posts each payment in turn, each with
its balance evidence committed before the POST (evidence.py). The step stops at the first answer
that is not a clear 201; a payment whose write is in doubt goes first and alone, after a fresh
read. Every change of state goes through transitions.payment_move.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from smartapp.fhir import errors as fhir
from smartapp.payments.claiming import (
    Job,
    claimed_jobs,
    jobs_release,
    visit_lock,
    visit_unlock,
)
from smartapp.payments.ehr import AccountBalance, financial_transaction, guarantor_account
from smartapp.payments.ehr_failures import (
    EhrFailure,
    SignInFailed,
    attempt_fields,
    cannot_start_words,
)
from smartapp.payments.evidence import (
    attempt_finish,
    others_in_doubt,
    sending_start,
    verdict_for,
    verdict_record,
)
from smartapp.payments.models import Attempt, Payment, State
from smartapp.payments.step_writes import (
    Skip,
    StepResult,
    step_attempt,
    step_later,
    step_save,
)

logger = logging.getLogger(__name__)
WAIT_FOR_OTHER = "Waiting for another payment to this account to be confirmed."


@dataclass(frozen=True)
class StepReport:
    results: dict[int, StepResult] = field(default_factory=dict)
    untouched: tuple[Job, ...] = ()
    come_back: bool = False  # the untouched ones return at the beat's next tick


def payment_process(*, payment_id: int) -> StepResult:
    """One step of a due payment: look up, wait, resolve or post."""
    return visit_process(payment_ids=[payment_id])[payment_id]


def visit_process(*, payment_ids: list[int]) -> dict[int, StepResult]:
    """One step of a visit's due payments, in order; where each was left."""
    results: dict[int, StepResult] = dict.fromkeys(payment_ids, Skip.NOT_CLAIMED)
    jobs = claimed_jobs(payment_ids)
    if not jobs:
        return results
    first = jobs[0]
    same_visit = [job for job in jobs[1:] if job.visit == first.visit]
    jobs_release([job for job in jobs[1:] if job.visit != first.visit], again=True)
    try:
        report = _visit_step(first, same_visit)
    except Exception:
        report = StepReport({first.payment.pk: _recover(first)}, tuple(same_visit), True)
    jobs_release(list(report.untouched), again=report.come_back or first.unresolved is not None)
    return results | report.results


def _visit_step(first: Job, rest: list[Job]) -> StepReport:
    if not visit_lock(first):
        state = step_later(first, "Another payment for this visit is posting.", delay=1)
        return StepReport({first.payment.pk: state}, tuple(rest), come_back=True)
    try:
        if first.unresolved is not None:
            return StepReport({first.payment.pk: _alone(first)}, tuple(rest), come_back=True)
        return _in_turn(first, rest)
    finally:
        visit_unlock(first)


def _in_turn(first: Job, rest: list[Job]) -> StepReport:
    """One search, then each payment in turn (the visit lock keeps our other writes out)."""
    try:
        found = guarantor_account(gateway=first.gateway, encounter_id=first.payment.encounter_id)
    except (fhir.FhirError, *SignInFailed) as error:
        return StepReport({first.payment.pk: _lookup_failed(first, error)}, tuple(rest))
    if found is not None and others_in_doubt(first, found.account_id):
        return StepReport(
            {first.payment.pk: step_later(first, WAIT_FOR_OTHER, delay=2)}, tuple(rest)
        )
    balance = found.balance if found else None
    deadline = time.monotonic() + settings.CELERY_TASK_SOFT_TIME_LIMIT / 3
    results: dict[int, StepResult] = {}
    queue = [first, *rest]
    while queue:
        job = queue.pop(0)
        problem = _missing(job, found)
        results[job.payment.pk] = state = _one(job, found, balance, problem)
        if not problem and state != State.POSTED:
            return StepReport(results, tuple(queue))  # the rest wait for a fresh read
        if state == State.POSTED and balance is not None:
            balance += job.payment.balance_effect
        if queue and time.monotonic() > deadline:
            return StepReport(results, tuple(queue), come_back=True)
    return StepReport(results)


def _one(
    job: Job, found: AccountBalance | None, balance: Decimal | None, problem: str
) -> StepResult:
    try:
        if problem or found is None:
            return _no_account(job, problem)
        return _post(job, AccountBalance(found.account_id, balance))
    except Exception:
        return _recover(job)


def _missing(job: Job, found: AccountBalance | None) -> str:
    """Why this payment cannot post to the Account found ("" if it can)."""
    if found is None:
        return "The visit has no guarantor-balance Account yet (not registered)."
    if job.payment.account_id and found.account_id != job.payment.account_id:
        return "The visit's account is no longer found."
    return ""


def _alone(job: Job) -> StepResult:
    """A payment whose write is in doubt, under its visit's lock: a fresh read decides."""
    attempt = job.unresolved
    assert attempt is not None
    try:
        found = guarantor_account(gateway=job.gateway, encounter_id=job.payment.encounter_id)
    except (fhir.FhirError, *SignInFailed) as error:
        return _lookup_failed(job, error)
    problem = _missing(job, found)
    if problem or found is None:
        return _no_account(job, problem)
    job.payment.account_id = found.account_id
    verdict = verdict_for(job, attempt, found)
    check = verdict_record(job, attempt, verdict, found.account_id)
    if verdict.result == Attempt.Result.LANDED:
        message = "Posted (confirmed by the account balance after an unclear answer)."
        return step_save(
            job, State.POSTED, message, check, posted_at=timezone.now(), next_check_at=None
        )
    if verdict.result == Attempt.Result.ERROR:
        message = f"Cannot tell whether the payment landed: {verdict.note}. Check the account in Millennium, then mark resolved."
        return step_save(job, State.NEEDS_ATTENTION, message, check, next_check_at=None)
    job.unresolved = None  # proven not landed: it may be posted again
    if others_in_doubt(job, found.account_id):
        return step_later(job, WAIT_FOR_OTHER, delay=2)
    return _post(job, found)


def _post(job: Job, balance: AccountBalance) -> StepResult:
    attempt = sending_start(job, balance)
    if attempt is None:
        return Skip.CLAIM_LOST
    body = financial_transaction(
        payment=job.payment, account_id=balance.account_id, settings=job.settings
    )
    try:
        written = job.gateway.create("Basic", body, patient_id=job.payment.patient_id)
    except fhir.RateLimited as error:  # refused before processing: nothing written
        attempt_finish(attempt, Attempt.Result.NOT_SENT, **attempt_fields(error))
        slow = "The EHR asked us to slow down."
        return step_later(job, slow, delay=error.retry_after or 1, state=State.CAPTURED)
    except fhir.Unauthorized as error:  # token refused before processing
        attempt_finish(attempt, Attempt.Result.NOT_SENT, **attempt_fields(error))
        refused = f"The EHR refused our access: {error.message}"
        return step_later(job, refused, state=State.CAPTURED)
    except SignInFailed as error:  # no token, so nothing was sent
        attempt_finish(attempt, Attempt.Result.NOT_SENT, **attempt_fields(error))
        return step_later(job, cannot_start_words(error), state=State.CAPTURED)
    except fhir.FhirError as error:
        if 400 <= error.status < 500:
            return _refused(job, attempt, error)
        return _unclear(job, attempt, attempt_fields(error))
    except Exception as error:  # includes Celery's soft time limit mid-request
        logger.exception("payment %s: POST interrupted", job.payment.posting_id)
        return _unclear(job, attempt, {"outcome_text": f"{type(error).__name__} while posting"})
    posted = f"Posted as Basic/{written.resource_id}."
    with transaction.atomic():  # the 201 and the posted state commit together
        attempt_finish(
            attempt,
            Attempt.Result.POSTED,
            http_status=201,
            correlation_id=written.correlation[:200],
            outcome_text=f"Basic/{written.resource_id}",
        )
        return step_save(
            job, State.POSTED, posted, attempt, posted_at=timezone.now(), next_check_at=None
        )


def _refused(job: Job, attempt: Attempt, error: fhir.FhirError) -> StepResult:
    attempt_finish(attempt, Attempt.Result.REFUSED, **attempt_fields(error))
    text = f"The EHR refused the payment: {error.message or f'HTTP {error.status}'}"
    return step_save(job, State.FAILED, text, attempt, next_check_at=None)


def _unclear(job: Job, attempt: Attempt, fields: dict[str, object]) -> StepResult:
    attempt_finish(attempt, Attempt.Result.UNKNOWN, **fields)
    settle = timezone.now() + timedelta(seconds=settings.PAYMENT_UNKNOWN_SETTLE_SECONDS)
    text = (
        "Sent, but the EHR gave no clear answer; checking the account balance before anything else."
    )
    return step_save(job, State.OUTCOME_UNKNOWN, text, attempt, next_check_at=settle)


def _no_account(job: Job, problem: str) -> StepResult:
    kind = Attempt.Kind.VERIFY if job.unresolved else Attempt.Kind.LOOKUP
    step_attempt(job, kind, Attempt.Result.NO_ACCOUNT, account_id=job.payment.account_id)
    return step_later(job, problem)


def _lookup_failed(job: Job, error: EhrFailure) -> StepResult:
    kind = Attempt.Kind.VERIFY if job.unresolved else Attempt.Kind.LOOKUP
    if not isinstance(error, fhir.FhirError):
        step_attempt(job, kind, Attempt.Result.ERROR, **attempt_fields(error))
        waiting = (State.CAPTURED, State.AWAITING_ACCOUNT)  # nothing was learnt about the Account
        same = State(job.payment.state) if job.payment.state in waiting else None
        return step_later(job, cannot_start_words(error), state=same)
    if isinstance(error, fhir.RateLimited):
        step_attempt(job, kind, Attempt.Result.NOT_SENT, **attempt_fields(error))
        return step_later(job, "The EHR asked us to slow down.", delay=error.retry_after or 1)
    step_attempt(job, kind, Attempt.Result.ERROR, **attempt_fields(error))
    return step_later(job, f"Account look-up failed: {error.message or error}")


def _recover(job: Job) -> StepResult:
    """After an unexpected error: a `sending` attempt stays unresolved, so nothing is re-sent blindly."""
    logger.exception("payment %s: step failed", job.payment.posting_id)
    if Payment.objects.filter(pk=job.payment.pk, claim_token=job.token).exists():
        return step_later(job, "An internal error interrupted this payment; retrying.")
    return Skip.INTERRUPTED
