"""`smart_doctor` explains misconfigurations in plain words and exits non-zero."""

import pytest
from django.core.management import call_command

from tests.fakehttp import BASE

pytestmark = pytest.mark.django_db

UNKNOWN_KID = {
    "code": 401,
    "message": 'code="urn:cerner:error:oauth2:resource-access:signature-verification-failed",'
    'error="invalid_token",subcode="unknown_kid"',
}


def run(capsys, slug="fake"):
    with pytest.raises(SystemExit) as exit_info:
        call_command("smart_doctor", slug)
        raise SystemExit(0)
    return exit_info.value.code, capsys.readouterr().out


def healthy(fake_ehr):
    fake_ehr.token_fields = {"scope": "system/Patient.read system/Practitioner.read"}
    fake_ehr.fhir["Patient"] = (200, {"resourceType": "Bundle", "type": "searchset"})
    fake_ehr.fhir["metadata"] = (200, {"resourceType": "CapabilityStatement"})
    original = fake_ehr.__call__

    def handler(method, url, kwargs):
        if url.endswith("/authorize"):
            return 400, {"error": "invalid_request"}
        if (
            url.endswith("/token")
            and not kwargs.get("auth")
            and not (kwargs.get("data") or {}).get("client_id")
        ):
            return 401, {"error": "invalid_client"}
        return original(method, url, kwargs)

    fake_ehr.session.handler = handler


def test_it_passes_a_healthy_tenant(capsys, fake_ehr, fake_tenant):
    healthy(fake_ehr)

    code, out = run(capsys)

    assert code == 0, out
    assert "everything checked is fine" in out


def test_it_explains_a_token_from_another_environment(capsys, fake_ehr, fake_tenant):
    healthy(fake_ehr)
    fake_ehr.fhir["Patient"] = (401, UNKNOWN_KID)

    code, out = run(capsys)

    assert code == 1
    assert "minted by a different authorization server or environment than the FHIR host" in out


def test_it_explains_a_wrong_secret(capsys, fake_ehr, fake_tenant):
    healthy(fake_ehr)
    fake_ehr.token_error = (
        401,
        {"error": "invalid_client", "error_uri": "https://x/errors/invalid-authorization-header"},
    )

    code, out = run(capsys)

    assert code == 1 and "client id or secret is wrong" in out


def test_it_lists_scopes_the_ehr_did_not_grant(capsys, fake_ehr, fake_tenant):
    healthy(fake_ehr)
    fake_ehr.token_fields = {"scope": "system/Patient.read"}

    code, out = run(capsys)

    assert code == 1 and "missing: system/Practitioner.read" in out


def test_it_explains_a_fhir_base_without_discovery(capsys, fake_ehr, fake_tenant):
    healthy(fake_ehr)
    fake_tenant.patient_fhir_base = "https://fhir.example.org/r4/nothing"
    fake_tenant.save()

    code, out = run(capsys)

    assert code == 1 and "discovery failed" in out and BASE in out


WILDCARDS = ["openid", "fhirUser", "launch", "launch/patient", "online_access", "offline_access",
             "user/*.*", "patient/*.read", "system/*.rs"]  # fmt: skip
NO_ASSERTION = {
    "error": "invalid_request",
    "error_description": "client_assertion_type is missing",
}


def signed_only(fake_ehr):
    """A third-party server: private_key_jwt only, and only wildcard scopes listed."""
    healthy(fake_ehr)
    fake_ehr.granted_scope = "system/*.rs"
    fake_ehr.token_fields = {"scope": "system/*.rs"}
    answer = fake_ehr.session.handler

    def handler(method, url, kwargs):
        if url.endswith("/.well-known/smart-configuration"):
            config = answer(method, url, kwargs)[1]
            return 200, config | {
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "scopes_supported": WILDCARDS,
            }
        if url.endswith("/token") and "client_assertion" not in (kwargs.get("data") or {}):
            return 400, NO_ASSERTION
        return answer(method, url, kwargs)

    fake_ehr.session.handler = handler


def test_against_a_server_wanting_signed_assertions_and_listing_wildcards_it_says_so(
    capsys, fake_ehr, fake_tenant
):
    signed_only(fake_ehr)

    code, out = run(capsys)

    assert code == 1
    system = next(line for line in out.splitlines() if "system client system-client" in line)
    assert "wants a signed client assertion (private_key_jwt), not a secret" in system
    assert "auth_method: private_key_jwt" in system and "/.well-known/jwks.json" in system
    assert "client_assertion_type is missing" in system  # the server's words, verbatim
    assert "the provider client authenticates with client_secret_basic" in out
    assert "does not list these scopes" not in out  # the wildcards cover every scope


def test_once_the_system_client_signs_a_wildcard_grant_is_every_needed_scope(
    capsys, fake_ehr, fake_tenant
):
    from smartapp.tenants.client_keys import key_create

    signed_only(fake_ehr)
    fake_tenant.clients.filter(persona="system").update(auth_method="private_key_jwt")
    key_create()

    code, out = run(capsys)

    assert "system client system-client: got a token with every needed scope" in out
    assert "missing:" not in out


def test_it_lists_the_features_users_will_not_see(capsys, fake_ehr, fake_tenant):
    healthy(fake_ehr)

    code, out = run(capsys)

    assert (
        "booking will be hidden: the patient client is not registered for patient/Slot.read" in out
    )
    assert (
        "your day will be hidden: the provider client is not registered for user/Appointment.read"
        in out
    )
