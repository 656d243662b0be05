"""A patient's forms whose writes go through the system client (booking, cancelling) answer a page
in words, never a 500, when the EHR's token endpoint refuses that client; nothing is written.

Seen against a third-party server: Pay and Cancel answered 500 with `TokenEndpointError`.
"""

import html

import pytest

from smartapp.sandbox.models import Appointment
from smartapp.tenants.models import ClientRegistration, SystemToken
from tests.journeys import hidden, week_of_slots

pytestmark = pytest.mark.django_db(transaction=True)


def _refuse_the_system_client(tenant) -> None:
    system = ClientRegistration.objects.get(tenant=tenant, persona="system")
    system.client_secret = "not-the-secret"
    system.save()
    SystemToken.objects.all().delete()


def _booked(client, launch, tenant) -> Appointment:
    chosen = week_of_slots(client, f"/l/{launch.public_id}", tenant)[0]
    confirm = client.get(f"/l/{launch.public_id}/book/confirm/", {"slot": chosen})
    key = hidden(confirm.content.decode(), "key")
    done = client.post(f"/l/{launch.public_id}/book/confirm/", {"key": key, "reason": "Cough"})
    assert done.status_code == 303
    return Appointment.objects.get(slot__fhir_id=chosen, status="booked")


def test_booking_says_the_registration_was_refused_and_books_nothing(client, patient):
    chosen = week_of_slots(client, f"/l/{patient.public_id}", patient.tenant)[0]
    confirm = client.get(f"/l/{patient.public_id}/book/confirm/", {"slot": chosen})
    _refuse_the_system_client(patient.tenant)

    booked = client.post(
        f"/l/{patient.public_id}/book/confirm/",
        {"key": hidden(confirm.content.decode(), "key"), "reason": "Cough"},
    )

    text = html.unescape(booked.content.decode())
    assert booked.status_code == 502 and "The EHR refused this app's registration" in text
    assert "integration team" in text and "Reference for the support desk" in text
    assert not Appointment.objects.filter(slot__fhir_id=chosen, status="booked").exists()


def test_cancelling_says_the_registration_was_refused_and_cancels_nothing(client, patient):
    appointment = _booked(client, patient, patient.tenant)
    url = f"/l/{patient.public_id}/appointments/{appointment.fhir_id}/cancel/"
    version = hidden(client.get(url).content.decode(), "version")
    _refuse_the_system_client(patient.tenant)

    cancelled = client.post(url, {"version": version, "reason": "pat-fb"})

    assert cancelled.status_code == 502
    assert "The EHR refused this app's registration" in html.unescape(cancelled.content.decode())
    appointment.refresh_from_db()
    assert appointment.status == "booked"
