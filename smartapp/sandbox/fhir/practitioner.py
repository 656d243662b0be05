"""Practitioner read and search (FACTS §2.2)."""

from typing import Any

from django.db.models import Q, QuerySet

from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import Access, ResourceHandler, SearchParams, register
from smartapp.sandbox.models import Practitioner

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
PRIMARY = {"_id", "identifier", "family", "name", "active"}
ALLOWED = PRIMARY | {"given"}


def _validate(params: SearchParams) -> None:
    p.check_names(params, ALLOWED)
    has_family = "family" in params or "family:exact" in params
    if ("given" in params or "given:exact" in params) and not has_family:
        raise p.bad_request("'given' must be combined with 'family'")
    p.require_one(params, PRIMARY)
    if "name" in params and len(params["name"]) < 2:
        raise p.bad_request("'name' needs at least two characters")
    if "active" in params and params["active"] not in ("true", "false"):
        raise p.bad_request("'active' must be true or false")
    if "identifier" in params and "|" not in params["identifier"]:
        raise p.bad_request("identifier needs both system and code (system|code)")


def _filters(params: SearchParams) -> Q:
    q = Q()
    if "_id" in params:
        q &= Q(fhir_id__in=p.id_list(params["_id"]))
    if "identifier" in params:
        system, _, code = params["identifier"].partition("|")
        q &= Q(npi=code) if system == NPI_SYSTEM else Q(pk__in=[])
    for field in ("family", "given"):
        match = p.string_match(field, params, field)
        q &= match if match is not None else Q()
    if "name" in params:
        q &= Q(family__istartswith=params["name"]) | Q(given__istartswith=params["name"])
    if "active" in params:
        q &= Q(active=params["active"] == "true")
    return q


@register
class PractitionerHandler(ResourceHandler):
    type_name = "Practitioner"
    include_total = False  # Millennium's Practitioner bundles carry no total

    model = Practitioner

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        _validate(params)
        return (
            Practitioner.objects.filter(tenant_id=tenant)
            .filter(_filters(params))
            .order_by("fhir_id")
        )
