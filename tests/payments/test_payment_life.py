"""Random lives of payments against the sandbox over real HTTP (hypothesis, stateful): worker
steps with injected EHR answers, workers dying before or after their POST is sent, staff retries
and resolutions, processor captures (replayed too), registrations and the passing of time.

After every step: no payment is twice in the sandbox's ledger, nothing is in the ledger that was
not captured, every state change followed the table. At the end, with the EHR well again, every
write that was in doubt was proven posted, proven not posted, or is with staff.
"""

from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from smartapp.fhir.gateway import FhirGateway
from smartapp.payments import staff
from smartapp.payments.models import (
    DUE_STATES,
    Actor,
    Attempt,
    Payment,
    State,
    Transition,
    VisitLock,
)
from smartapp.payments.posting import visit_process
from smartapp.payments.processor import Checkout
from smartapp.payments.services import checkout_settle
from smartapp.payments.transitions import is_allowed

pytestmark = pytest.mark.django_db(transaction=True)
# What the EHR does to the first call it fits (the kit's fault kinds, once): "" is all well.
EHR_ANSWERS = [
    "",
    "basic_5xx",
    "basic_timeout_after_write",
    "basic_429",
    "account_5xx",
    "account_429",
]
SETTLED = {State.POSTED, State.NEEDS_ATTENTION, State.CANCELLED, State.NEW, State.AWAITING_ACCOUNT}


class WorkerDied(BaseException):
    """A worker killed mid-step: nothing in the step may catch it (like SIGKILL)."""


def _checkout(payment: Payment) -> Checkout:
    return Checkout(
        session_id=f"cs_{payment.posting_id}",
        checkout_url="",
        status="captured",
        reference=payment.posting_id,
        amount=payment.amount,
        charge_id=f"ch_{payment.posting_id}",
        brand="visa",
        last4="4242",
        expiry="2030-12",
    )


def _machine(millennium, monkeypatch):  # noqa: C901 - one machine, its rules
    tenant, ledger = millennium.tenant, millennium.ledger()
    visits = [*millennium.visits.registered()[:2], millennium.visits.unregistered()]

    class PaymentLives(RuleBasedStateMachine):
        payments = Bundle("payments")

        def __init__(self) -> None:
            super().__init__()
            self.ours: list[int] = []
            self.registered: set[str] = set()

        @initialize(target=payments)
        def paid_payments_on_registered_visits(self):
            """Captured payments waiting to post, so every life has writes to get wrong."""
            return multiple(*(self._new(visit, 250, paid=True) for visit in visits[:2] * 2))

        @rule(
            target=payments,
            visit=st.sampled_from(visits),
            cents=st.integers(100, 900),
            paid=st.booleans(),
        )
        def a_patient_starts_paying(self, visit, cents, paid):
            return self._new(visit, cents, paid=paid)

        def _new(self, visit, cents: int, *, paid: bool) -> int:
            payment = Payment.objects.create(
                request_key=f"life-{Payment.objects.count()}-{cents}-{timezone.now().timestamp()}",
                tenant=tenant,
                patient_id=visit.patient.fhir_id,
                encounter_id=visit.fhir_id,
                amount=Decimal(cents) / 100,
                amount_source="entered",
            )
            self.ours.append(payment.pk)
            if paid:
                checkout_settle(payment=payment, checkout=_checkout(payment), actor=Actor.PROCESSOR)
            return payment.pk

        @rule(payment=payments)
        def the_processor_says_captured(self, payment):
            row = Payment.objects.get(pk=payment)
            checkout_settle(payment=row, checkout=_checkout(row), actor=Actor.PROCESSOR)

        @rule(answer=st.sampled_from(EHR_ANSWERS))
        def a_worker_steps(self, answer):
            """Steps every visit with work; the EHR gives `answer` to the first call it fits."""
            if answer:
                millennium.faults(1.0, [answer], times=1)
            try:
                for payment_ids in filter(None, map(self._due, visits)):
                    visit_process(payment_ids=payment_ids)
            finally:
                millennium.faults(0)

        @rule(after_sending=st.booleans())
        def a_worker_dies_mid_post(self, after_sending):
            create = FhirGateway.create

            def dying(gateway, *args, **kwargs):
                if after_sending:
                    create(gateway, *args, **kwargs)
                raise WorkerDied

            with monkeypatch.context() as patch:
                patch.setattr(FhirGateway, "create", dying)
                for payment_ids in filter(None, map(self._due, visits)):
                    try:
                        visit_process(payment_ids=payment_ids)
                    except WorkerDied:
                        return

        @rule()
        def time_passes(self):
            """Leases of dead workers run out; back-offs are over (staff's rows stay unscheduled)."""
            Payment.objects.filter(pk__in=self.ours).update(claimed_until=None, claim_token="")
            Payment.objects.filter(pk__in=self.ours, next_check_at__isnull=False).update(
                next_check_at=timezone.now(), enqueued_at=None
            )
            VisitLock.objects.update(holder="", claimed_until=None)

        @rule(payment=payments)
        def staff_retry(self, payment):
            try:
                staff.payment_retry(payment=Payment.objects.get(pk=payment), by="staff")
            except staff.ActionRefused:
                pass

        @rule(payment=payments)
        def staff_check_millennium_and_resolve(self, payment):
            row = Payment.objects.get(pk=payment)
            if row.state != State.NEEDS_ATTENTION:
                return
            on_account = bool(ledger.for_payment(row))
            staff.payment_resolve(payment=row, by="staff", note="checked", posted=on_account)

        @precondition(
            lambda self: Payment.objects.filter(
                pk__in=self.ours, state=State.AWAITING_ACCOUNT
            ).exists()
        )
        @rule()
        def the_hospital_registers_the_visit(self):
            if visits[-1].fhir_id not in self.registered:
                millennium.register(visits[-1])
                self.registered.add(visits[-1].fhir_id)

        def _due(self, visit) -> list[int]:
            """The visit's payments a worker would be handed now (claimable and due)."""
            return list(
                Payment.objects.filter(
                    pk__in=self.ours,
                    encounter_id=visit.fhir_id,
                    state__in=DUE_STATES,
                    next_check_at__lte=timezone.now(),
                    claimed_until__isnull=True,
                )
                .order_by("pk")
                .values_list("pk", flat=True)
            )

        @invariant()
        def never_twice_in_the_ledger_and_never_without_a_capture(self):
            ours = dict(
                Payment.objects.filter(pk__in=self.ours).values_list("posting_id", "captured_at")
            )
            posted = [row.identifier for row in ledger.transactions if row.identifier in ours]
            assert len(posted) == len(set(posted)), "a payment is twice in the ledger"
            assert all(ours[pid] is not None for pid in posted), "posted without a capture"

        @invariant()
        def every_change_followed_the_table(self):
            moves = Transition.objects.filter(payment_id__in=self.ours)
            for source, target, actor in moves.values_list("source", "target", "actor"):
                assert is_allowed(source, target, Actor(actor)), (source, target, actor)
            states = set(Payment.objects.filter(pk__in=self.ours).values_list("state", flat=True))
            assert states <= set(State.values)

        def teardown(self):
            millennium.faults(0)
            for _ in range(12):  # the EHR is well again: the workers settle everything
                self.time_passes()
                due = [ids for ids in map(self._due, visits) if ids]
                if not due:
                    break
                for payment_ids in due:
                    visit_process(payment_ids=payment_ids)
            rows = Payment.objects.filter(pk__in=self.ours)
            in_ledger = {row.identifier for row in ledger.transactions}
            for payment in rows:
                assert payment.state in SETTLED, (payment.posting_id, payment.state)
                if payment.state != State.NEEDS_ATTENTION:
                    assert not payment.attempts.in_doubt().exists(), payment.posting_id
                if payment.state == State.POSTED:
                    assert payment.posting_id in in_ledger, payment.posting_id
                if payment.posting_id in in_ledger:
                    assert payment.state in (State.POSTED, State.NEEDS_ATTENTION), payment.state

    return PaymentLives


def test_random_lives_of_payments_post_each_at_most_once_and_settle(
    millennium, monkeypatch, settings_fast, figure
):
    machine = _machine(millennium, monkeypatch)

    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=10,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )

    unclear = Attempt.objects.filter(kind="post", result__in=["landed", "not_landed"]).count()
    reached = set(Transition.objects.values_list("target", flat=True))
    figure(
        f"\npayment lives: {Payment.objects.count()} payments, {Transition.objects.count()} moves, "
        f"{unclear} unclear writes resolved from balances; states reached {sorted(reached)}"
    )
    assert unclear > 0
    assert {State.POSTED, State.POSTING, State.AWAITING_ACCOUNT} <= reached


@pytest.fixture
def settings_fast(settings):
    settings.HTTP_READ_TIMEOUT = 0.5
    settings.SANDBOX_TIMEOUT_SLEEP_SECONDS = 0.8
    settings.PAYMENT_UNKNOWN_SETTLE_SECONDS = 0
    return settings
