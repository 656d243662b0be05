"""Whole launch journeys in Debian's Chromium: the sandbox plays the EHR and the authorization server."""

import pytest
from playwright.sync_api import Page, expect

from smartapp.audit.models import AuditEvent
from smartapp.sandbox.models import Patient, Practitioner
from tests.browser.conftest import patient_signs_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"


def _first(model):
    return model.objects.filter(tenant_id=TENANT).order_by("fhir_id").first()


def test_a_clinician_launches_from_the_ehr_and_sees_the_patient_in_the_iframe(
    page: Page, live_server, tenant
):
    patient, clinician = _first(Patient), _first(Practitioner)
    page.goto(f"{live_server.url}/sandbox/ehr/")
    page.select_option("#id_practitioner", clinician.fhir_id)
    page.select_option("#id_patient", patient.fhir_id)
    page.get_by_role("button", name="Launch").click()

    app = page.frame_locator("#app-frame")
    banner = app.locator("#patient-banner")
    expect(banner.locator("#patient-name")).to_have_text(patient.display_name)
    expect(banner.locator("#patient-mrn")).to_contain_text(patient.mrn)
    expect(banner.locator("#patient-birth-date")).to_be_visible()
    expect(app.locator("#signed-in-user")).not_to_be_empty()
    assert AuditEvent.objects.filter(patient_id=patient.fhir_id, action="read").exists()


def test_a_patient_signs_in_standalone_and_is_greeted_by_name(page: Page, live_server, tenant):
    patient = _first(Patient)

    # Through the sandbox's own login and consent pages, as Millennium's would be.
    patient_signs_in(page, live_server, tenant, patient.fhir_id)

    given = patient.resource["name"][0]["given"][0]
    expect(page.locator("#welcome")).to_have_text(f"Welcome, {given}")
    expect(page.locator("#signed-in-as")).to_have_text(f"Signed in as {patient.display_name}")
    for part in ("#home-next", "#home-money", "#home-messages"):  # the questions they came with
        expect(page.locator(part)).to_be_visible()


def test_a_patient_signs_out_and_the_back_button_shows_no_patient_data(
    page: Page, live_server, tenant
):
    from smartapp.launch.models import Launch
    from smartapp.sandbox.models import Grant

    patient = _first(Patient)
    patient_signs_in(page, live_server, tenant, patient.fhir_id)
    expect(page.locator("#signed-in-as")).to_contain_text(patient.display_name)
    page.click("#nav-appointments")
    expect(page.locator("#upcoming")).to_be_visible()

    page.click("#sign-out")
    expect(page.locator("#signed-out h1")).to_have_text("You are signed out")
    page.go_back()

    expect(page.locator("#error-title")).to_have_text("You are not signed in")
    assert patient.display_name not in page.content() and patient.mrn not in page.content()
    launch = Launch.objects.get(persona="patient")
    assert launch.ended_at is not None and launch.refresh_token == ""
    assert Grant.objects.filter(patient_fhir_id=patient.fhir_id, revoked_at__isnull=False).exists()
