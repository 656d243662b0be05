import json
import re

import pytest
import requests
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from smartapp.sandbox.models import Patient
from tests.sandbox.conftest import (
    SMART,
    TENANT,
    exchange_code,
    fhir_get,
    log_in_and_decide,
    patient_tokens,
    pkce_pair,
    query_of,
    start,
    system_token,
)

pytestmark = pytest.mark.django_db(transaction=True)
ERROR_URI = re.compile(
    r"^http://[^/]+/sandbox/authorization/errors/urn%3Acerner%3Aerror%3Aauthorization-server%3Aoauth2"
    r"%3Atoken%3A(?P<urn>[a-z-]+)/instances/(?P<uuid>[0-9a-f-]{36})\?client=(?P<client>[^&]+)&tenant="
    + TENANT
    + "$"
)


def _code(sandbox, verifier_challenge=None):
    http = requests.Session()
    extra = {}
    if verifier_challenge:
        extra = {"code_challenge": verifier_challenge[1], "code_challenge_method": "S256"}
    first = start(http, sandbox, "patient", **extra)
    return query_of(log_in_and_decide(http, sandbox, first, "12724066", "allow"))


def test_a_patient_launch_gives_tokens_and_context(sandbox):
    body = patient_tokens(sandbox, "12724066")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 570
    assert body["patient"] == "12724066"
    assert body["tenant"] == TENANT
    assert body["username"] == "patient1"
    assert body["need_patient_banner"] is False
    assert body["smart_style_url"].endswith("/sandbox/styles/smart-v1.json")
    assert set(body["scope"].split()) >= {"patient/Patient.read", "offline_access", "openid"}
    assert body["refresh_token"] and body["id_token"]
    assert "user" not in body


def test_the_code_redirect_carries_state(sandbox):
    query = _code(sandbox)
    assert query["state"] == "st-123"
    assert len(query["code"]) > 20


def test_the_token_response_forbids_caching(sandbox):
    verifier_challenge = pkce_pair()
    query = _code(sandbox, verifier_challenge)
    response = exchange_code(sandbox, "patient", query["code"], verifier_challenge[0])
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def test_the_id_token_verifies_against_the_jwks(sandbox):
    body = patient_tokens(sandbox, "12724066")
    jwks = requests.get(f"{sandbox.base}/sandbox/authorization/jwk", timeout=10).json()
    token = jwt.decode(body["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    header, claims = token.header, token.claims
    jwt.JWTClaimsRegistry(exp={"essential": True}).validate(claims)
    assert header["kid"] == jwks["keys"][0]["kid"]
    assert claims["aud"] == sandbox.clients["patient"]["client_id"]
    assert (
        claims["iss"]
        == f"{sandbox.base}/sandbox/authorization/tenants/{TENANT}/oidc/idsps/{TENANT}/"
    )
    assert claims["fhirUser"] == f"{sandbox.patient_base}/Patient/12724066"
    assert claims["nonce"] == "n-456"
    assert claims["sub"] == "patient1"


def test_a_wrong_code_verifier_is_an_invalid_grant(sandbox):
    verifier, challenge = pkce_pair()
    query = _code(sandbox, (verifier, challenge))
    response = exchange_code(sandbox, "patient", query["code"], pkce_pair()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_missing_code_verifier_is_an_invalid_grant(sandbox):
    query = _code(sandbox, pkce_pair())
    assert exchange_code(sandbox, "patient", query["code"]).json()["error"] == "invalid_grant"


def test_a_reused_code_is_refused_in_cerners_shape(sandbox):
    verifier, challenge = pkce_pair()
    query = _code(sandbox, (verifier, challenge))
    assert exchange_code(sandbox, "patient", query["code"], verifier).status_code == 200
    again = exchange_code(sandbox, "patient", query["code"], verifier)
    assert again.status_code == 400
    body = again.json()
    assert set(body) == {"error", "error_uri"}
    assert body["error"] == "invalid_grant"
    match = ERROR_URI.match(body["error_uri"])
    assert match, body["error_uri"]
    assert match["urn"] == "code-invalid-or-expired"
    assert match["client"] == sandbox.clients["patient"]["client_id"]
    assert again.headers["Cerner-Correlation-Id"] == match["uuid"]


def test_a_code_is_refused_at_the_other_hosts_token_endpoint(sandbox):
    verifier, challenge = pkce_pair()
    query = _code(sandbox, (verifier, challenge))
    response = exchange_code(sandbox, "patient", query["code"], verifier, host="fhir-ehr")
    assert response.json()["error"] == "invalid_grant"


def test_refresh_gives_a_new_access_token_but_no_refresh_token(sandbox):
    first = patient_tokens(sandbox, "12724066")
    response = requests.post(
        sandbox.token_url("fhir-myrecord"),
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": sandbox.clients["patient"]["client_id"],
        },
    )
    body = response.json()
    assert response.status_code == 200
    assert body["access_token"] != first["access_token"]
    assert "refresh_token" not in body
    assert (
        fhir_get(f"{sandbox.patient_base}/Patient/12724066", body["access_token"]).status_code
        == 200
    )


def test_a_revoked_refresh_token_no_longer_works(sandbox):
    first = patient_tokens(sandbox, "12724066")
    client_id = sandbox.clients["patient"]["client_id"]
    revoke = f"{sandbox.base}{SMART}/token/revoke"
    assert (
        requests.post(
            revoke, data={"token": first["refresh_token"], "client_id": client_id}, timeout=10
        ).status_code
        == 200
    )
    response = requests.post(
        sandbox.token_url("fhir-myrecord"),
        timeout=10,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "client_id": client_id,
        },
    )
    assert response.json()["error"] == "invalid_grant"


def test_a_wrong_client_secret_is_an_invalid_client_401(sandbox):
    client_id = sandbox.clients["system"]["client_id"]
    response = requests.post(
        sandbox.token_url(),
        auth=(client_id, "wrong"),
        timeout=10,
        data={"grant_type": "client_credentials", "scope": "system/Patient.read"},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert ERROR_URI.match(body["error_uri"])["urn"] == "invalid-authorization-header"
    assert "client=unknown" in body["error_uri"]


def test_client_credentials_grants_only_system_scopes(sandbox):
    token = system_token(sandbox)
    assert fhir_get(f"{sandbox.provider_base}/Patient/12724066", token).status_code == 200
    response = requests.post(
        sandbox.token_url(),
        auth=sandbox.basic("system"),
        timeout=10,
        data={"grant_type": "client_credentials", "scope": "user/Patient.read"},
    )
    assert response.json()["error"] == "invalid_scope"


def test_client_credentials_is_refused_to_a_provider_client(sandbox):
    response = requests.post(
        sandbox.token_url(),
        auth=sandbox.basic("provider"),
        timeout=10,
        data={"grant_type": "client_credentials", "scope": "user/Patient.read"},
    )
    assert response.json()["error"] == "unauthorized_client"


def test_the_token_lifetime_follows_the_setting(sandbox, settings):
    settings.SANDBOX_TOKEN_LIFETIME_SECONDS = 45
    token = patient_tokens(sandbox, "12724066")
    claims = json.loads(jws.extract_compact(token["access_token"].encode()).payload)
    assert token["expires_in"] == 45 and claims["exp"] - claims["iat"] == 45


def test_an_expired_token_is_refused(sandbox, settings):
    settings.SANDBOX_TOKEN_LIFETIME_SECONDS = 0  # expired the moment it is issued
    token = patient_tokens(sandbox, "12724066")
    response = fhir_get(f"{sandbox.patient_base}/Patient/12724066", token["access_token"])
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_seeded_personas_are_importable(sandbox):
    first = Patient.objects.order_by("fhir_id").first()
    assert first.fhir_id == "12724066"
    assert first.encounters.exists()
