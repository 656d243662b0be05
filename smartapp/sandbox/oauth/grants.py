"""The token endpoint: client authentication and the three grant types."""

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.db import transaction
from django.utils import timezone

from smartapp.sandbox import error_bodies, keys, links
from smartapp.sandbox.error_bodies import OAuthError
from smartapp.sandbox.links import ENV1
from smartapp.sandbox.models import Client, Grant, RevokedToken, SigningKey
from smartapp.sandbox.oauth import assertions, tokens
from smartapp.sandbox.oauth import scopes as scope_rules

CODE_LIFETIME = timedelta(seconds=60)
API_HOST = "api"
REFRESH_SCOPES = {"online_access", "offline_access"}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _basic_credentials(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", error_bodies.BAD_AUTH_HEADER, 401) from None
    client_id, sep, secret = raw.partition(":")
    if not sep:
        raise OAuthError("invalid_client", error_bodies.BAD_AUTH_HEADER, 401)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    return unquote(client_id), unquote(secret)


def authenticate(
    *, authorization: str, form: dict[str, str], tenant: str, audiences: list[str]
) -> Client:
    """client_secret_basic or private_key_jwt for confidential clients; a bare client_id for
    public ones. A client registered for signed assertions has no other way in."""
    if form.get("client_assertion") or form.get("client_assertion_type"):
        return assertions.client_from_assertion(form, tenant=tenant, audiences=audiences)
    bad = OAuthError("invalid_client", error_bodies.BAD_AUTH_HEADER, 401)
    credentials = _basic_credentials(authorization)
    client_id = credentials[0] if credentials else form.get("client_id", "")
    client = Client.objects.filter(client_id=client_id, tenant_id=tenant).first()
    if client is None:
        raise bad
    if client.signs_assertions:
        raise OAuthError("invalid_client", f"{assertions.URN}:missing", 401)
    if client.is_public:
        return client
    if credentials is None or not hmac.compare_digest(credentials[1], client.client_secret):
        raise bad
    return client


def new_refresh_token(grant: Grant) -> str:
    if not REFRESH_SCOPES & set(scope_rules.split(grant.scope)):
        return ""
    token = secrets.token_urlsafe(32)
    Grant.objects.filter(pk=grant.pk).update(refresh_hash=digest(token))
    return token


def _check_pkce(grant: Grant, verifier: str) -> None:
    if not grant.code_challenge:
        return
    if not verifier or not hmac.compare_digest(
        create_s256_code_challenge(verifier), grant.code_challenge
    ):
        raise OAuthError("invalid_grant", error_bodies.CODE_INVALID)


def _claim_code(*, client: Client, code: str, host: str, redirect_uri: str) -> Grant:
    invalid = OAuthError("invalid_grant", error_bodies.CODE_INVALID)
    grant = Grant.objects.select_related("client").filter(code_hash=digest(code)).first()
    if grant is None or grant.client_id != client.pk or grant.host != host:
        raise invalid
    if grant.code_used_at is not None:
        # A replayed code may be stolen: kill what it produced (RFC 6749 §4.1.2).
        Grant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now())
        raise invalid
    if grant.code_expires_at <= timezone.now() or redirect_uri != grant.redirect_uri:
        raise invalid
    with transaction.atomic():
        claimed = Grant.objects.filter(pk=grant.pk, code_used_at__isnull=True).update(
            code_used_at=timezone.now()
        )
    if claimed != 1:
        raise invalid
    return grant


def authorization_code(
    *, base: str, env: str, host: str, client: Client, form: dict[str, str]
) -> dict[str, Any]:
    if env != ENV1 or host == API_HOST:
        raise OAuthError("invalid_grant", error_bodies.CODE_INVALID)
    grant = _claim_code(
        client=client,
        code=form.get("code", ""),
        host=host,
        redirect_uri=form.get("redirect_uri", ""),
    )
    _check_pkce(grant, form.get("code_verifier", ""))
    refresh = new_refresh_token(grant)
    return tokens.code_response(base=base, env=env, grant=grant, refresh_token=refresh)


def refresh_token(
    *, base: str, env: str, host: str, client: Client, form: dict[str, str]
) -> dict[str, Any]:
    grant = active_refresh_grant(form.get("refresh_token", ""))
    if grant is None or grant.client_id != client.pk or grant.host != host or env != ENV1:
        raise OAuthError("invalid_grant", error_bodies.CODE_INVALID)
    return tokens.refresh_response(base=base, env=env, grant=grant)


def client_credentials(
    *, base: str, env: str, host: str, client: Client, form: dict[str, str]
) -> dict[str, Any]:
    if client.persona != "system":
        raise OAuthError("unauthorized_client", error_bodies.UNAUTHORIZED_CLIENT)
    requested = scope_rules.split(form.get("scope", ""))
    # The EHR APIs host (`api`) grants their `oraclehealth:` scopes; FHIR hosts `system/` ones.
    prefix = "oraclehealth:" if host == API_HOST else "system/"
    if any(not s.startswith(prefix) for s in requested):
        raise OAuthError("invalid_scope", error_bodies.EMPTY_SCOPES)
    # Millennium narrows to the registered scopes and refuses only when none remain.
    granted = [s for s in requested if s in client.scope_set]
    if not granted:
        raise OAuthError("invalid_scope", error_bodies.EMPTY_SCOPES)
    return tokens.system_response(
        base=base, env=env, host=host, client=client, scope=" ".join(granted)
    )


GRANT_TYPES = {
    "authorization_code": authorization_code,
    "refresh_token": refresh_token,
    "client_credentials": client_credentials,
}


def exchange(
    *, base: str, env: str, host: str, tenant: str, authorization: str, form: dict[str, str]
) -> dict[str, Any]:
    """Runs one token request; raises OAuthError with Cerner's URN on refusal."""
    handler = GRANT_TYPES.get(form.get("grant_type", ""))
    client = authenticate(
        authorization=authorization,
        form=form,
        tenant=tenant,
        audiences=[links.token_url(base, tenant, host, env)],
    )
    if handler is None:
        raise OAuthError("unsupported_grant_type", error_bodies.UNSUPPORTED_GRANT)
    return handler(base=base, env=env, host=host, client=client, form=form)


def revoke(*, client: Client, token: str) -> None:
    """RFC 7009: revokes a refresh or access token of this client; unknown ones are no error."""
    if not token:
        return
    Grant.objects.filter(client=client, refresh_hash=digest(token)).update(
        revoked_at=timezone.now()
    )
    claims = _access_claims(token)
    if claims and claims.get("azp") == client.client_id and claims.get("jti"):
        RevokedToken.objects.get_or_create(
            jti=str(claims["jti"])[:64],
            defaults={
                "client_id": client.client_id,
                "expires_at": datetime.fromtimestamp(int(claims.get("exp", 0)), tz=UTC),
            },
        )


def _access_claims(token: str) -> dict[str, Any] | None:
    """The claims of one of our own access tokens (any host, any environment), else None."""
    if token.count(".") != 2:
        return None
    kid = keys.unverified_header(token).get("kid")
    key_row = SigningKey.objects.filter(kid=kid, purpose__startswith="access:").first()
    return keys.verify(token, key_row) if key_row is not None else None


def active_refresh_grant(token: str) -> Grant | None:
    if not token:
        return None
    return (
        Grant.objects.select_related("client")
        .filter(refresh_hash=digest(token), revoked_at__isnull=True)
        .first()
    )
