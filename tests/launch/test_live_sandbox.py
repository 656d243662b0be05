"""Whole launches against the Millennium sandbox over real HTTP (live server).

The Django test `client` plays the browser on the app's side; `requests` plays it on the
sandbox's side (EHR page, login, consent), and the code is carried back to /launch/callback.
"""

import html

import pytest
from django.core.management import call_command

from smartapp.launch.models import Launch
from tests.journeys import ehr_launch, patient_sign_in, sandbox_people

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_clinician_ehr_launch_shows_the_launched_patient(client, live_server, tenant):
    response = ehr_launch(client, live_server)

    assert response.status_code == 302 and response["Location"].startswith("/l/")
    page = client.get(response["Location"], follow=True)
    people = sandbox_people()
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="patient-banner"' in text
    assert html.escape(people["patient"].display_name) in text and people["patient"].mrn in text
    launch = Launch.objects.get()
    assert (
        launch.patient_id == people["patient"].fhir_id
        and launch.encounter_id == people["encounter"].fhir_id
    )
    assert (launch.user_type, launch.user_id) == ("Practitioner", people["practitioner"].fhir_id)


def test_a_launch_without_the_banner_flag_shows_a_compact_header(client, live_server, tenant):
    response = ehr_launch(client, live_server, banner=False)

    text = client.get(response["Location"], follow=True).content.decode()
    assert 'id="patient-banner"' not in text and 'id="patient-header"' in text


def test_a_patient_signs_in_standalone_and_is_welcomed(client, live_server, tenant):
    patient, response = patient_sign_in(client, tenant)

    assert response.status_code == 302, response.content[:500]
    page = client.get(response["Location"], follow=True)
    assert page.status_code == 200
    given = patient.resource["name"][0]["given"][0]
    assert f"Welcome, {html.escape(given)}</h1>" in page.content.decode()
    assert html.escape(patient.display_name) in page.content.decode()


def test_denying_consent_shows_a_friendly_page(client, live_server, tenant):
    _, response = patient_sign_in(client, tenant, decision="deny")

    assert response.status_code == 403 and b"Access was not granted" in response.content
    assert b"Sign in again" in response.content


def test_the_token_is_refreshed_against_the_sandbox(client, live_server, tenant):
    from datetime import timedelta

    from django.utils import timezone

    response = ehr_launch(client, live_server)
    launch = Launch.objects.get()
    old = launch.access_token
    Launch.objects.update(expires_at=timezone.now() + timedelta(seconds=5))

    page = client.get(response["Location"], follow=True)

    launch.refresh_from_db()
    assert page.status_code == 200 and launch.access_token != old and launch.refresh_token


def test_smart_doctor_is_happy_with_the_sandbox(live_server, tenant, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("smart_doctor", tenant.slug)
        raise SystemExit(0)

    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out


def test_a_patient_sign_in_reads_the_patient_record_once(client, live_server, tenant):
    from smartapp.audit.models import AuditEvent

    patient, response = patient_sign_in(client, tenant)
    client.get(response["Location"], follow=True)

    reads = AuditEvent.objects.filter(action="read", what=f"Patient/{patient.fhir_id}")
    assert reads.count() == 1
