"""Appointment reads for the clinician's day, the chart and the patient's list.

Names come from Cerner's participant displays; only references without one are looked up, all
of a kind in one `_id=a,b,c` search, the kinds in parallel: never one call per row.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from smartapp.clinical.appointment_rows import AppointmentRow, appointment_row, set_name
from smartapp.clinical.names import names_by_reference, references_wanted
from smartapp.clinical.timezones import day_bounds, fhir_instant
from smartapp.fhir.gateway import FhirGateway
from smartapp.launch.access import gateway_for
from smartapp.launch.models import Launch

PAGE_SIZE = 100


def fill_missing_names(*, gateway: FhirGateway, rows: Iterable[AppointmentRow]) -> None:
    """Replaces the blank names of references that came without a display."""
    rows = list(rows)
    wanted = references_wanted(rows)
    if not wanted:
        return
    names = names_by_reference(gateway=gateway, wanted=wanted)
    for row in rows:
        if "Practitioner" in row.refs:
            row.clinicians = [n for n in row.clinicians if n]
        for kind, ids in row.refs.items():
            for resource_id in ids:
                set_name(row, kind, names.get((kind, resource_id), ""))
                if kind == "Practitioner":
                    row.practitioners[resource_id] = names.get((kind, resource_id), "")


def appointment_search(
    *, gateway: FhirGateway, by: str, value: str, start: datetime, end: datetime
) -> list[AppointmentRow]:
    """`Appointment?{by}={value}&date=ge…&date=lt…`, every page, sorted by start."""
    params = {
        by: value,
        "date": [f"ge{fhir_instant(start)}", f"lt{fhir_instant(end)}"],
        "_count": PAGE_SIZE,
    }
    result = gateway.search_json("Appointment", params, all_pages=True)
    rows = [appointment_row(a) for a in result.resources if a.get("resourceType") == "Appointment"]
    return sorted(rows, key=lambda r: (r.start is None, r.start or timezone.now()))


@dataclass
class DayAppointments:
    day: date
    rows: list[AppointmentRow]

    @property
    def previous(self) -> date:
        return self.day - timedelta(days=1)

    @property
    def next(self) -> date:
        return self.day + timedelta(days=1)


def practitioner_day(*, launch: Launch, day: date, zone: ZoneInfo) -> DayAppointments:
    """The launched clinician's appointments on one local day (in `zone`)."""
    gateway = gateway_for(launch=launch)
    start, end = day_bounds(day=day, zone=zone)
    rows = appointment_search(
        gateway=gateway, by="practitioner", value=launch.user_id, start=start, end=end
    )
    fill_missing_names(gateway=gateway, rows=rows)
    return DayAppointments(day=day, rows=rows)


@dataclass
class PatientAppointments:
    upcoming: list[AppointmentRow]
    past: list[AppointmentRow]


PAST_WINDOW = timedelta(days=365)
FUTURE_WINDOW = timedelta(days=365)


def patient_appointments(*, launch: Launch) -> PatientAppointments:
    """The launch's patient's appointments from a year ago to a year ahead: upcoming, then past."""
    gateway = gateway_for(launch=launch)
    now = timezone.now()
    rows = appointment_search(
        gateway=gateway,
        by="patient",
        value=launch.patient_id,
        start=now - PAST_WINDOW,
        end=now + FUTURE_WINDOW,
    )
    # A search by patient must only ever show that patient's appointments.
    rows = [r for r in rows if r.patient_id in ("", launch.patient_id)]
    fill_missing_names(gateway=gateway, rows=rows)
    upcoming = [r for r in rows if r.start and r.start >= now]
    past = [r for r in rows if not (r.start and r.start >= now)]
    return PatientAppointments(upcoming=upcoming, past=list(reversed(past)))
