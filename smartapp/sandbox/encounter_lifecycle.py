"""Encounters (visits): Millennium-shaped bodies (examples/r4_encounter_read.json) built from an
Appointment, and the Encounter side of booking: a booked Appointment gets a planned Encounter
that follows the appointment through check-in, fulfilment, cancellation and rescheduling.
"""

from datetime import datetime, timedelta
from decimal import Decimal
from html import escape
from typing import Any

from django.utils import timezone

from smartapp.sandbox.models import Appointment, Encounter, Location, Patient, Practitioner
from smartapp.sandbox.scheduling import SERVICE_DISPLAY, _human, instant
from smartapp.sandbox.seed_people import EXT, _codeset

EFR_URL = f"{EXT}/estimated-financial-responsibility-amount"
CUSTOM_ATTRIBUTE_URL = f"{EXT}/custom-attribute"
ORGANIZATION = "3304067"
# Ids of encounters made by booking over FHIR (seeded ones come from seed_encounters).
CREATED_BASE = 99_000_000
# Appointment status → the status of its Encounter.
FOLLOW = {
    "booked": "planned",
    "arrived": "in-progress",
    "checked-in": "in-progress",
    "fulfilled": "finished",
    "cancelled": "cancelled",
    "noshow": "cancelled",
}
LOCATION_STATUS = {"planned": "planned", "in-progress": "active", "finished": "completed"}
LOCATION_STATUS["cancelled"] = "completed"


def _two(tenant: str, code_set: int, code: str, display: str, system: str, std: str, std_display):
    return {
        "coding": [
            _codeset(tenant, code_set, code, display),
            {"system": system, "code": std, "display": std_display, "userSelected": False},
        ],
        "text": display,
    }


def _extensions(tenant: str, registered: datetime | None, amount: Decimal | None) -> list:
    extensions: list[dict[str, Any]] = []
    if registered is not None:
        extensions.append(
            {
                "id": "CA-0",
                "extension": [
                    {
                        "id": "ENCNTR:17368048",
                        "valueString": "Full Reg Date/Time",
                        "url": "custom-attribute-name",
                    },
                    {"valueDateTime": instant(registered), "url": "custom-attribute-value"},
                ],
                "url": CUSTOM_ATTRIBUTE_URL,
            }
        )
    if amount is not None:
        extensions.append(
            {"url": EFR_URL, "valueMoney": {"value": float(amount), "currency": "USD"}}
        )
    return extensions


def attending(
    tenant: str, practitioner: str, display: str, start: datetime, end: datetime | None = None
) -> dict[str, Any]:
    """An attending physician (codeSet 333 / ATND) from `start`, until `end` if they handed over."""
    period = {"start": instant(start)}
    if end is not None:
        period["end"] = instant(end)
    return {
        "type": [
            _two(
                tenant,
                333,
                "1119",
                "Attending Physician",
                "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "ATND",
                "attender",
            )
        ],  # fmt: skip
        "period": period,
        "individual": {"reference": f"Practitioner/{practitioner}", "display": display},
    }


def encounter_body(row: Encounter, appointment: Appointment | None, **names: str) -> dict:
    """The Encounter for `row` (status, period and ids from its columns); names are displays."""
    tenant, status = row.tenant_id, row.status
    start = row.start or timezone.now()
    end = appointment.end if appointment else start + timedelta(minutes=30)
    reason = appointment.reason_text if appointment else "Office visit"
    service = SERVICE_DISPLAY.get(appointment.service_code if appointment else "", "Office Visit")
    location = appointment.location_fhir_id if appointment else ""
    practitioner = appointment.practitioner_fhir_id if appointment else ""
    amount = names.get("amount")
    rows = [
        ("Patient", names.get("patient", "")),
        ("Location", names.get("location", "")),
        ("Type", "Outpatient"),
        ("Service Type", service),
        ("Class", "ambulatory"),
        ("Status", status.replace("-", " ").title()),
        ("Period Start Date", _human(start)),
        ("Reason For Visit", reason),
        ("Attending Physician", names.get("practitioner", "")),
    ]
    div = "".join(f"<p><b>{escape(k)}</b>: {escape(v)}</p>" for k, v in rows if v)
    period = {"start": instant(start)}
    if status == "finished":
        period["end"] = instant(end)
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": row.fhir_id,
        "meta": {
            "versionId": str(names.get("version", "1")),
            "lastUpdated": instant(row.last_updated or start),
        },
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>Encounter</b></p>{div}</div>',
        },
        "extension": _extensions(
            tenant,
            start - timedelta(minutes=10) if status != "planned" else None,
            Decimal(amount) if amount not in (None, "") else None,
        ),
        "identifier": [
            {
                "use": "usual",
                "type": _two(
                    tenant,
                    319,
                    "1077",
                    "FIN NBR",
                    "http://terminology.hl7.org/CodeSystem/v2-0203",
                    "AN",
                    "Account number",
                ),
                "_system": {
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                            "valueCode": "unknown",
                        }
                    ]
                },
                "value": row.fin,
                "period": {"start": instant(start)},
            }
        ],  # fmt: skip
        "status": status,
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
            "userSelected": False,
        },
        "type": [
            _two(
                tenant,
                71,
                "309309",
                "Outpatient",
                "http://terminology.hl7.org/CodeSystem/v2-0004",
                "O",
                "Outpatient",
            )
        ],  # fmt: skip
        "serviceType": _two(
            tenant,
            34,
            "2572307911",
            service,
            "http://snomed.info/sct",
            "394814009",
            "General practice (specialty) (qualifier value)",
        ),  # fmt: skip
        "priority": _two(
            tenant,
            3,
            "670840",
            "Elective",
            "http://terminology.hl7.org/CodeSystem/v3-ActPriority",
            "EL",
            "elective",
        ),  # fmt: skip
        "subject": {"reference": f"Patient/{row.patient.fhir_id}", "display": names["patient"]},
    }
    if practitioner:
        body["participant"] = [
            attending(tenant, practitioner, names.get("practitioner", ""), start)
        ]
    if appointment is not None:
        body["appointment"] = [{"reference": f"Appointment/{appointment.fhir_id}"}]
    body["period"] = period
    body["reasonCode"] = [{"text": reason}]
    body["hospitalization"] = {
        "admitSource": {
            "coding": [_codeset(tenant, 2, "4326381", "Self (Non-HC Facility Source of Origin)")],
            "text": "Self (Non-HC Facility Source of Origin)",
        }
    }
    if location:
        body["location"] = [
            {
                "location": {"reference": f"Location/{location}", "display": names["location"]},
                "status": LOCATION_STATUS.get(status, "planned"),
            }
        ]
    body["serviceProvider"] = {"reference": f"Organization/{ORGANIZATION}"}
    return body


def _names(row: Encounter, appointment: Appointment | None) -> dict[str, str]:
    names = {"patient": row.patient.display_name}
    if appointment is not None:
        practitioner = Practitioner.objects.filter(
            tenant_id=row.tenant_id, fhir_id=appointment.practitioner_fhir_id
        ).first()
        location = Location.objects.filter(
            tenant_id=row.tenant_id, fhir_id=appointment.location_fhir_id
        ).first()
        names["practitioner"] = practitioner.display_name if practitioner else ""
        names["location"] = location.name if location else ""
    return names


def render(row: Encounter, appointment: Appointment | None, version: int, amount: str) -> None:
    """Rebuilds `row.resource` (keeping its estimated responsibility)."""
    names = _names(row, appointment) | {"version": str(version), "amount": amount}
    row.resource = encounter_body(row, appointment, **names)


def estimated_amount(resource: dict[str, Any]) -> str:
    for extension in resource.get("extension", []):
        if extension.get("url") == EFR_URL:
            return str(extension["valueMoney"]["value"])
    return ""


def plan_for(appointment: Appointment) -> Encounter:
    """Booking's side effect: a planned Encounter carrying the appointment reference."""
    patient = Patient.objects.get(
        tenant_id=appointment.tenant_id, fhir_id=appointment.patient_fhir_id
    )
    now = timezone.now()
    row = Encounter.objects.create(
        tenant_id=appointment.tenant_id,
        fhir_id=f"new-{appointment.fhir_id}",
        patient=patient,
        status="planned",
        start=appointment.start,
        appointment_fhir_id=appointment.fhir_id,
        last_updated=now,
        created_at=now,
        resource={},
    )
    row.fhir_id = str(CREATED_BASE + row.pk)
    row.fin = str(700_000 + row.pk)
    row.account_fhir_id = f"F{row.fin}"
    # A new booking's estimate is what the clinic quotes for the visit type.
    render(row, appointment, 0, "40.00")
    row.save()
    return row


def follow(appointment: Appointment) -> None:
    """Keeps the appointment's Encounter in step (status, time, clinician, clinic)."""
    row = (
        Encounter.objects.select_related("patient")
        .filter(tenant_id=appointment.tenant_id, appointment_fhir_id=appointment.fhir_id)
        .first()
    )
    if row is None:
        return
    status = FOLLOW.get(appointment.status, row.status)
    version = int(row.resource.get("meta", {}).get("versionId", "0")) + 1
    row.status, row.start, row.last_updated = status, appointment.start, timezone.now()
    render(row, appointment, version, estimated_amount(row.resource))
    row.save()
