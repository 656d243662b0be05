"""Clinics, schedules, slots and appointments for the seeded clinicians and patients.

Deterministic for a given --size and seed day: times are planned in the clinics' zone
(America/Chicago) and stored as UTC instants. "Today" is the clinics' date when seeding runs.
"""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from smartapp.sandbox import booking, links
from smartapp.sandbox.models import Appointment, Location, Patient, Practitioner, Schedule, Slot
from smartapp.sandbox.scheduling import (
    CANCEL_SYSTEM,
    SERVICE_TYPES,
    location_resource,
    schedule_resource,
)

CLINIC_TZ = "America/Chicago"
ORGANIZATION = ("3304067", "Millennium Sandbox Health System")
# (id, name, alias, v3 RoleCode, its display, address)
CLINICS = [
    ("32216049", "Baseline West Family Medicine", "BW FM", "FMC", "Family medicine clinic",
     ("4801 Rainbow Blvd", "Kansas City", "KS", "66103")),
    ("21304876", "Northside Internal Medicine", "NS IM", "PC", "Primary care clinic",
     ("2800 Clay Edwards Dr", "North Kansas City", "MO", "64116")),
    ("22784981", "Riverside Primary Care", "RS PC", "PC", "Primary care clinic",
     ("4400 NW Gateway Ave", "Riverside", "MO", "64150")),
    ("4062906", "Plaza Women's Health", "PL WH", "GYN", "Women's health clinic",
     ("4706 Broadway Blvd", "Kansas City", "MO", "64112")),
    ("21250409", "Southpoint Pediatrics", "SP PEDS", "PEDC", "Pediatrics clinic",
     ("13100 State Line Rd", "Kansas City", "MO", "64145")),
]  # fmt: skip
SESSIONS = [(time(8, 0), time(12, 0)), (time(13, 0), time(17, 0))]
HORIZON_DAYS = 30
# Share of each service type among a day's slots (Office Visit, Follow Up, New Patient, Video).
WEIGHTS = [4, 3, 2, 2]
REASONS = [
    "Annual physical",
    "Blood pressure follow-up",
    "Cough for two weeks",
    "Diabetes check",
    "Knee pain after running",
    "Medication review",
    "Rash on forearm",
    "Headaches most mornings",
    "Lab results discussion",
    "Flu-like symptoms",
]
CANCEL_REASONS = [("pat", "Patient"), ("prov", "Provider"), ("oth-weath", "Other: Weather")]


@dataclass
class _Plan:
    """One appointment to create: its slot and how it stands."""

    slot: Slot
    patient: str
    status: str
    version: int
    reason: str
    cancel: tuple[str, str] | None = None


class _Builder:
    def __init__(self, tenant: str, rng: random.Random, today: date, now: datetime):
        self.tenant, self.rng, self.today, self.now = tenant, rng, today, now
        self.zone = ZoneInfo(CLINIC_TZ)
        self.schedules: dict[tuple[str, str, str], Schedule] = {}
        self.slots: list[Slot] = []
        self.counter: dict[str, int] = {}

    def at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)

    def slot(self, pract: str, loc: str, code: str, start: datetime, minutes: int) -> Slot:
        schedule = self.schedules[(pract, loc, code)]
        n = self.counter[pract] = self.counter.get(pract, 0) + 1
        slot = Slot(
            tenant_id=self.tenant,
            fhir_id=f"{code}-{loc}-{pract}-{n}",
            schedule=schedule,
            schedule_fhir_id=schedule.fhir_id,
            practitioner_fhir_id=pract,
            location_fhir_id=loc,
            service_code=code,
            start=start,
            end=start + timedelta(minutes=minutes),
            status="free",
            updated_at=self.now,
        )
        self.slots.append(slot)
        return slot

    def day_slots(self, pract: str, loc: str, day: date, minutes: int) -> list[Slot]:
        codes = [code for code, _ in SERVICE_TYPES]
        made = []
        for begin, finish in SESSIONS:
            start, stop = self.at(day, begin), self.at(day, finish)
            while start + timedelta(minutes=minutes) <= stop:
                code = self.rng.choices(codes, WEIGHTS)[0]
                made.append(self.slot(pract, loc, code, start, minutes))
                start += timedelta(minutes=minutes)
        return made


def _locations(tenant: str, count: int, now: datetime) -> list[Location]:
    rows = []
    for fhir_id, name, alias, type_code, type_display, address in CLINICS[:count]:
        line, city, state, postal = address
        rows.append(
            Location(
                tenant_id=tenant,
                fhir_id=fhir_id,
                name=name,
                physical_type="si",
                type_code=type_code,
                identifier=f"CLINIC-{fhir_id}",
                city=city,
                state=state,
                postal_code=postal,
                address_text=f"{line}\n{city}, {state} {postal}\nUS",
                organization=ORGANIZATION[0],
                time_zone=CLINIC_TZ,
                resource=location_resource(
                    tenant=tenant,
                    fhir_id=fhir_id,
                    name=name,
                    alias=alias,
                    identifier=f"CLINIC-{fhir_id}",
                    address=address,
                    type_code=type_code,
                    type_display=type_display,
                    organization=ORGANIZATION,
                    updated=now,
                ),
            )
        )
    return Location.objects.bulk_create(rows)


def _schedules(b: _Builder, clinicians: list[Practitioner], sites: dict[str, list[Location]]):
    rows = []
    for person in clinicians:
        for loc in sites[person.fhir_id]:
            for code, _ in SERVICE_TYPES:
                fhir_id = f"{code}-{loc.fhir_id}-{person.fhir_id}-0"
                row = Schedule(
                    tenant_id=b.tenant,
                    fhir_id=fhir_id,
                    practitioner_fhir_id=person.fhir_id,
                    location_fhir_id=loc.fhir_id,
                    service_code=code,
                    resource=schedule_resource(
                        tenant=b.tenant,
                        fhir_id=fhir_id,
                        code=code,
                        practitioner=(person.fhir_id, person.display_name),
                        location=(loc.fhir_id, loc.name),
                        updated=b.now,
                    ),
                )
                b.schedules[(person.fhir_id, loc.fhir_id, code)] = row
                rows.append(row)
    Schedule.objects.bulk_create(rows)


def _spread(items: list[Slot], count: int) -> list[Slot]:
    """`count` of `items`, evenly spread over the day."""
    if count >= len(items):
        return list(items)
    return [items[(i * len(items)) // count] for i in range(count)]


def _first_clinician_day(
    b: _Builder, today: list[Slot], patients: list[str], active: int, minutes: int
) -> list[_Plan]:
    """`active` booked/checked-in appointments today, plus one cancelled (its slot free again)."""
    wanted = active + 1
    extra = wanted - len(today)
    if extra > 0:  # more than a clinic day holds: overlapping extra slots from 7:00 to 21:00
        pract, loc = today[0].practitioner_fhir_id, today[0].location_fhir_id
        first, step = b.at(b.today, time(7, 0)), (14 * 60) / extra
        code = SERVICE_TYPES[0][0]
        for i in range(extra):
            start = first + timedelta(minutes=int(i * step))
            today.append(b.slot(pract, loc, code, start, minutes))
        today.sort(key=lambda s: s.start)
    chosen = _spread(today, wanted)
    plans = []
    for i, slot in enumerate(chosen):
        status = "cancelled" if i == 1 else ("checked-in" if i == 0 else "booked")
        plans.append(
            _Plan(
                slot=slot,
                patient=patients[i % len(patients)],
                status=status,
                version=0 if status == "booked" else 1,
                reason=REASONS[i % len(REASONS)],
                cancel=CANCEL_REASONS[0] if status == "cancelled" else None,
            )
        )
    return plans


def _past_slot(b: _Builder, person: str, loc: str, minutes: int) -> Slot:
    day = b.today - timedelta(days=b.rng.randrange(3, 180))
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    begin = b.at(day, time(8, 0)) + timedelta(minutes=minutes * b.rng.randrange(0, 12))
    code = b.rng.choice(SERVICE_TYPES)[0]
    return b.slot(person, loc, code, begin, minutes)


def _patient_plans(
    b: _Builder,
    patients: list[str],
    future: dict[str, list[Slot]],
    sites: dict[str, list[Location]],
    minutes: dict[str, int],
    taken: set[int],
) -> list[_Plan]:
    """Every patient: one or two upcoming visits, two past (fulfilled), sometimes a cancellation."""
    plans: list[_Plan] = []
    clinicians = sorted(future)
    for patient in patients:
        for kind in ("booked", "booked", "fulfilled", "fulfilled", "cancelled"):
            person = b.rng.choice(clinicians)
            if kind == "fulfilled":
                slot = _past_slot(b, person, sites[person][0].fhir_id, minutes[person])
            else:
                if (kind == "cancelled" and b.rng.random() < 0.6) or (
                    kind == "booked"
                    and plans
                    and plans[-1].patient == patient
                    and b.rng.random() < 0.5
                ):
                    continue
                free = [s for s in future[person] if id(s) not in taken]
                slot = b.rng.choice(free)
            taken.add(id(slot))
            plans.append(
                _Plan(
                    slot=slot,
                    patient=patient,
                    status=kind,
                    version={"booked": 0, "cancelled": 1, "fulfilled": 2}[kind],
                    reason=b.rng.choice(REASONS),
                    cancel=b.rng.choice(CANCEL_REASONS) if kind == "cancelled" else None,
                )
            )
    return plans


def seed_schedules(*, tenant: str, rng: random.Random, day_appointments: int = 7) -> None:
    """Clinics, schedules, 30 days of slots and a mix of appointments for `tenant`."""
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(CLINIC_TZ)).date()
    b = _Builder(tenant, rng, today, now)
    clinicians = list(Practitioner.objects.filter(tenant_id=tenant).order_by("fhir_id"))
    patients = list(
        Patient.objects.filter(tenant_id=tenant)
        .current()
        .order_by("fhir_id")
        .values_list("fhir_id", flat=True)
    )
    locations = _locations(tenant, min(len(CLINICS), max(3, len(clinicians) // 2)), now)
    sites = {
        p.fhir_id: [locations[i % len(locations)], locations[(i + 1) % len(locations)]]
        for i, p in enumerate(clinicians)
    }
    minutes = {p.fhir_id: (20 if i % 2 == 0 else 30) for i, p in enumerate(clinicians)}
    _schedules(b, clinicians, sites)
    today_slots: dict[str, list[Slot]] = {}
    future: dict[str, list[Slot]] = {}
    for person in clinicians:
        pid = person.fhir_id
        for offset in range(HORIZON_DAYS):
            day = today + timedelta(days=offset)
            if offset and day.weekday() >= 5:
                continue  # clinics open on weekdays (and always today, so "My day" has data)
            loc = sites[pid][1 if day.weekday() in (1, 3) else 0].fhir_id
            made = b.day_slots(pid, loc, day, minutes[pid])
            (today_slots if offset == 0 else future).setdefault(pid, []).extend(made)
    plans = _first_clinician_day(
        b,
        today_slots[clinicians[0].fhir_id],
        patients,
        day_appointments,
        minutes[clinicians[0].fhir_id],
    )
    taken = {id(plan.slot) for plan in plans}
    for person in clinicians[1:]:
        for slot in _spread(today_slots[person.fhir_id], rng.randrange(2, 5)):
            taken.add(id(slot))
            plans.append(_Plan(slot, rng.choice(patients), "booked", 0, rng.choice(REASONS)))
    plans += _patient_plans(b, patients, future, sites, minutes, taken)
    _save(b, plans)


def _save(b: _Builder, plans: list[_Plan]) -> None:
    for plan in plans:
        if plan.status != "cancelled":
            plan.slot.status, plan.slot.version = "busy", 1
    Slot.objects.bulk_create(b.slots, batch_size=500)
    rows = []
    plans.sort(key=lambda plan: (plan.slot.start, plan.patient))
    for i, plan in enumerate(plans):
        slot = plan.slot
        rows.append(
            Appointment(
                tenant_id=b.tenant,
                fhir_id=str(booking.SEEDED_BASE + i),
                patient_fhir_id=plan.patient,
                practitioner_fhir_id=slot.practitioner_fhir_id,
                location_fhir_id=slot.location_fhir_id,
                slot=slot,
                service_code=slot.service_code,
                start=slot.start,
                end=slot.end,
                status=plan.status,
                version=plan.version,
                reason_text=plan.reason,
                cancelation_reason=(
                    {
                        "coding": [
                            {
                                "system": CANCEL_SYSTEM,
                                "code": plan.cancel[0],
                                "display": plan.cancel[1],
                            }
                        ]
                    }
                    if plan.cancel
                    else None
                ),  # fmt: skip
                updated_at=b.now,
                resource={},
            )
        )
    names, base = booking.Names.load(b.tenant, rows), links.base_url()
    for row, plan in zip(rows, plans, strict=True):
        booking.render(row, names, slot_id=plan.slot.fhir_id, base=base)
    Appointment.objects.bulk_create(rows, batch_size=500)
