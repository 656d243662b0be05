"""Schedules and booking against the sandbox over real HTTP (live server): what each persona sees.

FHIR calls per page are counted by the audit events the gateway writes (one per call).
"""

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from smartapp.audit.models import AuditEvent
from smartapp.clinical.models import BookingRequest
from smartapp.launch.models import Launch
from smartapp.sandbox.models import Appointment, Patient, Practitioner, Slot
from smartapp.testing import launch_as_clinician, launch_as_patient
from tests.conftest import CLINIC_TZ, SANDBOX_TENANT_ID
from tests.journeys import app_page, hidden, slot_ids

pytestmark = pytest.mark.django_db(transaction=True)

# The book page searches each day of the week at once (one round trip, up to 8 parallel calls),
# then names the places in one Location search unless their names are cached.
MAX_CALLS = {"my_day": 3, "chart_appointments": 3, "my_appointments": 2, "book": 9, "confirm": 3}


@pytest.fixture
def clinic(tenant):
    """The sandbox tenant, registered from its tenant file in its clinics' time zone."""
    assert tenant.time_zone == CLINIC_TZ
    return tenant


def _first(model, **filters):
    return model.objects.filter(tenant_id=SANDBOX_TENANT_ID, **filters).order_by("fhir_id").first()


def _url(launch: Launch, page: str) -> str:
    return f"/l/{launch.public_id}/{page}"


def _today() -> datetime:
    return datetime.now(ZoneInfo(CLINIC_TZ))


def _day_bounds(day) -> tuple[datetime, datetime]:
    zone = ZoneInfo(CLINIC_TZ)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _service(clinic):
    return clinic.service_types.order_by("position").first()


def _book_page(client, launch: Launch, clinic, **extra: str):
    day = _today().date()
    params = {
        "service_type": _service(clinic).code,
        "start": day.isoformat(),
        "end": (day + timedelta(days=6)).isoformat(),
        **extra,
    }
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return app_page(client, f"{_url(launch, 'book/')}?{query}")


def _book(client, launch: Launch, slot_id: str, reason: str = "Sore throat for a week"):
    confirm = client.get(f"{_url(launch, 'book/confirm/')}?slot={slot_id}")
    assert confirm.status_code == 200, confirm.content[:500]
    key = hidden(confirm.content.decode(), "key")
    return client.post(_url(launch, "book/confirm/"), {"key": key, "reason": reason}), key


# Clinician: My day ---------------------------------------------------------------------------


def test_my_day_shows_the_first_clinicians_appointments_today_within_three_calls(client, clinician):
    start, end = _day_bounds(_today().date())
    expected = Appointment.objects.filter(
        tenant_id=SANDBOX_TENANT_ID,
        practitioner_fhir_id=clinician.user_id,
        start__gte=start,
        start__lt=end,
    ).exclude(status="proposed")

    page, calls = app_page(client, _url(clinician, "my-day/"))

    text = page.content.decode()
    assert page.status_code == 200 and "(today)" in text
    assert expected.exists(), "the sandbox seeds appointments today for the first clinician"
    for appointment in expected:
        assert f'id="appointment-{appointment.fhir_id}"' in text
        assert html.escape(appointment.resource["participant"][-1]["actor"]["display"]) in text
    assert calls <= MAX_CALLS["my_day"], calls


def test_my_day_moves_to_the_previous_and_next_day(client, clinician):
    today = _today().date()
    page = client.get(_url(clinician, "my-day/")).content.decode()
    assert f'href="?date={(today - timedelta(days=1)).isoformat()}"' in page
    assert f'href="?date={(today + timedelta(days=1)).isoformat()}"' in page

    tomorrow = today + timedelta(days=1)
    start, end = _day_bounds(tomorrow)
    next_page = client.get(f"{_url(clinician, 'my-day/')}?date={tomorrow.isoformat()}")

    text = next_page.content.decode()
    ids = Appointment.objects.filter(
        tenant_id=SANDBOX_TENANT_ID,
        practitioner_fhir_id=clinician.user_id,
        start__gte=start,
        start__lt=end,
    ).values_list("fhir_id", flat=True)
    assert next_page.status_code == 200 and tomorrow.strftime("%B") in text
    assert all(f'id="appointment-{i}"' in text for i in ids)
    if not ids:
        assert "No appointments on" in text


def test_my_day_says_clearly_when_a_day_has_no_appointments(client, clinician):
    quiet = _today().date() + timedelta(days=400)

    page = client.get(f"{_url(clinician, 'my-day/')}?date={quiet.isoformat()}")

    assert page.status_code == 200
    assert f"No appointments on {quiet.strftime('%A')} {quiet.day} {quiet.strftime('%b')}" in (
        page.content.decode()
    )


def test_my_day_rejects_a_date_that_is_not_one(client, clinician):
    page = client.get(f"{_url(clinician, 'my-day/')}?date=2024-02-31")

    assert page.status_code == 400 and b"Enter a date as YYYY-MM-DD" in page.content


# Clinician: chart appointments, book, cancel, reschedule --------------------------------------


def test_the_chart_lists_the_launched_patients_appointments_in_few_calls(client, clinician):
    mine = Appointment.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, patient_fhir_id=clinician.patient_id
    )
    others = Appointment.objects.filter(tenant_id=SANDBOX_TENANT_ID).exclude(
        patient_fhir_id=clinician.patient_id
    )

    page, calls = app_page(client, _url(clinician, "chart/appointments/"))

    text = page.content.decode()
    assert page.status_code == 200 and 'id="patient-banner"' in text
    assert 'id="upcoming"' in text and 'id="past"' in text
    year = timedelta(days=365)
    now = datetime.now(UTC)
    for appointment in mine.filter(start__gte=now - year, start__lt=now + year):
        assert f'id="appointment-{appointment.fhir_id}"' in text
    assert not any(f'id="appointment-{a.fhir_id}"' in text for a in others[:50])
    assert calls <= MAX_CALLS["chart_appointments"], calls


def test_a_clinician_books_cancels_and_reschedules_for_the_launched_patient(client, clinician):
    clinic = clinician.tenant
    slots = slot_ids(_book_page(client, clinician, clinic)[0].content.decode())
    assert len(slots) >= 2

    booked, _ = _book(client, clinician, slots[0], reason="Follow-up of blood pressure")

    assert booked.status_code == 303 and "/chart/appointments/" in booked["Location"]
    appointment = Appointment.objects.get(
        tenant_id=SANDBOX_TENANT_ID, slot__fhir_id=slots[0], status="booked"
    )
    assert appointment.patient_fhir_id == clinician.patient_id and appointment.status == "booked"
    write = AuditEvent.objects.get(action="write", what__startswith="Appointment/")
    assert write.who == clinician.user_reference and write.patient_id == clinician.patient_id

    move_page = client.get(_url(clinician, f"appointments/{appointment.fhir_id}/reschedule/"))
    assert move_page.status_code == 200
    moved = client.post(
        _url(clinician, f"appointments/{appointment.fhir_id}/reschedule/"),
        {"version": hidden(move_page.content.decode(), "version"), "slot": slots[1]},
    )
    appointment.refresh_from_db()
    assert moved.status_code == 303 and appointment.slot.fhir_id == slots[1]
    assert Slot.objects.get(tenant_id=SANDBOX_TENANT_ID, fhir_id=slots[0]).status == "free"

    cancel_page = client.get(_url(clinician, f"appointments/{appointment.fhir_id}/cancel/"))
    cancelled = client.post(
        _url(clinician, f"appointments/{appointment.fhir_id}/cancel/"),
        {"version": hidden(cancel_page.content.decode(), "version"), "reason": "prov"},
    )
    appointment.refresh_from_db()
    assert cancelled.status_code == 303 and appointment.status == "cancelled"
    listed = client.get(cancelled["Location"]).content.decode()
    assert "Cancelled. The time is free" in listed


# Patient: my appointments, book, cancel --------------------------------------------------------


def test_a_patient_sees_their_own_appointments_only(client, patient):
    theirs = Appointment.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, patient_fhir_id=patient.patient_id
    ).exclude(status="proposed")
    others = Appointment.objects.filter(tenant_id=SANDBOX_TENANT_ID).exclude(
        patient_fhir_id=patient.patient_id
    )

    page, calls = app_page(client, _url(patient, "appointments/"))

    text = page.content.decode()
    assert page.status_code == 200 and "Times are in America/Chicago" in text
    now, year = datetime.now(UTC), timedelta(days=365)
    for appointment in theirs.filter(start__gte=now - year, start__lt=now + year):
        assert f'id="appointment-{appointment.fhir_id}"' in text
    assert not any(f'id="appointment-{a.fhir_id}"' in text for a in others[:50])
    assert 'id="nav-book"' in text and 'id="nav-home"' in text
    assert calls <= MAX_CALLS["my_appointments"], calls


def test_a_patient_books_a_free_slot_and_everyone_sees_it_then_cancels_it(client, patient):
    clinic = patient.tenant
    search, search_calls = _book_page(client, patient, clinic)
    slots = slot_ids(search.content.decode())
    assert search.status_code == 200 and slots, search.content[:500]
    assert search_calls <= MAX_CALLS["book"], search_calls
    chosen = slots[0]
    confirm, confirm_calls = app_page(client, f"{_url(patient, 'book/confirm/')}?slot={chosen}")
    assert confirm_calls <= MAX_CALLS["confirm"], confirm_calls

    booked = client.post(
        _url(patient, "book/confirm/"),
        {"key": hidden(confirm.content.decode(), "key"), "reason": "Rash on my <b>arm</b>"},
    )

    assert booked.status_code == 303, booked.content[:500]
    appointment = Appointment.objects.get(
        tenant_id=SANDBOX_TENANT_ID, slot__fhir_id=chosen, status="booked"
    )
    assert appointment.patient_fhir_id == patient.patient_id
    mine = client.get(booked["Location"]).content.decode()
    assert f'id="appointment-{appointment.fhir_id}"' in mine and "Booked." in mine
    assert "Rash on my &lt;b&gt;arm&lt;/b&gt;" in mine
    assert chosen not in slot_ids(_book_page(client, patient, clinic)[0].content.decode())
    write = AuditEvent.objects.get(action="write", what=f"Appointment/{appointment.fhir_id} create")
    assert write.who == "system" and write.patient_id == patient.patient_id
    assert write.reason == f"booked on behalf of patient via patient launch {patient.public_id}"

    day = appointment.start.astimezone(ZoneInfo(CLINIC_TZ)).date().isoformat()
    other = type(client)()
    launch = launch_as_clinician(other, patient=patient.patient_id).launch
    if appointment.practitioner_fhir_id == launch.user_id:
        day_page = other.get(f"{_url(launch, 'my-day/')}?date={day}").content.decode()
        assert f'id="appointment-{appointment.fhir_id}"' in day_page

    cancel_url = _url(patient, f"appointments/{appointment.fhir_id}/cancel/")
    version = hidden(client.get(cancel_url).content.decode(), "version")
    cancelled = client.post(cancel_url, {"version": version, "reason": "pat-fb"})

    appointment.refresh_from_db()
    assert cancelled.status_code == 303 and appointment.status == "cancelled"
    assert Slot.objects.get(tenant_id=SANDBOX_TENANT_ID, fhir_id=chosen).status == "free"
    cancel_write = AuditEvent.objects.get(
        action="write", what=f"Appointment/{appointment.fhir_id} patch"
    )
    assert cancel_write.reason.startswith("cancelled on behalf of patient via patient launch")


def test_a_slot_taken_meanwhile_gives_a_clear_message_and_fresh_slots(
    client, patient, system_client
):
    clinic = patient.tenant
    slots = slot_ids(_book_page(client, patient, clinic)[0].content.decode())
    confirm = client.get(f"{_url(patient, 'book/confirm/')}?slot={slots[0]}")
    someone_else = _first(Patient, fhir_id__gt=patient.patient_id)
    system_client.book(slots[0], someone_else.fhir_id)  # fails unless Millennium said 201

    refused = client.post(
        _url(patient, "book/confirm/"),
        {"key": hidden(confirm.content.decode(), "key"), "reason": "Knee pain"},
        follow=True,
    )

    text = refused.content.decode()
    assert refused.status_code == 200 and "taken a moment ago" in text
    assert slots[0] not in slot_ids(text) and slot_ids(text)
    assert not Appointment.objects.filter(
        patient_fhir_id=patient.patient_id, slot__fhir_id=slots[0]
    )


def test_a_double_submitted_confirmation_books_once(client, patient):
    slots = slot_ids(_book_page(client, patient, patient.tenant)[0].content.decode())
    first, key = _book(client, patient, slots[0])

    again = client.post(_url(patient, "book/confirm/"), {"key": key, "reason": "Sore throat"})

    assert first.status_code == again.status_code == 303
    assert first["Location"] == again["Location"]
    assert Appointment.objects.filter(slot__fhir_id=slots[0], status="booked").count() == 1
    assert BookingRequest.objects.get(key=key).state == "booked"
    assert AuditEvent.objects.filter(action="write").count() == 1


def test_a_stale_cancel_says_the_appointment_changed(client, patient):
    slots = slot_ids(_book_page(client, patient, patient.tenant)[0].content.decode())
    _book(client, patient, slots[0])
    appointment = Appointment.objects.get(slot__fhir_id=slots[0], status="booked")
    cancel_url = _url(patient, f"appointments/{appointment.fhir_id}/cancel/")
    version = hidden(client.get(cancel_url).content.decode(), "version")
    Appointment.objects.filter(pk=appointment.pk).update(version=appointment.version + 1)

    stale = client.post(cancel_url, {"version": version, "reason": "pat"}, follow=True)

    assert stale.status_code == 200 and b"changed since you opened the page" in stale.content
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_another_patients_appointment_cannot_be_cancelled(client, patient, other_patient):
    other = Appointment.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, status="booked", patient_fhir_id=other_patient.fhir_id
    )[0]
    url = _url(patient, f"appointments/{other.fhir_id}/cancel/")

    assert client.get(url).status_code == 404
    assert client.post(url, {"version": str(other.version), "reason": "pat"}).status_code == 404
    other.refresh_from_db()
    assert other.status == "booked"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"service_type": "nope"}, "Choose a type of visit"),
        ({"start": "2024-13-01"}, "Enter a date"),
        ({"end": "1999-01-01"}, "on or after the first day"),
        ({"end": "+40"}, "at most 31 days"),
        ({"start": "-3"}, "today or a later day"),
    ],
)
def test_bad_search_input_gets_a_400_with_a_message(client, patient, params, message):
    today = _today().date()
    values = {"service_type": _service(patient.tenant).code, "start": today.isoformat()}
    values["end"] = (today + timedelta(days=3)).isoformat()
    for key, value in params.items():
        if value.startswith(("+", "-")):
            value = (today + timedelta(days=int(value))).isoformat()
        values[key] = value
    query = "&".join(f"{k}={v}" for k, v in values.items())

    page = client.get(f"{_url(patient, 'book/')}?{query}")

    assert page.status_code == 400 and message in page.content.decode()


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "Please say briefly why"), ("x" * 256, "255 characters or fewer")],
)
def test_a_missing_or_too_long_reason_gets_a_400(client, patient, reason, message):
    slots = slot_ids(_book_page(client, patient, patient.tenant)[0].content.decode())
    confirm = client.get(f"{_url(patient, 'book/confirm/')}?slot={slots[0]}")

    page = client.post(
        _url(patient, "book/confirm/"),
        {"key": hidden(confirm.content.decode(), "key"), "reason": reason},
    )

    assert page.status_code == 400 and message in page.content.decode()
    assert not Appointment.objects.filter(slot__fhir_id=slots[0], status="booked").exists()


def test_a_forged_booking_key_is_refused(client, patient):
    page = client.post(_url(patient, "book/confirm/"), {"key": "forged", "reason": "x"})

    assert page.status_code == 400 and b"expired" in page.content


def test_the_patient_id_never_comes_from_the_form(client, patient):
    slots = slot_ids(_book_page(client, patient, patient.tenant)[0].content.decode())
    confirm = client.get(f"{_url(patient, 'book/confirm/')}?slot={slots[0]}")
    other = _first(Patient, fhir_id__gt=patient.patient_id)

    client.post(
        _url(patient, "book/confirm/"),
        {"key": hidden(confirm.content.decode(), "key"), "reason": "x", "patient": other.fhir_id},
    )

    assert (
        Appointment.objects.get(slot__fhir_id=slots[0], status="booked").patient_fhir_id
        == patient.patient_id
    )


# Access rules ----------------------------------------------------------------------------------

PATIENT_PAGES = ["appointments/", "book/", "book/confirm/", "appointments/1/cancel/"]
CLINICIAN_PAGES = ["my-day/", "chart/appointments/", "appointments/1/reschedule/"]


@pytest.mark.parametrize("page", PATIENT_PAGES + CLINICIAN_PAGES)
def test_schedule_pages_without_a_session_say_so_with_a_401(client, patient, page):
    from django.test import Client

    assert Client().get(_url(patient, page)).status_code == 401


@pytest.mark.parametrize(
    ("page", "method"),
    [
        ("appointments/", "post"),
        ("book/", "post"),
        ("book/confirm/", "put"),
        ("appointments/1/cancel/", "delete"),
    ],
)
def test_schedule_pages_refuse_other_methods(client, patient, page, method):
    assert getattr(client, method)(_url(patient, page)).status_code == 405


@pytest.mark.parametrize("page", CLINICIAN_PAGES)
def test_a_patient_has_no_clinician_pages(client, patient, page):
    assert client.get(_url(patient, page)).status_code == 404


def test_my_day_counts_its_calls_whatever_the_number_of_appointments(client, clinician):
    busiest = max(
        range(-3, 4),
        key=lambda d: Appointment.objects.filter(
            practitioner_fhir_id=clinician.user_id,
            start__gte=_day_bounds(_today().date() + timedelta(days=d))[0],
            start__lt=_day_bounds(_today().date() + timedelta(days=d))[1],
        ).count(),
    )
    day = (_today().date() + timedelta(days=busiest)).isoformat()

    page, calls = app_page(client, f"{_url(clinician, 'my-day/')}?date={day}")

    rows = len(re.findall(r'class="appointment', page.content.decode()))
    assert page.status_code == 200 and rows >= 1 and calls <= MAX_CALLS["my_day"]


def test_the_clinician_names_on_my_day_come_from_participant_displays(client, clinician):
    _, calls = app_page(client, _url(clinician, "my-day/"))

    searches = AuditEvent.objects.filter(what__startswith="Practitioner?").count()
    assert calls == 1 and searches == 0


def test_first_practitioner_is_the_launched_clinician(clinician):
    assert clinician.user_id == _first(Practitioner).fhir_id


def test_fhir_calls_per_page_stay_within_their_bounds(client, clinic, figure):
    """Prints the measured calls per page (`pytest -s`); the bounds hold whatever the data."""
    from django.test import Client

    doctor = Client()
    clinician = launch_as_clinician(doctor).launch
    patient = launch_as_patient(client, tenant=clinic.slug).launch
    slots = slot_ids(_book_page(client, patient, clinic)[0].content.decode())
    confirm_url = f"{_url(patient, 'book/confirm/')}?slot={slots[0]}"
    measured = {
        "my_day": app_page(doctor, _url(clinician, "my-day/"))[1],
        "chart_appointments": app_page(doctor, _url(clinician, "chart/appointments/"))[1],
        "clinician book (7 days)": _book_page(doctor, clinician, clinic)[1],
        "my_appointments": app_page(client, _url(patient, "appointments/"))[1],
        "book (7 days)": _book_page(client, patient, clinic)[1],
        "book (7 days, one clinician)": _book_page(
            client, patient, clinic, clinician=clinician.user_id
        )[1],
        "confirm": app_page(client, confirm_url)[1],
    }
    confirm = client.get(confirm_url)
    before = AuditEvent.objects.count()
    booked = client.post(
        _url(patient, "book/confirm/"),
        {"key": hidden(confirm.content.decode(), "key"), "reason": "x"},
    )
    measured["book POST"] = AuditEvent.objects.count() - before
    appointment = Appointment.objects.get(slot__fhir_id=slots[0], status="booked")
    cancel_url = _url(patient, f"appointments/{appointment.fhir_id}/cancel/")
    cancel_page, measured["cancel page"] = app_page(client, cancel_url)
    before = AuditEvent.objects.count()
    client.post(
        cancel_url, {"version": hidden(cancel_page.content.decode(), "version"), "reason": "pat"}
    )
    measured["cancel POST"] = AuditEvent.objects.count() - before

    figure(f"FHIR calls per page: {measured}")
    assert booked.status_code == 303
    assert measured["my_day"] <= 3 and measured["chart_appointments"] <= 3
    # A week of slots: seven day-searches at once; the place names are cached by now.
    assert measured["my_appointments"] <= 2 and measured["book (7 days)"] <= 7
    assert measured["confirm"] <= 3 and measured["book POST"] == 1
    assert measured["cancel page"] == 1 and measured["cancel POST"] == 2


def test_the_book_page_names_places_from_cache_the_second_time(client, patient):
    _book_page(client, patient, patient.tenant)
    before = AuditEvent.objects.filter(what__startswith="Location?").count()

    again, _ = _book_page(client, patient, patient.tenant)

    assert again.status_code == 200
    assert AuditEvent.objects.filter(what__startswith="Location?").count() == before
    assert "Baseline West Family Medicine" in again.content.decode()
