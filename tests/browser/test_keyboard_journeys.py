"""The booking, payment and message journeys by keyboard alone (Tab, Enter, Space and typing):
every control is reached in the page's order, its focus is visible, and each journey ends done.
Signing in happens on the EHR's own pages (the sandbox's), so it uses the mouse as before."""

import pytest
from playwright.sync_api import Page, expect

from smartapp.payments.models import Payment
from smartapp.sandbox.models import Appointment, Patient, PortalMessage
from tests.browser.conftest import patient_signs_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
FOCUS_STYLE = """() => { const s = getComputedStyle(document.activeElement);
  return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }"""


def tab_to(page: Page, selector: str, *, limit: int = 150) -> None:
    """Presses Tab until `selector` has the focus; its focus must be visible."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement?.matches(s)", selector):
            assert page.evaluate(FOCUS_STYLE), f"{selector} has no visible focus"
            return
    raise AssertionError(f"Tab never reached {selector} on {page.url}")


def press_to_go(page: Page, key: str = "Enter") -> None:
    """Presses a key that follows a link or sends a form, and waits for the next page."""
    with page.expect_navigation():
        page.keyboard.press(key)


def _first_patient() -> Patient:
    return Patient.objects.order_by("fhir_id")[0]


def test_a_patient_books_by_keyboard_alone(page: Page, live_server, tenant):
    patient = _first_patient()
    patient_signs_in(page, live_server, tenant, patient.fhir_id)

    tab_to(page, "#nav-book")
    press_to_go(page, "Enter")
    tab_to(page, "#search-slots")
    press_to_go(page, "Enter")
    tab_to(page, "#first-available a.slot")
    slot_id = page.evaluate("() => document.activeElement.dataset.slot")
    press_to_go(page, "Enter")
    tab_to(page, "#id_reason")
    page.keyboard.type("Booked by keyboard")
    tab_to(page, "#confirm-booking")
    press_to_go(page, "Space")

    expect(page.locator(".messages")).to_contain_text("Booked.")
    assert Appointment.objects.filter(slot__fhir_id=slot_id, status="booked").exists()


def test_a_patient_writes_to_the_care_team_by_keyboard_alone(page: Page, live_server, tenant):
    patient = _first_patient()
    patient_signs_in(page, live_server, tenant, patient.fhir_id)

    tab_to(page, "#nav-messages")
    press_to_go(page, "Enter")
    tab_to(page, "a[href$='/messages/new/']")
    press_to_go(page, "Enter")
    tab_to(page, "#id_recipient")
    page.keyboard.press("ArrowDown")  # the next clinician in the list
    tab_to(page, "#id_subject")
    page.keyboard.type("Written by keyboard")
    tab_to(page, "#id_body")
    page.keyboard.type("Can I move my visit to a morning?")
    tab_to(page, "#send-message")
    press_to_go(page, "Enter")

    expect(page.locator(".messages")).to_be_visible()
    assert PortalMessage.objects.filter(
        patient_fhir_id=patient.fhir_id, folder="SENT", subject="Written by keyboard"
    ).exists()


def test_a_patient_pays_by_keyboard_alone(page: Page, live_server, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    launch_path = patient_signs_in(page, live_server, tenant, encounter.patient.fhir_id)
    page.goto(f"{launch_path}/visits/{encounter.fhir_id}/pay/")

    tab_to(page, "#pay-submit")
    press_to_go(page, "Enter")
    for field, text in (
        ("number", "4242 4242 4242 4242"),
        ("expiry", "12/39"),
        ("cvc", "123"),
        ("name", "Pat Patient"),
    ):
        tab_to(page, f"input[name={field}]")
        page.keyboard.type(text)
    tab_to(page, "button[type=submit]")
    press_to_go(page, "Enter")

    status = page.locator("#payment-status")
    expect(status).to_have_attribute("aria-live", "polite")  # its updates are announced
    expect(status).to_contain_text("Paid")
    assert Payment.objects.get(encounter_id=encounter.fhir_id).card_last4 == "4242"
