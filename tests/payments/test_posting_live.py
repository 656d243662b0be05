"""The outbox worker's step against the sandbox over real HTTP (no Celery: the step itself)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from smartapp.audit.models import AuditEvent
from smartapp.payments.claiming import payment_claim
from smartapp.payments.models import Attempt, Payment, PaymentSettings, State, VisitLock
from smartapp.payments.posting import payment_process, visit_process
from smartapp.payments.step_writes import Skip
from smartapp.payments.words import payment_words
from smartapp.testing import wait_for_state
from tests.payments.conftest import desk_row

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_posts_a_captured_payment_once_and_the_balance_drops(
    tenant, millennium, millennium_ledger
):
    encounter = millennium.visits.registered()[0]
    before = millennium.visits.balance(encounter)
    payment = desk_row(tenant, encounter, "2.50")

    payment = wait_for_state(payment, "posted", run_inline=True)
    assert millennium.visits.balance(encounter) == before - Decimal("2.50")
    rows = millennium_ledger.for_payment(payment)
    assert len(rows) == 1 and rows[0].amount == Decimal("2.50")
    assert rows[0].account == payment.account_id
    post = payment.attempts.get(kind=Attempt.Kind.POST)
    assert post.result == Attempt.Result.POSTED and post.http_status == 201
    assert post.correlation_id and post.balance_before == before


def test_a_ready_payment_costs_one_account_search_and_one_post_in_one_step(
    tenant, millennium, millennium_ledger
):
    encounter = millennium.visits.registered()[0]
    payment = desk_row(tenant, encounter, "4.00")

    assert payment_process(payment_id=payment.pk) == State.POSTED

    calls = AuditEvent.objects.filter(reason__startswith=f"payment {payment.posting_id} ")
    written = millennium_ledger.for_payment(payment)[0].id
    assert sorted(calls.values_list("action", "what")) == [
        ("search", f"Account?-encounter={encounter.fhir_id}&type"),  # the type's value is not kept
        ("write", f"Basic/{written} create"),
    ]
    assert not VisitLock.objects.filter(holder__gt="").exists()  # released


def _searches(payments: list[Payment]) -> int:
    reasons = [f"payment {payment.posting_id} " for payment in payments]
    return sum(
        AuditEvent.objects.filter(action="search", reason__startswith=reason).count()
        for reason in reasons
    )


def test_a_visits_payments_post_in_turn_from_one_account_search(
    tenant, millennium, millennium_ledger
):
    encounter = millennium.visits.registered()[0]
    before = millennium.visits.balance(encounter)
    payments = [desk_row(tenant, encounter, amount) for amount in ("1.00", "2.00", "3.00")]

    states = visit_process(payment_ids=[payment.pk for payment in payments])

    assert list(states.values()) == [State.POSTED] * 3
    assert _searches(payments) == 1
    assert millennium.visits.balance(encounter) == before - Decimal("6.00")
    evidence = [payment.attempts.get(kind="post").balance_before for payment in payments]
    assert evidence == [before, before - Decimal("1.00"), before - Decimal("3.00")]
    for payment in payments:
        assert len(millennium_ledger.for_payment(payment)) == 1


def test_one_search_tells_a_whole_unregistered_visit_to_wait(tenant, millennium):
    encounter = millennium.visits.unregistered()
    payments = [desk_row(tenant, encounter) for _ in range(3)]

    states = visit_process(payment_ids=[payment.pk for payment in payments])

    assert list(states.values()) == [State.AWAITING_ACCOUNT] * 3
    assert _searches(payments) == 1
    for payment in payments:
        payment.refresh_from_db()
        assert payment.next_check_at > timezone.now() and not payment.claim_token


def test_a_visit_step_stops_at_an_unclear_answer_and_leaves_the_rest_alone(
    tenant, settings, millennium, millennium_ledger
):
    settings.HTTP_READ_TIMEOUT = 0.7
    millennium.faults(1.0, ["basic_timeout_after_write"], times=1)
    encounter = millennium.visits.registered()[0]
    payments = [desk_row(tenant, encounter, "1.50") for _ in range(3)]

    states = visit_process(payment_ids=[payment.pk for payment in payments])

    assert list(states.values()) == [State.OUTCOME_UNKNOWN, Skip.NOT_CLAIMED, Skip.NOT_CLAIMED]
    for payment in payments[1:]:
        payment.refresh_from_db()
        assert payment.state == State.CAPTURED and not payment.attempts.exists()
    for payment in payments:  # the others wait for the first one's evidence, then post once
        wait_for_state(payment, "posted", run_inline=True)
        assert len(millennium_ledger.for_payment(payment)) == 1


def test_a_visit_step_skips_another_visits_payment(tenant, millennium, millennium_ledger):
    first, other = millennium.visits.registered()[:2]
    mine, stranger = desk_row(tenant, first), desk_row(tenant, other)

    states = visit_process(payment_ids=[mine.pk, stranger.pk])

    assert states[mine.pk] == State.POSTED
    stranger.refresh_from_db()
    assert stranger.state == State.CAPTURED and not stranger.claim_token
    assert millennium_ledger.for_payment(stranger) == []


def test_it_uses_the_tenant_alias_and_location_from_the_tenant_file(tenant):
    settings = PaymentSettings.objects.get(tenant=tenant)
    assert settings.card_alias == "0111" and settings.location == "98920358"
    assert settings.processor_base_url.endswith("/sandbox/processor") and settings.processor_api_key


def test_it_waits_for_registration_then_posts_when_the_account_appears(
    tenant, millennium, millennium_ledger
):
    encounter = millennium.visits.unregistered()
    payment = desk_row(tenant, encounter, "3.00")

    payment = wait_for_state(payment, "awaiting_account", run_inline=True)
    assert payment.next_check_at > timezone.now()
    assert millennium_ledger.for_payment(payment) == []

    millennium.register(encounter)
    payment = wait_for_state(payment, "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(payment)) == 1


def test_it_backs_off_with_a_cap_and_escalates_after_the_tenants_time(tenant, millennium):
    PaymentSettings.objects.filter(tenant=tenant).update(
        backoff_cap_seconds=7, escalate_after_seconds=60
    )
    payment = desk_row(tenant, millennium.visits.unregistered(), "3.00")
    longest, shortest = [], []  # each step's delay lies between these: from the run's start, end
    for _ in range(6):
        Payment.objects.filter(pk=payment.pk).update(next_check_at=timezone.now())
        started = timezone.now()
        payment_process(payment_id=payment.pk)
        finished = timezone.now()
        payment.refresh_from_db()
        longest.append((payment.next_check_at - started).total_seconds())
        shortest.append((payment.next_check_at - finished).total_seconds())
    # Never shorter than the step before, allowing for each step's own run time (an HTTP search).
    assert all(later >= earlier for earlier, later in zip(shortest, longest[1:], strict=False))
    assert shortest[-1] > longest[0] * 4 and 6 <= shortest[-1] and longest[-1] <= 7.5

    Payment.objects.filter(pk=payment.pk).update(
        captured_at=timezone.now() - timedelta(seconds=61), next_check_at=timezone.now()
    )
    payment_process(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.state == State.NEEDS_ATTENTION and "Escalated" in payment.message
    assert payment.next_check_at is not None  # it keeps looking, at the capped pace


def test_a_refusal_is_failed_with_the_ehrs_words_and_nothing_is_retried(
    tenant, millennium, millennium_ledger
):
    PaymentSettings.objects.filter(tenant=tenant).update(cash_alias="9999")
    payment = wait_for_state(
        desk_row(tenant, millennium.visits.registered()[0]), "failed", run_inline=True
    )
    post = payment.attempts.get(kind=Attempt.Kind.POST)
    assert post.http_status == 422 and "9999" in post.outcome_text
    assert "9999" in payment.message
    assert payment.next_check_at is None
    assert millennium_ledger.for_payment(payment) == []


def test_a_429_is_not_a_failure_it_waits_for_retry_after(tenant, millennium, millennium_ledger):
    millennium.faults(1.0, ["basic_429"], times=1)
    payment = desk_row(tenant, millennium.visits.registered()[0])
    payment_process(payment_id=payment.pk)
    payment.refresh_from_db()

    assert payment.state == State.CAPTURED
    assert 1 <= (payment.next_check_at - timezone.now()).total_seconds() <= 2.5
    assert payment.attempts.filter(kind="post", result="not_sent", http_status=429).exists()
    payment = wait_for_state(payment, "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(payment)) == 1


def test_a_timeout_after_the_write_is_resolved_from_the_balance_without_posting_again(
    tenant, settings, millennium, millennium_ledger
):
    settings.HTTP_READ_TIMEOUT = 0.7
    millennium.faults(1.0, ["basic_timeout_after_write"], times=1)
    encounter = millennium.visits.registered()[0]
    payment = desk_row(tenant, encounter, "4.00")
    payment_process(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.state == State.OUTCOME_UNKNOWN

    payment = wait_for_state(payment, "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(payment)) == 1
    results = list(
        payment.attempts.filter(kind__in=["post", "verify"]).values_list("result", flat=True)
    )
    assert results == ["landed", "landed"]


def test_a_5xx_that_wrote_nothing_is_posted_again_once_the_balance_shows_it(
    tenant, millennium, millennium_ledger
):
    millennium.faults(1.0, ["basic_5xx"], times=1)
    payment = desk_row(tenant, millennium.visits.registered()[0], "1.25")
    payment_process(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.state == State.OUTCOME_UNKNOWN
    assert payment.attempts.get(kind="post").http_status == 503

    payment = wait_for_state(payment, "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(payment)) == 1
    assert list(payment.attempts.filter(kind="post").values_list("result", flat=True)) == [
        "not_landed",
        "posted",
    ]


def _killed_mid_post(payment: Payment, balance: Decimal) -> None:
    """What a worker killed after writing its `sending` attempt leaves behind."""
    Payment.objects.filter(pk=payment.pk).update(
        state=State.POSTING,
        claimed_until=timezone.now() - timedelta(seconds=1),
        claim_token="dead",
        account_id=f"G{payment.encounter_id}",
    )
    Attempt.objects.create(
        payment=payment,
        kind="post",
        result="sending",
        account_id=f"G{payment.encounter_id}",
        balance_before=balance,
    )


def test_a_worker_killed_before_its_post_arrived_is_posted_once(
    tenant, millennium, millennium_ledger
):
    encounter = millennium.visits.registered()[0]
    payment = desk_row(tenant, encounter, "1.10")
    payment_process(payment_id=payment.pk)  # finds the account id
    payment.refresh_from_db()
    assert payment.state == State.POSTED
    # A second payment: the worker "dies" after recording the attempt, before sending.
    second = desk_row(tenant, encounter, "1.20")
    _killed_mid_post(second, millennium.visits.balance(encounter))
    Payment.objects.filter(pk=second.pk).update(account_id=payment.account_id)
    Attempt.objects.filter(payment=second).update(account_id=payment.account_id)

    second = wait_for_state(second, "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(second)) == 1


def test_a_worker_killed_after_its_post_landed_is_not_posted_again(
    tenant, millennium, millennium_ledger
):
    encounter = millennium.visits.registered()[0]
    payment = wait_for_state(desk_row(tenant, encounter, "1.30"), "posted", run_inline=True)
    before = millennium.visits.balance(encounter) + Decimal("1.30")
    # Pretend the worker died after the POST was sent (the sandbox has it), answer unseen.
    Payment.objects.filter(pk=payment.pk).update(state=State.POSTING, next_check_at=timezone.now())
    Attempt.objects.filter(payment=payment, kind="post").update(
        result="sending", balance_before=before
    )

    payment = wait_for_state(payment, "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(payment)) == 1


def test_a_balance_changed_by_someone_else_needs_attention_not_a_guess(
    tenant, millennium, millennium_ledger
):
    from smartapp.sandbox.models import Account

    encounter = millennium.visits.registered()[0]
    millennium.faults(1.0, ["basic_5xx"], times=1)
    payment = desk_row(tenant, encounter, "1.40")
    payment_process(payment_id=payment.pk)
    Account.objects.filter(
        encounter_fhir_id=encounter.fhir_id, account_type="guarantor-balance"
    ).update(
        balance=millennium.visits.balance(encounter) + Decimal("50.00")  # a new charge meanwhile
    )
    payment = wait_for_state(payment, "needs_attention", run_inline=True)
    assert payment.next_check_at is None
    assert millennium_ledger.for_payment(payment) == []


def test_only_one_claim_wins_and_a_claimed_row_is_left_alone(tenant, millennium):
    payment = desk_row(tenant, millennium.visits.registered()[0])
    first = payment_claim(payment_id=payment.pk)
    assert first and payment_claim(payment_id=payment.pk) is None
    assert payment_process(payment_id=payment.pk) == Skip.NOT_CLAIMED


def test_in_a_visit_step_a_write_in_doubt_is_checked_first_and_alone(
    tenant, millennium, millennium_ledger
):
    encounter = millennium.visits.registered()[0]
    fresh, in_doubt = desk_row(tenant, encounter, "1.30"), desk_row(tenant, encounter, "1.40")
    _killed_mid_post(in_doubt, millennium.visits.balance(encounter))  # it never reached the EHR

    states = visit_process(payment_ids=[fresh.pk, in_doubt.pk])

    assert states == {fresh.pk: Skip.NOT_CLAIMED, in_doubt.pk: State.POSTED}
    fresh.refresh_from_db()
    assert fresh.state == State.CAPTURED and not fresh.attempts.exists()
    assert fresh.enqueued_at is None  # back at the beat's next tick
    wait_for_state(fresh, "posted", run_inline=True)
    for payment in (fresh, in_doubt):
        assert len(millennium_ledger.for_payment(payment)) == 1


def test_a_desk_payment_whose_posting_cannot_start_says_why_on_the_staff_queue(
    tenant, client, django_user_model, millennium, millennium_ledger
):
    from smartapp.tenants.models import ClientRegistration, Persona, SystemToken

    system = ClientRegistration.objects.get(tenant=tenant, persona=Persona.SYSTEM)
    system.client_secret = "not-the-secret"
    system.save()
    SystemToken.objects.all().delete()
    encounter = millennium.visits.registered()[0]
    payment = desk_row(tenant, encounter, "3.00")

    assert payment_process(payment_id=payment.pk) == State.CAPTURED
    payment.refresh_from_db()

    assert payment.message.startswith(
        "Cannot start: the EHR's sign-in refused the app's system client"
    )
    assert "invalid_client" in payment.message and payment.next_check_at is not None
    lookup = payment.attempts.get()
    assert lookup.result == Attempt.Result.ERROR and lookup.http_status == 401
    assert millennium_ledger.for_payment(payment) == []
    client.force_login(django_user_model.objects.create_user("desk", is_staff=True))
    queue = client.get("/staff/payments/").content.decode()
    assert payment.posting_id in queue and "Cannot start" in queue
    assert payment_words(payment).headline == "Paid. Not in the hospital's billing system yet"
