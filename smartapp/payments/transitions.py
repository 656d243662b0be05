"""A payment's life as one table: every allowed move, who may cause it, and what it means.

`payment_move` is the only code that changes `Payment.state`. It checks the table, writes the
new state and a `Transition` row (who, why, when, which attempt) in one transaction, and raises
`IllegalTransition` for a move the table does not hold. The staff page and the README's diagram
are drawn from the same table (`moves_from`, `mermaid`), so none of them can drift.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from smartapp.payments.models import Actor, Attempt, Payment, State, Transition


@dataclass(frozen=True)
class Move:
    source: State
    target: State
    actor: Actor
    means: str  # what the move records, in words for staff


def _moves(
    sources: Iterable[State], target: State, actors: Iterable[Actor], means: str
) -> list[Move]:
    return [Move(source, target, actor, means) for source in sources for actor in actors]


S, W = State, Actor.WORKER
RESTING = (S.CAPTURED, S.AWAITING_ACCOUNT, S.OUTCOME_UNKNOWN, S.NEEDS_ATTENTION)
RETRYABLE = (S.CAPTURED, S.AWAITING_ACCOUNT, S.OUTCOME_UNKNOWN, S.NEEDS_ATTENTION, S.FAILED)
RESOLVABLE = (*RETRYABLE, S.POSTING)
REFUNDABLE = (S.FAILED, S.NEEDS_ATTENTION, S.AWAITING_ACCOUNT, S.CANCELLED)
PAYING = (Actor.PROCESSOR, Actor.RECONCILIATION)

TRANSITIONS: tuple[Move, ...] = (
    # Money moved: the processor charged the card, or made a refund whose reversal is to post
    # (a desk payment, or money handed back at the desk, starts captured).
    *_moves([S.NEW, S.CANCELLED], S.CAPTURED, PAYING, "the processor moved the money (a charge, or a refund)"),
    *_moves([S.NEW], S.CAPTURED, [Actor.STAFF], "money taken, or handed back, at the desk"),
    *_moves([S.NEW], S.CANCELLED, [Actor.EXPIRY], "checkout abandoned: nothing was charged"),
    *_moves([S.NEW], S.CANCELLED, [Actor.PROCESSOR], "the processor refused the refund: no money moved"),
    # The worker's step.
    *_moves([S.CAPTURED, S.AWAITING_ACCOUNT], S.AWAITING_ACCOUNT, [W], "no guarantor-balance Account yet"),
    *_moves([S.CAPTURED, S.POSTING, S.OUTCOME_UNKNOWN], S.CAPTURED, [W], "to post at the next check"),
    *_moves([S.POSTING, S.OUTCOME_UNKNOWN], S.OUTCOME_UNKNOWN, [W], "sent without a clear answer: the balance decides"),
    *_moves([*RESTING, S.POSTING], S.NEEDS_ATTENTION, [W], "escalated, or the balance cannot tell"),
    *_moves([*RESTING, S.POSTING], S.POSTING, [W], "a POST is being sent, its evidence recorded first"),
    *_moves([S.POSTING, S.OUTCOME_UNKNOWN, S.NEEDS_ATTENTION], S.POSTED, [W], "a clear 201, or the balance proves it landed"),
    *_moves([S.POSTING], S.FAILED, [W], "the EHR refused it (nothing was written)"),
    # Staff on the ops page.
    *_moves(RETRYABLE, S.CAPTURED, [Actor.STAFF], "retry now"),
    *_moves([S.OUTCOME_UNKNOWN, S.NEEDS_ATTENTION], S.OUTCOME_UNKNOWN, [Actor.STAFF], "retry now (a write is in doubt)"),
    *_moves(RESOLVABLE, S.POSTED, [Actor.STAFF], "staff found it on the account"),
    *_moves(RESOLVABLE, S.CANCELLED, [Actor.STAFF], "staff: not to be posted"),
    *_moves(REFUNDABLE, S.REFUNDED, [Actor.STAFF], "refunded to the card"),
)  # fmt: skip
_TABLE: dict[tuple[State, State, Actor], Move] = {
    (m.source, m.target, m.actor): m for m in TRANSITIONS
}
assert len(_TABLE) == len(TRANSITIONS), "one row per (source, target, actor)"


class IllegalTransition(Exception):
    """A move the table does not allow: a bug to fix, never a state to write."""

    def __init__(self, source: str, target: str, actor: Actor) -> None:
        super().__init__(f"{source} → {target} is not a move a {Actor(actor).label} may make")
        self.source, self.target, self.actor = source, target, actor


def is_allowed(source: str, target: str, actor: Actor) -> bool:
    return (State(source), State(target), actor) in _TABLE


def moves_from(state: str) -> list[Move]:
    """Where a payment in `state` may go next, and who may take it there."""
    return [move for move in TRANSITIONS if move.source == state and move.target != state]


def next_steps(state: str) -> list[tuple[State, list[Move]]]:
    """`moves_from`, grouped by where they lead (the staff page's "may go next")."""
    grouped: dict[State, list[Move]] = {}
    for move in moves_from(state):
        grouped.setdefault(move.target, []).append(move)
    return list(grouped.items())


def _check(sources: Iterable[State], target: State, actor: Actor) -> None:
    for source in sources:
        if not is_allowed(source, target, actor):
            raise IllegalTransition(source, target, actor)


def payment_move(
    *,
    payment: Payment,
    to: State,
    actor: Actor,
    reason: str,
    by: str = "",
    attempt: Attempt | None = None,
    sources: Iterable[State] | None = None,
    guard: Q | None = None,
    **fields: Any,
) -> bool:
    """Moves the payment to `to` if the row still matches `guard` (and is in one of `sources`,
    when given); False when it no longer does (another worker or a staff action got there).

    Raises IllegalTransition when the table does not allow the move from the row's state.
    Without `sources` the caller holds the row (a worker's claim), so the state it loaded is the
    row's state: one conditional UPDATE and the history row. Otherwise the state is read first.
    """
    record = _Record(payment.pk, to, actor, by, reason, attempt)
    if sources is None:
        if not is_allowed(payment.state, to, actor):
            raise IllegalTransition(payment.state, to, actor)
        moved = _move_from(payment.state, record, guard, fields)
        if moved is None:  # the row is no longer in the state we loaded: read it and decide
            moved = _move_read(record, guard, None, fields)
    else:
        expected = tuple(sources)
        _check(expected, to, actor)
        moved = _move_read(record, guard, expected, fields)
    if moved:
        payment.state = to
    return bool(moved)


@dataclass(frozen=True)
class _Record:
    payment_id: int
    target: State
    actor: Actor
    by: str
    reason: str
    attempt: Attempt | None

    def write(self, source: str, at: datetime) -> None:
        Transition.objects.create(
            payment_id=self.payment_id,
            source=source,
            target=self.target,
            actor=self.actor.value,
            by=self.by[:150],
            reason=self.reason[:500],
            attempt=self.attempt,
            at=at,
        )


def _move_from(
    source: str, record: _Record, guard: Q | None, fields: dict[str, Any]
) -> bool | None:
    """True when moved from `source`; None when the row (still ours) was not in `source`;
    False when the guard no longer holds."""
    now = timezone.now()
    mine = Payment.objects.filter(guard or Q(), pk=record.payment_id)
    # Inside a caller's transaction, join it: a savepoint would cost two more round trips.
    with transaction.atomic(savepoint=False):
        if mine.filter(state=source).update(state=record.target, updated_at=now, **fields):
            record.write(source, now)
            return True
    return None if mine.exists() else False


def _move_read(
    record: _Record, guard: Q | None, expected: tuple[State, ...] | None, fields: dict[str, Any]
) -> bool:
    mine = Payment.objects.filter(guard or Q(), pk=record.payment_id)
    now = timezone.now()
    with transaction.atomic():
        # Write first: it takes the row (PostgreSQL) or the database (SQLite, which would refuse
        # to upgrade a read lock under contention), so the state read next stays true.
        if not mine.update(updated_at=now):
            return False
        current = mine.values_list("state", flat=True).get()
        if expected is not None and current not in expected:
            transaction.set_rollback(True)  # not a move for this caller: leave the row as it was
            return False
        if not is_allowed(current, record.target, record.actor):
            raise IllegalTransition(current, record.target, record.actor)
        if not mine.filter(state=current).update(state=record.target, updated_at=now, **fields):
            return False
        record.write(current, now)
    return True


def mermaid() -> str:
    """The table as a Mermaid state diagram (the README's payments section shows it)."""
    edges: dict[tuple[State, State], set[str]] = {}
    for move in TRANSITIONS:
        if move.source != move.target:
            edges.setdefault((move.source, move.target), set()).add(move.actor.label)
    lines = [
        "stateDiagram-v2",
        "    [*] --> new: card checkout",
        "    [*] --> captured: desk payment",
    ]
    for (source, target), actors in edges.items():
        lines.append(f"    {source.value} --> {target.value}: {', '.join(sorted(actors))}")
    lines += [f"    {state.value} --> [*]" for state in (S.POSTED, S.REFUNDED)]
    return "\n".join(lines) + "\n"
