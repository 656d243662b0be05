"""Desk payments: posted to Millennium exactly once, whatever Millennium does."""

import re
from decimal import Decimal

from smartapp.testing import assert_posted_once, launch_as_clinician, wait_for_state


def _take_cash(client, launched, visit, amount: str):
    url = launched.url("payments/desk/")
    found = re.search(r'name="key" value="([^"]+)"', client.get(url).text)
    assert found, "the desk form carries its key"
    form = {"key": found[1], "encounter": visit.fhir_id, "method": "cash", "amount": amount}
    assert client.post(url, {**form, "tendered": amount}).status_code == 303
    return launched.payments()[-1]


def test_a_payment_waits_for_registration_then_posts_once(client, millennium):
    visit = millennium.visits.unregistered()
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)
    payment = _take_cash(client, launched, visit, "20.00")
    wait_for_state(payment, "awaiting_account", run_inline=True)

    millennium.register(visit)  # the registrar presses "Register now"

    wait_for_state(payment, "posted", run_inline=True)
    assert_posted_once(payment)


def test_a_lost_answer_never_posts_twice(client, millennium):
    visit = millennium.visits.registered()[0]
    balance = millennium.visits.balance(visit)
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)
    millennium.drop_after_send()

    payment = _take_cash(client, launched, visit, "5.00")

    wait_for_state(payment, "posted", run_inline=True)
    assert_posted_once(payment)
    assert millennium.visits.balance(visit) == balance - Decimal("5.00")


def test_a_worker_posts_it_as_in_production(client, millennium, millennium_worker):
    visit = millennium.visits.registered()[0]
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)

    payment = _take_cash(client, launched, visit, "7.50")

    wait_for_state(payment, "posted", timeout=60)
    assert_posted_once(payment)
