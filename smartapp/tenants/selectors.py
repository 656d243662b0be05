"""Reads of tenants and client registrations."""

import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.db import DatabaseError
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


FRAME_ANCESTORS_SECONDS = 30.0
_frame_ancestors_memo: tuple[float, list[str]] = (0.0, [])


def frame_ancestors() -> list[str]:
    """Every enabled tenant's EHR origins (the tenant file's `ehr_origins`), for every response's
    CSP: read at most every 30 s per process (a re-registered tenant file shows within that)."""
    global _frame_ancestors_memo
    read_at, origins = _frame_ancestors_memo
    if time.monotonic() - read_at > FRAME_ANCESTORS_SECONDS:
        try:
            rows = Tenant.objects.filter(enabled=True).values_list("ehr_origins", flat=True)
            origins = sorted({origin for row in rows for origin in row.split()})
        except DatabaseError:  # the database is down: the last list (a page will say so)
            return origins
        _frame_ancestors_memo = (time.monotonic(), origins)
    return origins


def frame_ancestors_forget() -> None:
    global _frame_ancestors_memo
    _frame_ancestors_memo = (0.0, [])
