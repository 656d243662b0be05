"""Every patient page in Spanish in Chromium (a browser whose language is Spanish): the page says
`lang="es"`, its heading reads Spanish, and it fits the EHR side panel and a phone with no
axe-core violation; the language switch turns the pages English and the choice stays."""

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from smartapp.sandbox.models import PortalMessage
from tests.browser.conftest import patient_signs_in, pay_with_test_card, shots_without_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CLINIC_TZ = "America/Chicago"


def _spanish(page: Page, name: str, heading: str | re.Pattern[str], where: str = "h1") -> None:
    """The page is Spanish, shows `heading`, and reads well at 800 and 390 px."""
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator(where).first).to_have_text(heading)
    shots_without_violations(page, f"es_{name}")


def _pay_at_the_sandbox_processor(page: Page) -> None:
    """The sandbox processor's hosted card page (the processor's, so English)."""
    expect(page.locator("input[name=number]")).to_be_visible()
    pay_with_test_card(page, name="Pat Paciente")


def test_the_patient_pages_read_well_in_spanish(browser: Browser, live_server, tenant, millennium):
    context = browser.new_context(
        viewport={"width": 800, "height": 900}, locale="es-ES", timezone_id=CLINIC_TZ
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    encounter = millennium.visits.registered()[0]
    patient = encounter.patient
    launch_path = patient_signs_in(page, live_server, tenant, patient.fhir_id)

    _spanish(page, "home", re.compile(r"^Hola"), "#welcome")
    page.click("#nav-appointments")
    _spanish(page, "my_appointments", "Mis citas")

    page.click("#nav-book")
    # The date fields keep their ISO values in Spanish (a "01/12/2026" one is empty in Chromium,
    # and the required field then stops the search).
    expect(page.locator("#id_start")).to_have_value(re.compile(r"^\d{4}-\d{2}-\d{2}$"))
    page.click("#search-slots")
    expect(page.locator("#first-available")).to_be_visible()
    _spanish(page, "book_times", "Reservar una cita")
    page.locator("#first-available a.slot").first.click()
    expect(page.locator("#id_reason")).to_be_visible()
    _spanish(page, "book_confirm", "Confirmar la reserva")

    page.click("#nav-visits")
    _spanish(page, "visits", "Mis visitas")

    page.click("#nav-messages")
    _spanish(page, "inbox", "Mensajes")
    message = PortalMessage.objects.filter(
        tenant_id=tenant.ehr_tenant_id, patient_fhir_id=patient.fhir_id, folder="INBOX"
    ).first()
    assert message, "the sandbox seeds messages for the patient"
    page.goto(f"{launch_path}/messages/{message.message_id}/")
    expect(page.locator("#back")).to_have_text("← Bandeja de entrada")
    _spanish(page, "message", message.subject or "(sin asunto)")
    page.goto(f"{launch_path}/messages/new/")
    _spanish(page, "compose", "Escribir un mensaje")

    page.goto(f"{launch_path}/visits/{encounter.fhir_id}/pay/")
    _spanish(page, "pay", "Pague su visita")
    page.click("#pay-submit")
    _pay_at_the_sandbox_processor(page)
    expect(page.locator("#payment-status")).to_be_visible()
    _spanish(page, "payment_status", "Pago")
    page.click("#receipt-link")
    _spanish(page, "receipt", "Recibo")
    page.click("#nav-payments")
    _spanish(page, "payments", "Pagos")

    page.click("#language-en")  # the switch, on every patient page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1").first).to_have_text("Payments")
    page.click("#nav-appointments")  # the choice is remembered, whatever the browser says
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1").first).to_have_text("My appointments")
    expect(page.locator("#language-es")).to_have_text("Español")
    context.close()
