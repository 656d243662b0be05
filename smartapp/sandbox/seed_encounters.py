"""Seeded visits: every Encounter tied to its Appointment (past fulfilled → finished, today's
checked-in → in-progress, upcoming booked → planned), with Cerner's extensions, a clinic and an
attending clinician. The encounters seed.py made keep their ids (tests and launches use them):
a patient's first encounter becomes the visit of their latest fulfilled appointment. The first
patient's (97724066) lists an earlier attending whose period ended midway, then the current one.
"""

import random
from collections import defaultdict
from datetime import datetime, timedelta

from smartapp.sandbox import encounter_lifecycle
from smartapp.sandbox.models import Appointment, Encounter, Location, Patient, Practitioner

# Ids of encounters the seed adds beyond those seed.py made (97724066…).
NEW_BASE = 98_000_000
AMOUNTS = ["0.00", "25.00", "40.00", "75.00", "120.50", "250.00", "310.25"]


def _fin(fhir_id: str) -> str:
    return str(1_000_000 + int(fhir_id) % 10_000_000)


def _amount(rng: random.Random) -> str:
    """Most visits carry an estimated financial responsibility; about one in six does not."""
    return rng.choice(AMOUNTS) if rng.random() < 0.83 else ""


def seed_encounters(*, tenant: str, rng: random.Random, now: datetime) -> None:
    appointments: dict[str, list[Appointment]] = defaultdict(list)
    for booked in Appointment.objects.filter(tenant_id=tenant).order_by("start", "fhir_id"):
        appointments[booked.patient_fhir_id].append(booked)
    existing: dict[int, list[Encounter]] = defaultdict(list)
    for row in Encounter.objects.filter(tenant_id=tenant).order_by("fhir_id"):
        existing[row.patient_id].append(row)
    names = {
        "practitioner": {
            r.fhir_id: r.display_name for r in Practitioner.objects.filter(tenant_id=tenant)
        },
        "location": {r.fhir_id: r.name for r in Location.objects.filter(tenant_id=tenant)},
    }
    changed: list[Encounter] = []
    added: list[Encounter] = []
    next_id = NEW_BASE
    patients = Patient.objects.filter(tenant_id=tenant).current().order_by("fhir_id")
    for n, patient in enumerate(patients):
        mine = appointments[patient.fhir_id]
        past = sorted((a for a in mine if a.status == "fulfilled"), key=lambda a: a.start)[::-1]
        current = [a for a in mine if a.status in encounter_lifecycle.FOLLOW and encounter_lifecycle.FOLLOW[a.status] in (
            "planned", "in-progress")]  # fmt: skip
        rows = existing[patient.pk]
        plan: list[tuple[Encounter, Appointment | None]] = []
        for i, appointment in enumerate(past):
            if i < len(rows):
                plan.append((rows[i], appointment))
            else:
                plan.append(
                    (
                        Encounter(tenant_id=tenant, fhir_id=str(next_id), patient=patient),
                        appointment,
                    )
                )
                next_id += 1
        plan += [(row, None) for row in rows[len(past) :]]
        for appointment in current:
            plan.append(
                (Encounter(tenant_id=tenant, fhir_id=str(next_id), patient=patient), appointment)
            )
            next_id += 1
        for row, planned in plan:
            _fill(row, planned, patient, names, rng, now)
            (changed if row.pk else added).append(row)
        if n == 0 and past:
            _hand_over(plan[0][0], past[0], names["practitioner"])
    fields = ["status", "start", "appointment_fhir_id", "fin", "account_fhir_id"]
    fields += ["last_updated", "created_at", "resource"]
    Encounter.objects.bulk_update(changed, fields, batch_size=500)
    Encounter.objects.bulk_create(added, batch_size=500)


def _fill(row, appointment, patient, names, rng: random.Random, now: datetime) -> None:
    row.patient = patient
    if appointment is not None:
        row.status = encounter_lifecycle.FOLLOW[appointment.status]
        row.start = appointment.start
        row.appointment_fhir_id = appointment.fhir_id
    else:  # no scheduling data (the second tenant): keep what seed.py wrote
        row.status = row.resource.get("status", "finished")
        row.start = datetime.fromisoformat(row.resource["period"]["start"].replace("Z", "+00:00"))
    row.fin = _fin(row.fhir_id)
    row.account_fhir_id = f"F{row.fin}"
    row.created_at = min(row.start - timedelta(days=7), now) if row.status == "finished" else now
    row.last_updated = row.start if row.status == "finished" else now
    extra = {"patient": patient.display_name, "version": "1", "amount": _amount(rng)}
    if appointment is not None:
        extra["practitioner"] = names["practitioner"].get(appointment.practitioner_fhir_id, "")
        extra["location"] = names["location"].get(appointment.location_fhir_id, "")
    row.resource = encounter_lifecycle.encounter_body(row, appointment, **extra)


def _hand_over(row: Encounter, appointment: Appointment, displays: dict[str, str]) -> None:
    """Midway through the visit another clinician's attendance ended and this one's began."""
    people = sorted(displays)
    if len(people) < 2:
        return
    current = appointment.practitioner_fhir_id
    earlier = people[(people.index(current) + 1) % len(people)]
    middle = appointment.start + (appointment.end - appointment.start) / 2
    row.resource["participant"] = [
        encounter_lifecycle.attending(
            row.tenant_id, earlier, displays[earlier], appointment.start, middle
        ),
        encounter_lifecycle.attending(row.tenant_id, current, displays.get(current, ""), middle),
    ]
