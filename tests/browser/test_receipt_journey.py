"""A patient pays in the browser, opens the receipt, and prints it: the visit in words, no
menus on paper, no accessibility violations (axe-core) at 800 and 390 px (Chromium)."""

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, patient_signs_in
from tests.payments.conftest import registered_encounters

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pay_at_the_sandbox_processor(page: Page, launch_path: str, encounter_id: str) -> None:
    page.goto(f"{launch_path}/visits/{encounter_id}/pay/")
    page.click("#pay-submit")
    page.fill("input[name=number]", "4242 4242 4242 4242")
    page.fill("input[name=expiry]", "12/39")
    page.fill("input[name=cvc]", "123")
    page.fill("input[name=name]", "Pat Patient")
    page.get_by_role("button", name="Pay $").click()


def test_the_receipt_reads_well_on_screen_and_on_paper(page: Page, live_server, tenant):
    encounter = registered_encounters(1)[0]
    launch_path = patient_signs_in(page, live_server, tenant, encounter.patient.fhir_id)
    _pay_at_the_sandbox_processor(page, launch_path, encounter.fhir_id)
    page.click("#receipt-link")

    expect(page.locator("#receipt-visit")).to_contain_text(", with ")
    expect(page.locator("#receipt-paid-by")).to_contain_text("ending 4242")
    for width in (800, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"receipt_{width}.png"), full_page=True)
        assert Axe().run(page).violations_count == 0
    page.emulate_media(media="print")
    page.screenshot(path=str(SCREENSHOTS / "receipt_print.png"), full_page=True)
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#receipt")).to_be_visible()
