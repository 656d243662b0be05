"""Reads of launches, always through the browser session that owns them."""

import uuid

from django.contrib.sessions.backends.base import SessionBase

from smartapp.launch import error_pages
from smartapp.launch.browser import launch_ids
from smartapp.launch.models import Launch
from smartapp.tenants.models import Persona


def launch_for_session(
    *, session: SessionBase, public_id: uuid.UUID, persona: str | None = None
) -> Launch:
    """The launch if this browser session owns it (and it has the persona asked for), else an error."""
    ids = launch_ids(session)
    if not ids:
        raise error_pages.NotSignedIn(log="launch page without an app session")
    if str(public_id) not in ids:
        raise error_pages.LaunchNotFound(log="launch id not in this session")
    launch = Launch.objects.select_related("tenant").filter(public_id=public_id).first()
    if launch is None or (persona and launch.persona != persona):
        raise error_pages.LaunchNotFound(log="launch missing or of another persona")
    if launch.ended_at is not None:
        forward = error_pages.SIGN_IN if launch.persona == Persona.PATIENT else error_pages.RELAUNCH
        raise error_pages.SessionEnded(way_forward=forward, log="launch already ended")
    return launch
