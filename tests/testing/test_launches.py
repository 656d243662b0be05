"""The kit's launches and personas: the real authorization-code flow, one line each."""

import re

import pytest

from smartapp.testing import assert_audited, launch_as_clinician, launch_as_patient


def test_a_clinician_launch_opens_the_first_patients_chart(client, millennium):
    nancy = millennium.patients.first

    launched = launch_as_clinician(client)

    chart = client.get(launched.url("chart/"))
    assert chart.status_code == 200, chart.content[:300]
    assert launched.persona == "provider" and launched.patient_id == nancy.fhir_id
    assert launched.launch.user_id == millennium.clinicians.first.fhir_id
    assert launched.encounter_id == millennium.visits.of(nancy)[0].fhir_id
    assert launched.landing.startswith(launched.url())
    assert_audited(launch=launched, action="read", what=f"Patient/{nancy.fhir_id}")


def test_a_clinician_launch_takes_a_patient_a_visit_and_no_banner(client, millennium):
    patient = millennium.patients.second
    visit = millennium.visits.of(patient)[-1]

    launched = launch_as_clinician(client, patient=patient, encounter=visit, banner=False)

    assert launched.patient_id == patient.fhir_id and launched.encounter_id == visit.fhir_id
    assert launched.launch.need_patient_banner is False


def test_a_patient_signs_in_and_sees_only_their_own_home(client, millennium):
    patient = millennium.patients.second

    launched = launch_as_patient(client, patient=patient)

    home = client.get(launched.landing)
    assert home.status_code == 200, home.content[:300]
    assert launched.persona == "patient" and launched.patient_id == patient.fhir_id
    assert_audited(launch=launched, patient=patient.fhir_id)
    with pytest.raises(AssertionError, match="wanted at least 1 audit event"):
        assert_audited(launch=launched, patient=millennium.patients.first.fhir_id)


def test_two_launches_in_one_browser_keep_their_own_patients(client, millennium):
    first = launch_as_clinician(client, patient=millennium.patients.first)
    second = launch_as_clinician(client, patient=millennium.patients.second)

    assert first.public_id != second.public_id
    assert first.launch.patient_id != second.launch.patient_id


def test_the_merged_persona_is_the_combined_record(client, millennium):
    merged = millennium.patients.merged

    launched = launch_as_clinician(client, patient=merged, encounter="")

    assert merged.merged_into == millennium.patients.first.fhir_id
    chart = client.get(launched.url("chart/")).content.decode()
    assert re.search(r"merged|combined", chart, re.IGNORECASE), chart[:500]


def test_the_video_visit_persona_has_an_upcoming_video_visit(client, millennium):
    patient = millennium.patients.with_video_visit

    launched = launch_as_patient(client, patient=patient)

    page = client.get(launched.url("appointments/")).content.decode()
    assert "Video Visit" in page


@pytest.mark.millennium(size=3)
def test_the_marker_seeds_another_size(millennium):
    assert millennium.size == 3
    assert len(millennium.clinicians.all()) == 3
    assert millennium.patients.merged.fhir_id == str(12724066 + 2 * 3)
