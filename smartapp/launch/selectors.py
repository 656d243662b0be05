"""Reads of launches, always through the browser session that owns them."""

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from smartapp.launch import error_pages
from smartapp.launch.browser import launch_ids
from smartapp.launch.features import feature_check
from smartapp.launch.models import Launch
from smartapp.lib.logs import log_context_bind
from smartapp.lib.words import filled
from smartapp.tenants.models import Persona

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)
SEEN_EVERY = timedelta(seconds=30)  # activity is written at most this often (one UPDATE)


def launch_for_session(
    *,
    session: SessionBase,
    public_id: uuid.UUID,
    persona: str | None = None,
    active: bool = True,
    feature: str = "",
) -> Launch:
    """The launch if this browser session owns it (and it has the persona asked for, and the
    scopes `feature` needs were granted), else an error."""
    ids = launch_ids(session)
    if not ids:
        raise error_pages.NotSignedIn(log="launch page without an app session")
    if str(public_id) not in ids:
        raise error_pages.LaunchNotFound(log="launch id not in this session")
    launch = Launch.objects.select_related("tenant").filter(public_id=public_id).first()
    if launch is None or (persona and launch.persona != persona):
        raise error_pages.LaunchNotFound(log="launch missing or of another persona")
    if launch.ended_at is not None:
        raise error_pages.SessionEnded(way_forward=_way_back(launch), log="launch already ended")
    log_context_bind(launch_id=str(launch.public_id), tenant=launch.tenant.slug)
    launch_check_lifetime(launch=launch, active=active)
    if feature:
        feature_check(launch=launch, tab=feature)
    return launch


def _way_back(launch: Launch) -> str:
    return error_pages.SIGN_IN if launch.persona == Persona.PATIENT else error_pages.RELAUNCH


def _minutes(seconds: int) -> "StrOrPromise":
    minutes = seconds // 60
    if minutes >= 120:
        hours = minutes // 60
        return filled(ngettext_lazy("%(count)d hour", "%(count)d hours", hours), count=hours)
    return filled(ngettext_lazy("%(count)d minute", "%(count)d minutes", minutes), count=minutes)


def launch_check_lifetime(*, launch: Launch, active: bool) -> None:
    """Ends a launch idle too long or signed in too long ago; else notes the user's activity.

    `active` is False for a page's own background refresh (htmx), which must not keep a
    forgotten session alive.
    """
    now = timezone.now()
    idle = settings.SESSION_IDLE_SECONDS.get(launch.persona, settings.SESSION_ABSOLUTE_SECONDS)
    last = launch.last_seen_at or launch.created
    if now - launch.created > timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS):
        why = filled(
            _("You were signed out %(time)s after signing in."),
            time=_minutes(settings.SESSION_ABSOLUTE_SECONDS),
        )
    elif now - last > timedelta(seconds=idle):
        why = filled(_("You were signed out after %(time)s without activity."), time=_minutes(idle))
    else:
        if active and now - last > SEEN_EVERY:
            Launch.objects.filter(pk=launch.pk).update(last_seen_at=now)
        return
    launch_end(launch=launch, reason="timed out")
    raise error_pages.SessionTimedOut(why, way_forward=_way_back(launch), log="launch timed out")


def launch_end(*, launch: Launch, reason: str) -> None:
    """The launch is over: its tokens are deleted here (sign-out revokes them first)."""
    Launch.objects.filter(pk=launch.pk, ended_at__isnull=True).update(
        ended_at=timezone.now(), access_token="", refresh_token="", id_token=""
    )
    logger.info("launch %s ended: %s", launch.public_id, reason)
