"""Once-only keys for forms that send something to the EHR (a message must not go out twice)."""

import secrets

from django.db import IntegrityError, transaction

from smartapp.clinical.models import SentMessageKey
from smartapp.launch.models import Launch


def message_key_new() -> str:
    return secrets.token_urlsafe(24)


def message_key_claim(*, launch: Launch, key: str) -> bool:
    """True for the first submit of this key; False when it was already used (a replay)."""
    try:
        with transaction.atomic():
            SentMessageKey.objects.create(launch=launch, key=key)
    except IntegrityError:
        return False
    return True


def message_key_release(*, launch: Launch, key: str) -> None:
    """The EHR refused the message outright, so the same form may be corrected and sent again."""
    SentMessageKey.objects.filter(launch=launch, key=key).delete()
