"""The EHR launch end to end against a fake SMART server (no sandbox needed)."""

from urllib.parse import urlsplit

import pytest
from django.db import connection

from smartapp.audit.models import AuditEvent
from smartapp.launch.browser import sha256
from smartapp.launch.models import Launch, PendingAuthorization
from tests.fakehttp import AUTH, BASE, authorize_params, fake_launch

pytestmark = pytest.mark.django_db


def test_it_sends_the_browser_to_the_discovered_authorize_endpoint_with_pkce(
    client, fake_ehr, fake_tenant
):
    response = client.get("/launch", {"iss": BASE, "launch": "launch-123"})

    assert response.status_code == 302
    assert response["Location"].startswith(f"{AUTH}/personas/provider/authorize?")
    params = authorize_params(response["Location"])
    assert params["aud"] == BASE
    assert params["launch"] == "launch-123"
    assert params["client_id"] == "provider-client"
    assert params["redirect_uri"] == "http://testserver/launch/callback"
    assert params["scope"].split()[0] == "launch"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32 and params["nonce"]
    pending = PendingAuthorization.objects.get(state_hash=sha256(params["state"]))
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    assert create_s256_code_challenge(pending.code_verifier) == params["code_challenge"]


def test_it_completes_a_launch_and_shows_the_patient_chart(client, fake_ehr, fake_tenant):
    response = fake_launch(client, fake_ehr)

    launch = Launch.objects.get()
    assert response["Location"] == f"/l/{launch.public_id}/chart/"
    assert (launch.patient_id, launch.encounter_id, launch.user_type, launch.user_id) == (
        "12724067",
        "97953492",
        "Practitioner",
        "4122622",
    )
    assert launch.user_display == "Portal, Portal"  # named by the id_token: no extra read
    assert not [c for c in fake_ehr.session.calls if c[1].endswith("/Practitioner/4122622")]
    chart = client.get(response["Location"], follow=True)
    assert chart.status_code == 200
    html = chart.content.decode()
    assert 'id="patient-banner"' in html and "SMART, JOE" in html
    assert AuditEvent.objects.filter(
        what="Patient/12724067", patient_id="12724067", who="Practitioner/4122622"
    ).exists()


def test_it_reads_the_fhir_user_when_the_id_token_does_not_name_them(client, fake_ehr, fake_tenant):
    fake_ehr.claims_override = {"name": ""}

    fake_launch(client, fake_ehr)

    assert Launch.objects.get().user_display == "Cerner Test, Physician - Hospitalist Cerner"


def test_it_exchanges_the_code_with_basic_auth_and_the_pkce_verifier(client, fake_ehr, fake_tenant):
    fake_launch(client, fake_ehr)

    token_calls = [c for c in fake_ehr.session.calls if c[1].endswith("/token")]
    assert len(token_calls) == 1
    kwargs = token_calls[0][2]
    assert (
        kwargs["auth"].username == "provider-client"
        and kwargs["auth"].password == "provider-secret"
    )
    assert kwargs["data"]["grant_type"] == "authorization_code" and kwargs["data"]["code_verifier"]
    assert "client_id" not in kwargs["data"]


def test_it_shows_a_compact_header_when_the_ehr_shows_its_own_banner(client, fake_ehr, fake_tenant):
    fake_ehr.token_fields["need_patient_banner"] = False

    response = fake_launch(client, fake_ehr)

    html = client.get(response["Location"], follow=True).content.decode()
    assert (
        'id="patient-banner"' not in html and 'id="patient-header"' in html and "SMART, JOE" in html
    )


def test_it_escapes_text_from_the_ehr(client, fake_ehr, fake_tenant):
    from tests.fakehttp import example

    patient = example("r4_patient_read.json")
    patient["name"] = [{"use": "official", "text": "<script>alert(1)</script>"}]
    fake_ehr.fhir["Patient/12724067"] = (200, patient)

    response = fake_launch(client, fake_ehr)

    html = client.get(response["Location"], follow=True).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_it_keeps_tokens_encrypted_at_rest(client, fake_ehr, fake_tenant):
    fake_launch(client, fake_ehr)

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token, id_token FROM launch_launch")
        raw = " ".join(cursor.fetchone())
    launch = Launch.objects.get()
    # The id_token's own text, not "eyJ": three base64 letters turn up in ciphertext by chance.
    header, payload, _ = launch.id_token.split(".")
    assert "at-secret-1" not in raw and "rt-secret-1" not in raw
    assert header not in raw and payload not in raw
    assert launch.access_token == "at-secret-1"


def test_it_keeps_tokens_out_of_the_browser_and_the_logs(client, fake_ehr, fake_tenant, caplog):
    caplog.set_level("DEBUG")
    response = fake_launch(client, fake_ehr)
    page = client.get(response["Location"], follow=True)

    assert "at-secret-1" not in caplog.text and "rt-secret-1" not in caplog.text
    assert "at-secret-1" not in page.content.decode()
    assert all("at-secret" not in str(v) for v in client.session.values())


def test_a_patient_signs_in_from_the_start_page(client, fake_ehr, fake_tenant):
    from tests.fakehttp import PATIENT_BASE, example

    fake_ehr.client_id = "patient-client"
    fake_ehr.claims_override = {"fhirUser": f"{PATIENT_BASE}/Patient/12724067"}
    fake_ehr.fhir["Patient/12724067"] = (200, example("r4_patient_read.json"))
    start = client.get("/")
    assert b"I'm a patient" in start.content and b"Fake General Hospital" in start.content

    response = client.post("/signin", {"tenant": "fake", "persona": "patient"})

    assert response.status_code == 302
    params = authorize_params(response["Location"])
    assert urlsplit(response["Location"]).path.endswith("/personas/patient/authorize")
    assert params["aud"] == PATIENT_BASE and "launch/patient" in params["scope"].split()
    assert "launch" not in params["scope"].split()
    fake_ehr.nonce = params["nonce"]
    done = client.get("/launch/callback", {"code": "c", "state": params["state"]})
    token_call = [c for c in fake_ehr.session.calls if c[1].endswith("/token")][0][2]
    assert token_call["auth"] is None and token_call["data"]["client_id"] == "patient-client"
    home = client.get(done["Location"], follow=True)
    assert home.status_code == 200
    assert "Welcome, JOE</h1>" in home.content.decode()
    assert "SMART, JOE" in home.content.decode()
