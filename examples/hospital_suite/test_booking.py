"""Booking rules: what reaches Millennium, and what does not."""

import re
from datetime import timedelta

from django.utils import timezone


def _free_slots(client, launched, millennium) -> list[str]:
    today = timezone.localdate()
    week = {
        "service_type": millennium.tenant.service_types.order_by("position").first().code,
        "start": today.isoformat(),
        "end": (today + timedelta(days=6)).isoformat(),
    }
    return re.findall(r'data-slot="([^"]+)"', client.get(launched.url("book/"), week).text)


def _confirm_key(client, launched, slot: str) -> str:
    page = client.get(launched.url("book/confirm/"), {"slot": slot}).text
    found = re.search(r'name="key" value="([^"]+)"', page)
    assert found, page
    return found[1]


def test_a_booking_reaches_millennium_once_with_its_reason(client, millennium, nancy):
    slot = _free_slots(client, nancy, millennium)[0]
    form = {"key": _confirm_key(client, nancy, slot), "reason": "Sore throat"}

    assert client.post(nancy.url("book/confirm/"), form).status_code == 303
    client.post(nancy.url("book/confirm/"), form)  # a double click

    [booked] = millennium.ledger().appointments
    assert booked.patient_id == nancy.patient_id and booked.reason == "Sore throat"


def test_a_reason_longer_than_millennium_takes_never_reaches_it(client, millennium, nancy):
    slot = _free_slots(client, nancy, millennium)[0]
    form = {"key": _confirm_key(client, nancy, slot), "reason": "x" * 300}

    assert client.post(nancy.url("book/confirm/"), form).status_code == 400
    assert millennium.ledger().appointments == []


def test_a_slot_the_front_desk_took_meanwhile_says_so(client, millennium, nancy, system_client):
    slot = _free_slots(client, nancy, millennium)[0]
    key = _confirm_key(client, nancy, slot)
    system_client.book(slot, millennium.patients.second)

    answer = client.post(nancy.url("book/confirm/"), {"key": key, "reason": "Knee"}, follow=True)

    assert "taken a moment ago" in answer.text
