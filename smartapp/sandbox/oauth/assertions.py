"""private_key_jwt (RFC 7523) as Millennium checks it: the client's keys fetched from its JWKS
URL, then signature, `iss` = `sub` = client id, `aud` = this token endpoint, `exp` at most five
minutes ahead, and each `jti` once. Refusals carry Cerner's `client-assertion` URNs."""

import json
from datetime import UTC, datetime
from typing import Any

import requests
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from django.db import IntegrityError
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from smartapp.sandbox import error_bodies
from smartapp.sandbox.error_bodies import OAuthError
from smartapp.sandbox.models import Client, UsedAssertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME_SECONDS = 300
ALGORITHMS = ["RS384", "ES384"]
URN = "urn:cerner:error:authorization-server:client-assertion:jwt-bearer"


class _Request:
    """What authlib's verifier reads of a request: its form."""

    def __init__(self, form: dict[str, str]) -> None:
        self.form = form
        self.client: Client | None = None


class _Verifier(JWTBearerClientAssertion):
    def __init__(self, audiences: list[str]) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.audiences = audiences

    def get_audiences(self) -> list[str]:
        return self.audiences

    def resolve_client_public_key(self, client: Client) -> KeySet:
        try:
            response = requests.get(client.jwks_url, timeout=5)
            return KeySet.import_key_set(response.json())
        except (requests.RequestException, ValueError, KeyError, TypeError):
            raise InvalidClientError(description="jwks-unreachable") from None

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        expires = datetime.fromtimestamp(int(claims.get("exp", 0)), tz=UTC)
        try:
            UsedAssertion.objects.create(
                jti=str(jti)[:200], client_id=str(claims.get("sub")), expires_at=expires
            )
        except IntegrityError:
            return False
        return True

    def authenticate_client(self, client: Client) -> Client:
        return client

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        """authlib's, with the algorithms Millennium verifies (joserfc's default list has
        neither of them)."""
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ALGORITHMS)
        except JoseError as error:
            raise InvalidClientError(description=error.description) from error
        self.verify_claims(token.claims)
        claims: dict[str, Any] = token.claims
        return claims


def _reason(description: str) -> str:
    words = (description or "").lower()
    for key, reason in (
        ("jwks", "jwks-unreachable"),
        ("used before", "replayed"),
        ("aud", "invalid-audience"),
        ("expired", "expired"),
        ("exp", "expired"),
        ("signature", "invalid-signature"),
        ("issuer and subject", "invalid-subject"),
    ):
        if key in words:
            return reason
    return "invalid-signature"


def client_from_assertion(form: dict[str, str], *, tenant: str, audiences: list[str]) -> Client:
    """The client a signed assertion proves, or OAuthError(invalid_client) with Cerner's URN."""
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        raise OAuthError("invalid_client", f"{URN}:missing", 401)

    def query(client_id: str) -> Client | None:
        return Client.objects.filter(client_id=client_id, tenant_id=tenant, jwks_url__gt="").first()

    request = _Request(form)
    try:
        client = _Verifier(audiences)(query, request)
    except InvalidClientError as error:
        raise OAuthError("invalid_client", f"{URN}:{_reason(error.description)}", 401) from None
    if client is None:
        raise OAuthError("invalid_client", error_bodies.BAD_AUTH_HEADER, 401)
    _check_lifetime(form["client_assertion"])
    return client


def _check_lifetime(assertion: str) -> None:
    """Millennium refuses assertions meant to live longer than five minutes."""
    claims = json.loads(jws.extract_compact(assertion.encode()).payload)
    if (
        int(claims.get("exp", 0)) - int(claims.get("iat", claims.get("exp", 0)))
        > MAX_LIFETIME_SECONDS
    ):
        raise OAuthError("invalid_client", f"{URN}:lifetime-too-long", 401)
