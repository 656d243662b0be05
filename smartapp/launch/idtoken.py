"""id_token verification: signature against the server's JWKS, then iss, aud, exp and nonce.

Uses joserfc, the JOSE library authlib itself depends on (authlib.jose is deprecated in its favour).
"""

import hashlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from smartapp.launch.error_pages import IdTokenInvalid
from smartapp.lib.http import session
from smartapp.lib.words import filled
from smartapp.tenants.discovery import DiscoveryError, SmartConfiguration

logger = logging.getLogger(__name__)

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
LEEWAY_SECONDS = 60


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _fetch_json(url: str) -> dict[str, Any]:
    try:
        response = session().get(url, headers={"Accept": "application/json"})
        data = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError):
        data = None
    if not isinstance(data, dict):
        raise DiscoveryError(
            filled(_("The sign-in server's keys could not be read from %(url)s."), url=url)
        )
    return data


def _key_set(jwks_uri: str, *, refresh: bool = False) -> KeySet:
    key = "jwks:" + hashlib.sha256(jwks_uri.encode()).hexdigest()
    data = None if refresh else cache.get(key)
    if data is None:
        data = _fetch_json(jwks_uri)
        cache.set(key, data, settings.DISCOVERY_CACHE_SECONDS)
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError):
        raise DiscoveryError(
            filled(_("The sign-in server's keys at %(url)s are not a valid JWKS."), url=jwks_uri)
        ) from None


def _unverified(id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        compact = jws.extract_compact(id_token.encode())
        return dict(compact.headers()), json.loads(compact.payload)
    except (JoseError, ValueError, TypeError):
        raise IdTokenInvalid(log="id_token is not a compact JWS") from None


def _jwks_uri(config: SmartConfiguration, iss: str) -> tuple[str, str]:
    """The JWKS URL and, when it came from OIDC discovery, the issuer that document names."""
    if config.jwks_uri:
        return config.jwks_uri, ""
    # Only ask the issuer for its OIDC configuration when it is the same server that issued tokens.
    if not iss or _origin(iss) != _origin(config.token_endpoint):
        raise IdTokenInvalid(log="id_token iss is not on the authorization server's origin")
    oidc = _fetch_json(iss.rstrip("/") + "/.well-known/openid-configuration")
    if not oidc.get("jwks_uri"):
        raise DiscoveryError(_("The sign-in server's OpenID configuration names no jwks_uri."))
    return str(oidc["jwks_uri"]), str(oidc.get("issuer") or "")


def _issuer_consistent(iss: str, config: SmartConfiguration, oidc_issuer: str) -> bool:
    if oidc_issuer and iss != oidc_issuer:
        return False
    if config.issuer:
        # Millennium's id_token iss sits below the smart-configuration issuer (…/oidc/idsps/{id}/).
        return iss == config.issuer or iss.startswith(config.issuer.rstrip("/") + "/")
    return _origin(iss) == _origin(config.token_endpoint)


def _signed_claims(id_token: str, key_set: KeySet) -> dict[str, Any]:
    try:
        return dict(jwt.decode(id_token, key_set, algorithms=ALGORITHMS).claims)
    except (JoseError, ValueError) as error:
        raise IdTokenInvalid(log=f"id_token signature rejected: {type(error).__name__}") from None


def _check_claims(claims: dict[str, Any], *, client_id: str, nonce: str) -> None:
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        exp={"essential": True},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise IdTokenInvalid(
            log=f"id_token claim rejected: {type(error).__name__} {error}"
        ) from None
    aud = claims.get("aud")
    if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != client_id:
        raise IdTokenInvalid(log="id_token has several audiences and azp is not this client")


def verify_id_token(
    *, id_token: str, config: SmartConfiguration, client_id: str, nonce: str
) -> dict[str, Any]:
    """The id_token's claims, after checking signature, issuer, audience, expiry and nonce."""
    header, unverified = _unverified(id_token)
    iss = str(unverified.get("iss") or "")
    jwks_uri, oidc_issuer = _jwks_uri(config, iss)
    key_set = _key_set(jwks_uri)
    kid = header.get("kid")
    if kid and kid not in {k.kid for k in key_set.keys}:
        key_set = _key_set(jwks_uri, refresh=True)  # keys may have rotated since we cached them
    claims = _signed_claims(id_token, key_set)
    if not _issuer_consistent(str(claims.get("iss") or ""), config, oidc_issuer):
        raise IdTokenInvalid(
            log="id_token iss does not belong to the discovered authorization server"
        )
    _check_claims(claims, client_id=client_id, nonce=nonce)
    return claims
