"""Appointment read, search, create (booked into one slot) and PATCH (FACTS §2.6)."""

from typing import Any

from django.db.models import Q, QuerySet

from smartapp.sandbox import booking
from smartapp.sandbox.fhir import appointment_patch
from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import (
    Access,
    OutcomeError,
    ResourceHandler,
    SearchParams,
    register,
)
from smartapp.sandbox.models import Appointment, Patient, Slot

ACTORS = {"patient": "patient_fhir_id", "practitioner": "practitioner_fhir_id"}
ACTORS["location"] = "location_fhir_id"
PRIMARY = {"_id", *ACTORS}
DATES = ("date", "-date-or-req-period")
ALLOWED = PRIMARY | set(DATES) | {"status"}
STATUSES = {
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
}
CREATE_FIELDS = {"resourceType", "status", "slot", "participant", "reasonCode"}
MAX_REASON = 255


def refuse(text: str, code: str = "business-rule") -> OutcomeError:
    return OutcomeError(422, code, text)


def _filters(params: SearchParams) -> Q:
    q = Q()
    if "_id" in params:
        q &= Q(fhir_id__in=p.id_list(params["_id"]))
    for name, field in ACTORS.items():
        if name in params:
            type_name = name.title()
            ids = [ref.removeprefix(f"{type_name}/") for ref in p.id_list(params[name])]
            q &= Q(**{f"{field}__in": ids})
    for name in DATES:
        if name in params:
            q &= p.instant_filter("start", params.getlist(name), name, pair_only=False)
    if "date" in params:
        q &= ~Q(status="proposed")
    if "status" in params:
        statuses = p.id_list(params["status"])
        if not set(statuses) <= STATUSES:
            raise p.bad_request("Unknown appointment status")
        q &= Q(status__in=statuses)
    return q


def _validate(params: SearchParams) -> None:
    p.check_names(params, ALLOWED, repeatable=frozenset(DATES))
    p.require_one(params, PRIMARY)
    primaries = [name for name in PRIMARY if name in params]
    if len(primaries) > 1:
        raise p.bad_request(f"{' and '.join(sorted(primaries))} cannot be combined")
    dates = [name for name in DATES if name in params]
    if primaries != ["_id"] and len(dates) != 1:
        raise p.bad_request(f"'{primaries[0]}' needs either 'date' or '-date-or-req-period'")


def _reference(value: Any, type_name: str, what: str) -> str:
    reference = value.get("reference") if isinstance(value, dict) else None
    prefix = f"{type_name}/"
    if not isinstance(reference, str) or not reference.startswith(prefix):
        raise refuse(f"{what} must reference a {type_name}")
    return reference.removeprefix(prefix)


def _one(body: dict[str, Any], field: str, what: str) -> Any:
    value = body.get(field)
    if not isinstance(value, list) or len(value) != 1:
        raise refuse(f"A booked appointment needs exactly one {what}")
    return value[0]


def _parse_create(body: Any) -> tuple[str, str, str]:
    """(slot id, patient id, reason text) of a booked-appointment create, or 422."""
    if not isinstance(body, dict) or body.get("resourceType") != "Appointment":
        raise refuse("The body must be an Appointment")
    if "implicitRules" in body:
        raise refuse("implicitRules is not supported", "not-supported")
    if "modifierExtension" in body:
        raise refuse("modifierExtension is not supported", "extension")
    if body.get("status") == "proposed":
        raise refuse("The sandbox creates booked appointments only", "not-supported")
    if body.get("status") != "booked":
        raise refuse("status must be booked or proposed")
    unsupported = sorted(set(body) - CREATE_FIELDS)
    if unsupported:
        raise refuse(f"Unsupported fields: {', '.join(unsupported)}")
    slot_id = _reference(_one(body, "slot", "slot"), "Slot", "slot")
    participant = _one(body, "participant", "participant (the patient)")
    if not isinstance(participant, dict) or "type" in participant:
        raise refuse("participant.type must not be set")
    patient_id = _reference(participant.get("actor"), "Patient", "participant.actor")
    if participant.get("status") != "accepted":
        raise refuse("The patient participant's status must be accepted")
    reason = _one(body, "reasonCode", "reasonCode")
    text = reason.get("text") if isinstance(reason, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise refuse("reasonCode.text is required")
    if len(text) > MAX_REASON:
        raise refuse(f"reasonCode.text may be at most {MAX_REASON} characters")
    return slot_id, patient_id, text


@register
class AppointmentHandler(ResourceHandler):
    type_name = "Appointment"
    include_total = False
    in_patient_compartment = True

    model = Appointment
    patient_lookup = "patient_fhir_id"

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        _validate(params)
        return self.rows(tenant, access).filter(_filters(params)).order_by("start", "fhir_id")

    def create(self, *, tenant: str, body: Any, access: Access) -> tuple[str, int]:
        slot_id, patient_id, reason = _parse_create(body)
        if not Patient.objects.filter(tenant_id=tenant, fhir_id=patient_id).exists():
            raise refuse(f"Patient/{patient_id} does not exist")
        slot = Slot.objects.filter(tenant_id=tenant, fhir_id=slot_id).first()
        if slot is None:
            raise refuse(f"Slot/{slot_id} does not exist")
        row = booking.book(tenant=tenant, slot=slot, patient_id=patient_id, reason=reason)
        return row.fhir_id, row.version

    def patch(
        self, *, tenant: str, fhir_id: str, operations: Any, version: str, access: Access
    ) -> int:
        row = self.rows(tenant, access).filter(fhir_id=fhir_id).first()
        if row is None:
            raise OutcomeError(404, "not-found", "Resource not found")
        if not version:
            raise OutcomeError(412, "required", "If-Match is required")
        if not version.isdigit() or int(version) != row.version:
            raise OutcomeError(409, "conflict", booking.STALE)
        change = appointment_patch.parse(operations, row)
        return booking.apply(row, change, int(version))
