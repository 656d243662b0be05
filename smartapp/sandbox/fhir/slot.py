"""Slot read, search (free slots by service type and time) and PATCH of status (FACTS §2.5)."""

from typing import Any

from django.db.models import Q, QuerySet

from smartapp.sandbox import booking
from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import (
    Access,
    InsufficientScope,
    OutcomeError,
    ResourceHandler,
    SearchParams,
    register,
)
from smartapp.sandbox.models import Practitioner, Schedule, Slot
from smartapp.sandbox.oauth import scopes as scope_rules
from smartapp.sandbox.scheduling import service_system

SNOMED = "http://snomed.info/sct"
ALLOWED = {"_id", "service-type", "schedule.actor", "-location", "start", "_include"}
NEEDS_START = ("service-type", "schedule.actor", "-location")
INCLUDES = {"Slot:schedule": "Schedule", "Schedule:actor:Practitioner": "Practitioner"}
HOLD_STATUSES = ("free", "busy-tentative")


def _references(value: str, type_name: str) -> list[str]:
    return [ref.removeprefix(f"{type_name}/") for ref in p.id_list(value)]


def _service_types(value: str, tenant: str) -> Q:
    pairs = []
    for token in p.id_list(value):
        system, sep, code = token.rpartition("|")
        if not sep or not system or not code:
            raise p.bad_request("'service-type' needs system|code values")
        pairs.append((system, code))
    systems = {system for system, _ in pairs}
    if len(systems) > 1:
        raise p.bad_request("'service-type' codes must all use one code system")
    if systems != {service_system(tenant)}:
        return Q(pk__in=[])  # the sandbox's schedules carry no SNOMED codes
    return Q(service_code__in=[code for _, code in pairs])


def _validate(params: SearchParams, access: Access) -> None:
    p.check_names(params, ALLOWED, repeatable=frozenset({"start", "_include"}))
    if "_id" not in params and "service-type" not in params:
        raise p.bad_request("No supported search parameters provided")
    if any(name in params for name in NEEDS_START) and "start" not in params:
        raise p.bad_request("'start' is required: exactly one start=ge… and one start=lt…")
    for include in params.getlist("_include"):
        if include not in INCLUDES:
            raise p.bad_request(f"_include '{include}' is not supported")
        granted = scope_rules.granting_prefix(
            access.scopes, access.persona, INCLUDES[include], "read"
        )
        if granted is None:
            raise InsufficientScope(include)


def _filters(params: SearchParams, tenant: str) -> Q:
    q = Q()
    if "_id" in params:
        q &= Q(fhir_id__in=p.id_list(params["_id"]))
    else:
        q &= Q(status="free")  # only free slots, unless asked for by id
    if "service-type" in params:
        q &= _service_types(params["service-type"], tenant)
    if "schedule.actor" in params:
        q &= Q(practitioner_fhir_id__in=_references(params["schedule.actor"], "Practitioner"))
    if "-location" in params:
        q &= Q(location_fhir_id__in=_references(params["-location"], "Location"))
    if "start" in params:
        q &= p.instant_filter("start", params.getlist("start"), "start", pair_only=True)
    return q


def _operations_status(operations: Any) -> str:
    """The status of Millennium's one supported Slot patch: `replace /status`."""
    if (
        not isinstance(operations, list)
        or len(operations) != 1
        or not isinstance(operations[0], dict)
        or operations[0].get("op") != "replace"
        or operations[0].get("path") != "/status"
    ):
        raise OutcomeError(422, "business-rule", "Only 'replace /status' is supported on a Slot")
    status = operations[0].get("value")
    if status not in HOLD_STATUSES:
        raise OutcomeError(
            422, "business-rule", "A Slot's status may be set to free or busy-tentative"
        )
    return str(status)


@register
class SlotHandler(ResourceHandler):
    type_name = "Slot"
    include_total = False

    def read(self, *, tenant: str, fhir_id: str, access: Access) -> dict[str, Any] | None:
        row = Slot.objects.filter(tenant_id=tenant, fhir_id=fhir_id).first()
        return row.resource if row else None

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        _validate(params, access)
        return (
            Slot.objects.filter(tenant_id=tenant)
            .filter(_filters(params, tenant))
            .order_by("start", "service_code", "location_fhir_id", "fhir_id")
        )

    def includes(
        self, *, tenant: str, params: SearchParams, rows: list[Any], access: Access
    ) -> list[dict[str, Any]]:
        wanted = params.getlist("_include")
        if not wanted or not rows:
            return []
        schedule_ids = list(dict.fromkeys(row.schedule_id for row in rows))
        schedules = {s.pk: s for s in Schedule.objects.filter(pk__in=schedule_ids)}
        found: list[dict[str, Any]] = []
        if "Slot:schedule" in wanted:
            found += [schedules[pk].resource for pk in schedule_ids]
        if "Schedule:actor:Practitioner" in wanted:
            ids = list(dict.fromkeys(schedules[pk].practitioner_fhir_id for pk in schedule_ids))
            people = Practitioner.objects.filter(tenant_id=tenant, fhir_id__in=ids)
            by_id = {row.fhir_id: row.resource for row in people}
            found += [by_id[i] for i in ids if i in by_id]
        return found

    def patch(
        self, *, tenant: str, fhir_id: str, operations: Any, version: str, access: Access
    ) -> int:
        slot = Slot.objects.filter(tenant_id=tenant, fhir_id=fhir_id).first()
        if slot is None:
            raise OutcomeError(404, "not-found", "Resource not found")
        if not version:
            raise OutcomeError(412, "required", "If-Match is required")
        status = _operations_status(operations)
        if not version.isdigit():
            raise OutcomeError(409, "conflict", booking.STALE)
        return booking.hold(slot, status, version)
