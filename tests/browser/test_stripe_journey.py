"""A patient pays with Stripe's card fields, served by localstripe's Stripe.js stand-in, and the
page turns to Posted once a real Celery worker has posted it to the sandbox EHR (Chromium)."""

import pytest
from playwright.sync_api import Page, expect

from smartapp.payments.models import Payment
from smartapp.testing import assert_posted_once
from tests.browser.conftest import SCREENSHOTS, patient_signs_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _card(page: Page, number: str) -> None:
    """localstripe's stand-in card field: plain inputs where Stripe would put its frames."""
    field = page.locator("#card-element")
    field.get_by_placeholder("number", exact=True).fill(number)
    field.get_by_placeholder("exp_month").fill("12")
    field.get_by_placeholder("exp_year").fill("39")
    field.get_by_placeholder("cvc").fill("123")
    field.get_by_placeholder("postal_code").fill("64117")


def test_a_patient_pays_with_stripes_card_fields_and_sees_it_posted(
    page: Page, live_server, stripe_tenant, millennium, millennium_worker
):
    encounter = millennium.visits.registered()[0]
    launch_path = patient_signs_in(page, live_server, stripe_tenant, encounter.patient.fhir_id)

    page.goto(f"{launch_path}/visits/{encounter.fhir_id}/pay/")
    page.click("#pay-submit")
    expect(page.locator("h1")).to_contain_text("by card")
    _card(page, "4242424242424242")
    page.screenshot(path=str(SCREENSHOTS / "stripe_1_card_page.png"), full_page=True)
    page.click("#card-submit")

    status = page.locator("#payment-status")
    expect(status).to_have_attribute("data-state", "posted", timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "stripe_2_posted.png"), full_page=True)
    payment = Payment.objects.get()
    assert payment.card_last4 == "4242"
    assert_posted_once(payment)
