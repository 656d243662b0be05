"""Whole launches against the Millennium sandbox over real HTTP (live server), driven by the
test kit's launches: the Django test `client` plays the browser on the app's side, `requests`
the sandbox's (EHR page, login, consent), and the code is carried back to /launch/callback.
"""

import html

import pytest
from django.core.management import call_command

from smartapp.launch.models import Launch
from smartapp.testing import (
    LaunchRefused,
    assert_audited,
    launch_as_clinician,
    launch_as_patient,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _record(millennium, patient):
    """The sandbox's Patient row behind a persona (its MRN and FHIR resource)."""
    from smartapp.sandbox.models import Patient

    return Patient.objects.get(tenant_id=millennium.tenant.ehr_tenant_id, fhir_id=patient.fhir_id)


def test_a_clinician_ehr_launch_shows_the_launched_patient(client, millennium):
    launched = launch_as_clinician(client)

    assert launched.landing.startswith(launched.url())
    page = client.get(launched.landing, follow=True)
    patient = _record(millennium, millennium.patients.first)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="patient-banner"' in text
    assert html.escape(patient.display_name) in text and patient.mrn in text
    first_visit = millennium.visits.of(millennium.patients.first)[0]
    assert (launched.patient_id, launched.encounter_id) == (patient.fhir_id, first_visit.fhir_id)
    launch = launched.launch
    assert (launch.user_type, launch.user_id) == (
        "Practitioner",
        millennium.clinicians.first.fhir_id,
    )


def test_a_launch_without_the_banner_flag_shows_a_compact_header(client, millennium):
    launched = launch_as_clinician(client, banner=False)

    text = client.get(launched.landing, follow=True).content.decode()
    assert 'id="patient-banner"' not in text and 'id="patient-header"' in text


def test_a_patient_signs_in_standalone_and_is_welcomed(client, millennium):
    launched = launch_as_patient(client)

    page = client.get(launched.landing, follow=True)
    assert page.status_code == 200
    patient = _record(millennium, millennium.patients.first)
    given = patient.resource["name"][0]["given"][0]
    assert f"Welcome, {html.escape(given)}</h1>" in page.content.decode()
    assert html.escape(patient.display_name) in page.content.decode()


def test_denying_consent_shows_a_friendly_page(client, millennium):
    with pytest.raises(LaunchRefused) as refused:
        launch_as_patient(client, decision="deny")

    response = refused.value.response
    assert response.status_code == 403 and b"Access was not granted" in response.content
    assert b"Sign in again" in response.content
    assert not Launch.objects.exists()


def test_the_token_is_refreshed_against_the_sandbox(client, millennium):
    from datetime import timedelta

    from django.utils import timezone

    launched = launch_as_clinician(client)
    launch = Launch.objects.get()
    old = launch.access_token
    Launch.objects.update(expires_at=timezone.now() + timedelta(seconds=5))

    page = client.get(launched.landing, follow=True)

    launch.refresh_from_db()
    assert page.status_code == 200 and launch.access_token != old and launch.refresh_token


def test_smart_doctor_is_happy_with_the_sandbox(live_server, tenant, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("smart_doctor", tenant.slug)
        raise SystemExit(0)

    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out


def test_a_patient_sign_in_reads_the_patient_record_once(client, millennium):
    launched = launch_as_patient(client)
    client.get(launched.landing, follow=True)

    assert_audited(action="read", what=f"Patient/{launched.patient_id}", count=1)
