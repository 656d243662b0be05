"""Encounter read and search with Millennium's rules (FACTS §2.7).

Search needs exactly one of `_id`, `patient`, `subject` (`Patient/123` or `subject:Patient=123`),
`account` or `identifier` (`[system|]value`, the FIN); `date` (one or two of ge/gt/le/lt on the
period start), `_lastUpdated` (likewise), `status` and `_revinclude=Provenance:target` (accepted,
adds nothing) refine it; `status` only with `patient`/`subject`. Sorted by period start, oldest first.
"""

from typing import Any

from django.db.models import Q, QuerySet

from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import Access, ResourceHandler, SearchParams, register
from smartapp.sandbox.models import Encounter

PRIMARY = {"_id", "patient", "subject", "account", "identifier"}
RANGES = {"date": "start", "_lastUpdated": "last_updated"}
ALLOWED = PRIMARY | set(RANGES) | {"status", "_revinclude"}
STATUSES = {"planned", "in-progress", "finished", "cancelled"}
_LOOKUP = {"ge": "gte", "gt": "gt", "le": "lte", "lt": "lt"}


def _range(field: str, values: list[str], name: str) -> Q:
    """One or two prefixed instants (ge/gt/le/lt); a bare day with no prefix means that day."""
    if len(values) > 2:
        raise p.bad_request(f"'{name}' may be given at most twice")
    if len(values) == 1 and values[0][:2] not in _LOOKUP:
        return p.instant_filter(field, values, name, pair_only=False)
    q = Q()
    for value in values:
        prefix, moment, _day = p._instant(value, name)
        if prefix not in _LOOKUP:
            raise p.bad_request(f"'{name}' needs a ge, gt, le or lt prefix when given twice")
        q &= Q(**{f"{field}__{_LOOKUP[prefix]}": moment})
    return q


def _patient_ids(params: SearchParams) -> list[str] | None:
    if "patient" in params:
        return [v.removeprefix("Patient/") for v in p.id_list(params["patient"])]
    if "subject:Patient" in params:
        return p.id_list(params["subject:Patient"])
    if "subject" in params:
        refs = p.id_list(params["subject"])
        if not all(ref.startswith("Patient/") for ref in refs):
            raise p.bad_request("subject must reference a Patient (Patient/123)")
        return [ref.removeprefix("Patient/") for ref in refs]
    return None


def _validate(params: SearchParams) -> None:
    p.check_names(params, ALLOWED, repeatable=frozenset(RANGES))
    for name in params:
        if name.startswith("subject:") and name != "subject:Patient":
            raise p.bad_request(f"The search parameter '{name}' is not supported")
    p.require_one(params, PRIMARY)
    primaries = sorted({name.split(":")[0] for name in params} & PRIMARY)
    if len(primaries) > 1:
        raise p.bad_request(f"{' and '.join(primaries)} cannot be combined")
    if "status" in params and primaries[0] not in ("patient", "subject"):
        raise p.bad_request("status may only be given with patient or subject")
    if "_revinclude" in params and params["_revinclude"] != "Provenance:target":
        raise p.bad_request("Only _revinclude=Provenance:target is supported")


def _filters(params: SearchParams) -> Q:
    q = Q()
    if "_id" in params:
        q &= Q(fhir_id__in=p.id_list(params["_id"]))
    patients = _patient_ids(params)
    if patients is not None:
        q &= Q(patient__fhir_id__in=patients)
    if "account" in params:
        q &= Q(account_fhir_id__in=p.id_list(params["account"]))
    if "identifier" in params:
        system, sep, value = params["identifier"].rpartition("|")
        if not value:
            raise p.bad_request("identifier needs a value ([system|]value)")
        q &= Q(fin=value)
    for name, field in RANGES.items():
        if name in params:
            q &= _range(field, params.getlist(name), name)
    if "status" in params:
        statuses = p.id_list(params["status"])
        if not set(statuses) <= STATUSES:
            raise p.bad_request("status must be planned, in-progress, finished or cancelled")
        q &= Q(status__in=statuses)
    return q


@register
class EncounterHandler(ResourceHandler):
    type_name = "Encounter"
    in_patient_compartment = True

    model = Encounter
    patient_lookup = "patient__fhir_id"

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        _validate(params)
        return self.rows(tenant, access).filter(_filters(params)).order_by("start", "fhir_id")
