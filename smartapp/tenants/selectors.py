"""Reads of tenants and client registrations."""

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.db.models import QuerySet

from smartapp.tenants.models import ClientRegistration, Persona, Tenant


class UnknownIssuer(Exception):
    """The `iss` is not the FHIR base of any enabled tenant."""


class ClientNotRegistered(Exception):
    """The tenant has no client registration for this persona."""


@dataclass(frozen=True)
class IssuerMatch:
    tenant: Tenant
    persona: str
    fhir_base: str


def normalise_base(url: str) -> str:
    """Scheme and host lower-cased, default port dropped, no trailing slash, no query.

    Raises ValueError for what is not a URL at all (a bad port, broken IPv6 brackets).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port  # ValueError: "abc", 99999, -1
    if port and not ((scheme == "https" and port == 443) or (scheme == "http" and port == 80)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path.rstrip("/"), "", ""))


def tenant_for_iss(*, iss: str) -> IssuerMatch:
    """Maps an incoming `iss` to a registered tenant and persona; never contacts the iss."""
    try:
        wanted = normalise_base(iss)
    except ValueError:
        raise UnknownIssuer(iss) from None
    for tenant in Tenant.objects.filter(enabled=True):
        for persona in (Persona.PROVIDER, Persona.PATIENT):
            base = tenant.fhir_base_for(persona)
            if base and normalise_base(base) == wanted:
                return IssuerMatch(tenant=tenant, persona=persona, fhir_base=base)
    raise UnknownIssuer(iss)


def enabled_tenants() -> QuerySet[Tenant]:
    return Tenant.objects.filter(enabled=True).order_by("name")


def client_for(*, tenant: Tenant, persona: str) -> ClientRegistration:
    try:
        return ClientRegistration.objects.get(tenant=tenant, persona=persona)
    except ClientRegistration.DoesNotExist:
        raise ClientNotRegistered(f"{tenant.slug} has no {persona} client") from None
