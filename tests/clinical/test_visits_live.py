"""Visits against the sandbox over real HTTP (live server): what each persona sees, in few calls.

FHIR calls per page are counted by the audit events the gateway writes (one per call).
"""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from smartapp.audit.models import AuditEvent
from smartapp.clinical import visits as visits_module
from smartapp.launch.models import Launch
from smartapp.sandbox.models import Encounter, Patient
from smartapp.testing import launch_as_clinician
from tests.conftest import SANDBOX_TENANT_ID
from tests.journeys import app_page

pytestmark = pytest.mark.django_db(transaction=True)

MAX_CALLS = {"chart_visits": 4, "my_visits": 3}


def _url(launch: Launch, page: str) -> str:
    return f"/l/{launch.public_id}/{page}"


def _encounters(patient_id: str):
    return Encounter.objects.filter(tenant_id=SANDBOX_TENANT_ID, patient__fhir_id=patient_id)


def _row_ids(text: str) -> list[str]:
    return re.findall(r'<tr id="visit-([^"]+)"', text)


def _start(encounter: Encounter) -> datetime:
    return encounter.start or datetime.min.replace(tzinfo=UTC)


def test_the_chart_lists_the_patients_visits_newest_first_in_few_calls(client, clinician):
    mine = list(_encounters(clinician.patient_id))
    others = Encounter.objects.filter(tenant_id=SANDBOX_TENANT_ID).exclude(
        patient__fhir_id=clinician.patient_id
    )

    page, calls = app_page(client, _url(clinician, "chart/visits/"))

    text = page.content.decode()
    assert page.status_code == 200 and 'id="patient-banner"' in text
    assert mine, "the sandbox seeds visits for every patient"
    newest_first = [e.fhir_id for e in sorted(mine, key=_start, reverse=True)]
    assert _row_ids(text) == newest_first[: visits_module.PAGE_SIZE]
    assert not any(f'id="visit-{e.fhir_id}"' in text for e in others[:50])
    assert calls <= MAX_CALLS["chart_visits"], calls
    assert 'id="nav-visits"' in text and 'aria-current="page">Visits' in text


def test_each_visit_shows_type_status_dates_place_and_attending(client, clinician):
    encounter = _encounters(clinician.patient_id).exclude(start=None).order_by("-start").first()
    resource = encounter.resource

    text = client.get(_url(clinician, "chart/visits/")).content.decode()

    row = text.split(f'id="visit-{encounter.fhir_id}"', 1)[1].split("</tr>", 1)[0]
    assert resource["type"][0]["text"] in row
    place = resource.get("location", [{}])[0].get("location", {}).get("display")
    if place:
        assert place.split(",")[0] in row
    assert "Attending" in row and "<time datetime=" in row


def test_the_chart_pages_through_many_visits(client, clinician, monkeypatch):
    monkeypatch.setattr(visits_module, "PAGE_SIZE", 1)
    count = _encounters(clinician.patient_id).count()
    assert count >= 2

    first = client.get(_url(clinician, "chart/visits/")).content.decode()
    second = client.get(_url(clinician, "chart/visits/?page=2")).content.decode()

    assert len(_row_ids(first)) == len(_row_ids(second)) == 1
    assert _row_ids(first) != _row_ids(second)
    assert 'id="older"' in first and 'href="?page=2"' in first
    assert 'id="newer"' in second and f"Page 2 of {count}" in second


@pytest.mark.parametrize("page", ["0", "x", "99999"])
def test_a_bad_page_number_gets_a_400_with_a_message(client, clinician, page):
    response = client.get(_url(clinician, f"chart/visits/?page={page}"))

    assert response.status_code == 400 and b'id="page-error"' in response.content


def test_a_page_past_the_end_shows_the_last_page(client, clinician):
    response = client.get(_url(clinician, "chart/visits/?page=50"))

    assert response.status_code == 200 and _row_ids(response.content.decode())


def test_a_patient_sees_their_own_visits_upcoming_and_past(client, patient):
    theirs = list(_encounters(patient.patient_id))
    others = Encounter.objects.filter(tenant_id=SANDBOX_TENANT_ID).exclude(
        patient__fhir_id=patient.patient_id
    )

    page, calls = app_page(client, _url(patient, "visits/"))

    text = page.content.decode()
    assert page.status_code == 200 and 'id="upcoming-visits"' in text and 'id="past-visits"' in text
    assert sorted(_row_ids(text)) == sorted(e.fhir_id for e in theirs)
    assert not any(f'id="visit-{e.fhir_id}"' in text for e in others[:50])
    assert calls <= MAX_CALLS["my_visits"], calls
    assert "Times are in America/Chicago" in text


def test_the_patient_visits_page_has_the_payments_slot_only_when_installed(
    client, patient, settings
):
    from django.apps import apps

    text = client.get(_url(patient, "visits/")).content.decode()

    installed = apps.is_installed("smartapp.payments")
    assert ('class="row-actions"' in text) == installed


def test_the_patient_id_comes_from_the_launch_never_the_url(client, patient):
    other = (
        Patient.objects.filter(tenant_id=SANDBOX_TENANT_ID)
        .exclude(fhir_id=patient.patient_id)
        .first()
    )

    text = client.get(_url(patient, f"visits/?patient={other.fhir_id}")).content.decode()

    assert not any(f'id="visit-{e.fhir_id}"' in text for e in _encounters(other.fhir_id))
    searches = AuditEvent.objects.filter(what__startswith="Encounter?")
    assert searches and all(f"patient={patient.patient_id}" in e.what for e in searches)


# Access rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["visits/", "chart/visits/"])
def test_visit_pages_without_a_session_say_so_with_a_401(patient, page):
    assert Client().get(_url(patient, page)).status_code == 401


@pytest.mark.parametrize("page", ["visits/", "chart/visits/"])
def test_visit_pages_refuse_post(client, patient, page):
    assert client.post(_url(patient, page)).status_code == 405


def test_a_patient_has_no_chart_visits(client, patient):
    assert client.get(_url(patient, "chart/visits/")).status_code == 404


def test_a_clinician_has_no_patient_visits_page(client, clinician):
    assert client.get(_url(clinician, "visits/")).status_code == 404


def test_another_sessions_launch_is_not_found(client, patient):
    other = Client()
    launch_as_clinician(other)

    assert other.get(_url(patient, "visits/")).status_code == 404
