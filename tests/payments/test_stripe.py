"""Stripe through its official SDK, against localstripe (PyPI), a third-party Stripe emulator run
as a real process; what localstripe lacks (idempotency keys, search) against a scripted stand-in
behind the app's HTTP session (tests/fakehttp.py), and said so there.

The browser's part (Stripe.js setting the card up at Stripe) is played by `_browser_sets_up`,
which sends what localstripe's Stripe.js stand-in sends: the card goes to Stripe, never to us.
"""

import re
from decimal import Decimal

import pytest
import requests

from smartapp.payments.models import Payment, PaymentSettings, State
from smartapp.payments.processor import ProcessorError
from smartapp.payments.stripe_processor import StripeProcessor
from smartapp.testing import wait_for_state
from smartapp.testing.personas import Visits
from tests.fakehttp import answer_lost_once, install, uninstall
from tests.payments.test_pages import _quote, _signed_in

pytestmark = pytest.mark.django_db(transaction=True)
CARD_OK, CARD_DECLINED_AT_CHARGE = "4242424242424242", "4000000000000341"


def _browser_sets_up(localstripe: str, setup_secret: str, number: str) -> str:
    """What Stripe.js's confirmCardSetup sends from the patient's browser; the SetupIntent id."""
    setup_id = setup_secret.split("_secret_")[0]
    card = {"number": number, "exp_month": 12, "exp_year": 2039, "cvc": "123"}
    answer = requests.post(
        f"{localstripe}/v1/setup_intents/{setup_id}/confirm",
        json={"key": "pk_test_smartapp", "use_stripe_sdk": True, "client_secret": setup_secret,
              "payment_method_data": {"type": "card", "card": card}},
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text[:300]
    return setup_id


def card_page_of(client, tenant) -> tuple[Payment, str]:
    """A patient's pay form sent: their payment and its card page (Stripe Elements)."""
    encounter = Visits().registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)
    page = client.get(f"/l/{launch_id}/visits/{encounter.fhir_id}/pay/")
    card_url = client.post(page.request["PATH_INFO"], {"quote": _quote(page.content.decode())})["Location"]  # fmt: skip
    return Payment.objects.get(), card_url


def _processor(localstripe: str) -> StripeProcessor:
    return StripeProcessor(secret_key="sk_test_smartapp", api_base=localstripe)


def test_a_card_set_up_in_the_browser_pays_the_intent_once_and_refunds(localstripe_server):
    stripe = _processor(localstripe_server)
    opened = stripe.create_checkout(
        amount=Decimal("12.34"), reference="SMT-T1", return_url="", cancel_url="",
        card_page_url="/card", metadata={"tenant": "t", "visit": "97939518"},
    )  # fmt: skip
    setup = _browser_sets_up(
        localstripe_server, stripe.card_setup_secret(reference="SMT-T1"), CARD_OK
    )

    paid = stripe.pay_with_setup(session_id=opened.session_id, setup_intent_id=setup, reference="SMT-T1")  # fmt: skip
    refund = stripe.refund(charge_id=paid.charge_id, idempotency_key="refund-SMT-T1")

    assert (opened.status, opened.checkout_url, opened.amount) == (
        "open",
        "/card",
        Decimal("12.34"),
    )
    assert (paid.status, paid.reference, paid.amount) == ("captured", "SMT-T1", Decimal("12.34"))
    assert (paid.brand, paid.last4, paid.expiry) == ("visa", "4242", "2039-12")
    assert paid.charge_id.startswith("ch_") and refund.amount == Decimal("12.34")


def test_a_card_declined_at_the_charge_leaves_the_intent_declined_with_stripes_words(
    localstripe_server,
):
    stripe = _processor(localstripe_server)
    opened = stripe.create_checkout(amount=Decimal("5"), reference="SMT-T2", return_url="", cancel_url="")  # fmt: skip
    setup = _browser_sets_up(
        localstripe_server, stripe.card_setup_secret(reference="SMT-T2"), CARD_DECLINED_AT_CHARGE
    )

    declined = stripe.pay_with_setup(session_id=opened.session_id, setup_intent_id=setup, reference="SMT-T2")  # fmt: skip

    assert declined.status == "declined" and "declined" in declined.failure.lower()


def test_a_card_set_up_for_another_payment_is_refused(localstripe_server):
    stripe = _processor(localstripe_server)
    opened = stripe.create_checkout(amount=Decimal("5"), reference="SMT-T3", return_url="", cancel_url="")  # fmt: skip
    elsewhere = _browser_sets_up(
        localstripe_server, stripe.card_setup_secret(reference="SMT-OTHER"), CARD_OK
    )

    with pytest.raises(ProcessorError, match="not set up for this payment"):
        stripe.pay_with_setup(session_id=opened.session_id, setup_intent_id=elsewhere, reference="SMT-T3")  # fmt: skip

    assert stripe.fetch_session(session_id=opened.session_id).status == "open"


def test_stripe_not_answering_is_unclear_for_a_write_and_plain_for_a_read():
    from smartapp.demo import processes

    stripe = _processor(f"http://127.0.0.1:{processes.free_port()}")  # nobody listens

    with pytest.raises(ProcessorError) as write:
        stripe.create_checkout(amount=Decimal("5"), reference="SMT-T4", return_url="", cancel_url="")  # fmt: skip
    with pytest.raises(ProcessorError) as read:
        stripe.fetch_session(session_id="pi_x")

    assert write.value.unclear and not read.value.unclear


def test_every_write_carries_an_idempotency_key_from_our_reference_and_search_finds_by_it():
    """localstripe ignores idempotency keys and has no search: a scripted Stripe answers here."""
    intent = {"id": "pi_1", "object": "payment_intent", "amount": 500, "currency": "usd",
              "status": "requires_payment_method", "metadata": {"reference": "SMT-T5"}}  # fmt: skip
    seen: list[tuple[str, str, dict]] = []

    def scripted(method, url, kwargs):
        seen.append((method, url, kwargs.get("headers") or {}))
        if url.endswith("/v1/payment_intents/search"):
            return 200, {"object": "search_result", "data": [intent], "has_more": False}
        return 200, intent

    install(scripted)
    try:
        stripe = _processor("https://api.stripe.test")
        stripe.create_checkout(amount=Decimal("5"), reference="SMT-T5", return_url="", cancel_url="")  # fmt: skip
        found = stripe.find_by_reference(reference="SMT-T5")
    finally:
        uninstall()

    create = next(headers for method, url, headers in seen if method == "POST")
    assert create["Idempotency-Key"] == "smartapp-payment-SMT-T5"
    assert found is not None and found.session_id == "pi_1"
    search = next(kw for m, url, kw in seen if url.endswith("/search"))
    assert search is not None


def test_a_patient_pays_on_the_card_page_and_it_posts_to_the_ehr_once(
    client, stripe_tenant, localstripe_server, millennium, millennium_ledger
):
    encounter = millennium.visits.registered()[0]
    launch_id = _signed_in(client, stripe_tenant, encounter.patient)
    page = client.get(f"/l/{launch_id}/visits/{encounter.fhir_id}/pay/")
    sent = client.post(page.request["PATH_INFO"], {"quote": _quote(page.content.decode())})
    payment = Payment.objects.get()
    assert sent.status_code == 303 and sent["Location"].endswith(
        f"/payments/{payment.public_id}/card/"
    )

    card_page = client.get(sent["Location"])
    html = card_page.content.decode()
    secret = re.search(r'data-setup-secret="([^"]+)"', html)
    assert card_page.status_code == 200 and secret and 'name="number"' not in html
    policy = card_page["Content-Security-Policy"]
    assert f"script-src 'self' {localstripe_server}" in policy
    assert f"{localstripe_server}/js.stripe.com/v3/" in html
    setup = _browser_sets_up(localstripe_server, secret[1], CARD_OK)
    paid = client.post(sent["Location"], {"setup_intent": setup})

    payment.refresh_from_db()
    assert paid.status_code == 303 and payment.state == State.CAPTURED
    assert payment.card_last4 == "4242" and payment.charge_id.startswith("ch_")
    wait_for_state(payment, "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(payment)) == 1
    assert PaymentSettings.objects.get(tenant=stripe_tenant).processor_kind == "stripe"


def _scripted_stripe(confirm_answers: list) -> tuple[list[tuple[str, str, dict]], object]:
    """A scripted Stripe (behind the app's HTTP session) whose confirm answers in turn."""
    intent = {"id": "pi_9", "object": "payment_intent", "amount": 500, "currency": "usd",
              "status": "requires_confirmation", "metadata": {"reference": ""},
              "latest_charge": "ch_9"}  # fmt: skip
    seen: list[tuple[str, str, dict]] = []

    def scripted(method, url, kwargs):
        seen.append((method, url, kwargs.get("headers") or {}))
        if "/setup_intents/" in url:
            return 200, {"id": "seti_9", "object": "setup_intent", "status": "succeeded",
                         "payment_method": "pm_9", "metadata": {"reference": intent["metadata"]["reference"]}}  # fmt: skip
        if url.endswith("/confirm"):
            answer = confirm_answers.pop(0)
            if isinstance(answer, Exception):
                return answer
            intent["status"] = answer
        if "/payment_methods/" in url:
            return 200, {"id": "pm_9", "object": "payment_method",
                         "card": {"brand": "visa", "last4": "4242", "exp_month": 1, "exp_year": 2040}}  # fmt: skip
        return 200, intent

    return seen, (intent, scripted)


def test_a_confirmation_stripe_does_not_answer_is_recorded_and_its_retry_cannot_charge_twice(
    stripe_tenant, millennium
):
    from smartapp.payments import services
    from tests.payments.conftest import desk_row

    payment = desk_row(stripe_tenant, millennium.visits.registered()[0], "5.00")
    Payment.objects.filter(pk=payment.pk).update(processor_session_id="pi_9", state=State.NEW)
    payment.refresh_from_db()
    seen, (intent, scripted) = _scripted_stripe([requests.ReadTimeout(), "succeeded"])
    intent["metadata"]["reference"] = payment.posting_id
    install(scripted)
    try:
        stripe = services.stripe_for(payment)
        assert stripe is not None
        with pytest.raises(ProcessorError) as unclear:
            services.card_confirm(payment=payment, stripe=stripe, setup_intent_id="seti_9")
        settled = services.card_confirm(payment=payment, stripe=stripe, setup_intent_id="seti_9")
    finally:
        uninstall()

    assert unclear.value.unclear and settled.state == State.CAPTURED
    noted = payment.attempts.get(result="unknown")
    assert "cannot charge twice" in noted.outcome_text
    keys = [h.get("Idempotency-Key") for m, url, h in seen if url.endswith("/confirm")]
    assert keys == ["smartapp-confirm-seti_9", "smartapp-confirm-seti_9"]


def test_smart_doctor_checks_the_stripe_keys_with_one_harmless_call(stripe_tenant):
    from smartapp.payments.doctor_checks import processor_findings

    works = [f.text for f in processor_findings(stripe_tenant)]
    PaymentSettings.objects.filter(tenant=stripe_tenant).update(
        processor_base_url="http://127.0.0.1:9"
    )
    down = [(f.level, f.text) for f in processor_findings(stripe_tenant)]

    assert works == ["Stripe: the secret key works (test mode)."]
    assert down == [("problem", "Stripe did not answer: The card processor did not answer.")]


def test_the_days_charges_come_from_stripes_own_list(localstripe_server):
    from datetime import timedelta

    from django.utils import timezone

    stripe = _processor(localstripe_server)
    opened = stripe.create_checkout(amount=Decimal("7.00"), reference="SMT-T7", return_url="", cancel_url="")  # fmt: skip
    setup = _browser_sets_up(localstripe_server, stripe.card_setup_secret(reference="SMT-T7"), CARD_OK)  # fmt: skip
    paid = stripe.pay_with_setup(session_id=opened.session_id, setup_intent_id=setup, reference="SMT-T7")  # fmt: skip
    now = timezone.now()

    charges = stripe.charges_between(start=now - timedelta(hours=1), end=now + timedelta(hours=1))

    listed = {c.charge_id: c for c in charges}
    assert listed[paid.charge_id].amount == Decimal("7.00")
    assert listed[paid.charge_id].session_id == opened.session_id


def test_a_payment_whose_confirmation_answer_was_lost_is_settled_by_the_reconciliation(
    client, stripe_tenant, localstripe_server, millennium_ledger
):
    """Stripe charged the card, but our process died before it heard: the checkout reconciliation
    asks Stripe for the PaymentIntent and the payment is captured, then posted, once."""
    from datetime import timedelta

    from smartapp.payments import services

    payment, card_url = card_page_of(client, stripe_tenant)
    secret = re.search(r'data-setup-secret="([^"]+)"', client.get(card_url).content.decode())
    assert secret
    setup = _browser_sets_up(localstripe_server, secret[1], CARD_OK)
    _processor(localstripe_server).pay_with_setup(
        session_id=payment.processor_session_id, setup_intent_id=setup, reference=payment.posting_id
    )  # confirmed at Stripe; our side never heard

    assert services.checkouts_reconcile(older_than=timedelta(0)) == 1

    payment.refresh_from_db()
    assert payment.state == State.CAPTURED and payment.card_last4 == "4242"
    wait_for_state(payment, "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(payment)) == 1


def test_an_abandoned_checkout_is_cancelled_at_stripe_too(
    client, stripe_tenant, localstripe_server
):
    from datetime import timedelta

    from smartapp.payments import services

    payment, _ = card_page_of(client, stripe_tenant)

    assert services.checkouts_reconcile(older_than=timedelta(0)) == 1

    payment.refresh_from_db()
    assert payment.state == State.CANCELLED
    assert _processor(localstripe_server).fetch_session(session_id=payment.processor_session_id).status == "failed"  # fmt: skip


def test_the_card_page_says_so_when_stripe_does_not_answer_and_takes_nothing(
    client, stripe_tenant, localstripe_server
):
    from smartapp.demo import processes

    payment, card_url = card_page_of(client, stripe_tenant)
    PaymentSettings.objects.filter(tenant=stripe_tenant).update(
        processor_base_url=f"http://127.0.0.1:{processes.free_port()}"
    )

    page = client.get(card_url, follow=True)

    text = page.content.decode()
    assert page.status_code == 200 and "The card processor is not answering right now" in text
    payment.refresh_from_db()
    assert payment.state == State.NEW and not payment.charge_id


def test_a_posted_stripe_payment_refunded_in_part_is_reversed_in_the_ehr_once(
    client, stripe_tenant, localstripe_server, millennium_ledger
):
    from smartapp.payments import refunds

    payment, card_url = card_page_of(client, stripe_tenant)
    secret = re.search(r'data-setup-secret="([^"]+)"', client.get(card_url).content.decode())
    assert secret is not None
    client.post(
        card_url, {"setup_intent": _browser_sets_up(localstripe_server, secret[1], CARD_OK)}
    )
    payment.refresh_from_db()
    wait_for_state(payment, "posted", run_inline=True)
    ask = refunds.RefundAsk(
        payment=payment, amount=Decimal("1.25"), reason="overcharged", by="billing",
        request_key="stripe-refund-1",
    )  # fmt: skip

    lost: list[int] = []
    install(answer_lost_once("POST", "/v1/refunds", lost))  # refunded, the answer lost
    try:
        unanswered = refunds.posted_refund_start(ask=ask)
    finally:
        uninstall()
    left_at = unanswered.state
    refund = refunds.refund_at_processor(refund=unanswered, by="billing")

    charge = requests.get(
        f"{localstripe_server}/v1/charges/{payment.charge_id}",
        auth=("sk_test_smartapp", ""),
        timeout=10,
    ).json()
    assert charge["amount_refunded"] == 125 and len(charge["refunds"]["data"]) == 1
    # localstripe ignores Idempotency-Key: only the search by our reference kept it to one.
    assert lost == [200] and left_at == State.NEW
    assert refund.state == State.CAPTURED and refund.refund_id == charge["refunds"]["data"][0]["id"]
    wait_for_state(refund, "posted", run_inline=True)
    assert [row.kind for row in millennium_ledger.for_payment(refund)] == ["adjustment"]
    assert refunds.refundable_left(payment=payment) == payment.amount - Decimal("1.25")
