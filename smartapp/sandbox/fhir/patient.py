"""Patient read and search (FACTS §2.1)."""

from typing import Any

from django.db.models import Q, QuerySet

from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import Access, ResourceHandler, SearchParams, register
from smartapp.sandbox.models import Patient

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.6.1000"
PRIMARY = {
    "_id",
    "identifier",
    "name",
    "family",
    "given",
    "birthdate",
    "phone",
    "email",
    "address-postalcode",
}
ALLOWED = PRIMARY | {"gender", "_revinclude"}
MAX_MATCHES = 1000


def _identifier(value: str) -> Q:
    system, sep, code = value.rpartition("|")
    if not code:
        raise p.bad_request("identifier needs a code (system|code or code)")
    if sep and system and system != MRN_SYSTEM:
        return Q(pk__in=[])
    return Q(mrn=code)


def _name(value: str, exact: bool) -> Q:
    lookup = "iexact" if exact else "istartswith"
    return Q(**{f"family__{lookup}": value}) | Q(**{f"given__{lookup}": value})


def _filters(params: SearchParams) -> Q:
    q = Q()
    if "_id" in params:
        q &= Q(fhir_id__in=p.id_list(params["_id"]))
    if "identifier" in params:
        q &= _identifier(params["identifier"])
    for name in ("name", "name:exact"):
        if name in params:
            q &= _name(params[name], exact=name.endswith(":exact"))
    for field, name in (("family", "family"), ("given", "given")):
        match = p.string_match(field, params, name)
        q &= match if match is not None else Q()
    if "birthdate" in params:
        q &= p.date_filter("birth_date", params.getlist("birthdate"))
    if "phone" in params:
        q &= Q(phone="".join(ch for ch in params["phone"] if ch.isdigit()))
    if "email" in params:
        q &= Q(email__iexact=params["email"])
    if "address-postalcode" in params:
        q &= Q(postal_code__istartswith=params["address-postalcode"])
    if "gender" in params:
        q &= Q(gender=params["gender"])
    return q


@register
class PatientHandler(ResourceHandler):
    type_name = "Patient"
    in_patient_compartment = True

    def read(self, *, tenant: str, fhir_id: str, access: Access) -> dict[str, Any] | None:
        rows = Patient.objects.filter(tenant_id=tenant, fhir_id=fhir_id)
        if access.compartment_patient is not None:
            rows = rows.filter(fhir_id=access.compartment_patient)
        row = rows.first()
        return row.resource if row else None

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        p.check_names(params, ALLOWED, repeatable=frozenset({"birthdate"}))
        p.require_one(params, PRIMARY)
        rows = Patient.objects.filter(tenant_id=tenant).current().filter(_filters(params))
        if access.compartment_patient is not None:
            rows = rows.filter(fhir_id=access.compartment_patient)
        if rows.count() > MAX_MATCHES:
            raise p.OutcomeError(422, "business-rule", "The search matched too many patients")
        return rows.order_by("fhir_id")
