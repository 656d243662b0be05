"""Free slots: Slot searches (with their Schedules included), then clinician and place names.

Millennium returns only free slots, sorted by start, and pages must be followed one after
another. So a range is split into at most MAX_WINDOWS windows (a day each for a week) searched
in parallel: the page costs one round trip instead of one per page. Clinicians come from the
included Schedules' actors (their display when Cerner gives one); places from the slots'
`scheduling-location` extension, named by one `Location?_id=a,b,c` search (names are cached).
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from itertools import groupby
from zoneinfo import ZoneInfo

from fhirclient.models.resource import Resource

from smartapp.clinical.appointment_rows import EXT
from smartapp.clinical.names import names_by_reference
from smartapp.clinical.timezones import fhir_instant
from smartapp.fhir.gateway import FhirGateway, SearchResult, dedupe_resources, fetch_parallel
from smartapp.fhir.presentation import instant
from smartapp.fhir.references import BadReference, fhir_id, parse_reference

PAGE_SIZE = 100
MAX_WINDOWS = 8  # parallel searches per page at most
MAX_PAGES_PER_WINDOW = 2  # 200 times a day is more than a person reads; filters find the rest


@dataclass
class SlotRow:
    id: str
    start: datetime | None
    end: datetime | None
    service_type: str
    service_code: str = ""
    schedule_id: str = ""
    clinician_ids: list[str] = field(default_factory=list)
    clinician: str = ""
    location_id: str = ""
    location: str = ""
    resources: list[str] = field(default_factory=list)  # rooms and equipment, by display only

    @property
    def with_whom(self) -> str:
        """The clinicians, else the room or equipment the time is with ("" for anyone)."""
        return self.clinician or ", ".join(self.resources)


@dataclass
class SlotDay:
    day: date
    slots: list[SlotRow]


@dataclass
class FreeSlots:
    days: list[SlotDay]
    clinicians: list[tuple[str, str]]  # (id, name) seen in these slots, for the filter
    locations: list[tuple[str, str]]
    more: bool  # the EHR has more slots than were fetched

    @property
    def count(self) -> int:
        return sum(len(d.slots) for d in self.days)


FIRST_SHOWN = 3  # times a first-available row shows before "more"


@dataclass
class FirstAvailable:
    """One clinician at one place: their free times, earliest first."""

    clinician_id: str
    with_whom: str
    location_id: str
    location: str
    slots: list[SlotRow]

    @property
    def first(self) -> list[SlotRow]:
        return self.slots[:FIRST_SHOWN]

    @property
    def more(self) -> int:
        return max(len(self.slots) - FIRST_SHOWN, 0)


def first_available(free: FreeSlots) -> list[FirstAvailable]:
    """The free times as a row per clinician and place, the row with the earliest time first."""
    rows: dict[tuple[str, str, str], FirstAvailable] = {}
    for day in free.days:
        for slot in day.slots:
            clinician_id = slot.clinician_ids[0] if slot.clinician_ids else ""
            key = (clinician_id, slot.with_whom, slot.location_id)
            row = rows.setdefault(
                key,
                FirstAvailable(clinician_id, slot.with_whom, slot.location_id, slot.location, []),
            )
            row.slots.append(slot)
    return list(rows.values())  # the days are in time order, so the rows are too


def _ref_id(reference: str | None, resource_type: str) -> str:
    try:
        ref = parse_reference(reference or "")
    except BadReference:
        return ""
    return ref.resource_id if ref.resource_type == resource_type else ""


def _slot_row(slot: Resource) -> SlotRow:
    concepts = slot.serviceType or []
    text, code = "", ""
    if concepts:
        codings = concepts[0].coding or []
        text = concepts[0].text or next((c.display for c in codings if c.display), "")
        code = next((c.code for c in codings if c.code), "")
    location_id = ""
    for ext in slot.extension or []:
        if ext.url == EXT + "scheduling-location" and ext.valueReference:
            location_id = _ref_id(ext.valueReference.reference, "Location")
    return SlotRow(
        id=fhir_id(slot.id),
        start=instant(slot.start),
        end=instant(slot.end),
        service_type=text,
        service_code=code,
        schedule_id=_ref_id(slot.schedule.reference if slot.schedule else "", "Schedule"),
        location_id=location_id,
    )


@dataclass
class _Actors:
    practitioners: list[tuple[str, str]] = field(default_factory=list)  # (id, display or "")
    resources: list[str] = field(default_factory=list)  # display-only actors: rooms, equipment


def _schedule_actors(schedules: list[Resource]) -> dict[str, _Actors]:
    """Schedule id → its actors (each Schedule once, however many searches included it)."""
    actors: dict[str, _Actors] = {}
    for schedule in dedupe_resources(schedules):
        if schedule.resource_type != "Schedule" or schedule.id is None:
            continue
        found = actors.setdefault(str(schedule.id), _Actors())
        for actor in schedule.actor or []:
            practitioner = _ref_id(actor.reference, "Practitioner")
            if practitioner:
                found.practitioners.append((practitioner, actor.display or ""))
            elif not actor.reference and actor.display:
                found.resources.append(actor.display)
    return actors


def name_slots(*, gateway: FhirGateway, slots: list[SlotRow], schedules: list[Resource]) -> None:
    """Fills clinician and place names: at most one Practitioner and one Location search."""
    actors = _schedule_actors(schedules)
    wanted: dict[str, set[str]] = {
        "Location": {s.location_id for s in slots if s.location_id},
        "Practitioner": {
            pid for acts in actors.values() for pid, display in acts.practitioners if not display
        },
    }
    names = names_by_reference(gateway=gateway, wanted=wanted) if any(wanted.values()) else {}
    for slot in slots:
        acts = actors.get(slot.schedule_id, _Actors())
        slot.clinician_ids = [pid for pid, _ in acts.practitioners]
        slot.clinician = ", ".join(
            display or names.get(("Practitioner", pid), "") for pid, display in acts.practitioners
        )
        slot.resources = list(acts.resources)
        slot.location = names.get(("Location", slot.location_id), "")


def _days(slots: list[SlotRow], zone: ZoneInfo) -> list[SlotDay]:
    dated = [s for s in slots if s.start is not None]
    dated.sort(key=lambda s: s.start)  # type: ignore[arg-type,return-value]
    return [
        SlotDay(day=day, slots=list(group))
        for day, group in groupby(dated, key=lambda s: s.start.astimezone(zone).date())  # type: ignore[union-attr]
    ]


def free_slots(
    *,
    gateway: FhirGateway,
    service_type: str,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    practitioner_id: str = "",
    location_id: str = "",
) -> FreeSlots:
    """Free slots of one service type (`system|code`) between two instants, grouped by local day."""
    params: dict[str, object] = {
        "service-type": service_type,
        "_include": "Slot:schedule",
        "_count": PAGE_SIZE,
    }
    if practitioner_id:
        params["schedule.actor"] = f"Practitioner/{practitioner_id}"
    if location_id:
        params["-location"] = f"Location/{location_id}"
    result = _search_windows(gateway=gateway, params=params, start=start, end=end)
    slots = [
        row
        for row in (
            _slot_row(s)
            for s in result.resources
            if s.resource_type == "Slot" and getattr(s, "status", "free") == "free"
        )
        if row.id  # a time without an id could never be booked
    ]
    name_slots(gateway=gateway, slots=slots, schedules=result.included)
    return FreeSlots(
        days=_days(slots, zone),
        clinicians=_facets((pid, s.clinician) for s in slots for pid in s.clinician_ids[:1]),
        locations=_facets((s.location_id, s.location) for s in slots if s.location_id),
        more=bool(result.next_url),
    )


def _windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    days = max(1, math.ceil((end - start) / timedelta(days=1)))
    step = timedelta(days=math.ceil(days / MAX_WINDOWS))
    edges = [start + i * step for i in range(math.ceil(days / step.days))] + [end]
    return [(a, min(b, end)) for a, b in zip(edges, edges[1:], strict=False) if a < end]


def _search_windows(
    *, gateway: FhirGateway, params: dict[str, object], start: datetime, end: datetime
) -> SearchResult:
    """The windows' searches at once, merged in start order (each window pages on its own)."""
    calls = {
        f"{i:03d}": partial(
            gateway.search,
            "Slot",
            {**params, "start": [f"ge{fhir_instant(a)}", f"lt{fhir_instant(b)}"]},
            all_pages=True,
            max_pages=MAX_PAGES_PER_WINDOW,
        )
        for i, (a, b) in enumerate(_windows(start, end))
    }
    results = fetch_parallel(calls, max_workers=MAX_WINDOWS)
    merged = SearchResult(resources=[], next_url=None)
    for key in sorted(results):
        merged.resources += results[key].resources
        merged.included += results[key].included
        merged.next_url = merged.next_url or results[key].next_url
    # Every day's search includes the same Schedules: keep each resource once (by id).
    merged.resources = dedupe_resources(merged.resources)
    merged.included = dedupe_resources(merged.included)
    return merged


def _facets(pairs: object) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for key, name in pairs:  # type: ignore[attr-defined]
        seen.setdefault(key, name or key)
    return sorted(seen.items(), key=lambda item: item[1].lower())


def slot_details(*, gateway: FhirGateway, slot_id: str) -> SlotRow | None:
    """One slot with its clinician and place, if it is still free (else None)."""
    result = gateway.search("Slot", {"_id": slot_id, "_include": "Slot:schedule"})
    slots = [
        _slot_row(s)
        for s in result.resources
        if s.resource_type == "Slot" and str(s.id) == slot_id and s.status == "free"
    ]
    if not slots:
        return None
    name_slots(gateway=gateway, slots=slots, schedules=result.included)
    return slots[0]
