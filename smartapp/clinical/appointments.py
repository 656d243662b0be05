"""Appointment reads for the clinician's day, the chart and the patient's list.

Names come from Cerner's participant displays; only references without one are looked up, all
of a kind in one `_id=a,b,c` search, the kinds in parallel: never one call per row.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.utils import timezone
from fhirclient.models.fhirinstant import FHIRInstant
from fhirclient.models.resource import Resource

from smartapp.clinical.timezones import day_bounds, fhir_instant
from smartapp.fhir.gateway import FhirGateway, fetch_parallel
from smartapp.fhir.presentation import display_name
from smartapp.fhir.references import BadReference, Reference, parse_reference
from smartapp.launch.access import gateway_for
from smartapp.launch.models import Launch

EXT = "https://fhir-ehr.cerner.com/r4/StructureDefinition/"
PAGE_SIZE = 100
NAMED_TYPES = ("Patient", "Practitioner", "Location")
STATUS_LABELS = {
    "proposed": "Requested",
    "pending": "Pending",
    "booked": "Booked",
    "arrived": "Arrived",
    "checked-in": "Checked in",
    "fulfilled": "Completed",
    "cancelled": "Cancelled",
    "noshow": "Did not attend",
    "entered-in-error": "Entered in error",
    "waitlist": "Wait list",
}
ACTIVE = {"proposed", "pending", "booked", "arrived", "checked-in", "waitlist"}


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str


@dataclass
class AppointmentRow:
    id: str
    version: str
    status: str
    start: datetime | None
    end: datetime | None
    service_type: str
    service_coding: Coding | None
    reason: str
    patient_id: str = ""
    patient: str = ""
    clinicians: list[str] = field(default_factory=list)
    practitioners: dict[str, str] = field(default_factory=dict)  # id → name ("" until known)
    location: str = ""
    cancelable: bool = True
    reschedulable: bool = True
    refs: dict[str, list[str]] = field(default_factory=dict)  # type → ids lacking a display

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.capitalize())

    @property
    def clinician(self) -> str:
        return ", ".join(self.clinicians)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def can_cancel(self) -> bool:
        return self.is_active and self.cancelable and self.is_future

    @property
    def can_reschedule(self) -> bool:
        return self.is_active and self.reschedulable and self.is_future

    @property
    def is_future(self) -> bool:
        return self.start is not None and self.start > timezone.now()


def _extension(resource: Resource, name: str) -> object:
    for ext in getattr(resource, "extension", None) or []:
        if ext.url == EXT + name:
            return ext.valueBoolean if ext.valueBoolean is not None else ext.valueString
    return None


def _service(resource: Resource) -> tuple[str, Coding | None]:
    concepts = getattr(resource, "serviceType", None) or []
    if not concepts:
        return "", None
    concept = concepts[0]
    codings = [c for c in concept.coding or [] if c.system and c.code]
    first = codings[0] if codings else None
    text = concept.text or (first.display if first and first.display else "")
    coding = Coding(first.system, first.code, first.display or text) if first else None
    return text, coding


def _instant(value: object) -> datetime | None:
    return getattr(value, "datetime", None)


def appointment_row(appointment: Resource) -> AppointmentRow:
    """The plain-words view of one Appointment (names filled from participant displays)."""
    text, coding = _service(appointment)
    reasons = appointment.reasonCode or []
    row = AppointmentRow(
        id=str(appointment.id),
        version=str(getattr(appointment.meta, "versionId", "") or ""),
        status=str(appointment.status or ""),
        start=_instant(appointment.start),
        end=_instant(appointment.end),
        service_type=text,
        service_coding=coding,
        reason=(reasons[0].text or "") if reasons else "",
        cancelable=_extension(appointment, "is-cancelable") is not False,
        reschedulable=_extension(appointment, "is-reschedulable") is not False,
    )
    for participant in appointment.participant or []:
        _add_participant(row, participant.actor)
    return row


def _add_participant(row: AppointmentRow, actor: Resource | None) -> None:
    if actor is None:
        return
    _add_actor(row, actor.reference, actor.display)


def _add_actor(row: AppointmentRow, reference: object, display: object) -> None:
    if not reference or not isinstance(reference, str):
        return
    try:
        ref = _reference(reference)
    except BadReference:
        return
    actor_display = display if isinstance(display, str) else ""
    if ref.resource_type not in NAMED_TYPES:
        return
    if ref.resource_type == "Patient":
        row.patient_id = ref.resource_id
    elif ref.resource_type == "Practitioner":
        row.practitioners[ref.resource_id] = actor_display
    name = actor_display
    if not name:
        row.refs.setdefault(ref.resource_type, []).append(ref.resource_id)
    _set_name(row, ref.resource_type, name)


@lru_cache(maxsize=4096)
def _reference(value: str) -> Reference:
    """`parse_reference`, remembered: a day's rows name the same few people and places."""
    return parse_reference(value)


# Reading list rows straight from the search's JSON: a fhirclient model per Appointment cost more
# than the rest of a page of 100. `appointment_row` (models) stays for single reads; both give the
# same row, and a field of the wrong shape is left out, as the lenient model parse does.


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _json_extension(data: dict[str, Any], name: str) -> object:
    for ext in _dicts(data.get("extension")):
        if ext.get("url") == EXT + name:
            boolean = ext.get("valueBoolean")
            return boolean if isinstance(boolean, bool) else _text(ext.get("valueString")) or None
    return None


def _json_service(data: dict[str, Any]) -> tuple[str, Coding | None]:
    concepts = _dicts(data.get("serviceType"))
    if not concepts:
        return "", None
    concept = concepts[0]
    codings = [
        c for c in _dicts(concept.get("coding")) if _text(c.get("system")) and _text(c.get("code"))
    ]
    first = codings[0] if codings else None
    first_display = _text(first.get("display")) if first else ""
    text = _text(concept.get("text")) or first_display
    coding = Coding(first["system"], first["code"], first_display or text) if first else None
    return text, coding


def _json_instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return FHIRInstant(value).datetime
    except (TypeError, ValueError):
        return None


def appointment_row_from_json(data: dict[str, Any]) -> AppointmentRow:
    """`appointment_row` for an Appointment's JSON (a search entry), without a model."""
    text, coding = _json_service(data)
    reasons = _dicts(data.get("reasonCode"))
    meta = data.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    row = AppointmentRow(
        id=str(data.get("id")),
        version=_text(version),
        status=_text(data.get("status")),
        start=_json_instant(data.get("start")),
        end=_json_instant(data.get("end")),
        service_type=text,
        service_coding=coding,
        reason=_text(reasons[0].get("text")) if reasons else "",
        cancelable=_json_extension(data, "is-cancelable") is not False,
        reschedulable=_json_extension(data, "is-reschedulable") is not False,
    )
    for participant in _dicts(data.get("participant")):
        actor = participant.get("actor")
        if isinstance(actor, dict):
            _add_actor(row, actor.get("reference"), actor.get("display"))
    return row


def _set_name(row: AppointmentRow, resource_type: str, name: str) -> None:
    if resource_type == "Patient":
        row.patient = row.patient or name
    elif resource_type == "Practitioner":
        row.clinicians.append(name)
    elif resource_type == "Location":
        row.location = row.location or name


def _resource_name(resource: Resource) -> str:
    if resource.resource_type == "Location":
        return str(getattr(resource, "name", "") or "")
    return display_name(resource)


# Staff and places change rarely and are not patient data, so their names may be cached.
CACHEABLE_NAMES = {"Practitioner", "Location"}
NAME_CACHE_SECONDS = 600


def _name_key(gateway: FhirGateway, kind: str, fhir_id: str) -> str:
    return (
        "fhir-name:" + hashlib.sha256(f"{gateway.base_url}|{kind}|{fhir_id}".encode()).hexdigest()
    )


def _cached_names(gateway: FhirGateway, wanted: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    keys = {
        _name_key(gateway, kind, i): (kind, i)
        for kind, ids in wanted.items()
        if kind in CACHEABLE_NAMES
        for i in ids
    }
    return {keys[key]: name for key, name in cache.get_many(list(keys)).items()}


def names_by_reference(
    *, gateway: FhirGateway, wanted: dict[str, set[str]]
) -> dict[tuple[str, str], str]:
    """Names for references without a display: cached ones, then one `_id=a,b,c` search per
    resource type (in parallel) for the rest."""
    names = _cached_names(gateway, wanted)
    missing = {kind: {i for i in ids if (kind, i) not in names} for kind, ids in wanted.items()}
    calls = {
        kind: (
            lambda kind=kind, ids=ids: gateway.search(
                kind, {"_id": ",".join(sorted(ids)), "_count": len(ids)}, all_pages=True
            )
        )
        for kind, ids in missing.items()
        if ids
    }
    fetched: dict[tuple[str, str], str] = {}
    for kind, result in fetch_parallel(calls).items():
        for resource in result.resources:
            fetched[(kind, str(resource.id))] = _resource_name(resource)
    cache.set_many(
        {
            _name_key(gateway, k, i): n
            for (k, i), n in fetched.items()
            if k in CACHEABLE_NAMES and n
        },
        NAME_CACHE_SECONDS,
    )
    return {**names, **fetched}


def references_wanted(rows: Iterable[Any]) -> dict[str, set[str]]:
    """The ids, by resource type, of every row's references that came without a display."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        for kind, ids in row.refs.items():
            wanted.setdefault(kind, set()).update(ids)
    return wanted


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
                _set_name(row, kind, names.get((kind, resource_id), ""))
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
    rows = [
        appointment_row_from_json(a)
        for a in result.resources
        if a.get("resourceType") == "Appointment"
    ]
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
