"""The first screens in Chromium: the clinician's chart at the EHR side panel's width and on a
phone, the patient's home likewise; screenshots, and no axe-core violations."""

import pytest
from playwright.sync_api import Page, expect

from smartapp.sandbox.models import Patient, Practitioner
from tests.browser.conftest import patient_signs_in, shots_without_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _first(model):
    return model.objects.order_by("fhir_id").first()


def test_the_clinicians_chart_reads_at_a_glance_in_the_side_panel(page: Page, live_server, tenant):
    page.goto(f"{live_server.url}/sandbox/ehr/")
    page.select_option("#id_practitioner", _first(Practitioner).fhir_id)
    page.select_option("#id_patient", _first(Patient).fhir_id)
    page.get_by_role("button", name="Launch").click()
    app = page.frame_locator("#app-frame")
    expect(app.locator("#chart-today")).to_be_visible()
    chart_url = next(f.url for f in page.frames if "/chart/" in f.url)

    page.goto(chart_url)  # the app alone, as wide as PowerChart's side panel

    for part in ("#chart-today", "#chart-next", "#chart-money", "#chart-messages"):
        expect(page.locator(part)).to_be_visible()
    shots_without_violations(page, "first_chart")


def test_the_patients_home_reads_at_a_glance(page: Page, live_server, tenant):
    patient_signs_in(page, live_server, tenant, _first(Patient).fhir_id)

    for part in ("#home-next", "#home-money", "#home-messages"):
        expect(page.locator(part)).to_be_visible()
    shots_without_violations(page, "first_home")


def test_booking_by_first_available_reads_well_for_a_patient_elsewhere(
    browser, live_server, tenant
):
    context = browser.new_context(
        viewport={"width": 800, "height": 900}, timezone_id="Europe/London"
    )
    page = context.new_page()
    patient_signs_in(page, live_server, tenant, _first(Patient).fhir_id)
    page.click("#nav-book")
    page.click("#search-slots")

    expect(page.locator("#first-available")).to_be_visible()
    expect(page.locator("#time-zone")).to_contain_text("You are in Europe/London")
    shots_without_violations(page, "first_available")
    page.locator("#first-available a.slot").first.click()
    expect(page.locator("#what-to-bring")).to_be_visible()
    shots_without_violations(page, "first_available_confirm")
    context.close()


def test_the_patients_home_in_spanish(browser, live_server, tenant):
    context = browser.new_context(viewport={"width": 390, "height": 900}, locale="es-ES")
    page = context.new_page()
    patient_signs_in(page, live_server, tenant, _first(Patient).fhir_id)

    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("#home-next-title")).to_have_text("Su próxima cita")
    shots_without_violations(page, "first_home_es")
    page.click("#language-en")  # the switch, on every patient page
    expect(page.locator("#home-next-title")).to_have_text("Your next appointment")
    context.close()
