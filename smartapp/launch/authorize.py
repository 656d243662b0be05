"""Starting an authorization: EHR launch and standalone sign-in."""

import logging
from datetime import timedelta

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

from smartapp.launch.browser import browser_hash, sha256
from smartapp.launch.error_pages import NotConfigured
from smartapp.launch.models import PendingAuthorization
from smartapp.tenants.discovery import smart_configuration
from smartapp.tenants.models import Persona, Tenant
from smartapp.tenants.selectors import ClientNotRegistered, client_for

logger = logging.getLogger(__name__)

LAUNCH_SCOPES = {"launch", "launch/patient", "launch/encounter"}
PENDING_LIFETIME = timedelta(minutes=10)


def launch_scopes(*, registered: list[str], persona: str, ehr_launch: bool) -> str:
    """The registration's scopes with the launch-context scope this kind of launch needs."""
    scopes = [s for s in registered if s not in LAUNCH_SCOPES]
    if ehr_launch:
        scopes.insert(0, "launch")
    elif persona == Persona.PATIENT:
        scopes.insert(0, "launch/patient")
    return " ".join(scopes)


def _pending_prune() -> None:
    PendingAuthorization.objects.filter(created__lt=timezone.now() - timedelta(days=1)).delete()


def authorization_start(
    *, session: SessionBase, tenant: Tenant, persona: str, aud: str, launch: str = ""
) -> str:
    """Records a pending authorization and returns the authorize URL to redirect the browser to.

    Discovery always uses the registered FHIR base, and so does `aud` (the caller passes it).
    """
    try:
        registration = client_for(tenant=tenant, persona=persona)
    except ClientNotRegistered:
        raise NotConfigured(log=f"no {persona} client for {tenant.slug}") from None
    if not registration.redirect_uri:
        raise NotConfigured(log=f"{persona} client of {tenant.slug} has no redirect_uri")
    config = smart_configuration(fhir_base=tenant.fhir_base_for(persona))
    state, nonce, verifier = generate_token(43), generate_token(32), generate_token(64)
    _pending_prune()
    PendingAuthorization.objects.create(
        state_hash=sha256(state),
        browser_hash=browser_hash(session),
        code_verifier=verifier,
        nonce=nonce,
        tenant=tenant,
        persona=persona,
        iss=aud,
        kind="ehr" if launch else "standalone",
    )
    extra = {
        "aud": aud,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),  # type: ignore[no-untyped-call]  # unannotated in types-authlib
        "code_challenge_method": "S256",
    }
    if launch:
        extra["launch"] = launch
    scope = launch_scopes(
        registered=registration.scope_list, persona=persona, ehr_launch=bool(launch)
    )
    logger.info(
        "authorization start tenant=%s persona=%s kind=%s",
        tenant.slug,
        persona,
        "ehr" if launch else "standalone",
    )
    url: str = prepare_grant_uri(  # types-authlib leaves the return unannotated
        config.authorization_endpoint,
        registration.client_id,
        "code",
        redirect_uri=registration.redirect_uri,
        scope=scope,
        state=state,
        **extra,
    )
    return url
