"""The tenant's system client: client_credentials tokens for background work, cached encrypted.

Millennium's token endpoints are host-scoped, so the one system client holds one token per API
host it calls (an "audience"): the provider FHIR host (`system/…` scopes, endpoint from the FHIR
base's discovery) and the Messages API host (`oraclehealth:millennium:message`, endpoint from the
tenant file). `host_token` caches any of them the same way.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError
from django.utils import timezone

from smartapp.lib import row_leases
from smartapp.tenants.discovery import smart_configuration
from smartapp.tenants.models import ClientRegistration, Persona, SystemToken, Tenant
from smartapp.tenants.oauth import TokenEndpointError, token_request
from smartapp.tenants.selectors import client_for

# Reuse a token until this close to its expiry, so it never dies mid-request.
REUSE_MARGIN = timedelta(seconds=60)
CLAIM_SECONDS = 30
FHIR = "fhir"
MESSAGES = "messages"
MESSAGES_SCOPE = "oraclehealth:millennium:message"


class MessagesApiNotConfigured(TokenEndpointError):
    """The tenant file gave no Messages API token endpoint for this tenant."""


def _row(registration: ClientRegistration, audience: str) -> SystemToken:
    try:
        return SystemToken.objects.get_or_create(registration=registration, audience=audience)[0]
    except IntegrityError:  # another process created it first
        return SystemToken.objects.get(registration=registration, audience=audience)


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


def _fetch(
    row: SystemToken, registration: ClientRegistration, endpoint: str, scopes: list[str]
) -> SystemToken:
    form = {"grant_type": "client_credentials", "scope": " ".join(scopes)}
    try:
        data = token_request(token_endpoint=endpoint, registration=registration, form=form)
        row.access_token = data["access_token"]
        row.scope = str(data.get("scope") or "")
        row.expires_at = timezone.now() + timedelta(seconds=int(data.get("expires_in") or 300))
        row.save(update_fields=["access_token", "scope", "expires_at"])
    finally:
        # Released only after the save, so a waiting process finds the new token, not a gap.
        row_leases.release(model=SystemToken, pk=row.pk)
    return row


def host_token(
    *,
    tenant: Tenant,
    audience: str,
    endpoint: Callable[[], str],
    scopes: Callable[[ClientRegistration], list[str]],
    force: bool = False,
) -> SystemToken:
    """A valid token row of the system client for one API host, fetched only when needed.

    `endpoint` is called only when a token must be fetched (it may do discovery).
    """
    registration = client_for(tenant=tenant, persona=Persona.SYSTEM)
    row = _row(registration, audience)
    if not force and _usable(row):
        return row

    def fetch() -> SystemToken:
        try:
            url, wanted = endpoint(), scopes(registration)
        except BaseException:
            row_leases.release(model=SystemToken, pk=row.pk)
            raise
        return _fetch(row, registration, url, wanted)

    if row_leases.claim(model=SystemToken, pk=row.pk, seconds=CLAIM_SECONDS):
        return fetch()

    def renewed() -> bool:
        row.refresh_from_db()
        return _usable(row)

    # Another process is fetching; wait for its token rather than asking for a second one.
    if not force and row_leases.wait_until(renewed, seconds=CLAIM_SECONDS):
        return row
    return fetch()


def system_token(*, tenant: Tenant, force: bool = False) -> SystemToken:
    """A valid system token row for the tenant's provider FHIR host."""
    return host_token(
        tenant=tenant,
        audience=FHIR,
        endpoint=lambda: smart_configuration(fhir_base=tenant.provider_fhir_base).token_endpoint,
        scopes=fhir_system_scopes,
        force=force,
    )


def system_access_token(*, tenant: Tenant) -> str:
    """The bearer token for background calls on the tenant's provider FHIR host."""
    return system_token(tenant=tenant).access_token


def _messages_endpoint(tenant: Tenant) -> str:
    if not tenant.messages_token_endpoint:
        raise MessagesApiNotConfigured("messages_api_not_configured")
    return tenant.messages_token_endpoint


def messages_token(*, tenant: Tenant, force: bool = False) -> SystemToken:
    """A valid system token row for the tenant's Messages API host."""
    return host_token(
        tenant=tenant,
        audience=MESSAGES,
        endpoint=lambda: _messages_endpoint(tenant),
        scopes=lambda registration: [MESSAGES_SCOPE],
        force=force,
    )


def messages_access_token(*, tenant: Tenant) -> str:
    """The bearer token for Messages API calls (the system client, on a patient's behalf)."""
    return messages_token(tenant=tenant).access_token


__all__ = [
    "MessagesApiNotConfigured",
    "TokenEndpointError",
    "host_token",
    "messages_access_token",
    "system_access_token",
    "system_token",
]
