"""Each knob of `millennium`, through the app's own pages: every test fails without its knob."""

import time
from decimal import Decimal

import requests

from smartapp.testing import (
    assert_audited,
    assert_posted_once,
    launch_as_clinician,
    launch_as_patient,
    wait_for_state,
)
from tests.testing.payments import desk_payment


def test_latency_slows_every_ehr_call(client, millennium):
    launched = launch_as_clinician(client)
    millennium.latency(400)

    started = time.monotonic()
    chart = client.get(launched.url("chart/"))

    assert chart.status_code == 200
    assert time.monotonic() - started >= 0.4


def test_after_expire_tokens_a_page_still_renders_because_the_app_refreshed(client, millennium):
    launched = launch_as_clinician(client)
    before = launched.launch.access_token
    millennium.expire_tokens()

    chart = client.get(launched.url("chart/"))

    assert chart.status_code == 200, chart.content[:300]
    assert millennium.counts().expired >= 1  # Millennium refused the old token…
    assert launched.launch.access_token != before  # …and the app refreshed
    assert millennium.patients.first.name.split(",")[0].upper() in chart.content.decode().upper()


def test_after_rotate_keys_the_old_token_is_unknown_kid_and_the_app_recovers(client, millennium):
    launched = launch_as_patient(client)
    old = launched.launch.access_token
    millennium.rotate_keys()

    page = client.get(launched.url("appointments/"))

    assert page.status_code == 200, page.content[:300]
    assert launched.launch.access_token != old
    direct = requests.get(
        f"{launched.launch.fhir_base}/Patient/{launched.patient_id}",
        headers={"Authorization": f"Bearer {old}", "Accept": "application/fhir+json"},
        timeout=10,
    )
    assert direct.status_code == 401 and "unknown_kid" in direct.text


def test_a_throttled_read_is_retried_after_retry_after(client, millennium):
    launched = launch_as_clinician(client)
    millennium.throttle(retry_after=1, times=1)

    started = time.monotonic()
    page = client.get(launched.url("chart/appointments/"))

    assert page.status_code == 200, page.content[:300]
    assert millennium.counts().throttled == 1
    assert time.monotonic() - started >= 1  # the app waited as told


def test_an_ehr_that_keeps_throttling_gets_a_page_that_says_so(client, millennium):
    launched = launch_as_clinician(client)
    millennium.throttle(retry_after=0)

    page = client.get(launched.url("chart/appointments/"))

    assert page.status_code == 503, page.content[:300]
    assert "asked the app to slow down" in page.content.decode()
    assert millennium.counts().throttled >= 3  # the read and its two retries


def test_tenant_mismatch_gets_a_page_that_says_the_ehr_refuses_the_app(client, millennium):
    launched = launch_as_clinician(client)
    millennium.tenant_mismatch()

    page = client.get(launched.url("chart/"))

    assert page.status_code == 401, page.content[:300]
    assert "no longer accepts" in page.content.decode()  # one refresh tried, then words
    assert millennium.counts().tenant_mismatch >= 2


def test_faults_make_the_first_post_fail_and_the_payment_still_posts_once(client, millennium):
    visit = millennium.visits.registered()[0]
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)
    millennium.faults(1.0, ["basic_5xx"], times=1)

    payment = desk_payment(client, launched, visit, "4.00")

    payment = wait_for_state(payment, "posted", run_inline=True)
    assert payment.attempts.filter(http_status=503).count() == 1
    assert_posted_once(payment)


def test_drop_after_send_leaves_the_outcome_unknown_then_proves_it_posted(client, millennium):
    visit = millennium.visits.registered()[0]
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)
    balance = millennium.visits.balance(visit)
    millennium.drop_after_send()

    payment = desk_payment(client, launched, visit, "2.50")

    wait_for_state(payment, "outcome_unknown", run_inline=True)
    assert len(millennium.ledger().for_payment(payment)) == 1  # applied, answer lost
    wait_for_state(payment, "posted", run_inline=True)
    assert_posted_once(payment)
    assert millennium.visits.balance(visit) == balance - Decimal("2.50")


def test_a_payment_waits_for_registration_and_posts_once_registered(client, millennium):
    visit = millennium.visits.unregistered()
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)
    payment = desk_payment(client, launched, visit, "3.00")
    wait_for_state(payment, "awaiting_account", run_inline=True)

    millennium.register(visit)

    wait_for_state(payment, "posted", run_inline=True)
    assert_posted_once(payment)


def test_registration_delay_zero_registers_new_visits_at_once(client, millennium):
    visit = millennium.visits.unregistered()
    millennium.registration_delay(0)
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)

    payment = desk_payment(client, launched, visit, "3.00")

    wait_for_state(payment, "posted", run_inline=True)
    assert_posted_once(payment)
    assert_audited(who="system", what="Account?")


def test_reset_turns_every_knob_off(client, millennium):
    launched = launch_as_clinician(client)
    millennium.tenant_mismatch()
    millennium.throttle(retry_after=0)

    millennium.reset()

    assert client.get(launched.url("chart/")).status_code == 200
