"""Tenant registration, iss matching, discovery and the system client."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from smartapp.tenants.discovery import DiscoveryError, smart_configuration
from smartapp.tenants.models import ClientRegistration, SystemToken, Tenant
from smartapp.tenants.selectors import UnknownIssuer, normalise_base, tenant_for_iss
from smartapp.tenants.system_client import system_access_token
from tests.fakehttp import BASE, PATIENT_BASE, example, install, uninstall

pytestmark = pytest.mark.django_db

TENANT_FILE = {
    "tenants": [
        {
            "slug": "sandbox",
            "name": "Millennium Sandbox Hospital",
            "ehr_tenant_id": "t1",
            "provider_fhir_base": BASE,
            "patient_fhir_base": PATIENT_BASE,
            "clients": [
                {
                    "persona": "provider",
                    "client_id": "p",
                    "client_secret": "s3cret-provider",
                    "redirect_uri": "http://a/launch/callback",
                    "scopes": "launch openid",
                },
                {
                    "persona": "patient",
                    "client_id": "q",
                    "client_secret": "",
                    "redirect_uri": "http://a/launch/callback",
                    "scopes": "launch/patient openid",
                },
                {
                    "persona": "system",
                    "client_id": "r",
                    "client_secret": "s3cret-system",
                    "redirect_uri": "",
                    "scopes": "system/Patient.read",
                },
            ],
        }
    ]
}


@pytest.fixture
def tenant_file(tmp_path):
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps(TENANT_FILE))
    return path


def test_register_tenants_is_idempotent_and_encrypts_secrets(tenant_file):
    call_command("register_tenants", str(tenant_file))
    call_command("register_tenants", str(tenant_file))

    assert Tenant.objects.count() == 1 and ClientRegistration.objects.count() == 3
    assert ClientRegistration.objects.get(persona="provider").client_secret == "s3cret-provider"
    assert not ClientRegistration.objects.get(persona="patient").is_confidential
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM tenants_clientregistration")
        raw = " ".join(row[0] for row in cursor.fetchall())
    assert "s3cret" not in raw


def test_register_tenants_reads_settings_tenants_file_by_default(tenant_file, settings):
    settings.TENANTS_FILE = str(tenant_file)

    call_command("register_tenants")

    assert Tenant.objects.filter(slug="sandbox").exists()


def test_register_tenants_explains_a_bad_file(tmp_path):
    from django.core.management.base import CommandError

    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(CommandError, match="tenants"):
        call_command("register_tenants", str(bad))


def test_it_normalises_fhir_bases():
    assert normalise_base("HTTPS://Fhir.Example.ORG:443/r4/T1/") == "https://fhir.example.org/r4/T1"


def test_it_maps_a_registered_iss_to_its_tenant_and_persona(fake_tenant):
    assert tenant_for_iss(iss=BASE + "/").persona == "provider"
    assert tenant_for_iss(iss=PATIENT_BASE).persona == "patient"


@pytest.mark.parametrize(
    "iss",
    [
        "https://evil.example.net/r4/t1",
        BASE + "x",
        BASE.replace("https", "http"),
        BASE + "/Patient",
    ],
)
def test_it_refuses_an_unregistered_iss(fake_tenant, iss):
    with pytest.raises(UnknownIssuer):
        tenant_for_iss(iss=iss)


def test_it_ignores_disabled_tenants(fake_tenant):
    Tenant.objects.update(enabled=False)

    with pytest.raises(UnknownIssuer):
        tenant_for_iss(iss=BASE)


def test_discovery_falls_back_to_the_capability_statement_and_is_cached():
    calls = []

    def handler(method, url, kwargs):
        calls.append(url)
        if url.endswith("/metadata"):
            return 200, {
                "resourceType": "CapabilityStatement",
                "rest": [{"security": example("r4_metadata_secure_rest_security.json")}],
            }
        return 404, None

    install(handler)
    try:
        config = smart_configuration(fhir_base=BASE)
        smart_configuration(fhir_base=BASE)
    finally:
        uninstall()
    assert config.source == "metadata" and config.token_endpoint.endswith("/smart-v1/token")
    assert config.authorization_endpoint.endswith("/personas/provider/authorize")
    assert calls == [f"{BASE}/.well-known/smart-configuration", f"{BASE}/metadata"]


def test_discovery_reads_cerners_smart_configuration():
    install(
        lambda m, url, k: (
            200,
            example("thirdparty_probe_2026_smart_configuration_provider_fhir-ehr-code.json"),
        )
    )
    try:
        config = smart_configuration(fhir_base=BASE)
    finally:
        uninstall()
    assert (
        config.source == "smart-configuration" and "S256" in config.code_challenge_methods_supported
    )
    assert "/hosts/fhir-ehr-code.cerner.com/" in config.token_endpoint


def test_discovery_explains_a_server_without_smart():
    install(lambda m, url, k: (404, None))
    try:
        with pytest.raises(DiscoveryError, match="does not publish its SMART sign-in addresses"):
            smart_configuration(fhir_base=BASE)
    finally:
        uninstall()


def test_the_system_token_is_cached_encrypted_and_reused(fake_ehr, fake_tenant):
    fake_ehr.token_fields = {
        "access_token": "sys-at-1",
        "scope": "system/Patient.read system/Practitioner.read",
    }

    assert system_access_token(tenant=fake_tenant) == "sys-at-1"
    assert system_access_token(tenant=fake_tenant) == "sys-at-1"

    token_calls = [c for c in fake_ehr.session.calls if c[1].endswith("/token")]
    assert len(token_calls) == 1
    assert token_calls[0][2]["data"]["grant_type"] == "client_credentials"
    assert token_calls[0][2]["auth"].username == "system-client"
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token FROM tenants_systemtoken")
        assert "sys-at-1" not in cursor.fetchone()[0]


def test_the_system_token_is_renewed_a_minute_before_expiry(fake_ehr, fake_tenant):
    fake_ehr.token_fields = {"access_token": "sys-at-1"}
    system_access_token(tenant=fake_tenant)
    SystemToken.objects.update(expires_at=timezone.now() + timedelta(seconds=50))
    fake_ehr.token_fields = {"access_token": "sys-at-2"}

    assert system_access_token(tenant=fake_tenant) == "sys-at-2"


def test_the_system_token_asks_the_fhir_host_only_for_system_scopes(fake_ehr, fake_tenant):
    ClientRegistration.objects.filter(persona="system").update(
        scopes="system/Patient.read oraclehealth:millennium:message"
    )

    system_access_token(tenant=fake_tenant)

    form = [c for c in fake_ehr.session.calls if c[1].endswith("/token")][0][2]["data"]
    assert form["scope"] == "system/Patient.read"
