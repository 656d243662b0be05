"""Booking by first available against the sandbox: a row per clinician and place with its
earliest times, "more" narrowing to a day view; the clinic's time said once (and a patient
elsewhere told the difference); what to bring and how to cancel from the tenant file."""

import html
import re

import pytest

from smartapp.sandbox.models import Slot
from tests.clinical.test_schedule_live import MAX_CALLS, _book_page, _url
from tests.conftest import CLINIC_TZ
from tests.journeys import hidden

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_week_with_anyone_is_a_row_per_clinician_and_place_earliest_first(client, patient):
    page, calls = _book_page(client, patient, patient.tenant)
    text = html.unescape(page.content.decode())

    rows = re.findall(
        r'class="first-available-row".*?</li>\s*(?=<li class="first-available-row"|</ul>\s*<p)',
        text,
        re.S,
    )
    assert page.status_code == 200 and calls <= MAX_CALLS["book"] and len(rows) >= 2
    firsts = []
    for row in rows:
        slots = re.findall(r'data-slot="([^"]+)"', row)
        assert 1 <= len(slots) <= 3, row[:300]
        starts = [Slot.objects.get(fhir_id=s).start for s in slots]
        assert starts == sorted(starts)  # earliest first within the row
        firsts.append(starts[0])
    assert firsts == sorted(firsts)  # the row with the soonest time first
    total = int(re.search(r'id="slot-count">(\d+) free time', text)[1])
    shown = len(re.findall(r'data-slot="', text))
    more = sum(int(n) for n in re.findall(r"(\d+) more time", text))
    assert shown + more == total and shown < total  # nothing lost, and not one flat list


def test_more_narrows_to_that_clinician_and_place_by_day(client, patient):
    page, _ = _book_page(client, patient, patient.tenant)
    text = html.unescape(page.content.decode())
    link = re.search(r'class="more-times" id="more-\d+" href="([^"]+)">(\d+) more time', text)
    assert link, "no row with more times"

    narrowed = client.get(link[1])
    body = html.unescape(narrowed.content.decode())

    assert (
        narrowed.status_code == 200 and 'id="free-slots"' in body and 'id="back-to-first"' in body
    )
    assert len(re.findall(r'data-slot="', body)) == 3 + int(link[2])  # every time of that row


def test_the_clinics_time_is_said_once_and_a_patient_elsewhere_is_told_the_difference(
    client, patient
):
    client.cookies["tz"] = "Europe/London"
    page, _ = _book_page(client, patient, patient.tenant)
    text = html.unescape(page.content.decode())
    slot_id = re.search(r'data-slot="([^"]+)"', text)[1]
    start = Slot.objects.get(fhir_id=slot_id).start.astimezone(patient.tenant.zone)

    assert text.count('id="time-zone"') == 1
    assert f"Times are in the clinic's time zone, {CLINIC_TZ}. You are in Europe/London, " in text
    assert "hours ahead of the clinic" in text
    assert start.strftime("%a %-d %b, %H:%M") in text  # shown in the clinic's time
    client.cookies["tz"] = CLINIC_TZ
    same = html.unescape(_book_page(client, patient, patient.tenant)[0].content.decode())
    assert f"Times are in {CLINIC_TZ}." in same and "You are in" not in same


def test_the_confirmation_and_the_list_say_what_to_bring_and_how_to_cancel(client, patient):
    page, _ = _book_page(client, patient, patient.tenant)
    slot_id = re.search(r'data-slot="([^"]+)"', page.content.decode())[1]

    confirm = client.get(f"{_url(patient, 'book/confirm/')}?slot={slot_id}").content.decode()
    booked = client.post(
        _url(patient, "book/confirm/"), {"key": hidden(confirm, "key"), "reason": "Checkup"}
    )
    listed = client.get(booked["Location"]).content.decode()

    for text in (confirm, listed):
        assert 'id="what-to-bring"' in text and "photo ID" in text
        assert 'id="how-to-cancel"' in text and "24 hours before" in text


def test_a_clinician_books_for_the_patient_by_first_available_too(client, clinician):
    page, calls = _book_page(client, clinician, clinician.tenant)

    assert page.status_code == 200 and calls <= MAX_CALLS["book"]
    assert 'id="first-available"' in page.content.decode()
