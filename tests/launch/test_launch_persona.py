"""The persona follows the launch's own evidence; a mismatch with the registration is refused.

Seen against a third-party server whose one FHIR base serves clinicians and patients: a patient
launched from a portal got clinician screens, including "Record a payment taken in person".
"""

import html

import pytest

from smartapp.launch.models import Launch
from tests.fakehttp import BASE, PATIENT_BASE, fake_launch, fake_patient_sign_in

pytestmark = pytest.mark.django_db


def _one_base_for_both(tenant) -> None:
    tenant.patient_fhir_base = BASE
    tenant.save()


@pytest.mark.parametrize("user", ["Patient/12724067", "RelatedPerson/7000"])
def test_a_patient_launched_at_the_clinician_registration_is_refused(
    client, fake_ehr, fake_tenant, user
):
    _one_base_for_both(fake_tenant)
    fake_ehr.claims_override = {"fhirUser": f"{BASE}/{user}"}

    page = fake_launch(client, fake_ehr)

    text = page.content.decode()
    assert page.status_code == 403 and "This sign-in is for another kind of user" in text
    assert "You signed in as a patient" in text and "Record a payment" not in text
    assert 'id="patient-sign-in"' in text
    assert not Launch.objects.exists()


def test_without_a_fhir_user_patient_only_grants_for_a_clinician_registration_are_refused(
    client, fake_ehr, fake_tenant
):
    _one_base_for_both(fake_tenant)
    fake_ehr.claims_override = {"fhirUser": ""}
    fake_ehr.granted_scope = "launch openid patient/Patient.read patient/Appointment.read"

    page = fake_launch(client, fake_ehr)

    assert page.status_code == 403 and not Launch.objects.exists()


def test_a_clinician_with_only_patient_scopes_registered_is_still_a_clinician(
    client, fake_ehr, fake_tenant
):
    fake_tenant.clients.filter(persona="provider").update(
        scopes="launch openid fhirUser patient/Patient.read"
    )
    fake_ehr.granted_scope = "launch openid fhirUser patient/Patient.read"

    page = fake_launch(client, fake_ehr)

    assert page.status_code == 302
    assert Launch.objects.get().persona == "provider"


def test_a_clinician_on_the_patient_sign_in_is_refused(client, fake_ehr, fake_tenant):
    page = fake_patient_sign_in(client, fake_ehr, user=f"{PATIENT_BASE}/Practitioner/4122622")

    text = page.content.decode()
    assert page.status_code == 403 and "You signed in as a clinician" in text
    assert "Clinicians open the app from a patient's chart" in html.unescape(text)
    assert "Sign in again" not in text and "Relaunch" not in text and not Launch.objects.exists()


def test_a_patient_on_the_patient_sign_in_gets_patient_screens(client, fake_ehr, fake_tenant):
    page = fake_patient_sign_in(client, fake_ehr)

    assert page.status_code == 302 and Launch.objects.get().persona == "patient"
