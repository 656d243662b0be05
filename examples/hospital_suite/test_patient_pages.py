"""What one patient sees: their own data, and nobody else's."""

from smartapp.testing import assert_audited, launch_as_patient


def test_a_patient_sees_their_own_appointments_and_nobody_elses(client, millennium):
    someone_else = millennium.patients.first
    patient = millennium.patients.second

    launched = launch_as_patient(client, patient=patient)
    page = client.get(launched.url("appointments/"))

    assert page.status_code == 200
    assert_audited(launch=launched, patient=patient.fhir_id)
    assert_audited(launch=launched, patient=someone_else.fhir_id, count=0)


def test_a_video_visit_patient_sees_their_video_visit(client, millennium):
    launched = launch_as_patient(client, patient=millennium.patients.with_video_visit)

    page = client.get(launched.url("appointments/"))

    assert page.status_code == 200 and "Video Visit" in page.content.decode()


def test_the_merged_record_explains_the_merge_to_the_clinician(client, millennium):
    from smartapp.testing import launch_as_clinician

    merged = millennium.patients.merged
    launched = launch_as_clinician(client, patient=merged, encounter="")

    chart = client.get(launched.url("chart/")).content.decode().lower()

    assert "merged" in chart or "combined" in chart
