"""Stripe's webhooks: localstripe delivers real signed events to the live server; redeliveries,
events out of order, forged and stale signatures are sent here, signed as Stripe documents it
(HMAC-SHA256 of `timestamp.payload` with the endpoint's secret)."""

import hashlib
import hmac
import json
import re
import time

import pytest
import requests

from smartapp.lib import row_leases
from smartapp.payments.models import Payment, ProcessorEvent, State, Transition
from tests.payments.test_stripe import CARD_OK, _browser_sets_up, card_page_of

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec_smartapp"


def _signed(body: dict, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    payload = json.dumps(body)
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return {"data": payload, "Stripe-Signature": f"t={stamp},v1={mac}"}


def _send(live_server, body: dict, **signing) -> requests.Response:
    signed = _signed(body, **signing)
    return requests.post(
        f"{live_server.url}/payments/stripe/sandbox/webhook/",
        data=signed["data"],
        headers={
            "Stripe-Signature": signed["Stripe-Signature"],
            "Content-Type": "application/json",
        },
        timeout=10,
    )


def _event(event_id: str, kind: str, payment: Payment) -> dict:
    intent = {"id": payment.processor_session_id, "object": "payment_intent",
              "metadata": {"reference": payment.posting_id}}  # fmt: skip
    return {"id": event_id, "object": "event", "type": kind, "created": int(time.time()),
            "data": {"object": intent}}  # fmt: skip


def _paid(client, tenant, localstripe: str) -> Payment:
    _, card_url = card_page_of(client, tenant)
    secret = re.search(r'data-setup-secret="([^"]+)"', client.get(card_url).content.decode())
    assert secret
    client.post(card_url, {"setup_intent": _browser_sets_up(localstripe, secret[1], CARD_OK)})
    return Payment.objects.get()


def test_localstripe_delivers_a_signed_success_which_is_recorded_and_changes_nothing_twice(
    client, stripe_tenant, live_server, localstripe_server
):
    hook = {"url": f"{live_server.url}/payments/stripe/sandbox/webhook/", "secret": SECRET,
            "events": ["payment_intent.succeeded"]}  # fmt: skip
    config = f"{localstripe_server}/_config/webhooks/app"
    assert requests.post(config, json=hook, timeout=10).ok
    try:
        payment = _paid(client, stripe_tenant, localstripe_server)

        def delivered() -> bool:  # (an earlier test's late event may arrive too: not ours)
            events = ProcessorEvent.objects.filter(kind="payment_intent.succeeded", payment=payment)
            return events.exclude(outcome="").exists()  # recorded first, then acted on

        assert row_leases.wait_until(delivered, seconds=15)
    finally:  # localstripe's webhooks outlive the test: this one now takes no events
        requests.post(config, json=hook | {"events": []}, timeout=10)
    event = ProcessorEvent.objects.get(kind="payment_intent.succeeded", payment=payment)
    assert "payment is captured" in event.outcome
    assert Transition.objects.filter(payment=payment, target=State.CAPTURED).count() == 1


def test_a_redelivered_event_and_a_late_failure_change_nothing(
    client, stripe_tenant, live_server, localstripe_server
):
    payment = _paid(client, stripe_tenant, localstripe_server)
    moves = Transition.objects.filter(payment=payment).count()

    first = _send(live_server, _event("evt_1", "payment_intent.succeeded", payment))
    again = _send(live_server, _event("evt_1", "payment_intent.succeeded", payment))
    late = _send(live_server, _event("evt_0", "payment_intent.payment_failed", payment))

    assert first.status_code == again.status_code == late.status_code == 200
    assert again.text == "already received"
    assert "Stripe says captured" in late.text  # Stripe asked, not the event believed
    payment.refresh_from_db()
    assert (
        payment.state == State.CAPTURED
        and Transition.objects.filter(payment=payment).count() == moves
    )
    assert ProcessorEvent.objects.filter(event_id__in=["evt_0", "evt_1"]).count() == 2


def test_a_forged_or_stale_signature_gets_400_and_is_not_recorded(
    client, stripe_tenant, live_server, localstripe_server
):
    payment = _paid(client, stripe_tenant, localstripe_server)
    body = _event("evt_forged", "payment_intent.succeeded", payment)

    forged = _send(live_server, body, secret="whsec_someone_else")
    stale = _send(live_server, body, at=int(time.time()) - 3600)
    unsigned = requests.post(
        f"{live_server.url}/payments/stripe/sandbox/webhook/", data=json.dumps(body), timeout=10
    )

    assert forged.status_code == stale.status_code == unsigned.status_code == 400
    assert not ProcessorEvent.objects.filter(event_id="evt_forged").exists()


def test_a_dispute_is_shown_to_staff_on_the_payment(
    client, stripe_tenant, live_server, localstripe_server
):
    payment = _paid(client, stripe_tenant, localstripe_server)
    dispute = {"id": "evt_d", "object": "event", "type": "charge.dispute.created",
               "data": {"object": {"id": payment.charge_id, "object": "charge"}}}  # fmt: skip

    assert _send(live_server, dispute).text == "The card holder disputed this charge at Stripe"

    note = payment.attempts.latest("id")
    assert "disputed this charge at Stripe" in note.outcome_text


def test_charge_refunded_is_our_own_refund_confirmed_or_a_refund_made_elsewhere_for_staff(
    client, stripe_tenant, live_server, localstripe_server
):
    from decimal import Decimal

    from smartapp.payments import refunds
    from smartapp.testing import wait_for_state

    payment = wait_for_state(
        _paid(client, stripe_tenant, localstripe_server), "posted", run_inline=True
    )
    refunded = {"object": {"id": payment.charge_id, "object": "charge"}}
    elsewhere = {"id": "evt_r1", "object": "event", "type": "charge.refunded", "data": refunded}
    assert _send(live_server, elsewhere).text == "Refunded at Stripe"
    ask = refunds.RefundAsk(payment=payment, amount=Decimal("1.00"), reason="goodwill",
                            by="billing", request_key="hook-refund")  # fmt: skip
    refunds.posted_refund_start(ask=ask)

    ours = {"id": "evt_r2", "object": "event", "type": "charge.refunded", "data": refunded}
    assert _send(live_server, ours).text == "our refund, confirmed by Stripe"
    notes = payment.attempts.filter(outcome_text__startswith="Refunded at Stripe")
    assert notes.count() == 1  # only the refund we did not make asks staff to check
