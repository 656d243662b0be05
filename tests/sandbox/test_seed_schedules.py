"""What the scheduling seed promises the demo, the app's tests and the benchmarks."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from smartapp.sandbox import seed
from smartapp.sandbox.models import Appointment, Location, Patient, Slot

pytestmark = pytest.mark.django_db(transaction=True)
TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"


def _today_bounds() -> tuple[datetime, datetime]:
    zone = ZoneInfo("America/Chicago")
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight, midnight + timedelta(days=1)


def _first_clinician_today():
    begin, end = _today_bounds()
    return Appointment.objects.filter(
        tenant_id=TENANT, practitioner_fhir_id="4122622", start__gte=begin, start__lt=end
    )


def test_the_tenant_file_lists_the_four_service_types(sandbox_tenants_file):
    entry = json.loads(sandbox_tenants_file.read_text())["tenants"][0]
    system = f"https://fhir.cerner.com/{TENANT}/codeSet/14249"
    assert [t["display"] for t in entry["service_types"]] == [
        "Office Visit",
        "Follow Up",
        "New Patient",
        "Video Visit",
    ]
    assert {t["system"] for t in entry["service_types"]} == {system}
    assert {"slug", "clients", "provider_fhir_base", "patient_fhir_base"} <= set(entry)


def test_the_first_clinician_has_seven_active_appointments_today(sandbox_tenants_file):
    today = _first_clinician_today()
    assert today.exclude(status="cancelled").count() == 7
    assert today.filter(status="cancelled").count() == 1
    assert today.order_by("start").first().patient_fhir_id == "12724066"


def test_every_patient_has_upcoming_and_past_appointments(sandbox_tenants_file):
    now = timezone.now()
    for patient in Patient.objects.filter(tenant_id=TENANT).current():
        mine = Appointment.objects.filter(tenant_id=TENANT, patient_fhir_id=patient.fhir_id)
        assert mine.filter(start__gt=now, status="booked").exists(), patient.fhir_id
        assert mine.filter(start__lt=now, status="fulfilled").exists(), patient.fhir_id


def test_slots_span_thirty_days_in_clinic_hours(sandbox_tenants_file):
    zone = ZoneInfo("America/Chicago")
    begin, _ = _today_bounds()
    free = Slot.objects.filter(tenant_id=TENANT, status="free")
    assert free.filter(start__gte=begin + timedelta(days=25)).exists()
    assert not free.filter(start__gte=begin + timedelta(days=30)).exists()
    hours = {s.astimezone(zone).hour for s in free.values_list("start", flat=True)[:500]}
    assert min(hours) >= 8 and max(hours) < 17
    assert 3 <= Location.objects.filter(tenant_id=TENANT).count() <= 5


def test_busy_slots_are_exactly_the_active_appointments_slots(sandbox_tenants_file):
    active = Appointment.objects.filter(tenant_id=TENANT).exclude(status="cancelled")
    busy = Slot.objects.filter(tenant_id=TENANT, status="busy")
    assert set(active.values_list("slot_id", flat=True)) == set(busy.values_list("pk", flat=True))


def test_day_appointments_gives_the_first_clinician_that_many_today(live_server):
    seed.seed(base_url=live_server.url, app_url=live_server.url, size=2, day_appointments=40)
    today = _first_clinician_today()
    assert today.exclude(status="cancelled").count() == 40
    assert len({a.slot_id for a in today}) == 41


def test_seeding_twice_gives_the_same_ids(live_server):
    def snapshot():
        seed.seed(base_url=live_server.url, app_url=live_server.url, size=3)
        rows = Appointment.objects.order_by("fhir_id")
        return [(a.fhir_id, a.patient_fhir_id, a.slot.fhir_id, a.status) for a in rows]

    assert snapshot() == snapshot()
