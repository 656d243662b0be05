"""SMART discovery from a FHIR base: `.well-known/smart-configuration`, else the CapabilityStatement."""

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from smartapp.lib.http import session
from smartapp.lib.words import EnglishStr, filled

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


class DiscoveryError(EnglishStr, Exception):
    """The FHIR server's SMART configuration could not be found or read. Its text is shown on the
    error page (translated there); str() is English, for logs and records."""


@dataclass(frozen=True)
class SmartConfiguration:
    fhir_base: str
    authorization_endpoint: str
    token_endpoint: str
    source: str  # "smart-configuration" or "metadata"
    issuer: str = ""
    jwks_uri: str = ""
    revocation_endpoint: str = ""
    capabilities: list[str] = field(default_factory=list)
    scopes_supported: list[str] = field(default_factory=list)
    code_challenge_methods_supported: list[str] = field(default_factory=list)
    token_endpoint_auth_methods_supported: list[str] = field(default_factory=list)


def _get_json(url: str, accept: str) -> dict[str, Any] | None:
    try:
        response = session().get(url, headers={"Accept": accept}, what="discovery")
    except requests.Timeout:
        raise DiscoveryError(
            filled(_("The EHR did not answer in time at %(url)s."), url=url)
        ) from None
    except requests.RequestException:
        raise DiscoveryError(
            filled(_("The EHR could not be reached at %(url)s."), url=url)
        ) from None
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _from_smart_configuration(base: str, data: dict[str, Any]) -> SmartConfiguration | None:
    if not data.get("authorization_endpoint") or not data.get("token_endpoint"):
        return None
    return SmartConfiguration(
        fhir_base=base,
        source="smart-configuration",
        authorization_endpoint=data["authorization_endpoint"],
        token_endpoint=data["token_endpoint"],
        issuer=data.get("issuer", ""),
        jwks_uri=data.get("jwks_uri", ""),
        revocation_endpoint=data.get("revocation_endpoint", ""),
        capabilities=_strings(data.get("capabilities")),
        scopes_supported=_strings(data.get("scopes_supported")),
        code_challenge_methods_supported=_strings(data.get("code_challenge_methods_supported")),
        token_endpoint_auth_methods_supported=_strings(
            data.get("token_endpoint_auth_methods_supported")
        ),
    )


def _oauth_uris(capability_statement: dict[str, Any]) -> dict[str, str]:
    for rest in capability_statement.get("rest") or []:
        for extension in (rest.get("security") or {}).get("extension") or []:
            if extension.get("url") == OAUTH_URIS:
                return {e.get("url"): e.get("valueUri") for e in extension.get("extension") or []}
    return {}


def _from_metadata(base: str, data: dict[str, Any]) -> SmartConfiguration | None:
    uris = _oauth_uris(data)
    if not uris.get("authorize") or not uris.get("token"):
        return None
    return SmartConfiguration(
        fhir_base=base,
        source="metadata",
        authorization_endpoint=uris["authorize"],
        token_endpoint=uris["token"],
        revocation_endpoint=uris.get("revoke") or "",
    )


def _discover(base: str) -> SmartConfiguration:
    data = _get_json(f"{base}/.well-known/smart-configuration", "application/json")
    config = _from_smart_configuration(base, data) if data else None
    if config:
        return config
    data = _get_json(f"{base}/metadata", "application/fhir+json")
    config = _from_metadata(base, data) if data else None
    if config:
        return config
    raise DiscoveryError(
        filled(
            _(
                "The FHIR server at %(base)s does not publish its SMART sign-in addresses "
                "(neither .well-known/smart-configuration nor the CapabilityStatement's oauth-uris)."
            ),
            base=base,
        )
    )


def smart_configuration(*, fhir_base: str, refresh: bool = False) -> SmartConfiguration:
    """The SMART configuration of a registered FHIR base, cached for DISCOVERY_CACHE_SECONDS."""
    base = fhir_base.rstrip("/")
    key = "smart-config:" + hashlib.sha256(base.encode()).hexdigest()
    cached = None if refresh else cache.get(key)
    if cached:
        return SmartConfiguration(**cached)
    config = _discover(base)
    cache.set(key, asdict(config), settings.DISCOVERY_CACHE_SECONDS)
    return config
