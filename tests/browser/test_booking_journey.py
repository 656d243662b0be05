"""A patient books, the clinician sees it in My day inside the EHR, the patient cancels (Chromium)."""

from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from smartapp.sandbox.models import Appointment, Patient, Slot
from tests.browser.conftest import SCREENSHOTS, patient_signs_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"
CLINIC_TZ = "America/Chicago"


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"booking_{name}.png"), full_page=True)


@pytest.fixture
def chicago(browser: Browser):
    """A browser in the clinic's time zone, as a local patient's would be."""
    context = browser.new_context(viewport={"width": 1000, "height": 900}, timezone_id=CLINIC_TZ)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_a_patient_books_the_clinician_sees_it_and_the_patient_cancels(
    chicago: Page, live_server, tenant
):
    page = chicago
    patient = Patient.objects.filter(tenant_id=TENANT).order_by("fhir_id")[0]
    patient_signs_in(page, live_server, tenant, patient.fhir_id)

    page.click("#nav-book")
    page.click("#search-slots")
    first = page.locator("#first-available a.slot").first
    slot_id = first.get_attribute("data-slot")
    _shot(page, "1_free_slots")
    page.locator("#first-available .more-times").first.click()  # one clinician, by day
    expect(page.locator("#free-slots")).to_be_visible()
    _shot(page, "1b_one_clinician_by_day")
    page.click("#back-to-first")
    first = page.locator("#first-available a.slot").first
    slot_id = first.get_attribute("data-slot")
    first.click()
    page.fill("#id_reason", "Cough for two weeks")
    _shot(page, "2_confirm")
    page.click("#confirm-booking")

    appointment = Appointment.objects.get(tenant_id=TENANT, slot__fhir_id=slot_id, status="booked")
    row = page.locator(f"#appointment-{appointment.fhir_id}")
    expect(row).to_contain_text("Booked")
    expect(page.locator(".messages")).to_contain_text("Booked.")
    _shot(page, "3_my_appointments")
    page.click("#nav-book")
    page.click("#search-slots")
    expect(page.locator("#first-available")).to_be_visible()
    expect(page.locator(f'[data-slot="{slot_id}"]')).to_have_count(0)

    ehr = page.context.new_page()
    ehr.goto(f"{live_server.url}/sandbox/ehr/")
    ehr.select_option("#id_practitioner", appointment.practitioner_fhir_id)
    ehr.select_option("#id_patient", patient.fhir_id)
    ehr.get_by_role("button", name="Launch").click()
    app = ehr.frame_locator("#app-frame")
    app.locator("#nav-my-day").click()
    expect(app.locator("#day-title")).to_be_visible()
    frame = next(f for f in ehr.frames if "/my-day/" in f.url)
    day = appointment.start.astimezone(ZoneInfo(CLINIC_TZ)).date().isoformat()
    frame.goto(f"{frame.url.split('?')[0]}?date={day}")
    expect(app.locator(f"#appointment-{appointment.fhir_id}")).to_contain_text(patient.display_name)
    _shot(ehr, "4_clinician_my_day")
    ehr.close()

    page.click("#nav-appointments")
    page.click(f"#cancel-{appointment.fhir_id}")
    page.select_option("#id_reason", "pat-fb")
    page.click("#confirm-cancel")
    expect(page.locator(".messages")).to_contain_text("Cancelled.")
    expect(page.locator(f"#appointment-{appointment.fhir_id}")).to_contain_text("Cancelled")
    _shot(page, "5_cancelled")
    assert Slot.objects.get(tenant_id=TENANT, fhir_id=slot_id).status == "free"


def test_my_appointments_stack_into_lines_on_a_phone(browser: Browser, live_server, tenant):
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id=CLINIC_TZ)
    page = context.new_page()
    patient = Patient.objects.filter(tenant_id=TENANT).order_by("fhir_id")[0]
    patient_signs_in(page, live_server, tenant, patient.fhir_id)

    page.click("#nav-appointments")

    table = page.locator("table.stack").first
    expect(table).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    _shot(page, "6_phone_my_appointments")
    context.close()
    assert width <= 390
