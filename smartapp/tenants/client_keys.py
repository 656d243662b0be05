"""The app's signing keys for `private_key_jwt` client assertions (RFC 7523), and their rotation.

One key set for the whole app, published at `/.well-known/jwks.json` (the URL to register in
Oracle's code console). A key's life: `next` (published, not yet signing) → `active` (the one
that signs) → `retiring` (published until the last assertion it signed has expired) → `retired`.
A new key is published before it signs: `rotate` promotes a `next` key only once it has been
published for `publish_lead`, so every server has had time to fetch it.
"""

import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc7523 import private_key_jwt_sign
from django.db import transaction
from django.utils import timezone
from joserfc.jwk import ECKey, KeyParameters, RSAKey

from smartapp.tenants.models import ClientKey

ALGORITHMS = ("ES384", "RS384")  # what Millennium verifies (its smart-configuration says)
DEFAULT_ALGORITHM = "ES384"
ASSERTION_SECONDS = 300  # an assertion lives at most 5 minutes
PUBLISHED_AFTER_LAST_USE = timedelta(seconds=ASSERTION_SECONDS + 60)
PUBLISH_LEAD = timedelta(hours=1)  # a new key is published this long before it may sign


class KeyCommandRefused(Exception):
    """A key command cannot do what was asked; the message says why."""


@dataclass(frozen=True)
class Assertion:
    """The form fields that authenticate a client with a signed JWT."""

    client_assertion_type: str
    client_assertion: str

    def form(self) -> dict[str, str]:
        return {
            "client_assertion_type": self.client_assertion_type,
            "client_assertion": self.client_assertion,
        }


def _generate(algorithm: str) -> ECKey | RSAKey:
    parameters: KeyParameters = {"kid": uuid.uuid4().hex, "alg": algorithm, "use": "sig"}
    if algorithm == "ES384":
        return ECKey.generate_key("P-384", parameters=parameters, private=True)
    return RSAKey.generate_key(2048, parameters=parameters, private=True)


def key_create(*, algorithm: str = DEFAULT_ALGORITHM) -> ClientKey:
    """A new key: it signs at once when there is no signing key yet, else it waits as `next`."""
    if algorithm not in ALGORITHMS:
        raise KeyCommandRefused(f"algorithm must be one of {', '.join(ALGORITHMS)}")
    key = _generate(algorithm)
    now = timezone.now()
    with transaction.atomic():
        first = not ClientKey.objects.filter(state=ClientKey.State.ACTIVE).exists()
        return ClientKey.objects.create(
            kid=str(key.kid),
            algorithm=algorithm,
            private_jwk=json.dumps(key.as_dict(private=True)),
            public_jwk=key.as_dict(private=False),
            state=ClientKey.State.ACTIVE if first else ClientKey.State.NEXT,
            published_at=now,
            activated_at=now if first else None,
        )


def key_rotate(*, publish_lead: timedelta = PUBLISH_LEAD) -> tuple[ClientKey, str]:
    """Promotes the `next` key once it has been published long enough; else publishes one.

    Returns the key acted on and what happened, in words for the operator.
    """
    now = timezone.now()
    waiting = ClientKey.objects.filter(state=ClientKey.State.NEXT).order_by("published_at").first()
    if waiting is None:
        created = key_create()
        if created.state == ClientKey.State.ACTIVE:
            return created, "created and signing (there was no signing key)"
        return created, f"published; run rotate again after {_words(publish_lead)} to sign with it"
    if now - waiting.published_at < publish_lead:
        ready = waiting.published_at + publish_lead
        return (
            waiting,
            f"published since {waiting.published_at:%H:%M}; it may sign from {ready:%H:%M}",
        )
    with transaction.atomic():
        ClientKey.objects.filter(state=ClientKey.State.ACTIVE).update(
            state=ClientKey.State.RETIRING,
            signing_ended_at=now,
            published_until=now + PUBLISHED_AFTER_LAST_USE,
        )
        ClientKey.objects.filter(pk=waiting.pk).update(
            state=ClientKey.State.ACTIVE, activated_at=now
        )
    waiting.refresh_from_db()
    return waiting, "now signing; the previous key stays published until its last assertion expires"


def keys_retire(*, kid: str = "") -> list[ClientKey]:
    """Retires `kid`, or every retiring key whose last assertion has expired; never the signer."""
    now = timezone.now()
    rows = ClientKey.objects.exclude(state=ClientKey.State.RETIRED)
    if kid:
        rows = rows.filter(kid=kid)
        if rows.filter(state=ClientKey.State.ACTIVE).exists():
            raise KeyCommandRefused("that key signs now: rotate to another key first")
    else:
        rows = rows.filter(state=ClientKey.State.RETIRING, published_until__lte=now)
    found = list(rows)
    rows.update(state=ClientKey.State.RETIRED, published_until=now)
    return found


def published_jwks() -> dict[str, list[dict[str, Any]]]:
    """The public keys servers may verify our assertions with (the JWKS document)."""
    now = timezone.now()
    rows = ClientKey.objects.filter(
        state__in=(ClientKey.State.NEXT, ClientKey.State.ACTIVE, ClientKey.State.RETIRING)
    ).order_by("published_at")
    return {
        "keys": [
            row.public_jwk
            for row in rows
            if row.state != ClientKey.State.RETIRING or (row.published_until or now) > now
        ]
    }


def client_assertion(*, client_id: str, audience: str) -> Assertion:
    """A signed assertion (authlib's RFC 7523 signer): iss = sub = client id, aud = the token
    endpoint, a unique jti, 5 minutes, the signing key's kid in the header."""
    row = ClientKey.objects.filter(state=ClientKey.State.ACTIVE).order_by("-activated_at").first()
    if row is None:
        raise KeyCommandRefused("no signing key: run `manage.py smart_keys create`")
    data = json.loads(row.private_jwk)
    key = ECKey.import_key(data) if data["kty"] == "EC" else RSAKey.import_key(data)
    now = int(time.time())
    signed = private_key_jwt_sign(
        key,
        client_id=client_id,
        token_endpoint=audience,
        alg=row.algorithm,
        header={"kid": row.kid, "typ": "JWT"},
        issued_at=now,
        expires_at=now + ASSERTION_SECONDS,
    )
    text = signed.decode() if isinstance(signed, bytes) else str(signed)
    return Assertion("urn:ietf:params:oauth:client-assertion-type:jwt-bearer", text)


def _words(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} min"
