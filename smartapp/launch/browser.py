"""What the browser's Django session holds: a random binding id and the launch ids it may use."""

import hashlib
import secrets

from django.contrib.sessions.backends.base import SessionBase

BROWSER_KEY = "smart_browser"
LAUNCHES_KEY = "smart_launch_ids"
MAX_LAUNCHES = 20


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def browser_hash(session: SessionBase) -> str:
    """A hash of this browser session's binding id (created on first use)."""
    if not session.get(BROWSER_KEY):
        session[BROWSER_KEY] = secrets.token_urlsafe(32)
    return sha256(session[BROWSER_KEY])


def launch_ids(session: SessionBase) -> list[str]:
    return list(session.get(LAUNCHES_KEY) or [])


def remember_launch(session: SessionBase, public_id: str) -> None:
    ids = [i for i in launch_ids(session) if i != public_id]
    session[LAUNCHES_KEY] = (ids + [public_id])[-MAX_LAUNCHES:]
