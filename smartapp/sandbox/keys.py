"""Signing keys, kept in the database so every server process signs and verifies alike.

Access tokens are signed with one key per (environment, FHIR host); a FHIR host trusts only its
own environment's key, so tokens from elsewhere fail with `unknown_kid` as on Millennium.
"""

import base64
import json
import secrets
from typing import Any

from django.db import IntegrityError
from django.utils import timezone
from joserfc import jwt  # authlib's own JOSE library (authlib.jose is deprecated in its favour)
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from smartapp.sandbox.links import ENV1
from smartapp.sandbox.models import SigningKey

ALGORITHMS = ["ES256", "RS256"]


def access_purpose(env: str, host: str) -> str:
    return f"access:{env}:{host}"


def id_token_purpose(env: str = ENV1) -> str:
    return f"id_token:{env}"


def _generate(purpose: str) -> SigningKey:
    is_rsa = purpose.startswith("id_token")
    key = RSAKey.generate_key(2048) if is_rsa else ECKey.generate_key("P-256")
    # Cerner's kids look like "2025-01-21T01:40:36.469.rsa".
    stamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%S")
    kid = f"{stamp}.{secrets.randbelow(1000):03d}{secrets.token_hex(2)}.{'rsa' if is_rsa else 'ec'}"
    jwk = key.as_dict(private=True)
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
    return jwt.encode(header, claims, KeySet.import_key_set({"keys": [row.private_jwk]}).keys[0])


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
        key = KeySet.import_key_set({"keys": [key_row.private_jwk]}).keys[0]
        claims = jwt.decode(token, key, algorithms=ALGORITHMS).claims
    except (JoseError, ValueError):
        return None
    return dict(claims)


def public_jwks(env: str = ENV1) -> dict[str, list[dict[str, Any]]]:
    row = signing_key(id_token_purpose(env))
    public = KeySet.import_key_set({"keys": [row.private_jwk]}).keys[0].as_dict(private=False)
    public.update(kid=row.kid, alg="RS256", use="sig")
    return {"keys": [public]}


def create_all(envs_hosts: list[tuple[str, str]]) -> None:
    """Fresh keys for every purpose (used by the seed)."""
    SigningKey.objects.all().delete()
    for env, host in envs_hosts:
        _generate(access_purpose(env, host))
    for env in {env for env, _ in envs_hosts}:
        _generate(id_token_purpose(env))
