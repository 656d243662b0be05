"""The kit's ledger, system client, worker, restore between tests, and the plugin's loading."""

import re
import secrets
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

import smartapp.testing
from smartapp.testing import (
    assert_audited,
    assert_posted_once,
    launch_as_clinician,
    launch_as_patient,
    wait_for_state,
)
from tests.testing.payments import desk_payment


def _free_slots(client, launched, millennium) -> list[str]:
    today = timezone.localdate()
    page = client.get(
        launched.url("book/"),
        {
            "service_type": millennium.tenant.service_types.order_by("position").first().code,
            "start": today.isoformat(),
            "end": (today + timedelta(days=6)).isoformat(),
        },
    )
    return re.findall(r'data-slot="([^"]+)"', page.content.decode())


def _book(client, launched, slot: str, reason: str):
    confirm = client.get(launched.url("book/confirm/"), {"slot": slot}).content.decode()
    key = re.search(r'name="key" value="([^"]+)"', confirm)
    assert key, confirm[:500]
    return client.post(launched.url("book/confirm/"), {"key": key[1], "reason": reason})


def test_the_ledger_shows_what_a_booking_sent_to_millennium(client, millennium, millennium_ledger):
    launched = launch_as_patient(client)
    assert millennium_ledger.appointments == []
    slot = _free_slots(client, launched, millennium)[0]

    assert _book(client, launched, slot, "Sore throat").status_code == 303

    [booked] = millennium_ledger.appointments
    assert booked.created and booked.patient_id == launched.patient_id
    assert booked.reason == "Sore throat" and booked.status == "booked"
    assert_audited(action="write", what=f"Appointment/{booked.fhir_id} create", count=1)


def test_the_ledger_shows_a_portal_message_sent(client, millennium, millennium_ledger):
    launched = launch_as_patient(client)
    page = client.get(launched.url("messages/new/")).content.decode()
    recipient = re.findall(r'<option value="([^"]+)"', page)[0]

    sent = client.post(
        launched.url("messages/new/"),
        {
            "key": secrets.token_urlsafe(8),
            "recipient": recipient,
            "subject": "Refill",
            "body": "Hi",
        },
    )

    assert sent.status_code == 303
    [message] = millennium_ledger.messages
    assert message.kind == "portal" and message.subject == "Refill"
    assert message.patient_id == launched.patient_id


def test_a_slot_the_front_desk_took_meanwhile_gets_a_clear_message(
    client, millennium, system_client
):
    launched = launch_as_patient(client)
    slot = _free_slots(client, launched, millennium)[0]
    confirm = client.get(launched.url("book/confirm/"), {"slot": slot}).content.decode()
    system_client.book(slot, millennium.patients.second)

    refused = client.post(
        launched.url("book/confirm/"),
        {"key": re.search(r'name="key" value="([^"]+)"', confirm)[1], "reason": "Knee"},
        follow=True,
    )

    assert "taken a moment ago" in refused.content.decode()
    assert [a.patient_id for a in millennium.ledger().appointments] == [
        millennium.patients.second.fhir_id
    ]


def test_assert_posted_once_fails_for_a_payment_posted_twice(client, millennium):
    from smartapp.sandbox.models import Posting

    visit = millennium.visits.registered()[0]
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)
    payment = wait_for_state(
        desk_payment(client, launched, visit, "1.00"), "posted", run_inline=True
    )
    first = Posting.objects.get(identifier=payment.posting_id)
    first.pk = None
    first.save()

    with pytest.raises(AssertionError, match="reached Millennium 2 times"):
        assert_posted_once(payment)


def test_wait_for_state_fails_with_the_payments_moves(client, millennium):
    visit = millennium.visits.unregistered()
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)
    payment = desk_payment(client, launched, visit, "1.00")

    with pytest.raises(
        AssertionError, match=r"awaiting_account, not posted, .*captured→awaiting_account"
    ):
        wait_for_state(payment, "posted", timeout=0.5, run_inline=True)


def test_a_real_worker_posts_a_desk_payment(client, millennium, millennium_worker):
    visit = millennium.visits.registered()[0]
    launched = launch_as_clinician(client, patient=visit.patient, encounter=visit)

    payment = desk_payment(client, launched, visit, "6.00")

    wait_for_state(payment, "posted", timeout=60)
    assert_posted_once(payment)


def test_each_test_starts_from_the_seed_with_every_knob_off(
    client, millennium, request, _millennium_seeds
):
    from smartapp.sandbox.models import Appointment, Knobs

    launched = launch_as_patient(client)
    _book(client, launched, _free_slots(client, launched, millennium)[0], "Cough")
    millennium.throttle(retry_after=5)
    booked = Appointment.objects.count()

    _millennium_seeds.ready(millennium.size)  # what the fixture does before the next test

    assert Appointment.objects.count() == booked - 1 and not Knobs.objects.exists()
    assert millennium.ledger().appointments == []


def test_past_the_clinics_midnight_the_next_test_gets_a_new_seed(
    client, millennium, monkeypatch, _millennium_seeds
):
    """A session crossing midnight in Chicago: a seed's "today" would be yesterday's."""
    from smartapp.sandbox.models import Appointment
    from smartapp.testing import millennium as kit

    seeded = _millennium_seeds.ready(millennium.size)
    launched = launch_as_patient(client)
    _book(client, launched, _free_slots(client, launched, millennium)[0], "Cough")
    booked = Appointment.objects.count()
    tomorrow = seeded.clinic_day + timedelta(days=1)
    monkeypatch.setattr(kit, "_clinic_today", lambda: tomorrow)

    reseeded = _millennium_seeds.ready(millennium.size)

    assert reseeded is not seeded and reseeded.clinic_day == tomorrow
    assert Appointment.objects.count() == booked - 1  # seeded afresh from the seeded state
    monkeypatch.undo()
    assert _millennium_seeds.ready(millennium.size).clinic_day == seeded.clinic_day


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig):
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="pytest11") if e.name == "smartapp"]
    assert entry.value == "smartapp.testing.plugin"
    assert pytestconfig.pluginmanager.get_plugin("smartapp") is not None


def test_importing_the_plugin_imports_no_django_model():
    code = (
        "import sys, smartapp.testing.plugin, smartapp.testing; "
        "import django.apps; "
        "assert not django.apps.apps.ready; "
        "found = [m for m in sys.modules if m.startswith('smartapp.') and m.endswith('.models')]; "
        "assert not found, found"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_every_public_name_is_documented():
    for name in smartapp.testing.__all__:
        assert getattr(smartapp.testing, name).__doc__, name
