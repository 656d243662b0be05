"""Schedule pieces that need no EHR: rows from Cerner's examples, time zones, tenant settings."""

import json
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.test import RequestFactory

from smartapp.clinical.appointment_rows import appointment_row
from smartapp.clinical.timezones import browser_zone, day_bounds
from smartapp.tenants.models import Tenant
from smartapp.tenants.services import TenantFileError, tenant_register
from tests.fakehttp import BASE, example

pytestmark = pytest.mark.django_db


def test_an_appointment_row_uses_cerners_participant_displays():
    row = appointment_row(example("r4_appointment_read.json"))

    assert (row.id, row.version, row.status_label) == ("4822366", "2", "Cancelled")
    assert row.patient == "Smart II, Nancy" and row.patient_id == "12724066"
    assert row.location == "Endoscopy" and row.service_type == "Surgery Rapid"
    assert row.reason == "I have a cramp" and not row.cancelable and not row.can_cancel
    assert row.refs == {}


def test_a_reference_without_a_display_is_marked_for_one_lookup():
    data = example("r4_appointment_read.json")
    data["participant"][0]["actor"].pop("display")

    row = appointment_row(data)

    assert row.refs == {"Location": ["32216049"]} and row.location == ""


@pytest.mark.parametrize(
    ("cookie", "zone"),
    [
        ("Europe/Paris", "Europe/Paris"),
        ("Not/AZone", "America/Chicago"),
        ("../../etc/passwd", "America/Chicago"),
        ("", "America/Chicago"),
        ("x" * 100, "America/Chicago"),
    ],
)
def test_the_browser_zone_is_checked_and_falls_back_to_the_tenants(cookie, zone):
    tenant = Tenant(slug="t", time_zone="America/Chicago")
    request = RequestFactory().get("/", HTTP_COOKIE=f"tz={cookie}")

    assert browser_zone(request=request, tenant=tenant).key == zone


def test_a_day_is_local_midnight_to_midnight_even_when_the_clocks_change():
    start, end = day_bounds(day=date(2026, 11, 1), zone=ZoneInfo("America/Chicago"))

    assert (end - start).total_seconds() == 25 * 3600
    assert start.isoformat() == "2026-11-01T05:00:00+00:00"


def _entry(**extra):
    return {
        "slug": "h",
        "name": "H",
        "ehr_tenant_id": "t1",
        "provider_fhir_base": BASE,
        **extra,
    }


def test_the_tenant_file_sets_the_time_zone_and_bookable_service_types(tmp_path, settings):
    types = [
        {
            "system": "https://fhir.cerner.com/t1/codeSet/14249",
            "code": "1",
            "display": "Office Visit",
        },
        {"system": "https://fhir.cerner.com/t1/codeSet/14249", "code": "2", "display": "Follow Up"},
    ]
    path = tmp_path / "tenants.json"
    path.write_text(
        json.dumps({"tenants": [_entry(time_zone="America/Chicago", service_types=types)]})
    )

    call_command("register_tenants", str(path))
    call_command("register_tenants", str(path))

    tenant = Tenant.objects.get(slug="h")
    assert tenant.time_zone == "America/Chicago"
    assert [(t.code, t.display) for t in tenant.service_types.all()] == [
        ("1", "Office Visit"),
        ("2", "Follow Up"),
    ]
    assert tenant.service_types.first().token == "https://fhir.cerner.com/t1/codeSet/14249|1"


def test_a_tenant_without_a_time_zone_uses_the_settings_one(settings):
    settings.TIME_ZONE = "Europe/London"

    tenant = tenant_register(entry=_entry())

    assert tenant.time_zone == "Europe/London" and tenant.zone.key == "Europe/London"


@pytest.mark.parametrize(
    "extra",
    [{"time_zone": "Mars/Olympus"}, {"service_types": [{"code": "1"}]}, {"service_types": "x"}],
)
def test_a_bad_time_zone_or_service_type_list_is_explained(extra):
    with pytest.raises(TenantFileError):
        tenant_register(entry=_entry(**extra))


def test_a_slot_range_is_split_into_parallel_windows_that_cover_it_exactly():
    from datetime import UTC, datetime, timedelta

    from smartapp.clinical.slots import MAX_WINDOWS, _windows

    start = datetime(2026, 11, 23, 6, tzinfo=UTC)
    week = _windows(start, start + timedelta(days=7))
    month = _windows(start, start + timedelta(days=31))

    assert len(week) == 7 and all(b - a == timedelta(days=1) for a, b in week)
    assert len(month) <= MAX_WINDOWS
    for windows, end in ((week, start + timedelta(days=7)), (month, start + timedelta(days=31))):
        assert windows[0][0] == start and windows[-1][1] == end
        assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))


def test_a_list_row_leaves_out_fields_of_the_wrong_shape():
    data = example("r4_appointment_read.json")
    data["start"] = "not a time"
    data["reasonCode"] = 5
    data["participant"].append({"actor": "Practitioner/1"})
    data["participant"].append({"actor": {"reference": "not a reference", "display": "X"}})

    row = appointment_row(data)

    assert row.start is None and row.reason == "" and row.location == "Endoscopy"
    assert row.end == appointment_row(example("r4_appointment_read.json")).end
