"""Writes to tenants and client registrations."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction

from smartapp.tenants.models import (
    AuthMethod,
    ClientKey,
    ClientRegistration,
    Persona,
    ServiceType,
    Tenant,
    is_time_zone,
)
from smartapp.tenants.selectors import frame_ancestors_forget


class TenantFileError(Exception):
    """The tenant file is missing, not JSON, or lacks a required field."""


# Apps below tenants (payments) read their own tenant-file keys through these hooks, so imports
# keep pointing one way. Each hook is called as hook(tenant=…, entry=…) inside the transaction.
TENANT_FILE_SECTIONS: list[Callable[..., None]] = []


def _origins(value: Any) -> list[str]:
    """`ehr_origins`: a list of origins (scheme, host, port; no path), https except loopback."""
    if not isinstance(value, list):
        raise TenantFileError('"ehr_origins" must be a list of origins')
    origins = []
    for item in value:
        try:
            parts = urlsplit(str(item))
            parts.port  # noqa: B018  # a bad port raises here
        except ValueError:
            raise TenantFileError(f"ehr_origins: {str(item)[:100]!r} is not an origin") from None
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        is_origin = parts.netloc and not (parts.path.strip("/") or parts.query or parts.fragment)
        if not is_origin or (parts.scheme != "https" and not (loopback and parts.scheme == "http")):
            raise TenantFileError(
                f"ehr_origins: {str(item)[:100]!r} is not an https origin (https://host[:port])"
            )
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def _booking_words(section: Any) -> dict[str, str]:
    """`"booking": {"what_to_bring": "…", "how_to_cancel": "…"}`: plain text for patients."""
    if not isinstance(section, dict):
        raise TenantFileError('"booking" must be an object')
    words = {}
    for key in ("what_to_bring", "how_to_cancel"):
        value = section.get(key, "")
        if not isinstance(value, str) or len(value) > 1000:
            raise TenantFileError(f'"booking.{key}" must be text of at most 1000 characters')
        words[key] = value.strip()
    return words


def _tenant_defaults(entry: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        "name": entry["name"],
        "ehr_tenant_id": entry["ehr_tenant_id"],
        "provider_fhir_base": entry["provider_fhir_base"],
        "patient_fhir_base": entry.get("patient_fhir_base", ""),
        "enabled": entry.get("enabled", True),
        "messages_api_base": str(entry.get("messages_api_base") or "").rstrip("/"),
        "messages_token_endpoint": str(entry.get("messages_token_endpoint") or ""),
        "ehr_origins": " ".join(_origins(entry.get("ehr_origins", []))),
    }
    defaults.update(_booking_words(entry.get("booking", {})))
    if "time_zone" in entry:
        if not is_time_zone(str(entry["time_zone"])):
            raise TenantFileError(f"unknown time zone {entry['time_zone']!r}")
        defaults["time_zone"] = entry["time_zone"]
    return defaults


def service_types_replace(*, tenant: Tenant, entries: list[dict[str, Any]]) -> None:
    """Replaces the tenant's bookable service types with the tenant file's list (in its order)."""
    if not isinstance(entries, list):
        raise TenantFileError('"service_types" must be a list')
    rows = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(entry.get(k) for k in ("system", "code")):
            raise TenantFileError("each service type needs a system and a code")
        display = str(entry.get("display") or entry["code"])[:200]
        rows.append(
            ServiceType(
                tenant=tenant,
                system=str(entry["system"])[:300],
                code=str(entry["code"])[:100],
                display=display,
                position=position,
            )
        )
    ServiceType.objects.filter(tenant=tenant).delete()
    ServiceType.objects.bulk_create(rows)


def _client_defaults(entry: dict[str, Any]) -> dict[str, Any]:
    method = str(entry.get("auth_method") or "")
    if method and method not in AuthMethod.values:
        raise TenantFileError(
            f"auth_method {method!r} is not one of {', '.join(AuthMethod.values)}"
        )
    if method == AuthMethod.SECRET and not entry.get("client_secret"):
        raise TenantFileError("client_secret_basic needs a client_secret")
    return {
        "client_id": entry["client_id"],
        "client_secret": "" if method == AuthMethod.KEY else entry.get("client_secret") or "",
        "redirect_uri": entry.get("redirect_uri") or "",
        "scopes": " ".join(str(entry.get("scopes", "")).split()),
        "auth_method": method,
    }


def tenant_register(*, entry: dict[str, Any]) -> Tenant:
    """Creates or updates one tenant and its clients from a tenant-file entry."""
    try:
        with transaction.atomic():
            tenant, _ = Tenant.objects.update_or_create(
                slug=entry["slug"], defaults=_tenant_defaults(entry)
            )
            for client in entry.get("clients", []):
                if client["persona"] not in Persona.values:
                    raise TenantFileError(f"unknown persona {client['persona']!r}")
                ClientRegistration.objects.update_or_create(
                    tenant=tenant, persona=client["persona"], defaults=_client_defaults(client)
                )
            if "service_types" in entry:
                service_types_replace(tenant=tenant, entries=entry["service_types"])
            for section in TENANT_FILE_SECTIONS:
                section(tenant=tenant, entry=entry)
            if tenant.clients.filter(auth_method=AuthMethod.KEY).exists():
                signing_key_ensure()
    except KeyError as missing:
        raise TenantFileError(f"a tenant entry lacks the field {missing}") from None
    frame_ancestors_forget()
    return tenant


def tenants_register_file(*, path: Path) -> list[Tenant]:
    """Registers every tenant in a tenant file (idempotent)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise TenantFileError(f"cannot read tenant file {path}: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), list):
        raise TenantFileError(f'{path} must hold {{"tenants": [...]}}')
    return [tenant_register(entry=entry) for entry in data["tenants"]]


def client_secret_set(*, registration: ClientRegistration, secret: str) -> None:
    """Replaces a client's secret (blank makes it a public client)."""
    registration.client_secret = secret
    registration.save(update_fields=["client_secret"])
    registration_token_forget(registration=registration)


def registration_token_forget(*, registration: ClientRegistration) -> None:
    from smartapp.tenants.models import SystemToken

    SystemToken.objects.filter(registration=registration).delete()


def signing_key_ensure() -> None:
    """A signing key for private_key_jwt clients, created the first time one is registered."""
    from smartapp.tenants.client_keys import key_create

    if not ClientKey.objects.filter(state=ClientKey.State.ACTIVE).exists():
        key_create()
