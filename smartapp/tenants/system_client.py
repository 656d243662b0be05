"""The tenant's system client: a client_credentials token for background work, cached encrypted."""

from datetime import timedelta

from django.db import IntegrityError
from django.utils import timezone

from smartapp.lib import claims
from smartapp.tenants.discovery import smart_configuration
from smartapp.tenants.models import ClientRegistration, Persona, SystemToken, Tenant
from smartapp.tenants.oauth import TokenEndpointError, token_request
from smartapp.tenants.selectors import client_for

# Reuse a token until this close to its expiry, so it never dies mid-request.
REUSE_MARGIN = timedelta(seconds=60)
CLAIM_SECONDS = 30


def _row(registration: ClientRegistration) -> SystemToken:
    try:
        return SystemToken.objects.get_or_create(registration=registration)[0]
    except IntegrityError:  # another process created it first
        return SystemToken.objects.get(registration=registration)


def fhir_system_scopes(registration: ClientRegistration) -> list[str]:
    """The `system/` scopes: the only ones a FHIR host's token endpoint grants by client_credentials.

    Other registered scopes (e.g. oraclehealth:millennium:message) belong to other API hosts,
    whose tokens come from their own host-scoped token endpoints.
    """
    return [scope for scope in registration.scope_list if scope.startswith("system/")]


def _usable(row: SystemToken) -> bool:
    return bool(
        row.access_token and row.expires_at and row.expires_at - REUSE_MARGIN > timezone.now()
    )


def _fetch(row: SystemToken, registration: ClientRegistration, tenant: Tenant) -> SystemToken:
    config = smart_configuration(fhir_base=tenant.provider_fhir_base)
    form = {"grant_type": "client_credentials", "scope": " ".join(fhir_system_scopes(registration))}
    try:
        data = token_request(
            token_endpoint=config.token_endpoint, registration=registration, form=form
        )
        row.access_token = data["access_token"]
        row.scope = str(data.get("scope") or "")
        row.expires_at = timezone.now() + timedelta(seconds=int(data.get("expires_in") or 300))
        row.save(update_fields=["access_token", "scope", "expires_at"])
    finally:
        # Released only after the save, so a waiting process finds the new token, not a gap.
        claims.release(model=SystemToken, pk=row.pk)
    return row


def system_token(*, tenant: Tenant, force: bool = False) -> SystemToken:
    """A valid system token row for the tenant, fetching a new token only when needed."""
    registration = client_for(tenant=tenant, persona=Persona.SYSTEM)
    row = _row(registration)
    if not force and _usable(row):
        return row
    if claims.claim(model=SystemToken, pk=row.pk, seconds=CLAIM_SECONDS):
        return _fetch(row, registration, tenant)

    def renewed() -> bool:
        row.refresh_from_db()
        return _usable(row)

    # Another process is fetching; wait for its token rather than asking for a second one.
    if not force and claims.wait_until(renewed, seconds=CLAIM_SECONDS):
        return row
    return _fetch(row, registration, tenant)


def system_access_token(*, tenant: Tenant) -> str:
    """The bearer token for background calls on the tenant's provider FHIR host."""
    return system_token(tenant=tenant).access_token


__all__ = ["TokenEndpointError", "system_access_token", "system_token"]
