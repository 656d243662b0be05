"""id_token verification with a locally generated RSA key."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from smartapp.launch.error_pages import IdTokenInvalid
from smartapp.launch.idtoken import verify_id_token
from smartapp.tenants.discovery import SmartConfiguration
from tests.fakehttp import install, uninstall

ISSUER = "https://auth.example.org/tenants/t1"
JWKS = "https://auth.example.org/jwk"


@pytest.fixture
def keys():
    old = RSAKey.generate_key(2048, parameters={"kid": "old"}, private=True)
    new = RSAKey.generate_key(2048, parameters={"kid": "new"}, private=True)
    served = {"keys": [old.as_dict(private=False)]}
    fetches = []

    def handler(method, url, kwargs):
        fetches.append(url)
        if url == JWKS:
            return 200, served
        if url == f"{ISSUER}/oidc/idsps/t1/.well-known/openid-configuration":
            return 200, {"issuer": f"{ISSUER}/oidc/idsps/t1/", "jwks_uri": JWKS}
        return 404, {}

    install(handler)
    yield {"old": old, "new": new, "served": served, "fetches": fetches}
    uninstall()


def config(jwks_uri: str = JWKS, issuer: str = ISSUER) -> SmartConfiguration:
    return SmartConfiguration(
        fhir_base="https://fhir.example.org/r4/t1",
        authorization_endpoint=f"{ISSUER}/authorize",
        token_endpoint=f"{ISSUER}/token",
        source="smart-configuration",
        issuer=issuer,
        jwks_uri=jwks_uri,
    )


def token(key: RSAKey, **claims) -> str:
    now = int(time.time())
    body = {
        "iss": f"{ISSUER}/oidc/idsps/t1/",
        "aud": "client-1",
        "sub": "u",
        "exp": now + 300,
        "iat": now,
        "nonce": "n1",
    }
    body.update(claims)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def test_it_accepts_a_well_formed_id_token(keys):
    claims = verify_id_token(
        id_token=token(keys["old"]), config=config(), client_id="client-1", nonce="n1"
    )

    assert claims["sub"] == "u"


def test_it_refetches_the_jwks_once_for_an_unknown_kid(keys, settings):
    verify_id_token(id_token=token(keys["old"]), config=config(), client_id="client-1", nonce="n1")
    keys["served"]["keys"].append(keys["new"].as_dict(private=False))

    verify_id_token(id_token=token(keys["new"]), config=config(), client_id="client-1", nonce="n1")

    assert keys["fetches"].count(JWKS) == 2


def test_it_finds_the_jwks_through_openid_configuration_when_discovery_has_none(keys):
    claims = verify_id_token(
        id_token=token(keys["old"]), config=config(jwks_uri=""), client_id="client-1", nonce="n1"
    )

    assert claims["aud"] == "client-1"


def test_it_never_asks_a_foreign_issuer_for_its_keys(keys):
    forged = token(keys["old"], iss="https://evil.example.net/")

    with pytest.raises(IdTokenInvalid):
        verify_id_token(
            id_token=forged, config=config(jwks_uri=""), client_id="client-1", nonce="n1"
        )
    assert all("evil" not in url for url in keys["fetches"])


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "other"},
        {"nonce": "n2"},
        {"exp": 1000},
        {"iss": "https://auth.example.org/tenants/t2/x/"},
    ],
)
def test_it_refuses_wrong_claims(keys, claims):
    with pytest.raises(IdTokenInvalid):
        verify_id_token(
            id_token=token(keys["old"], **claims), config=config(), client_id="client-1", nonce="n1"
        )


def test_it_refuses_a_bad_signature(keys):
    impostor = RSAKey.generate_key(2048, parameters={"kid": "old"}, private=True)

    with pytest.raises(IdTokenInvalid):
        verify_id_token(id_token=token(impostor), config=config(), client_id="client-1", nonce="n1")


def test_it_refuses_garbage(keys):
    with pytest.raises(IdTokenInvalid):
        verify_id_token(id_token="not.a.jwt", config=config(), client_id="client-1", nonce="n1")
