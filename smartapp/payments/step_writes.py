"""A step's writes: where it leaves a payment, how long until the next look, its attempt rows.

Every write goes through transitions.payment_move, guarded by the step's claim.
"""

import logging
from datetime import timedelta
from enum import Enum
from typing import Any

from django.conf import settings
from django.utils import timezone

from smartapp.payments.claiming import Job, released
from smartapp.payments.models import Actor, Attempt, State
from smartapp.payments.transitions import payment_move

logger = logging.getLogger(__name__)


class Skip(Enum):
    """Why a step left a payment as it was."""

    NOT_CLAIMED = "not claimed"  # not due, or another worker has it
    CLAIM_LOST = "claim lost"  # the lease ran out while this step worked (logged)
    INTERRUPTED = "interrupted"  # an unexpected error after the claim was gone (logged)


StepResult = State | Skip


def step_save(
    job: Job, to: State, message: str, attempt: Attempt | None = None, **fields: Any
) -> StepResult:
    """Moves the payment while this worker still holds the claim, and gives the claim back."""
    moved = payment_move(
        payment=job.payment,
        to=to,
        actor=Actor.WORKER,
        reason=message,
        attempt=attempt,
        guard=job.held,
        message=message,
        account_id=job.payment.account_id,
        **released(),
        **fields,
    )
    if not moved:
        logger.error("payment %s: claim lost before moving to %s", job.payment.posting_id, to)
        return Skip.CLAIM_LOST
    return to


def _resting(job: Job) -> State:
    if job.payment.state == State.NEEDS_ATTENTION or _escalated(job):
        return State.NEEDS_ATTENTION  # once with staff, it stays there until they act
    if job.unresolved is not None:
        return State.OUTCOME_UNKNOWN
    return State.CAPTURED if job.payment.account_id else State.AWAITING_ACCOUNT


def _escalated(job: Job) -> bool:
    since = job.payment.captured_at or job.payment.created_at
    return timezone.now() - since > timedelta(seconds=job.settings.escalate_after_seconds)


def step_later(
    job: Job, message: str, *, delay: float | None = None, state: State | None = None
) -> StepResult:
    """Try again later (backing off, capped), or escalate once the tenant's time is up."""
    cap = job.settings.backoff_cap_seconds
    if delay is None:
        delay = min(cap, settings.PAYMENT_BACKOFF_BASE_SECONDS * 2 ** min(job.payment.checks, 20))
    resting = _resting(job)
    state = State.NEEDS_ATTENTION if resting == State.NEEDS_ATTENTION else (state or resting)
    if state == State.NEEDS_ATTENTION and job.payment.state != State.NEEDS_ATTENTION:
        hours = job.settings.escalate_after_seconds / 3600
        message, delay = f"Escalated after {hours:g} h: {message}", cap
    elif state == State.NEEDS_ATTENTION:
        delay = cap  # still looking, at the slowest pace
    when = timezone.now() + timedelta(seconds=delay)
    return step_save(job, state, message, next_check_at=when, checks=job.payment.checks + 1)


def step_attempt(job: Job, kind: Attempt.Kind, result: Attempt.Result, **fields: object) -> Attempt:
    return Attempt.objects.create(
        payment=job.payment, kind=kind, result=result, finished_at=timezone.now(), **fields
    )
