"""Discovery documents in Millennium's 2026 shapes, pointing at the sandbox's URLs."""

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from smartapp.sandbox import links
from smartapp.sandbox.fhir.registry import supported_types
from smartapp.sandbox.models import Client

DATA = Path(__file__).parent / "data"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
COMMON_CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-banner",
    "context-style",
    "context-ehr-patient",
]
PERMISSIONS = [
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
]


@cache
def _json(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def known_tenant(tenant: str) -> bool:
    return Client.objects.filter(tenant_id=tenant).exists()


def _scopes(host: str, tenant: str) -> list[str]:
    listed = list(_json(f"scopes_{host}.json"))
    persona = links.HOST_PERSONA[host]
    for client in Client.objects.filter(tenant_id=tenant, persona__in=[persona, "system"]):
        listed += [s for s in client.scopes.split() if s not in listed]
    return listed


def smart_configuration(base: str, host: str, tenant: str) -> dict[str, Any]:
    persona = links.HOST_PERSONA[host]
    context = "context-ehr-encounter" if persona == "provider" else "context-standalone-patient"
    return {
        "issuer": links.issuer(base, tenant),
        "authorization_endpoint": links.authorize_url(base, tenant, persona),
        "token_endpoint": links.token_url(base, tenant, host),
        "revocation_endpoint": links.revoke_url(base, tenant),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "jwks_uri": links.jwks_url(base),
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "scopes_supported": _scopes(host, tenant),
        "response_types_supported": ["code"],
        "management_endpoint": links.manage_url(base, tenant, persona),
        "introspection_endpoint": links.introspect_url(base),
        "capabilities": [*COMMON_CAPABILITIES, context, *PERMISSIONS],
        "code_challenge_methods_supported": ["S256"],
    }


def _security(base: str, host: str, tenant: str) -> dict[str, Any]:
    persona = links.HOST_PERSONA[host]
    uris = {
        "token": links.token_url(base, tenant, host),
        "revoke": links.revoke_url(base, tenant),
        "authorize": links.authorize_url(base, tenant, persona),
        "manage": links.manage_url(base, tenant, persona),
        "introspect": links.introspect_url(base),
    }
    security = copy.deepcopy(_json("capability_statement.json")["rest"][0]["security"])
    security["extension"] = [
        {"extension": [{"valueUri": v, "url": k} for k, v in uris.items()], "url": OAUTH_URIS}
    ]
    return security


def capability_statement(base: str, host: str, tenant: str) -> dict[str, Any]:
    """Millennium's secure CapabilityStatement, listing only resources the sandbox serves."""
    statement = copy.deepcopy(_json("capability_statement.json"))
    fhir_base = links.fhir_base(base, host, tenant)
    statement["url"] = f"{fhir_base}/metadata"
    statement["implementation"]["url"] = fhir_base
    rest = statement["rest"][0]
    rest["security"] = _security(base, host, tenant)
    served = set(supported_types())
    rest["resource"] = [r for r in rest["resource"] if r["type"] in served]
    return statement
