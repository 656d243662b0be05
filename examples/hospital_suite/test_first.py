"""The first test of README's "Write your own tests"."""

from smartapp.testing import assert_audited, launch_as_clinician


def test_a_clinician_opens_the_patients_chart(client, millennium):
    nancy = millennium.patients.first

    launched = launch_as_clinician(client, patient=nancy)
    chart = client.get(launched.url("chart/"))

    assert chart.status_code == 200
    assert "SMART" in chart.content.decode().upper()
    assert_audited(launch=launched, action="read", what=f"Patient/{nancy.fhir_id}")
