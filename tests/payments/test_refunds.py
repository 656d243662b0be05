"""Refunds of posted payments: the money back first, then a reversing adjustment posted to the
sandbox EHR exactly once through the outbox and its balance evidence; partial, never more than
was paid; audited; on the receipt."""

import json
import secrets
from decimal import Decimal

import pytest

from smartapp.audit.models import AuditEvent
from smartapp.payments import refunds
from smartapp.payments.ehr import financial_transaction
from smartapp.payments.models import Payment, PaymentSettings, State
from smartapp.payments.posting import payment_process
from smartapp.sandbox.processor.models import Refund as ProcessorRefund
from smartapp.testing import wait_for_state
from tests.examples import cerner_example
from tests.fakehttp import answer_lost_once, install, uninstall
from tests.payments.conftest import desk_row
from tests.payments.test_pages import paid_by_card

pytestmark = pytest.mark.django_db(transaction=True)


def _posted(payment: Payment) -> Payment:
    return wait_for_state(payment, "posted", run_inline=True)


def _ask(
    payment: Payment, amount: str, key: str = "", reason: str = "overcharged"
) -> refunds.RefundAsk:
    return refunds.RefundAsk(
        payment=payment,
        amount=Decimal(amount),
        reason=reason,
        by="billing.clerk",
        request_key=key or secrets.token_urlsafe(16),
    )


def test_the_reversal_is_cerners_adjustment_shape_with_the_refund_alias_and_no_method(
    tenant, millennium
):
    example = cerner_example("r4_financialtransaction_create_request_adjustment.json")
    paid = desk_row(tenant, millennium.visits.registered()[0], "9.00", account_id="G1")
    refund = Payment(
        tenant=tenant, reverses=paid, amount=Decimal("4.00"), method="cash", account_id="G1"
    )
    settings = PaymentSettings(tenant=tenant, refund_alias="3100")

    body = financial_transaction(payment=refund, account_id="G1", settings=settings)

    def shape(document: dict) -> list[str]:
        return sorted(extension["url"] for extension in document["extension"])

    assert shape(body) == shape(example)
    by_url = {e["url"].rsplit("/", 1)[1]: e for e in body["extension"]}
    assert (
        by_url["financial-transaction-type"]["valueCodeableConcept"]["coding"][0]["code"]
        == "adjustment"
    )
    assert by_url["financial-transaction-alias"]["valueString"] == "3100"
    assert by_url["financial-transaction-amount"]["valueMoney"] == {"value": 4.0, "currency": "USD"}
    assert body["identifier"][0]["value"] == refund.posting_id != paid.posting_id


def test_a_desk_payment_refunded_in_part_twice_posts_two_reversals_and_refuses_a_third(
    tenant, millennium, millennium_ledger
):
    encounter = millennium.visits.registered()[0]
    before = millennium.visits.balance(encounter)
    paid = _posted(desk_row(tenant, encounter, "10.00"))
    assert millennium.visits.balance(encounter) == before - Decimal("10.00")

    first = refunds.posted_refund_start(ask=_ask(paid, "4.00"))
    assert first.state == State.CAPTURED and first.reverses == paid  # cash handed back
    first = _posted(first)
    second = _posted(refunds.posted_refund_start(ask=_ask(paid, "6.00")))
    with pytest.raises(refunds.RefundRefused, match="At most \\$0.00"):
        refunds.posted_refund_start(ask=_ask(paid, "0.01"))

    assert (
        millennium.visits.balance(encounter) == before
    )  # each reversal raised the balance by its amount
    for refund in (first, second):
        rows = millennium_ledger.for_payment(refund)
        assert [(r.kind, r.alias, r.amount) for r in rows] == [
            ("adjustment", "3100", refund.amount)
        ]
    assert len(millennium_ledger.for_payment(paid)) == 1
    assert refunds.refundable_left(payment=paid) == Decimal("0.00")
    audited = AuditEvent.objects.filter(what__startswith="Payment refund", who="billing.clerk")
    assert audited.count() == 2 and audited.filter(patient_id=paid.patient_id).count() == 2


def test_what_cannot_be_refunded_is_refused_in_words(tenant, millennium):
    encounter = millennium.visits.registered()[0]
    unposted = desk_row(tenant, encounter, "5.00")
    with pytest.raises(refunds.RefundRefused, match="Only a payment posted"):
        refunds.posted_refund_start(ask=_ask(unposted, "1.00"))
    paid = _posted(desk_row(tenant, encounter, "5.00"))
    with pytest.raises(refunds.RefundRefused, match="At most \\$5.00"):
        refunds.posted_refund_start(ask=_ask(paid, "5.01"))
    with pytest.raises(refunds.RefundRefused, match="reason is required"):
        refunds.posted_refund_start(ask=_ask(paid, "1.00", reason="  "))
    refund = _posted(refunds.posted_refund_start(ask=_ask(paid, "1.00")))
    with pytest.raises(refunds.RefundRefused, match="cannot itself be refunded"):
        refunds.posted_refund_start(ask=_ask(refund, "1.00"))
    assert Payment.objects.filter(reverses=paid).count() == 1


def test_the_same_refund_form_sent_twice_makes_one_refund(tenant, millennium):
    paid = _posted(desk_row(tenant, millennium.visits.registered()[0], "8.00"))
    once = refunds.posted_refund_start(ask=_ask(paid, "3.00", key="form-key-1"))
    again = refunds.posted_refund_start(ask=_ask(paid, "3.00", key="form-key-1"))
    other = _posted(desk_row(tenant, millennium.visits.registered()[0], "8.00"))

    assert once.pk == again.pk and Payment.objects.filter(reverses=paid).count() == 1
    with pytest.raises(refunds.RefundRefused, match="another payment"):
        refunds.posted_refund_start(ask=_ask(other, "3.00", key="form-key-1"))


def test_a_card_refund_goes_to_the_processor_first_then_reverses_on_the_account(
    client, tenant, millennium
):
    encounter = millennium.visits.registered()[0]
    paid = _posted(paid_by_card(client, tenant, encounter))
    posted_balance = millennium.visits.balance(encounter)

    refund = refunds.posted_refund_start(ask=_ask(paid, "2.50"))

    made = ProcessorRefund.objects.get(charge__charge_id=paid.charge_id)
    assert made.amount == Decimal("2.50") and made.idempotency_key == f"refund-{refund.posting_id}"
    assert refund.state == State.CAPTURED and refund.refund_id == made.refund_id
    assert _posted(refund).state == State.POSTED
    assert millennium.visits.balance(encounter) == posted_balance + Decimal("2.50")
    receipt = client.get(f"/l/{paid.launch.public_id}/payments/{paid.public_id}/receipt/")
    text = receipt.content.decode()
    assert 'id="receipt-refunds"' in text and "$2.50" in text and "account shows it" in text
    listed = client.get(f"/l/{paid.launch.public_id}/payments/").content.decode()
    assert "$2.50 refunded" in listed and str(refund.public_id) not in listed


def test_a_refund_whose_answer_was_lost_is_asked_again_with_the_same_key_never_twice(
    client, tenant, millennium, millennium_ledger
):
    from datetime import timedelta

    paid = _posted(paid_by_card(client, tenant, millennium.visits.registered()[0]))
    lost: list[int] = []
    install(answer_lost_once("POST", "/refund", lost))
    try:
        refund = refunds.posted_refund_start(ask=_ask(paid, "3.00"))
    finally:
        uninstall()
    assert lost == [201] and refund.state == State.NEW
    assert "did not answer" in refund.message and refund.attempts.filter(result="unknown").exists()

    assert refunds.refunds_reconcile(older_than=timedelta(0)) == 1
    refund.refresh_from_db()

    made = ProcessorRefund.objects.filter(charge__charge_id=paid.charge_id)
    assert made.count() == 1 and refund.state == State.CAPTURED
    assert refund.refund_id == made.get().refund_id
    assert _posted(refund).state == State.POSTED and len(millennium_ledger.for_payment(refund)) == 1


def test_a_refund_the_processor_refuses_moves_no_money_and_frees_its_amount(
    client, tenant, millennium, millennium_ledger
):
    paid = _posted(paid_by_card(client, tenant, millennium.visits.registered()[0]))
    from smartapp.sandbox.processor.models import Charge

    Charge.objects.filter(charge_id=paid.charge_id).update(amount_refunded=paid.amount)  # elsewhere

    refund = refunds.posted_refund_start(ask=_ask(paid, "1.00"))

    assert refund.state == State.CANCELLED and "refused the refund" in refund.message
    assert refunds.refundable_left(payment=paid) == paid.amount
    assert millennium_ledger.for_payment(refund) == []


def test_a_reversal_sent_without_an_answer_is_proven_landed_by_a_higher_balance(
    tenant, settings, millennium, millennium_ledger
):
    settings.HTTP_READ_TIMEOUT = 0.7
    encounter = millennium.visits.registered()[0]
    paid = _posted(desk_row(tenant, encounter, "7.00"))
    millennium.faults(1.0, ["basic_timeout_after_write"], times=1)
    refund = refunds.posted_refund_start(ask=_ask(paid, "7.00"))
    payment_process(payment_id=refund.pk)
    refund.refresh_from_db()
    assert refund.state == State.OUTCOME_UNKNOWN

    refund = _posted(refund)

    assert len(millennium_ledger.for_payment(refund)) == 1
    verify = refund.attempts.filter(kind="verify").latest("id")
    assert verify.result == "landed" and "this write: +7.00" in verify.outcome_text


def test_the_sandbox_keeps_payment_and_adjustment_aliases_apart(tenant, millennium):
    paid = _posted(desk_row(tenant, millennium.visits.registered()[0], "2.00"))
    settings = PaymentSettings.objects.get(tenant=tenant)
    PaymentSettings.objects.filter(pk=settings.pk).update(refund_alias=settings.card_alias)

    refund = refunds.posted_refund_start(ask=_ask(paid, "1.00"))

    refund = wait_for_state(refund, "failed", run_inline=True)
    assert "is not an adjustment alias" in refund.message


def test_staff_refund_a_posted_payment_from_its_page_and_bad_amounts_get_words(
    client, tenant, django_user_model, millennium
):
    paid = _posted(desk_row(tenant, millennium.visits.registered()[0], "6.00"))
    client.force_login(django_user_model.objects.create_user("billing", is_staff=True))
    page = client.get(f"/staff/payments/{paid.public_id}/").content.decode()
    key = page.split('name="key" value="')[1].split('"')[0]
    assert 'id="ops-refund-posted"' in page and 'value="6.00"' in page

    for amount, words in [
        ("7.00", "At most $6.00"),
        ("-1", "Enter the amount"),
        ("0", "more than zero"),
    ]:
        refused = client.post(
            f"/staff/payments/{paid.public_id}/refund-posted/",
            {"key": key, "amount": amount, "reason": "duplicate charge"},
        )
        assert refused.status_code == 400 and words in refused.content.decode(), amount
    done = client.post(
        f"/staff/payments/{paid.public_id}/refund-posted/",
        {"key": key, "amount": "2.00", "reason": "duplicate charge"},
    )
    refund = Payment.objects.get(reverses=paid)
    assert done.status_code == 303 and done["Location"].endswith(f"/{refund.public_id}/")
    shown = client.get(done["Location"]).content.decode()
    assert "Refund of" in shown and "duplicate charge" in shown and refund.taken_by == "billing"
    assert 'id="ops-refunds"' in client.get(f"/staff/payments/{paid.public_id}/").content.decode()


def test_patients_cannot_reach_the_refund_action(client, tenant, django_user_model, millennium):
    paid = _posted(desk_row(tenant, millennium.visits.registered()[0], "6.00"))
    client.force_login(django_user_model.objects.create_user("someone", is_staff=False))
    sent = client.post(
        f"/staff/payments/{paid.public_id}/refund-posted/",
        {"key": "k", "amount": "1.00", "reason": "x"},
    )
    assert sent.status_code == 302 and "/login" in sent["Location"]
    assert not Payment.objects.filter(reverses=paid).exists()


def test_the_reconciliation_matches_a_reversed_refund_and_flags_one_not_reversed(
    client, tenant, millennium
):
    from django.utils import timezone

    from smartapp.payments.reconciliation import REFUND_NOT_REVERSED, reconciliation_for
    from smartapp.sandbox.processor.models import Charge

    encounters = millennium.visits.registered()[:2]
    reversed_ = _posted(paid_by_card(client, tenant, encounters[0]))
    _posted(refunds.posted_refund_start(ask=_ask(reversed_, "1.00")))
    client.logout()
    elsewhere = _posted(paid_by_card(client, tenant, encounters[1]))
    Charge.objects.filter(charge_id=elsewhere.charge_id).update(amount_refunded=Decimal("1.00"))

    report = reconciliation_for(tenant=tenant, day=timezone.now().astimezone(tenant.zone).date())

    verdicts = {row.reference: row.verdict for row in report.rows}
    assert verdicts[reversed_.posting_id] == "matched"
    assert verdicts[elsewhere.posting_id] == REFUND_NOT_REVERSED
    refund_rows = [
        r for r in report.rows if r.reference not in (reversed_.posting_id, elsewhere.posting_id)
    ]
    assert [r.verdict for r in refund_rows] == ["matched"]
    assert json.dumps(report.counts())  # the staff page and the nightly run keep these


def test_no_staff_refund_input_gets_a_5xx_or_gives_back_more_than_was_paid(
    client, tenant, django_user_model, figure, millennium
):
    from collections import Counter

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.test_fuzz_requests import HOSTILE

    paid = _posted(desk_row(tenant, millennium.visits.registered()[0], "50.00"))
    client.force_login(django_user_model.objects.create_user("fuzz", is_staff=True))
    statuses: Counter[int] = Counter()
    amounts = st.one_of(HOSTILE, st.decimals(-5, 80, places=2).map(str))

    @settings(
        max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
    )
    @given(amount=amounts, reason=HOSTILE, key=HOSTILE)
    def one(amount: str, reason: str, key: str) -> None:
        sent = client.post(
            f"/staff/payments/{paid.public_id}/refund-posted/",
            {"amount": amount, "reason": reason, "key": key},
        )
        statuses[sent.status_code] += 1
        assert sent.status_code in (303, 400), (amount, reason, key, sent.status_code)
        assert refunds.refundable_left(payment=paid) >= 0

    one()
    made = Payment.objects.filter(reverses=paid).count()
    figure(
        f"staff refund fuzz: {sum(statuses.values())} posts, statuses {dict(statuses)}, refunds made {made}"
    )
    assert statuses[303] > 0 and statuses[400] > 0  # both kinds of answer were reached
