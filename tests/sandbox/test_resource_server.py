import pytest

from tests.sandbox.conftest import fhir_get, patient_tokens, system_token

pytestmark = pytest.mark.django_db(transaction=True)
UNKNOWN_KID = {
    "code": 401,
    "message": 'code="urn:cerner:error:oauth2:resource-access:signature-verification-failed",'
    'error="invalid_token",subcode="unknown_kid"',
}
NO_SCOPE = {
    "code": 403,
    "message": 'code="urn:cerner:error:oauth2:resource-access:insufficient-scopes",'
    'error="insufficient_scope",subcode="no_scope_for_resource_path"',
}


def test_a_call_without_a_token_is_401_with_www_authenticate(sandbox):
    response = fhir_get(f"{sandbox.provider_base}/Patient/12724066", None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_from_the_second_environment_is_unknown_kid(sandbox):
    token = system_token(sandbox, env="authorization-env2")
    response = fhir_get(f"{sandbox.provider_base}/Patient/12724066", token)
    assert response.status_code == 401
    assert response.json() == UNKNOWN_KID


def test_a_token_minted_for_the_other_host_is_unknown_kid(sandbox):
    token = patient_tokens(sandbox, "12724066")["access_token"]
    response = fhir_get(f"{sandbox.provider_base}/Patient/12724066", token)
    assert response.status_code == 401
    assert response.json() == UNKNOWN_KID


def test_a_tampered_token_is_refused(sandbox):
    token = system_token(sandbox)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    assert fhir_get(f"{sandbox.provider_base}/Patient/12724066", forged).status_code == 401


def test_a_missing_scope_is_403_in_cerners_shape(sandbox):
    token = system_token(sandbox, scope="system/Practitioner.read")
    response = fhir_get(f"{sandbox.provider_base}/Patient/12724066", token)
    assert response.status_code == 403
    assert response.json() == NO_SCOPE


def test_v2_scopes_are_understood(sandbox):
    from smartapp.sandbox.models import Client

    Client.objects.filter(persona="system").update(scopes="system/Patient.rs system/Practitioner.r")
    token = system_token(sandbox, scope="system/Patient.rs system/Practitioner.r")
    assert fhir_get(f"{sandbox.provider_base}/Patient/12724066", token).status_code == 200
    assert fhir_get(f"{sandbox.provider_base}/Practitioner/4122622", token).status_code == 200
    searched = fhir_get(f"{sandbox.provider_base}/Practitioner", token, _id="4122622")
    assert searched.status_code == 403


def test_a_patient_cannot_read_another_patient(sandbox):
    token = patient_tokens(sandbox, "12724066")["access_token"]
    assert fhir_get(f"{sandbox.patient_base}/Patient/12724066", token).status_code == 200
    other = fhir_get(f"{sandbox.patient_base}/Patient/12724067", token)
    assert other.status_code == 404
    assert other.json()["issue"][0]["code"] == "not-found"
    search = fhir_get(f"{sandbox.patient_base}/Patient", token, _id="12724066,12724067").json()
    assert [e["resource"]["id"] for e in search["entry"]] == ["12724066"]


def test_a_patient_may_read_practitioners_with_a_user_scope(sandbox):
    token = patient_tokens(sandbox, "12724066")["access_token"]
    assert fhir_get(f"{sandbox.patient_base}/Practitioner/4122622", token).status_code == 200
