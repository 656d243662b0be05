"""FHIR bodies for Locations, Schedules, Slots and Appointments, shaped like Millennium's
examples (r4_location_read.json, r4_schedule_read.json, r4_slot_read.json, r4_appointment_read.json).
"""

from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from smartapp.sandbox import links
from smartapp.sandbox.seed_people import EXT, _codeset

# Appointment types (proprietary code set 14249) every seeded schedule offers.
SERVICE_TYPES = [
    ("2572307911", "Office Visit"),
    ("24477854", "Follow Up"),
    ("4047613", "New Patient"),
    ("2582093771", "Video Visit"),
]
SERVICE_DISPLAY = dict(SERVICE_TYPES)
NEW_PATIENT = "4047613"
VIDEO_VISIT = "2582093771"
# The sandbox's resource role (code set 14250) for the exam room of a New Patient visit.
ROOM_ROLE = "2600000001"
# Video visits' virtual meeting rooms (contained HealthcareServices), patient's first.
VIDEO_ROOMS = [("1", "patient", "Patient Virtual Meeting Room"),
               ("2", "provider", "Provider Virtual Meeting Room")]  # fmt: skip
# The meeting room opens this long before the appointment starts.
VIDEO_EARLY = timedelta(minutes=10)
CANCEL_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
PHYSICAL_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
SCHEDULING_LOCATION = f"{EXT}/scheduling-location"
# Appointment statuses that can still be cancelled / moved (drives the is-* extensions).
CANCELABLE = {"proposed", "booked", "arrived", "checked-in"}
RESCHEDULABLE = {"booked"}


def service_system(tenant: str) -> str:
    return f"https://fhir.cerner.com/{tenant}/codeSet/14249"


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant_millis(moment: datetime) -> str:
    """Millennium's other instant format (`2020-07-13T08:00:00.000Z`), as in video rooms."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def exam_room(practitioner_id: str) -> str:
    """The room a clinician's New Patient visits book (a display-only schedule resource)."""
    return f"Exam Room {1 + int(practitioner_id) % 4}"


def _human(moment: datetime) -> str:
    """Millennium's narrative time: `Jan 23, 2017  6:00 A.M. UTC`."""
    utc = moment.astimezone(UTC)
    hour = utc.hour % 12 or 12
    meridiem = "A.M." if utc.hour < 12 else "P.M."
    return f"{utc.strftime('%b %d, %Y')} {hour:2d}:{utc.minute:02d} {meridiem} UTC"


def _div(kind: str, rows: list[tuple[str, str]], tail: str = "") -> str:
    body = "".join(f"<p><b>{escape(k)}</b>: {escape(v)}</p>" for k, v in rows)
    return f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>{kind}</b></p>{body}{tail}</div>'


def _meta(version: str, updated: datetime) -> dict[str, str]:
    return {"versionId": version, "lastUpdated": instant(updated)}


def service_type(tenant: str, code: str) -> dict[str, Any]:
    display = SERVICE_DISPLAY[code]
    return {"coding": [_codeset(tenant, 14249, code, display)], "text": display}


def location_resource(
    *,
    tenant: str,
    fhir_id: str,
    name: str,
    alias: str,
    identifier: str,
    address: tuple[str, str, str, str],
    type_code: str,
    type_display: str,
    organization: tuple[str, str],
    updated: datetime,
) -> dict[str, Any]:
    line, city, state, postal = address
    text = f"{line}\n{city}, {state} {postal}\nUS"
    return {
        "resourceType": "Location",
        "id": fhir_id,
        "meta": _meta("1", updated),
        "text": {
            "status": "generated",
            "div": _div(
                "Location",
                [
                    ("Name", name),
                    ("Alias", alias),
                    ("Managing Organization", organization[1]),
                    ("Physical Type", "Site"),
                    ("Status", "Active"),
                ],
            ),
        },
        "identifier": [
            {
                "use": "official",
                "type": {"coding": [_codeset(tenant, 73, "CLINIC", "Clinic Identifier")]},
                "system": "Clinic Identifier",
                "value": identifier,
            }
        ],
        "status": "active",
        "name": name,
        "alias": [alias],
        "mode": "instance",
        "address": {
            "text": text,
            "line": [line],
            "city": city,
            "state": state,
            "postalCode": postal,
            "country": "US",
        },
        "type": [
            {
                "coding": [
                    {"system": ROLE_CODE_SYSTEM, "code": type_code, "display": type_display}
                ],
                "text": type_display,
            }
        ],
        "physicalType": {
            "coding": [
                _codeset(tenant, 222, "772", "Ambulatory(s)"),
                {"system": PHYSICAL_TYPE_SYSTEM, "code": "si", "display": "Site"},
            ],
            "text": "Ambulatory(s)",
        },
        "managingOrganization": {
            "reference": f"Organization/{organization[0]}",
            "display": organization[1],
        },
    }


def schedule_resource(
    *,
    tenant: str,
    fhir_id: str,
    code: str,
    practitioner: tuple[str, str],
    location: tuple[str, str],
    updated: datetime,
) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "id": fhir_id,
        "meta": _meta("1", updated),
        "text": {
            "status": "generated",
            "div": _div(
                "Schedule",
                [
                    ("Status", "Active"),
                    ("Service Type", SERVICE_DISPLAY[code]),
                    ("Practitioner", practitioner[1]),
                    ("Location", location[1]),
                ],
            ),
        },
        "active": True,
        "serviceType": [service_type(tenant, code)],
        "actor": [
            {"reference": f"Practitioner/{practitioner[0]}", "display": practitioner[1]},
            {"reference": f"Location/{location[0]}", "display": location[1]},
            *([{"display": exam_room(practitioner[0])}] if code == NEW_PATIENT else []),
        ],
    }


def slot_resource(
    *,
    tenant: str,
    fhir_id: str,
    schedule_id: str,
    code: str,
    location_id: str,
    start: datetime,
    end: datetime,
    status: str,
    version: int,
    updated: datetime,
) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": fhir_id,
        "meta": _meta(str(version), updated),
        "text": {
            "status": "generated",
            "div": _div(
                "Slot",
                [
                    ("Service Type", SERVICE_DISPLAY[code]),
                    ("Start", _human(start)),
                    ("End", _human(end)),
                    ("Schedule Reference", schedule_id),
                    ("Status", status.replace("-", " ").title()),
                ],
            ),
        },
        "extension": [
            {
                "valueReference": {"reference": f"Location/{location_id}"},
                "url": SCHEDULING_LOCATION,
            }
        ],
        "serviceType": [service_type(tenant, code)],
        "schedule": {"reference": f"Schedule/{schedule_id}"},
        "status": status,
        "start": instant(start),
        "end": instant(end),
    }


def slot_row_resource(slot: Any) -> dict[str, Any]:
    """The Slot body for a `models.Slot` row's current columns."""
    return slot_resource(
        tenant=slot.tenant_id,
        fhir_id=slot.fhir_id,
        schedule_id=slot.schedule_fhir_id,
        code=slot.service_code,
        location_id=slot.location_fhir_id,
        start=slot.start,
        end=slot.end,
        status=slot.status,
        version=slot.version,
        updated=slot.updated_at,
    )


def _participant_type(tenant: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [_codeset(tenant, 14250, code, display)], "text": display}


def _primary_performer() -> dict[str, Any]:
    return {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "PPRF",
                "display": "primary performer",
            }
        ]
    }


def appointment_room(row: Any) -> str | None:
    """The display-only room a New Patient appointment books (from its schedule's actors)."""
    return exam_room(row.practitioner_fhir_id) if row.service_code == NEW_PATIENT else None


def _room_participant(tenant: str, room: str) -> dict[str, Any]:
    return {
        "type": [_participant_type(tenant, ROOM_ROLE, room), _primary_performer()],
        "actor": {"display": room},
        "required": "required",
        "status": "accepted",
    }


def _video_rooms(row: Any, base: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A video visit's contained meeting rooms and the participants that point at them."""
    opens = {"start": instant_millis(row.start - VIDEO_EARLY), "end": instant_millis(row.end)}
    contained, participants = [], []
    for room_id, role, text in VIDEO_ROOMS:
        url = links.video_room_url(base, row.fhir_id, role)
        contained.append(
            {
                "resourceType": "HealthcareService",
                "id": room_id,
                "type": [{"text": text}],
                "telecom": [{"system": "url", "value": url, "period": dict(opens)}],
            }
        )
        participants.append(
            {"type": [{"text": text}], "actor": {"reference": f"#{room_id}"}, "status": "accepted"}
        )
    return contained, participants


def _participants_div(patient: str, practitioner: str, location: str, room: str | None) -> str:
    other = f"<dd><b>Other Resource</b>: {escape(room)}</dd>" if room else ""
    return (
        "<p><b>Participants</b>:</p>"
        f"<dl><dd><b>Location</b>: {escape(location)}</dd>"
        f"<dd><b>Practitioner</b>: {escape(practitioner)}</dd>{other}"
        f"<dd><b>Patient</b>: {escape(patient)}</dd></dl>"
    )


def appointment_resource(
    row: Any, *, patient: str, practitioner: str, location: str, slot_id: str | None, base: str
) -> dict[str, Any]:
    """The Appointment body for a `models.Appointment` row; names are the actors' displays.

    `base` is the sandbox's public URL (video visits link to its meeting-room pages).
    """
    tenant, status = row.tenant_id, row.status
    period = {"start": instant(row.start), "end": instant(row.end)}
    extensions: list[dict[str, Any]] = []
    if row.action_comment:
        extensions.append({"valueString": row.action_comment, "url": f"{EXT}/action-comment"})
    extensions += [
        {"valueBoolean": status in CANCELABLE, "url": f"{EXT}/is-cancelable"},
        {"valueBoolean": status in RESCHEDULABLE, "url": f"{EXT}/is-reschedulable"},
    ]
    display = SERVICE_DISPLAY.get(row.service_code, row.service_code)
    room = appointment_room(row)
    video = row.service_code == VIDEO_VISIT
    contained, video_participants = _video_rooms(row, base) if video else ([], [])
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": row.fhir_id,
        "meta": _meta(str(row.version), row.updated_at),
        "text": {
            "status": "generated",
            "div": _div(
                "Appointment",
                [
                    ("Status", status.replace("-", " ").title()),
                    ("Service Type", display),
                    ("Start", _human(row.start)),
                    ("End", _human(row.end)),
                    *([("Video Visit", "Yes")] if video else []),
                ],
                _participants_div(patient, practitioner, location, room),
            ),
        },
    }
    if contained:
        body["contained"] = contained
    body["extension"] = extensions
    body["status"] = status
    if status == "cancelled" and row.cancelation_reason:
        body["cancelationReason"] = row.cancelation_reason
    body |= {
        "serviceType": [service_type(tenant, row.service_code)],
        "reasonCode": [{"text": row.reason_text}],
        "description": display,
        "start": period["start"],
        "end": period["end"],
        "minutesDuration": int((row.end - row.start).total_seconds() // 60),
    }
    if slot_id:
        body["slot"] = [{"reference": f"Slot/{slot_id}"}]
    body["participant"] = [
        {
            "actor": {"reference": f"Location/{row.location_fhir_id}", "display": location},
            "required": "required",
            "status": "accepted",
        },
        {
            "type": [
                _participant_type(tenant, "4574", "Attending Physician"),
                _primary_performer(),
            ],
            "actor": {
                "reference": f"Practitioner/{row.practitioner_fhir_id}",
                "display": practitioner,
            },
            "required": "required",
            "status": "accepted",
        },
        *([_room_participant(tenant, room)] if room else []),
        *video_participants,
        # The patient stays last, whatever else the appointment books.
        {
            "type": [_participant_type(tenant, "4572", "Patient")],
            "actor": {"reference": f"Patient/{row.patient_fhir_id}", "display": patient},
            "required": "required",
            "status": "accepted",
            "period": period,
        },
    ]
    body["requestedPeriod"] = [period]
    return body
