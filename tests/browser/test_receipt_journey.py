"""A patient pays in the browser, opens the receipt, and prints it: the visit in words, no
menus on paper, no accessibility violations (axe-core) at 800 and 390 px (Chromium)."""

import pytest
from playwright.sync_api import Page, expect

from smartapp.testing import wait_for_state
from tests.browser.conftest import (
    SCREENSHOTS,
    patient_signs_in,
    pay_with_test_card,
    shots_without_violations,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pay_at_the_sandbox_processor(page: Page, launch_path: str, encounter_id: str) -> None:
    page.goto(f"{launch_path}/visits/{encounter_id}/pay/")
    page.click("#pay-submit")
    pay_with_test_card(page)


def test_the_receipt_reads_well_on_screen_and_on_paper(page: Page, live_server, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    launch_path = patient_signs_in(page, live_server, tenant, encounter.patient.fhir_id)
    _pay_at_the_sandbox_processor(page, launch_path, encounter.fhir_id)
    page.click("#receipt-link")

    expect(page.locator("#receipt-visit")).to_contain_text(", with ")
    expect(page.locator("#receipt-paid-by")).to_contain_text("ending 4242")
    shots_without_violations(page, "receipt")
    page.emulate_media(media="print")
    page.screenshot(path=str(SCREENSHOTS / "receipt_print.png"), full_page=True)
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#receipt")).to_be_visible()


def test_staff_refund_part_of_a_posted_payment_and_the_patient_sees_it_on_the_receipt(
    browser, live_server, tenant, django_user_model, millennium
):
    from smartapp.payments.models import Payment

    encounter = millennium.visits.registered()[0]
    patient = browser.new_context(viewport={"width": 800, "height": 900}).new_page()
    launch_path = patient_signs_in(patient, live_server, tenant, encounter.patient.fhir_id)
    _pay_at_the_sandbox_processor(patient, launch_path, encounter.fhir_id)
    paid = wait_for_state(
        Payment.objects.get(encounter_id=encounter.fhir_id), "posted", run_inline=True
    )

    django_user_model.objects.create_user("billing", password="pw-billing-1", is_staff=True)
    staff = browser.new_context(viewport={"width": 800, "height": 900}).new_page()
    staff.goto(f"{live_server.url}/admin/login/?next=/staff/payments/{paid.public_id}/")
    staff.fill("#id_username", "billing")
    staff.fill("#id_password", "pw-billing-1")
    staff.click("input[type=submit]")
    form = staff.locator("#ops-refund-posted")
    expect(form).to_contain_text("refunded at the processor first")
    staff.fill("#id_amount", "9999")
    staff.fill("#id_reason", "Charged twice for the same visit")
    staff.click("#ops-refund-posted-submit")
    expect(staff.locator("#error-amount")).to_contain_text(f"At most ${paid.amount:,.2f}")
    expect(staff.locator("#id_amount")).to_have_attribute("aria-describedby", "error-amount")
    shots_without_violations(staff, "refund_staff")
    staff.fill("#id_amount", "5.00")
    staff.click("#ops-refund-posted-submit")
    expect(staff.locator("#ops-reverses")).to_contain_text("Charged twice for the same visit")
    wait_for_state(Payment.objects.get(reverses=paid), "posted", run_inline=True)

    patient.goto(f"{launch_path}/payments/{paid.public_id}/receipt/")
    expect(patient.locator("#receipt-refunds")).to_contain_text("$5.00")
    expect(patient.locator("#receipt-refunds")).to_contain_text("your hospital account shows it")
    shots_without_violations(patient, "refund_receipt")
    patient.emulate_media(media="print")
    patient.screenshot(path=str(SCREENSHOTS / "refund_receipt_print.png"), full_page=True)
    expect(patient.locator("#receipt-refunds")).to_be_visible()
    patient.context.close()
    staff.context.close()
