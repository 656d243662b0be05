import pytest
import requests

from tests.examples import cerner_example
from tests.sandbox.conftest import TENANT

pytestmark = pytest.mark.django_db(transaction=True)
PROBE = "thirdparty_probe_2026_smart_configuration_{}.json"


def test_provider_smart_configuration_has_the_2026_shape(sandbox):
    body = requests.get(
        sandbox.provider_base + "/.well-known/smart-configuration", timeout=10
    ).json()
    expected = set(cerner_example(PROBE.format("provider_fhir-ehr-code")))
    assert set(body) == expected
    assert body["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert body["issuer"] == f"{sandbox.base}/sandbox/authorization/tenants/{TENANT}"
    assert body["token_endpoint"].endswith(
        f"/tenants/{TENANT}/hosts/fhir-ehr/protocols/oauth2/profiles/smart-v1/token"
    )
    assert body["authorization_endpoint"] == sandbox.authorize_url("provider")
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert {"launch-ehr", "context-ehr-encounter", "permission-v1"} <= set(body["capabilities"])
    assert "context-standalone-patient" not in body["capabilities"]


def test_patient_smart_configuration_points_at_the_patient_persona(sandbox):
    body = requests.get(
        sandbox.patient_base + "/.well-known/smart-configuration", timeout=10
    ).json()
    assert body["authorization_endpoint"] == sandbox.authorize_url("patient")
    assert "/hosts/fhir-myrecord/" in body["token_endpoint"]
    assert "context-standalone-patient" in body["capabilities"]
    assert "launch/patient" in body["scopes_supported"]


def test_metadata_carries_the_oauth_uris_extension(sandbox):
    response = requests.get(sandbox.provider_base + "/metadata", timeout=10)
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "CapabilityStatement"
    assert set(body) == set(cerner_example("r4_metadata_secure.json"))
    security = body["rest"][0]["security"]
    uris = {e["url"]: e["valueUri"] for e in security["extension"][0]["extension"]}
    assert set(uris) == {"token", "revoke", "authorize", "manage", "introspect"}
    assert uris["token"].endswith("/hosts/fhir-ehr/protocols/oauth2/profiles/smart-v1/token")
    assert uris["authorize"] == sandbox.authorize_url("provider")
    assert {r["type"] for r in body["rest"][0]["resource"]} >= {"Patient", "Practitioner"}


def test_it_answers_404_for_an_unknown_tenant(sandbox):
    url = sandbox.provider_base.replace(TENANT, "00000000-0000-0000-0000-000000000000")
    assert requests.get(url + "/metadata", timeout=10).status_code == 404


def test_openid_configuration_names_the_jwks(sandbox):
    iss = f"{sandbox.base}/sandbox/authorization/tenants/{TENANT}/oidc/idsps/{TENANT}/"
    body = requests.get(iss + ".well-known/openid-configuration", timeout=10).json()
    assert body["issuer"] == iss
    assert body["jwks_uri"] == f"{sandbox.base}/sandbox/authorization/jwk"
    assert body["id_token_signing_alg_values_supported"] == ["RS256"]
