"""A launch's access token, refreshed shortly before it expires (one refresh at a time)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smartapp.launch import error_pages
from smartapp.launch.models import Launch
from smartapp.lib import row_leases
from smartapp.monitoring.metrics import TOKEN_REFRESHES
from smartapp.tenants.discovery import DiscoveryError, smart_configuration
from smartapp.tenants.models import Persona
from smartapp.tenants.oauth import TokenEndpointError, token_request
from smartapp.tenants.selectors import client_for

logger = logging.getLogger(__name__)
CLAIM_SECONDS = 20


def _forward(launch: Launch) -> str:
    return error_pages.SIGN_IN if launch.persona == Persona.PATIENT else error_pages.RELAUNCH


def _session_ended(launch: Launch, why: str) -> error_pages.SessionEnded:
    Launch.objects.filter(pk=launch.pk).update(ended_at=timezone.now(), refresh_claimed_until=None)
    logger.info("launch %s ended: %s", launch.public_id, why)
    if launch.persona == Persona.PATIENT:
        return error_pages.SessionEnded(
            _("Your sign-in has ended. Please sign in again."), way_forward=error_pages.SIGN_IN
        )
    return error_pages.SessionEnded(
        _("Your EHR session ended. Relaunch the app from the EHR to carry on."),
        way_forward=error_pages.RELAUNCH,
    )


def _due(launch: Launch) -> bool:
    margin = timedelta(seconds=settings.TOKEN_REFRESH_MARGIN_SECONDS)
    return launch.expires_at - margin <= timezone.now()


def _valid(launch: Launch) -> bool:
    return launch.expires_at > timezone.now()


def _refresh_grant(launch: Launch) -> None:
    try:
        _refresh_grant_once(launch)
    except Exception:
        TOKEN_REFRESHES.labels("failed").inc()
        raise
    TOKEN_REFRESHES.labels("ok").inc()


def _refresh_grant_once(launch: Launch) -> None:
    registration = client_for(tenant=launch.tenant, persona=launch.persona)
    config = smart_configuration(fhir_base=launch.fhir_base)
    form = {"grant_type": "refresh_token", "refresh_token": launch.refresh_token}
    data = token_request(token_endpoint=config.token_endpoint, registration=registration, form=form)
    launch.access_token = data["access_token"]
    # Millennium sends no new refresh token on refresh: keep the original.
    launch.refresh_token = str(data.get("refresh_token") or launch.refresh_token)
    launch.expires_at = timezone.now() + timedelta(seconds=int(data.get("expires_in") or 300))
    launch.scope = str(data.get("scope") or launch.scope)
    launch.refresh_claimed_until = None
    launch.save(
        update_fields=[
            "access_token",
            "refresh_token",
            "expires_at",
            "scope",
            "refresh_claimed_until",
        ]
    )


def _own_copy(launch: Launch) -> Launch:
    """The launch read afresh. A page's parallel reads share one Launch object: a thread that
    refreshed it in place while another writes it could save the old token back."""
    return Launch.objects.select_related("tenant").get(pk=launch.pk)


def _refresh_claimed(shared: Launch, refused: str = "") -> str:
    launch = _own_copy(shared)
    renewed = launch.access_token != refused if refused else not _due(launch)
    if renewed:  # another process refreshed between our read and our claim
        row_leases.release(model=Launch, pk=launch.pk, field="refresh_claimed_until")
        return launch.access_token
    try:
        _refresh_grant(launch)
    except (TokenEndpointError, DiscoveryError) as error:
        row_leases.release(model=Launch, pk=launch.pk, field="refresh_claimed_until")
        if isinstance(error, TokenEndpointError) and not error.unreachable:
            raise _session_ended(launch, f"refresh refused: {error.error}") from None
        if _valid(launch) and not refused:  # unreachable: the current token still works
            return launch.access_token
        raise error_pages.UpstreamUnavailable(way_forward=_forward(launch)) from None
    logger.info("launch %s token refreshed", launch.public_id)
    return launch.access_token


def _wait_for_other_refresh(shared: Launch) -> str:
    launch = _own_copy(shared)

    def renewed() -> bool:
        launch.refresh_from_db()
        return (
            not _due(launch) or launch.ended_at is not None or launch.refresh_claimed_until is None
        )

    row_leases.wait_until(renewed, seconds=CLAIM_SECONDS)
    if launch.ended_at is not None:
        raise _session_ended(launch, "ended by a concurrent refresh")
    if _valid(launch):
        return launch.access_token
    raise error_pages.UpstreamUnavailable(way_forward=_forward(launch))


def launch_access_token(*, launch: Launch) -> str:
    """A usable access token for the launch, refreshing it first when it is about to expire."""
    if launch.ended_at is not None:
        raise _session_ended(launch, "already ended")
    if not _due(launch):
        return launch.access_token
    if not launch.refresh_token:
        if _valid(launch):
            return launch.access_token
        raise _session_ended(launch, "expired without a refresh token")
    if row_leases.claim(
        model=Launch, pk=launch.pk, field="refresh_claimed_until", seconds=CLAIM_SECONDS
    ):
        return _refresh_claimed(launch)
    if _valid(launch):  # someone else is refreshing; the current token still works meanwhile
        return launch.access_token
    return _wait_for_other_refresh(launch)


def launch_token_renew(*, launch: Launch, refused: str) -> str:
    """A new token after the FHIR server refused `refused` (401) before it expired: one refresh
    for all the page's parallel reads (single-flight), else the launch has ended."""
    if launch.ended_at is not None:
        raise _session_ended(launch, "already ended")
    if not launch.refresh_token:
        raise _session_ended(launch, "token refused and no refresh token")
    renewed: set[str] = launch.__dict__.setdefault("_renewed_in_request", set())
    if refused in renewed:  # a token this request renewed was refused too: no second refresh
        return refused  # (the read repeats once, is refused, and the page says the session ended)
    if row_leases.claim(
        model=Launch, pk=launch.pk, field="refresh_claimed_until", seconds=CLAIM_SECONDS
    ):
        token = _refresh_claimed(launch, refused)
    else:
        token = _wait_for_renewal(launch, refused)
    renewed.add(token)
    launch.access_token = token  # this request's other reads use it too
    return token


def _wait_for_renewal(shared: Launch, refused: str) -> str:
    launch = _own_copy(shared)

    def renewed() -> bool:
        launch.refresh_from_db()
        return launch.access_token != refused or launch.ended_at is not None

    if not row_leases.wait_until(renewed, seconds=CLAIM_SECONDS):
        raise error_pages.UpstreamUnavailable(way_forward=_forward(launch))
    if launch.ended_at is not None:
        raise _session_ended(launch, "ended by a concurrent refresh")
    return launch.access_token
