"""Which Appointment JSON Patches Millennium accepts (FACTS §2.6), turned into a booking.Change."""

from typing import Any

from smartapp.sandbox.booking import Change
from smartapp.sandbox.fhir.registry import OutcomeError
from smartapp.sandbox.models import Appointment, Slot
from smartapp.sandbox.scheduling import CANCEL_SYSTEM
from smartapp.sandbox.seed_people import EXT

TRANSITIONS = {
    "proposed": {"booked", "cancelled"},
    "booked": {"arrived", "checked-in", "cancelled"},
    "arrived": {"checked-in", "cancelled"},
    "checked-in": {"fulfilled", "cancelled"},
}
ACTION_COMMENT = f"{EXT}/action-comment"
RESCHEDULE_REASON = f"{EXT}/reschedule-reason"
KNOWN = {
    ("replace", "/status"),
    ("add", "/cancelationReason"),
    ("replace", "/slot"),
    ("add", "/slot"),
    ("add", "/reasonCode"),
    ("replace", "/extension"),
    ("add", "/extension"),
    ("replace", "/comment"),
    ("replace", "/patient-status"),
}


def refuse(text: str) -> OutcomeError:
    return OutcomeError(422, "business-rule", text)


def _operations(operations: Any) -> dict[tuple[str, str], Any]:
    if not isinstance(operations, list) or not operations:
        raise refuse("The body must be a non-empty JSON Patch array")
    found: dict[tuple[str, str], Any] = {}
    for op in operations:
        if not isinstance(op, dict) or "value" not in op:
            raise refuse("Each operation needs op, path and value")
        key = (op.get("op"), op.get("path"))
        if str(key[1]).startswith("/contained/"):
            raise refuse("Video visit links are not supported by the sandbox")
        if key not in KNOWN:
            raise refuse(f"Unsupported operation {key[0]} {key[1]}")
        if key in found:
            raise refuse(f"{key[0]} {key[1]} may be given once")
        found[key] = op["value"]
    return found


def _one_slot(value: Any, row: Appointment) -> Slot:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise refuse("slot must list exactly one Slot reference")
    reference = value[0].get("reference")
    if not isinstance(reference, str) or not reference.startswith("Slot/"):
        raise refuse("slot must reference a Slot")
    slot = Slot.objects.filter(tenant_id=row.tenant_id, fhir_id=reference[5:]).first()
    if slot is None:
        raise refuse(f"{reference} does not exist")
    if slot.pk == row.slot_id:
        raise refuse("The appointment is already in that slot")
    return slot


def _cancel_reason(value: Any, tenant: str) -> dict[str, Any]:
    codings = value.get("coding") if isinstance(value, dict) else None
    if not isinstance(codings, list) or len(codings) != 1 or not isinstance(codings[0], dict):
        raise refuse("cancelationReason needs exactly one coding")
    systems = {CANCEL_SYSTEM, f"https://fhir.cerner.com/{tenant}/codeSet/14229"}
    if codings[0].get("system") not in systems or not codings[0].get("code"):
        raise refuse("cancelationReason must use appointment-cancellation-reason or codeSet/14229")
    return {"coding": [dict(codings[0])]}


def _extension(value: Any, url: str) -> dict[str, Any]:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise refuse("extension must list exactly one extension")
    if value[0].get("url") != url:
        raise refuse(f"Only the {url.rsplit('/', 1)[1]} extension is supported here")
    return value[0]


def parse(operations: Any, row: Appointment) -> Change:
    """The change asked for, or 422 for an op, combination or transition Millennium refuses."""
    ops = _operations(operations)
    change = Change()
    status = ops.get(("replace", "/status"))
    moving = ("replace", "/slot") in ops
    if status is not None:
        if status not in TRANSITIONS.get(row.status, set()):
            raise refuse(f"An appointment cannot go from {row.status} to {status}")
        change.status = status
    if ("add", "/cancelationReason") in ops:
        if status != "cancelled":
            raise refuse("cancelationReason needs replace /status cancelled")
        change.cancelation_reason = _cancel_reason(
            ops[("add", "/cancelationReason")], row.tenant_id
        )
    if moving:
        if status is not None:
            raise refuse("replace /slot cannot be combined with a status change")
        if row.status != "booked":
            raise refuse(f"A {row.status} appointment cannot be rescheduled")
        change.new_slot = _one_slot(ops[("replace", "/slot")], row)
    for path in ("/slot", "/reasonCode"):
        if ("add", path) in ops and not (status == "booked" and row.status == "proposed"):
            raise refuse(f"add {path} only books a proposed appointment")
    if ("replace", "/extension") in ops:
        if not (moving or status == "cancelled"):
            raise refuse("action-comment goes with a cancel or a reschedule")
        comment = _extension(ops[("replace", "/extension")], ACTION_COMMENT).get("valueString")
        if not isinstance(comment, str) or len(comment) > 255:
            raise refuse("action-comment needs a valueString of at most 255 characters")
        change.action_comment = comment
    if ("add", "/extension") in ops:
        if not moving:
            raise refuse("reschedule-reason goes with replace /slot")
        _extension(ops[("add", "/extension")], RESCHEDULE_REASON)
    if ("replace", "/comment") in ops and not moving:
        raise refuse("replace /comment goes with replace /slot")
    if ("replace", "/patient-status") in ops and (
        row.status != "booked" or ops[("replace", "/patient-status")] != "accepted"
    ):
        raise refuse("patient-status may only be set to accepted on a booked appointment")
    return change
