"""Messages and visits in Debian's Chromium: a patient reads and sends portal messages, hostile
HTML from the EHR runs nothing, a clinician sees the patient's visits inside the EHR's iframe."""

import pytest
from playwright.sync_api import Browser, Page, expect

from smartapp.launch.models import Launch
from smartapp.sandbox.models import Encounter, Patient, PortalMessage, Practitioner
from tests.browser.conftest import SCREENSHOTS, patient_signs_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"
WIDTHS = {"800": 800, "390": 390}


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"messages_{name}.png"), full_page=True)


def _first_patient() -> Patient:
    return Patient.objects.filter(tenant_id=TENANT).order_by("fhir_id")[0]


def _watch_dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    def dismiss(dialog) -> None:  # noqa: ANN001 - Playwright's Dialog
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return seen


def _no_foreign_script(page: Page) -> None:
    """Only our own script files: nothing inline, nothing from the message."""
    sources = page.evaluate("[...document.scripts].map(s => s.src || s.textContent)")
    assert all(src.endswith("/static/js/timezone.js") for src in sources), sources
    handlers = page.evaluate(
        "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes]"
        ".filter(a => a.name.startsWith('on') || /^\\s*javascript:/i.test(a.value)).map(a => a.name))"
    )
    assert handlers == []


def test_a_patient_reads_a_hostile_message_and_sends_one_to_their_care_team(
    page: Page, live_server, tenant
):
    patient = _first_patient()
    dialogs = _watch_dialogs(page)
    patient_signs_in(page, live_server, tenant, patient.fhir_id)
    hostile = PortalMessage.objects.get(
        tenant_id=TENANT, patient_fhir_id=patient.fhir_id, content__contains="<script>"
    )
    assert hostile.status == "UNREAD"

    page.click("#nav-messages")
    expect(page.locator(f"#unread-{hostile.message_id}")).to_be_visible()
    _shot(page, "1_inbox")
    page.click(f"#message-{hostile.message_id} a")
    expect(page.locator("#message-body")).to_contain_text("15 minutes early")
    page.wait_for_timeout(300)  # give any injected script or broken image a moment to fire
    _shot(page, "2_hostile_message_opened")
    assert dialogs == []
    assert (
        page.locator("#message-body script, #message-body img, #message-body iframe").count() == 0
    )
    _no_foreign_script(page)

    page.click("#back")
    expect(page.locator(f"#message-{hostile.message_id}")).to_be_visible()
    expect(page.locator(f"#unread-{hostile.message_id}")).to_have_count(0)
    hostile.refresh_from_db()
    assert hostile.status == "OPENED"

    page.click("#compose-link")
    options = page.locator("#id_recipient option:not([value=''])")
    assert options.count() >= 1
    recipient = options.first.get_attribute("value")
    page.select_option("#id_recipient", recipient)
    page.fill("#id_subject", "Question about my <b>medicine</b>")
    page.fill("#id_body", "Can I take it with food?\n\nThanks!")
    _shot(page, "3_compose")
    page.click("#send-message")

    expect(page.locator(".messages")).to_contain_text("Sent.")
    sent = PortalMessage.objects.filter(
        tenant_id=TENANT, patient_fhir_id=patient.fhir_id, folder="SENT"
    ).latest("created_at")
    row = page.locator(f"#message-{sent.message_id}")
    expect(row).to_contain_text("Question about my <b>medicine</b>")
    expect(page.locator("#folder-sent")).to_have_attribute("aria-current", "page")
    assert sent.recipients[0]["id"] == recipient
    _shot(page, "4_sent")
    assert dialogs == []


def test_a_clinician_sees_the_patients_visits_inside_the_ehr(page: Page, live_server, tenant):
    patient = _first_patient()
    clinician = Practitioner.objects.filter(tenant_id=TENANT).order_by("fhir_id")[0]
    dialogs = _watch_dialogs(page)
    page.goto(f"{live_server.url}/sandbox/ehr/")
    page.select_option("#id_practitioner", clinician.fhir_id)
    page.select_option("#id_patient", patient.fhir_id)
    page.get_by_role("button", name="Launch").click()

    app = page.frame_locator("#app-frame")
    app.locator("#nav-visits").click()
    newest = Encounter.objects.filter(tenant_id=TENANT, patient=patient).order_by("-start")[0]
    expect(app.locator(f"#visit-{newest.fhir_id}")).to_be_visible()
    expect(app.locator("#visits-table tbody tr").first).to_have_id(f"visit-{newest.fhir_id}")
    _shot(page, "5_clinician_visits_in_ehr")

    app.locator("#nav-my-messages").click()
    expect(app.locator("#staff-messages-table")).to_be_visible()
    app.locator("#staff-messages-table a", has_text="Lab result needs review").click()
    expect(app.locator("#message-body")).to_contain_text("Potassium")
    page.wait_for_timeout(300)
    _shot(page, "6_clinician_hostile_communication")
    assert dialogs == []
    frame = next(f for f in page.frames if "/my-messages/" in f.url)
    assert frame.locator("#message-body script, #message-body img").count() == 0


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_pages_fit_an_ehr_side_panel_and_a_phone(browser: Browser, live_server, tenant, width):
    from django.test import Client

    from smartapp.testing import launch_as_clinician

    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    patient = _first_patient()
    patient_signs_in(page, live_server, tenant, patient.fhir_id)
    launch = Launch.objects.get(persona="patient")
    message = PortalMessage.objects.filter(
        tenant_id=TENANT, patient_fhir_id=patient.fhir_id, priority="HIGH"
    ).first()
    assert message, "the sandbox seeds a high-priority message"
    pages = {
        "my_visits": "visits/",
        "inbox": "messages/",
        "message": f"messages/{message.message_id}/",
        "compose": "messages/new/",
    }
    overflow = {}
    for name, path in pages.items():
        shown = page.goto(f"{live_server.url}/l/{launch.public_id}/{path}")
        assert shown and shown.status == 200
        overflow[name] = page.evaluate("document.documentElement.scrollWidth")
        _shot(page, f"{width}_{name}")
    doctor = Client()
    clinician = launch_as_clinician(doctor).launch
    context.add_cookies(
        [{"name": "sessionid", "value": doctor.cookies["sessionid"].value, "url": live_server.url}]
    )
    for name, path in {
        "chart_visits": "chart/visits/",
        "chart_messages": "chart/messages/",
        "my_messages": "my-messages/",
    }.items():
        shown = page.goto(f"{live_server.url}/l/{clinician.public_id}/{path}")
        assert shown and shown.status == 200
        overflow[name] = page.evaluate("document.documentElement.scrollWidth")
        _shot(page, f"{width}_{name}")
    context.close()
    assert all(w <= WIDTHS[width] for w in overflow.values()), overflow
