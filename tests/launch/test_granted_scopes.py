"""Granted scopes decide what a launch shows: features the EHR did not grant are hidden, with one
plain note naming what is missing, and their pages say so instead of failing with a 403 later."""

import pytest

from smartapp.launch.models import Launch
from tests.fakehttp import fake_launch, fake_patient_sign_in

pytestmark = pytest.mark.django_db


def _patient_granted(client, fake_ehr, scope: str | None) -> str:
    fake_ehr.granted_scope = scope  # None: a token response without `scope`
    assert fake_patient_sign_in(client, fake_ehr).status_code == 302
    return str(Launch.objects.get().public_id)


def test_a_patient_without_slot_scopes_has_no_booking_and_one_note_says_why(
    client, fake_ehr, fake_tenant
):
    launch = _patient_granted(
        client, fake_ehr, "openid fhirUser patient/Patient.read patient/Appointment.rs"
    )
    calls_before = len(fake_ehr.session.calls)

    home = client.get(f"/l/{launch}/home/").content.decode()
    book = client.get(f"/l/{launch}/book/")

    assert 'id="nav-appointments"' in home  # v2 .rs covers what .read needs
    assert 'id="nav-book"' not in home and 'id="nav-visits"' not in home
    assert home.count('id="scope-note"') == 1 and 'id="home-book"' not in home
    assert "Booking and your visits cannot be shown in this app yet" in home
    assert "Please contact your clinic for them" in home and "patient/Slot.read" not in home
    assert book.status_code == 403 and "This part of the app is not available" in book.text
    assert f'href="/l/{launch}/home/"' in book.text  # the way back
    assert not any("/Slot" in url for _, url, _ in fake_ehr.session.calls[calls_before:])


@pytest.mark.parametrize("scope", ["openid fhirUser patient/*.read", None])
def test_a_wildcard_grant_or_no_scope_in_the_answer_hides_nothing(
    client, fake_ehr, fake_tenant, scope
):
    launch = _patient_granted(client, fake_ehr, scope)

    home = client.get(f"/l/{launch}/home/").content.decode()

    assert 'id="nav-book"' in home and 'id="scope-note"' not in home


def test_a_clinician_without_appointment_scopes_sees_the_chart_but_not_the_schedule(
    client, fake_ehr, fake_tenant
):
    fake_ehr.granted_scope = "launch openid fhirUser user/Patient.read user/Encounter.read"
    assert fake_launch(client, fake_ehr).status_code == 302
    launch = Launch.objects.get().public_id

    chart = client.get(f"/l/{launch}/chart/").content.decode()
    day = client.get(f"/l/{launch}/my-day/")

    assert 'id="nav-visits"' in chart and 'id="nav-appointments"' not in chart
    assert 'id="nav-my-day"' not in chart and "user/Appointment.read" in chart
    assert "Not available here: the patient&#x27;s appointments, booking and your day" in chart
    assert day.status_code == 403 and "your day" in day.text
