"""A patient pays for a visit not registered yet; staff register it; the page turns to Posted (Chromium)."""

import pytest
from playwright.sync_api import Page, expect

from smartapp.payments.models import Payment
from smartapp.testing import assert_posted_once
from tests.browser.conftest import SCREENSHOTS, patient_signs_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"payment_{name}.png"), full_page=True)


def test_a_patient_pays_waits_for_registration_and_sees_it_posted_live(
    page: Page, live_server, tenant, millennium, millennium_worker
):
    millennium.registration_delay(100_000)  # registered only when staff press "Register now"
    encounter = millennium.visits.unregistered()
    launch_path = patient_signs_in(page, live_server, tenant, encounter.patient.fhir_id)

    page.goto(f"{launch_path}/visits/{encounter.fhir_id}/pay/")
    if page.locator("#id_amount").count():
        page.fill("#id_amount", "15.00")
    _shot(page, "1_pay")
    page.click("#pay-submit")
    expect(page.locator("input[name=number]")).to_be_visible()  # the processor's hosted page
    page.fill("input[name=number]", "4242 4242 4242 4242")
    page.fill("input[name=expiry]", "12/39")
    page.fill("input[name=cvc]", "123")
    page.fill("input[name=name]", "Pat Patient")
    page.get_by_role("button", name="Pay $").click()

    status = page.locator("#payment-status")
    expect(status).to_have_attribute("data-state", "awaiting_account", timeout=20_000)
    expect(page.locator("#payment-headline")).to_contain_text("Waiting for registration")
    _shot(page, "2_waiting_for_registration")
    patient_page_url = page.url

    # Meanwhile the hospital registers the visit (the sandbox EHR page's "Register now" button,
    # posted as its form does: a second page in the browser can hang Chromium's new-page call).
    millennium.register(encounter)

    expect(status).to_have_attribute("data-state", "posted", timeout=30_000)
    expect(page.locator("#payment-headline")).to_have_text("Posted")
    assert page.url == patient_page_url  # no reload: htmx swapped the status part
    _shot(page, "3_posted")
    payment = Payment.objects.get()
    assert_posted_once(payment)
