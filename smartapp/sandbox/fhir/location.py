"""Location read and search (FACTS §2.3)."""

from typing import Any

from django.db.models import Q, QuerySet

from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import Access, ResourceHandler, SearchParams, register
from smartapp.sandbox.models import Location
from smartapp.sandbox.scheduling import PHYSICAL_TYPE_SYSTEM, ROLE_CODE_SYSTEM

PRIMARY = {"_id", "-physicalType", "type"}
ALLOWED = PRIMARY | {
    "identifier",
    "address",
    "address-city",
    "address-state",
    "address-postalcode",
    "name",
    "organization",
}


def _coded(value: str, system: str, name: str) -> str | None:
    """The code of `system|code` (or a bare code); None when the system is another one."""
    given_system, sep, code = value.rpartition("|")
    if not code:
        raise p.bad_request(f"'{name}' needs a code")
    if sep and given_system != system:
        return None
    return code


def _validate(params: SearchParams) -> None:
    p.check_names(params, ALLOWED)
    p.require_one(params, PRIMARY)
    if "address-city" in params and not (
        "address-state" in params or "address-postalcode" in params
    ):
        raise p.bad_request("'address-city' needs 'address-state' or 'address-postalcode'")
    if "-physicalType" in params and "|" not in params["-physicalType"]:
        raise p.bad_request("'-physicalType' needs system|code")


def _filters(params: SearchParams) -> Q:
    q = Q()
    if "_id" in params:
        q &= Q(fhir_id__in=p.id_list(params["_id"]))
    if "-physicalType" in params:
        code = _coded(params["-physicalType"], PHYSICAL_TYPE_SYSTEM, "-physicalType")
        q &= Q(physical_type=code) if code else Q(pk__in=[])
    if "type" in params:
        code = _coded(params["type"], ROLE_CODE_SYSTEM, "type")
        q &= Q(type_code=code) if code else Q(pk__in=[])
    if "identifier" in params:
        q &= Q(identifier=params["identifier"].rpartition("|")[2])
    if "address" in params:
        text = params["address"]
        q &= Q(address_text__icontains=text)
    for field, name in (
        ("city", "address-city"),
        ("state", "address-state"),
        ("postal_code", "address-postalcode"),
    ):
        if name in params:
            q &= Q(**{f"{field}__istartswith": params[name]})
    if "name" in params:
        q &= Q(name__istartswith=params["name"])
    if "organization" in params:
        q &= Q(organization=params["organization"].removeprefix("Organization/"))
    return q


@register
class LocationHandler(ResourceHandler):
    type_name = "Location"
    include_total = False
    default_count = 100

    model = Location

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        _validate(params)
        return Location.objects.filter(tenant_id=tenant).filter(_filters(params)).order_by("pk")
