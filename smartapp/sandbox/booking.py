"""Booking, cancelling and moving appointments: every slot change is one conditional UPDATE.

Two requests racing for one slot both run `UPDATE … SET status='busy' WHERE status IN
('free','busy-tentative')`; the database lets exactly one of them change the row. The UPDATE is
the first statement of its transaction so SQLite waits for the lock instead of failing.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from smartapp.sandbox import encounter_lifecycle, links
from smartapp.sandbox.fhir.registry import OutcomeError
from smartapp.sandbox.models import Appointment, Location, Patient, Practitioner, Slot
from smartapp.sandbox.scheduling import appointment_resource

BOOKABLE = ("free", "busy-tentative")
SLOT_TAKEN = "The slot is no longer available."
STALE = "The resource version does not match If-Match; read it again."
# Ids of appointments created over FHIR (seeded ones are numbered from SEEDED_BASE).
CREATED_BASE = 60_000_000
SEEDED_BASE = 4_822_366


@dataclass
class Names:
    """Displays Millennium puts on participant references, keyed by FHIR id."""

    patients: dict[str, str]
    practitioners: dict[str, str]
    locations: dict[str, str]

    @classmethod
    def load(cls, tenant: str, rows: list[Appointment]) -> "Names":
        def names(model: Any, ids: set[str]) -> dict[str, str]:
            found = model.objects.filter(tenant_id=tenant, fhir_id__in=ids)
            if model is Location:
                return {row.fhir_id: row.name for row in found}
            return {row.fhir_id: row.display_name for row in found}

        return cls(
            patients=names(Patient, {r.patient_fhir_id for r in rows}),
            practitioners=names(Practitioner, {r.practitioner_fhir_id for r in rows}),
            locations=names(Location, {r.location_fhir_id for r in rows}),
        )


def render(
    row: Appointment,
    names: Names | None = None,
    slot_id: str | None = None,
    base: str | None = None,
) -> None:
    """Rebuilds `row.resource` from its columns (`base`: the seeded URL, looked up if omitted)."""
    names = names or Names.load(row.tenant_id, [row])
    if slot_id is None and row.slot_id:
        slot_id = Slot.objects.values_list("fhir_id", flat=True).get(pk=row.slot_id)
    row.resource = appointment_resource(
        row,
        patient=names.patients.get(row.patient_fhir_id, ""),
        practitioner=names.practitioners.get(row.practitioner_fhir_id, ""),
        location=names.locations.get(row.location_fhir_id, ""),
        slot_id=slot_id,
        base=base if base is not None else links.base_url(),
    )


def _set_slot(pk: int, status: str, only_from: tuple[str, ...]) -> bool:
    changed = Slot.objects.filter(pk=pk, status__in=only_from).update(
        status=status, version=F("version") + 1, updated_at=timezone.now()
    )
    return bool(changed)


def claim(slot_pk: int) -> bool:
    """Free (or held) → busy; False when another booking got there first."""
    return _set_slot(slot_pk, "busy", BOOKABLE)


def release(slot_pk: int | None) -> None:
    if slot_pk is not None:
        _set_slot(slot_pk, "free", ("busy",))


def hold(slot: Slot, status: str, version: str) -> int:
    """Slot PATCH: `free` ↔ `busy-tentative`, only on the version the caller read."""
    with transaction.atomic():
        changed = Slot.objects.filter(pk=slot.pk, version=int(version), status__in=BOOKABLE).update(
            status=status, version=F("version") + 1
        )
        if not changed:
            current = Slot.objects.get(pk=slot.pk)
            if str(current.version) != version:
                raise OutcomeError(409, "conflict", STALE)
            raise OutcomeError(422, "business-rule", "A booked slot's status cannot be changed")
        return Slot.objects.values_list("version", flat=True).get(pk=slot.pk)


def book(*, tenant: str, slot: Slot, patient_id: str, reason: str) -> Appointment:
    """A booked Appointment on `slot`, or 409 when the slot is no longer free."""
    now = timezone.now()
    with transaction.atomic():
        if not claim(slot.pk):
            raise OutcomeError(409, "conflict", SLOT_TAKEN)
        row = Appointment.objects.create(
            tenant_id=tenant,
            fhir_id=f"new-{uuid.uuid4()}",
            patient_fhir_id=patient_id,
            practitioner_fhir_id=slot.practitioner_fhir_id,
            location_fhir_id=slot.location_fhir_id,
            slot=slot,
            service_code=slot.service_code,
            start=slot.start,
            end=slot.end,
            status="booked",
            version=0,
            reason_text=reason,
            updated_at=now,
            resource={},
        )
        row.fhir_id = str(CREATED_BASE + row.pk)
        render(row, slot_id=slot.fhir_id)
        row.save(update_fields=["fhir_id", "resource"])
        encounter_lifecycle.plan_for(row)  # Millennium opens a planned Encounter for every booking
    return row


@dataclass
class Change:
    """What one JSON Patch asks for (validated by fhir.appointment_patch)."""

    status: str | None = None
    cancelation_reason: dict[str, Any] | None = None
    new_slot: Slot | None = None
    action_comment: str | None = None


def apply(row: Appointment, change: Change, version: int) -> int:
    """Applies `change` if the row is still at `version`; returns the new version."""
    with transaction.atomic():
        bumped = Appointment.objects.filter(pk=row.pk, version=version).update(
            version=F("version") + 1, updated_at=timezone.now()
        )
        if not bumped:
            raise OutcomeError(409, "conflict", STALE)
        row.refresh_from_db()
        if change.new_slot is not None:
            if not claim(change.new_slot.pk):
                raise OutcomeError(409, "conflict", SLOT_TAKEN)
            release(row.slot_id)
            _move(row, change.new_slot)
        if change.status is not None:
            row.status = change.status
            if change.status == "cancelled":
                release(row.slot_id)
                row.cancelation_reason = change.cancelation_reason or default_cancel_reason(
                    row.tenant_id
                )
        if change.action_comment is not None:
            row.action_comment = change.action_comment
        render(row)
        row.save()
        encounter_lifecycle.follow(row)
    return row.version


def _move(row: Appointment, slot: Slot) -> None:
    row.slot = slot
    row.practitioner_fhir_id = slot.practitioner_fhir_id
    row.location_fhir_id = slot.location_fhir_id
    row.service_code = slot.service_code
    row.start, row.end = slot.start, slot.end


def default_cancel_reason(tenant: str) -> dict[str, Any]:
    """Millennium's reason when none was given (r4_appointment_read.json)."""
    return {
        "coding": [
            {
                "system": f"https://fhir.cerner.com/{tenant}/codeSet/14229",
                "code": "0",
                "userSelected": True,
            }
        ]
    }
