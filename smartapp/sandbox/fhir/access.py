"""The FHIR host's side of OAuth: which tokens it trusts and what their scopes allow."""

import time

from django.http import HttpRequest, JsonResponse

from smartapp.sandbox import error_bodies, keys, knobs
from smartapp.sandbox.fhir.registry import Access, ResourceHandler
from smartapp.sandbox.links import ENV1
from smartapp.sandbox.models import Knobs, RevokedToken, SigningKey
from smartapp.sandbox.oauth import scopes as scope_rules
from smartapp.sandbox.oauth.tokens import CERNER_CLAIMS, CERNER_CLAIMS_V1, CONTEXT_CLAIM


def _bearer(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    return token.strip() if kind.lower() == "bearer" else ""


def authenticate(
    request: HttpRequest, *, host: str, tenant: str, knob: Knobs | None = None
) -> Access | JsonResponse:
    """The caller's Access, or the 401 Millennium would send (`knob`: the test knobs' row)."""
    token = _bearer(request)
    if not token:
        return error_bodies.missing_token()
    kid = keys.unverified_header(token).get("kid")
    # A host knows only the key its own environment signs its tokens with.
    key_row = SigningKey.objects.filter(kid=kid, purpose=keys.access_purpose(ENV1, host)).first()
    if key_row is None:
        return error_bodies.unknown_kid()
    claims = keys.verify(token, key_row)
    if claims is None:
        return error_bodies.bad_signature()
    if int(claims.get("exp", 0)) <= time.time():
        return error_bodies.expired_token()
    if knobs.expired_by_knob(knob, int(claims.get("iat", 0))):
        return error_bodies.expired_token()
    if RevokedToken.objects.filter(jti=str(claims.get("jti", ""))).exists():
        return error_bodies.revoked_token()
    if claims.get(CERNER_CLAIMS, {}).get("tnt") != tenant or knobs.mismatch_now(knob):
        return error_bodies.wrong_tenant()
    context = claims.get(CONTEXT_CLAIM, {})
    return Access(
        persona=claims[CERNER_CLAIMS_V1]["user"]["persona"],
        scopes=scope_rules.split(claims[CERNER_CLAIMS]["azs"]),
        client_id=claims["azp"],
        user_type=context.get("user_type", ""),
        user=context.get("user", ""),
        patient=context.get("patient", ""),
    )


def authorize(access: Access, handler: ResourceHandler, interaction: str) -> bool:
    """True when a scope allows it; narrows `access` to the token's patient when it must."""
    prefix = scope_rules.granting_prefix(
        access.scopes, access.persona, handler.type_name, interaction
    )
    if prefix is None:
        return False
    limited = access.persona == "patient" or prefix == "patient"
    if limited and handler.in_patient_compartment:
        access.compartment_patient = access.patient
    return True
