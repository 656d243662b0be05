"""Assertions on what the app recorded: its audit trail and its payments."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smartapp.audit.models import AuditEvent
    from smartapp.payments.models import Payment
    from smartapp.testing.launches import Launched

# A payment moves no further by itself from these (wait_for_state stops waiting there).
FINAL_STATES = frozenset({"posted", "failed", "refunded", "cancelled"})


def assert_audited(
    *,
    launch: Launched | None = None,
    action: str | None = None,
    what: str | None = None,
    patient: str | None = None,
    who: str | None = None,
    status: int | None = None,
    count: int | None = None,
) -> list[AuditEvent]:
    """The audit events matching every given filter (at least one, or exactly `count`).

    `action` is read | search | write; `what` matches as a prefix (`"Patient/12724066"`,
    `"Appointment?"`, `"Appointment/4822366 patch"`); `patient` is a Patient id; `who` a
    fhirUser reference (`"Practitioner/4122622"`) or `"system"`.
    """
    __tracebackhide__ = True
    from smartapp.audit.models import AuditEvent

    rows = AuditEvent.objects.order_by("when", "id")
    if launch is not None:
        rows = rows.filter(launch_id=launch.public_id)
    if action is not None:
        rows = rows.filter(action=action)
    if what is not None:
        rows = rows.filter(what__startswith=what)
    if patient is not None:
        rows = rows.filter(patient_id=patient)
    if who is not None:
        rows = rows.filter(who=who)
    if status is not None:
        rows = rows.filter(status=status)
    found = list(rows)
    if (count is None and not found) or (count is not None and len(found) != count):
        recorded = "\n".join(
            f"  {row.action} {row.what} patient={row.patient_id or '-'} who={row.who} "
            f"status={row.status}"
            for row in AuditEvent.objects.order_by("when", "id")[:50]
        )
        wanted = count if count is not None else "at least 1"
        raise AssertionError(
            f"wanted {wanted} audit event(s) matching action={action} what={what} "
            f"patient={patient} who={who} status={status}; found {len(found)}. "
            f"Recorded:\n{recorded or '  (nothing)'}"
        )
    return found


def _step(payment: Payment) -> None:
    """One posting step in this process, due now: what a worker does with the task."""
    from django.utils import timezone

    from smartapp.payments.models import Payment as PaymentModel
    from smartapp.payments.tasks import payment_process

    PaymentModel.objects.filter(pk=payment.pk, claim_token="").update(next_check_at=timezone.now())
    payment_process(payment.pk)


def wait_for_state(
    payment: Payment,
    state: str,
    *,
    timeout: float = 30.0,
    run_inline: bool = False,
    interval: float = 0.05,
) -> Payment:
    """Polls the database until the payment is in `state`, then returns it (refreshed).

    A worker process (the `millennium_worker` fixture, or your own) moves it; with
    `run_inline=True` each poll runs one posting step here instead (the Celery task's own
    function, the payment due at once): no broker or worker needed. Fails at `timeout` seconds,
    or at once when the payment ends in another final state, with its history of moves.
    """
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while True:
        payment.refresh_from_db()
        if payment.state == state:
            return payment
        if payment.state in FINAL_STATES or time.monotonic() > deadline:
            break
        if run_inline:
            _step(payment)
            payment.refresh_from_db()
            if payment.state == state:
                return payment
        time.sleep(interval)
    raise AssertionError(
        f"payment {payment.posting_id} is {payment.state}, not {state}, after "
        f"{timeout:g} s (moves: {_history(payment)}; latest message: {payment.message or '-'})"
    )


def _history(payment: Payment) -> str:
    from smartapp.payments.models import Transition

    moves: list[list[object]] = []  # [move, times], consecutive repeats counted
    for row in Transition.objects.filter(payment=payment).order_by("pk"):
        move = f"{row.source}→{row.target}"
        if moves and moves[-1][0] == move:
            moves[-1][1] = int(str(moves[-1][1])) + 1
        else:
            moves.append([move, 1])
    return ", ".join(f"{m} ×{n}" if n != 1 else str(m) for m, n in moves) or "none"
