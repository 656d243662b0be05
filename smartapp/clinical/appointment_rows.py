"""One Appointment's JSON in plain words: when, who and where, status, cancel reason, video room.

Rows are read straight from the JSON (a list page reads hundreds: a fhirclient model each cost
more than the rest of the page). Every field is checked for its shape as it is read; one that
cannot be read is left out, never trusted. Participants come in three kinds: a reference with a
display (named at once), a reference without one (named later by one search per type), and a
display without a reference, a room or a piece of equipment ("Endoscopy Rooms"), shown as sent.
`#id` references point into `contained`: Cerner's video visits carry their virtual meeting
rooms there as HealthcareServices.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smartapp.fhir.presentation import instant_from_text
from smartapp.fhir.references import BadReference, Reference, fhir_id, parse_reference

EXT = "https://fhir-ehr.cerner.com/r4/StructureDefinition/"
NAMED_TYPES = ("Patient", "Practitioner", "Location")
STATUS_LABELS = {
    "proposed": _("Requested"),
    "pending": _("Pending"),
    "booked": _("Booked"),
    "arrived": _("Arrived"),
    "checked-in": _("Checked in"),
    "fulfilled": _("Completed"),
    "cancelled": _("Cancelled"),
    "noshow": _("Did not attend"),
    "entered-in-error": _("Entered in error"),
    "waitlist": _("Wait list"),
}
ACTIVE = {"proposed", "pending", "booked", "arrived", "checked-in", "waitlist"}
CANCEL_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
# HL7's appointment-cancellation-reason codes in words, for reasons sent without a display.
CANCEL_WORDS = {
    "pat": _("Patient's request"),
    "pat-crs": _("Patient cancelled through a reminder"),
    "pat-cpp": _("Patient cancelled online"),
    "pat-dec": _("Patient deceased"),
    "pat-fb": _("Patient feeling better"),
    "pat-lt": _("No transport"),
    "pat-mt": _("Membership ended"),
    "pat-mv": _("Patient moved"),
    "pat-preg": _("Patient pregnant"),
    "pat-swl": _("Rebooked from the waiting list"),
    "pat-ucp": _("Patient changed clinician"),
    "prov": _("Clinician unavailable"),
    "prov-pers": _("Clinician unavailable (personal)"),
    "prov-dch": _("Clinician left the practice"),
    "prov-edu": _("Clinician at training or a meeting"),
    "prov-hosp": _("Clinician in hospital"),
    "prov-labs": _("Lab results out of range"),
    "prov-mri": _("MRI screening said do not proceed"),
    "prov-onc": _("Treatment plan changed"),
    "maint": _("Equipment maintenance"),
    "meds-inc": _("Preparation or medication incomplete"),
    "other": _("Other reason"),
    "oth-cms": _("Therapy not authorised"),
    "oth-err": _("Booked by mistake"),
    "oth-fin": _("Financial reasons"),
    "oth-iv": _("IV access problem"),
    "oth-int": _("No interpreter available"),
    "oth-mu": _("Preparation or results unavailable"),
    "oth-room": _("Room or equipment unavailable"),
    "oth-oerr": _("Scheduling order error"),
    "oth-swie": _("Walk-in entered in error"),
    "oth-weath": _("Weather"),
}
VIDEO_SCHEMES = {"https", "http"}


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class VideoRoom:
    """A virtual meeting room link, open from `opens` to `closes` when the EHR says so."""

    url: str
    opens: datetime | None = None
    closes: datetime | None = None

    def state(self, now: datetime) -> str:
        """ "open", "not-yet" or "closed"."""
        if self.opens and now < self.opens:
            return "not-yet"
        if self.closes and now > self.closes:
            return "closed"
        return "open"


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
    resources: list[str] = field(default_factory=list)  # rooms and equipment, by display only
    cancel_reason: str = ""
    patient_video: VideoRoom | None = None
    provider_video: VideoRoom | None = None
    cancelable: bool = True
    reschedulable: bool = True
    refs: dict[str, list[str]] = field(default_factory=dict)  # type → ids lacking a display

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status.capitalize() or _("Unknown")))

    @property
    def clinician(self) -> str:
        return ", ".join(name for name in self.clinicians if name)

    @property
    def with_whom(self) -> str:
        """Clinicians, then rooms and equipment: who or what the appointment is with."""
        return ", ".join(name for name in [*self.clinicians, *self.resources] if name)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def can_cancel(self) -> bool:
        return bool(self.id) and self.is_active and self.cancelable and self.is_future

    @property
    def can_reschedule(self) -> bool:
        return bool(self.id) and self.is_active and self.reschedulable and self.is_future

    @property
    def is_future(self) -> bool:
        return self.start is not None and self.start > timezone.now()

    @property
    def is_virtual(self) -> bool:
        return self.patient_video is not None or self.provider_video is not None

    @property
    def is_over(self) -> bool:
        end = self.end or (self.start + timedelta(hours=1) if self.start else None)
        return end is not None and end < timezone.now()

    def video_for(self, *, clinician: bool) -> VideoRoom | None:
        """The room for this user (the other one's when the EHR sent only one)."""
        if not self.is_active or self.is_over:
            return None
        mine, theirs = (
            (self.provider_video, self.patient_video)
            if clinician
            else (self.patient_video, self.provider_video)
        )
        return mine or theirs


def dicts(value: object) -> list[dict[str, Any]]:
    """The dict items of a JSON list (anything else: none)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def text(value: object) -> str:
    """A JSON string, or "" for anything else."""
    return value if isinstance(value, str) else ""


def one(value: object) -> dict[str, Any]:
    """A JSON object, or {} for anything else (a lone object in a list is read as that object)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, dict) else {}


def concept_text(value: object) -> str:
    """A CodeableConcept in words: its text, else its first coding's display."""
    concept = one(value)
    shown = text(concept.get("text"))
    return shown or next((text(c.get("display")) for c in dicts(concept.get("coding"))), "")


def _extension(data: dict[str, Any], name: str) -> object:
    for ext in dicts(data.get("extension")):
        if ext.get("url") == EXT + name:
            boolean = ext.get("valueBoolean")
            return boolean if isinstance(boolean, bool) else text(ext.get("valueString")) or None
    return None


def _service(data: dict[str, Any]) -> tuple[str, Coding | None]:
    concepts = dicts(data.get("serviceType")) or [one(data.get("serviceType"))]
    concept = concepts[0]
    codings = [
        c for c in dicts(concept.get("coding")) if text(c.get("system")) and text(c.get("code"))
    ]
    first = codings[0] if codings else None
    first_display = text(first.get("display")) if first else ""
    shown = text(concept.get("text")) or first_display
    coding = Coding(first["system"], first["code"], first_display or shown) if first else None
    return shown, coding


def cancel_reason(data: dict[str, Any]) -> str:
    """Why the appointment was cancelled, in words ("" when the EHR gave no readable reason)."""
    concept = one(data.get("cancelationReason"))
    written = text(concept.get("text"))  # what a person typed comes first
    if written:
        return written
    for coding in dicts(concept.get("coding")):
        if coding.get("system") == CANCEL_SYSTEM and text(coding.get("code")) in CANCEL_WORDS:
            return str(
                CANCEL_WORDS[coding["code"]]
            )  # HL7's displays read like codes ("Other: Weather")
    return concept_text(concept)


@lru_cache(maxsize=4096)
def _reference(value: str) -> Reference:
    """`parse_reference`, remembered: a day's rows name the same few people and places."""
    return parse_reference(value)


def _contained(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        text(item.get("id")): item for item in dicts(data.get("contained")) if text(item.get("id"))
    }


def _room(service: dict[str, Any]) -> VideoRoom | None:
    for telecom in dicts(service.get("telecom")):
        url = text(telecom.get("value")).strip()
        parts = urlsplit(url) if telecom.get("system") == "url" else None
        if parts and parts.scheme.lower() in VIDEO_SCHEMES and parts.netloc:
            period = one(telecom.get("period"))
            opens = instant_from_text(period.get("start"))
            closes = instant_from_text(period.get("end"))
            return VideoRoom(url=url, opens=opens, closes=closes)
    return None


def _add_contained(row: AppointmentRow, participant: dict[str, Any], item: dict[str, Any]) -> None:
    kind = item.get("resourceType")
    if kind == "HealthcareService":
        room = _room(item)
        label = " ".join(
            [concept_text(t) for t in dicts(participant.get("type"))]
            + [concept_text(t) for t in dicts(item.get("type"))]
        ).lower()
        if room is None:
            return
        if "provider" in label or "practitioner" in label:
            row.provider_video = row.provider_video or room
        else:
            row.patient_video = row.patient_video or room
    elif kind in ("Location", "Device"):
        name = text(item.get("name")) or text(item.get("deviceName"))
        if name:
            row.resources.append(name)


def _add_actor(row: AppointmentRow, participant: dict[str, Any], contained: dict[str, Any]) -> None:
    actor = one(participant.get("actor"))
    reference, display = text(actor.get("reference")).strip(), text(actor.get("display")).strip()
    if reference.startswith("#"):
        if reference[1:] in contained:
            _add_contained(row, participant, contained[reference[1:]])
        return
    if not reference:
        if display:
            row.resources.append(display)  # a room or equipment, named only
        return
    try:
        ref = _reference(reference)
    except BadReference:
        return
    if ref.resource_type not in NAMED_TYPES:
        if display:
            row.resources.append(display)
        return
    if ref.resource_type == "Patient":
        row.patient_id = ref.resource_id
    elif ref.resource_type == "Practitioner":
        row.practitioners[ref.resource_id] = display
    if not display:
        row.refs.setdefault(ref.resource_type, []).append(ref.resource_id)
    set_name(row, ref.resource_type, display)


def set_name(row: AppointmentRow, resource_type: str, name: str) -> None:
    if resource_type == "Patient":
        row.patient = row.patient or name
    elif resource_type == "Practitioner":
        row.clinicians.append(name)
    elif resource_type == "Location":
        row.location = row.location or name


def appointment_row(data: dict[str, Any]) -> AppointmentRow:
    """The plain-words view of one Appointment's JSON (a read or a search entry)."""
    shown, coding = _service(data)
    meta = one(data.get("meta"))
    reasons = dicts(data.get("reasonCode")) or [one(data.get("reasonCode"))]
    row = AppointmentRow(
        id=fhir_id(data.get("id")),
        version=text(meta.get("versionId")),
        status=text(data.get("status")),
        start=instant_from_text(data.get("start"), time_required=True),
        end=instant_from_text(data.get("end"), time_required=True),
        service_type=shown,
        service_coding=coding,
        reason=text(reasons[0].get("text")),
        cancelable=_extension(data, "is-cancelable") is not False,
        reschedulable=_extension(data, "is-reschedulable") is not False,
    )
    if row.status == "cancelled":
        row.cancel_reason = cancel_reason(data)
    contained = _contained(data)
    for participant in dicts(data.get("participant")):
        _add_actor(row, participant, contained)
    return row
