"""Signing out on a shared computer: the tokens are revoked at the authorization server
(RFC 7009), then deleted here, and the browser's session is forgotten."""

import logging

import requests

from smartapp.launch.models import Launch
from smartapp.launch.selectors import launch_end
from smartapp.lib.http import session
from smartapp.tenants.discovery import DiscoveryError, smart_configuration
from smartapp.tenants.oauth import client_auth
from smartapp.tenants.selectors import ClientNotRegistered, client_for

logger = logging.getLogger(__name__)


def _revoke(endpoint: str, audience: str, launch: Launch, token: str, hint: str) -> bool:
    registration = client_for(tenant=launch.tenant, persona=launch.persona)
    auth, form = client_auth(
        registration, {"token": token, "token_type_hint": hint}, audience=audience
    )
    try:
        response = session().post(endpoint, data=form, auth=auth, what=f"revoke {hint}")
    except requests.RequestException as error:
        logger.warning(
            "launch %s: revocation unreachable: %s", launch.public_id, type(error).__name__
        )
        return False
    return response.status_code == 200  # RFC 7009: 200 also for a token it did not know


def launch_sign_out(*, launch: Launch) -> bool:
    """Revokes the launch's refresh and access tokens, then ends it; True when both were revoked.

    The launch ends whatever the server answers: the tokens are deleted here either way.
    """
    revoked = False
    try:
        endpoint = smart_configuration(fhir_base=launch.tenant.fhir_base_for(launch.persona))
        url = endpoint.revocation_endpoint
        tokens = [(launch.refresh_token, "refresh_token"), (launch.access_token, "access_token")]
        if url:
            audience = endpoint.token_endpoint  # what an assertion names as the server
            answers = [
                _revoke(url, audience, launch, token, hint) for token, hint in tokens if token
            ]
            revoked = all(answers)
    except (DiscoveryError, ClientNotRegistered) as error:
        logger.warning("launch %s: cannot revoke: %s", launch.public_id, type(error).__name__)
    launch_end(launch=launch, reason="signed out" + ("" if revoked else " (not revoked)"))
    return revoked
