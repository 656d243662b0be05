"""Signing keys, kept in the database so every server process signs and verifies alike.

Access tokens are signed with one key per (environment, FHIR host); a FHIR host trusts only its
own environment's key, so tokens from elsewhere fail with `unknown_kid` as on Millennium.
"""

import base64
import json
import secrets
import warnings
from typing import Any

import authlib.deprecate  # noqa: F401 - it installs an 'always' filter on import

with warnings.catch_warnings():
    # authlib.jose is deprecated in favour of joserfc; it is what this project ships with.
    warnings.simplefilter("ignore")
    from authlib.jose import JsonWebKey, JsonWebToken
    from authlib.jose.errors import JoseError
from django.db import IntegrityError
from django.utils import timezone

from smartapp.sandbox.links import ENV1
from smartapp.sandbox.models import SigningKey

_jwt = JsonWebToken(["ES256", "RS256"])


def access_purpose(env: str, host: str) -> str:
    return f"access:{env}:{host}"


def id_token_purpose(env: str = ENV1) -> str:
    return f"id_token:{env}"


def _generate(purpose: str) -> SigningKey:
    is_rsa = purpose.startswith("id_token")
    key = (
        JsonWebKey.generate_key("RSA", 2048, is_private=True)
        if is_rsa
        else JsonWebKey.generate_key("EC", "P-256", is_private=True)
    )
    # Cerner's kids look like "2025-01-21T01:40:36.469.rsa".
    stamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%S")
    kid = f"{stamp}.{secrets.randbelow(1000):03d}{secrets.token_hex(2)}.{'rsa' if is_rsa else 'ec'}"
    jwk = key.as_dict(is_private=True)
    jwk.update(kid=kid, alg="RS256" if is_rsa else "ES256", use="sig")
    return SigningKey.objects.create(kid=kid, purpose=purpose, private_jwk=jwk)


def signing_key(purpose: str) -> SigningKey:
    """The key for a purpose, created on first use (seeding creates them all up front)."""
    row = SigningKey.objects.filter(purpose=purpose).first()
    if row:
        return row
    try:
        return _generate(purpose)
    except IntegrityError:  # another process created it first
        return SigningKey.objects.get(purpose=purpose)


def sign(purpose: str, claims: dict[str, Any]) -> str:
    row = signing_key(purpose)
    header = {"alg": row.private_jwk["alg"], "kid": row.kid, "typ": "JWT"}
    return _jwt.encode(header, claims, JsonWebKey.import_key(row.private_jwk)).decode()


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, or {} when the token is not a JWS at all."""
    try:
        segment = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, IndexError):
        return {}
    return header if isinstance(header, dict) else {}


def verify(token: str, key_row: SigningKey) -> dict[str, Any] | None:
    """The claims when the signature is good (expiry is checked by the caller), else None."""
    try:
        claims = _jwt.decode(token, JsonWebKey.import_key(key_row.private_jwk))
    except (JoseError, ValueError):
        return None
    return dict(claims)


def public_jwks(env: str = ENV1) -> dict[str, list[dict[str, Any]]]:
    row = signing_key(id_token_purpose(env))
    public = JsonWebKey.import_key(row.private_jwk).as_dict(is_private=False)
    public.update(kid=row.kid, alg="RS256", use="sig")
    return {"keys": [public]}


def create_all(envs_hosts: list[tuple[str, str]]) -> None:
    """Fresh keys for every purpose (used by the seed)."""
    SigningKey.objects.all().delete()
    for env, host in envs_hosts:
        _generate(access_purpose(env, host))
    for env in {env for env, _ in envs_hosts}:
        _generate(id_token_purpose(env))
