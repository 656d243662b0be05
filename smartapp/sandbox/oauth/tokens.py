"""Minting access tokens and id_tokens, and the token response body."""

import time
import uuid
from typing import Any

from django.conf import settings

from smartapp.sandbox import keys, links
from smartapp.sandbox.models import Client, Grant
from smartapp.sandbox.oauth import scopes as scope_rules

CONTEXT_CLAIM = "urn:sandbox:context"
CERNER_CLAIMS = "urn:com:cerner:authorization:claims"
CERNER_CLAIMS_V1 = "urn:cerner:authorization:claims:version:1"
ID_TOKEN_LIFETIME = 600


def token_lifetime() -> int:
    return int(getattr(settings, "SANDBOX_TOKEN_LIFETIME_SECONDS", 570))


def access_token(
    *, base: str, env: str, host: str, client: Client, scope: str, context: dict[str, str]
) -> str:
    """A JWS bound to (environment, host) through the signing key's kid."""
    now = int(time.time())
    tenant = client.tenant_id
    principal = context.get("username") or client.client_id
    claims = {
        "sub": principal,
        CERNER_CLAIMS: {"ver": "1.0", "tnt": tenant, "azs": scope},
        "azp": client.client_id,
        "iss": f"{links.auth_root(base, env)}/",
        "exp": now + token_lifetime(),
        "iat": now,
        "jti": str(uuid.uuid4()),
        CERNER_CLAIMS_V1: {
            "ver": "1.0",
            "profiles": {"smart-v1": {"azs": scope}},
            "client": {"name": client.name, "id": client.client_id},
            "user": {"principal": principal, "persona": client.persona, "idsp": tenant},
            "tenant": tenant,
        },
        CONTEXT_CLAIM: context,
    }
    return keys.sign(keys.access_purpose(env, host), claims)


def id_token(*, base: str, grant: Grant) -> str:
    now = int(time.time())
    fhir_base = links.fhir_base(base, grant.host, grant.tenant_id)
    fhir_user = f"{fhir_base}/{grant.user_type}/{grant.user_fhir_id}"
    claims: dict[str, Any] = {
        "sub": grant.username,
        "aud": grant.client.client_id,
        "iss": links.oidc_issuer(base, grant.tenant_id),
        "name": grant.user_name,
        "exp": now + ID_TOKEN_LIFETIME,
        "iat": now,
        "fhirUser": fhir_user,
        "profile": fhir_user,
    }
    if grant.nonce:
        claims["nonce"] = grant.nonce
    return keys.sign(keys.id_token_purpose(), claims)


def grant_context(grant: Grant) -> dict[str, str]:
    return {
        "user_type": grant.user_type,
        "user": grant.user_fhir_id,
        "username": grant.username,
        "patient": grant.patient_fhir_id,
        "encounter": grant.encounter_fhir_id,
    }


def code_response(*, base: str, env: str, grant: Grant, refresh_token: str) -> dict[str, Any]:
    """The authorization_code response with Cerner's launch context fields."""
    granted = scope_rules.split(grant.scope)
    body = refresh_response(base=base, env=env, grant=grant)  # the bare token, then the context
    if refresh_token:
        body["refresh_token"] = refresh_token
    if "openid" in granted:
        body["id_token"] = id_token(base=base, grant=grant)
    if grant.patient_fhir_id:
        body["patient"] = grant.patient_fhir_id
    if grant.encounter_fhir_id:
        body["encounter"] = grant.encounter_fhir_id
    if grant.user_type == "Practitioner":
        body["user"] = grant.user_fhir_id
    body.update(
        tenant=grant.tenant_id,
        username=grant.username,
        need_patient_banner=grant.need_patient_banner,
        smart_style_url=links.style_url(base),
    )
    return body


def refresh_response(*, base: str, env: str, grant: Grant) -> dict[str, Any]:
    """Millennium's refresh response: a new access token only (clients keep the refresh token)."""
    return {
        "access_token": access_token(
            base=base,
            env=env,
            host=grant.host,
            client=grant.client,
            scope=grant.scope,
            context=grant_context(grant),
        ),
        "token_type": "Bearer",
        "expires_in": token_lifetime(),
        "scope": grant.scope,
    }


def system_response(
    *, base: str, env: str, host: str, client: Client, scope: str
) -> dict[str, Any]:
    return {
        "access_token": access_token(
            base=base, env=env, host=host, client=client, scope=scope, context={}
        ),
        "token_type": "Bearer",
        "expires_in": token_lifetime(),
        "scope": scope,
    }
