"""Completing an authorization: state, code exchange, id_token, the Launch row."""

import logging
from datetime import timedelta
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.utils import timezone

from smartapp.launch import error_pages
from smartapp.launch.authorize import PENDING_LIFETIME
from smartapp.launch.browser import browser_hash, sha256
from smartapp.launch.idtoken import verify_id_token
from smartapp.launch.models import Launch, PendingAuthorization
from smartapp.launch.oauth_words import token_error_page
from smartapp.launch.persona_evidence import persona_check
from smartapp.launch.users import launch_user_resolve
from smartapp.tenants.discovery import SmartConfiguration, smart_configuration
from smartapp.tenants.models import ClientRegistration, Persona
from smartapp.tenants.oauth import TokenEndpointError, token_request
from smartapp.tenants.selectors import client_for

logger = logging.getLogger(__name__)


def way_forward(persona: str) -> str:
    return error_pages.SIGN_IN if persona == Persona.PATIENT else error_pages.RELAUNCH


def _pending_claim(*, state: str, session: SessionBase) -> PendingAuthorization:
    pending = (
        PendingAuthorization.objects.select_related("tenant")
        .filter(state_hash=sha256(state))
        .first()
    )
    if pending is None:
        raise error_pages.StateInvalid(log="callback with an unknown state")
    forward = way_forward(pending.persona)
    if pending.browser_hash != browser_hash(session):
        raise error_pages.StateInvalid(
            way_forward=forward, log="callback state from another browser session"
        )
    if pending.used_at is not None:
        raise error_pages.StateReused(way_forward=forward, log="callback state reused")
    if pending.created < timezone.now() - PENDING_LIFETIME:
        raise error_pages.StateExpired(way_forward=forward, log="callback state expired")
    used = PendingAuthorization.objects.filter(pk=pending.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if used != 1:
        raise error_pages.StateReused(way_forward=forward, log="callback state reused (race)")
    return pending


def _raise_authorization_error(params: dict[str, str], persona: str) -> None:
    error, error_uri = params.get("error", ""), params.get("error_uri", "")
    logger.warning("authorization error=%s error_uri=%s", error[:100], error_uri[:300])
    detail = " ".join(p for p in (error, params.get("error_description", ""), error_uri) if p)
    cls = (
        error_pages.AuthorizationDenied
        if error == "access_denied"
        else error_pages.AuthorizationFailed
    )
    raise cls(staff_detail=detail, way_forward=way_forward(persona) if persona else "")


def _exchange(
    pending: PendingAuthorization,
    registration: ClientRegistration,
    config: SmartConfiguration,
    code: str,
) -> dict[str, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": registration.redirect_uri,
        "code_verifier": pending.code_verifier,
    }
    try:
        return token_request(
            token_endpoint=config.token_endpoint, registration=registration, form=form
        )
    except TokenEndpointError as error:
        raise token_error_page(error, way_forward=way_forward(pending.persona)) from None


def _launch_create(
    pending: PendingAuthorization, token: dict[str, Any], id_token_claims: dict[str, Any]
) -> Launch:
    banner = token.get("need_patient_banner")
    return Launch.objects.create(
        tenant=pending.tenant,
        persona=pending.persona,
        fhir_base=pending.tenant.fhir_base_for(pending.persona).rstrip("/"),
        access_token=token["access_token"],
        refresh_token=str(token.get("refresh_token") or ""),
        id_token=str(token.get("id_token") or ""),
        expires_at=timezone.now() + timedelta(seconds=int(token.get("expires_in") or 300)),
        scope=str(token.get("scope") or ""),
        patient_id=str(token.get("patient") or ""),
        encounter_id=str(token.get("encounter") or ""),
        need_patient_banner=True if banner is None else bool(banner),
        smart_style_url=str(token.get("smart_style_url") or "")[:500],
        user_display=str(id_token_claims.get("name") or "")[:300],
        standalone=pending.kind == "standalone",
        last_seen_at=timezone.now(),
    )


def authorization_complete(*, session: SessionBase, params: dict[str, str]) -> Launch:
    """Checks the callback, exchanges the code, verifies the id_token, creates the Launch."""
    state = params.get("state", "")
    if params.get("error"):
        persona = ""
        if state:
            persona = _pending_claim(state=state, session=session).persona
        _raise_authorization_error(params, persona)
    if not state:
        raise error_pages.StateInvalid(log="callback without state")
    pending = _pending_claim(state=state, session=session)
    if not params.get("code"):
        raise error_pages.AuthorizationFailed(
            way_forward=way_forward(pending.persona), log="callback without code"
        )
    registration = client_for(tenant=pending.tenant, persona=pending.persona)
    config = smart_configuration(fhir_base=pending.tenant.fhir_base_for(pending.persona))
    token = _exchange(pending, registration, config, params["code"])
    claims: dict[str, Any] = {}
    if token.get("id_token"):
        claims = verify_id_token(
            id_token=str(token["id_token"]),
            config=config,
            client_id=registration.client_id,
            nonce=pending.nonce,
        )
    persona_check(
        persona=pending.persona, claims=claims, token=token, requested=registration.scope_list
    )
    with transaction.atomic():
        launch = _launch_create(pending, token, claims)
    launch_user_resolve(launch=launch, claims=claims, token=token)
    logger.info(
        "launch created tenant=%s persona=%s launch=%s",
        launch.tenant.slug,
        launch.persona,
        launch.public_id,
    )
    return launch
