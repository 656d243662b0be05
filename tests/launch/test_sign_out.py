"""Leaving a shared computer: sign-out revokes the tokens (RFC 7009) and forgets the browser;
idle and absolute session lifetimes end a launch with a page that says so."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from smartapp.launch.models import Launch
from smartapp.sandbox.models import Grant
from smartapp.testing import launch_as_patient
from tests.fakehttp import AUTH, PATIENT_BASE, authorize_params, example, fake_launch

REVOKE = f"{AUTH}/revoke"


def _patient_signed_in(client, fake_ehr) -> Launch:
    fake_ehr.client_id = "patient-client"
    fake_ehr.claims_override = {"fhirUser": f"{PATIENT_BASE}/Patient/12724066"}
    fake_ehr.token_fields = {"patient": "12724066"}
    nancy = example("r4_patient_read.json") | {"id": "12724066"}
    fake_ehr.fhir["Patient/12724066"] = (200, nancy)
    started = client.post("/signin", {"tenant": "fake", "persona": "patient"})
    params = authorize_params(started["Location"])
    fake_ehr.nonce = params["nonce"]
    assert (
        client.get("/launch/callback", {"code": "c", "state": params["state"]}).status_code == 302
    )
    return Launch.objects.get(persona="patient")


@pytest.fixture
def revocation(fake_ehr, monkeypatch):
    """The fake authorization server offers RFC 7009 revocation and records what it revoked."""
    revoked: list[tuple[str, str]] = []
    configuration = fake_ehr.smart_configuration

    def with_revocation(persona: str = "provider"):
        return {**configuration(persona), "revocation_endpoint": REVOKE}

    answer = fake_ehr.__class__.__call__

    def answering(ehr, method, url, kwargs):
        if url == REVOKE:
            form = kwargs.get("data") or {}
            revoked.append((form.get("token_type_hint", ""), form.get("token", "")))
            return 200, None
        return answer(ehr, method, url, kwargs)

    monkeypatch.setattr(fake_ehr, "smart_configuration", with_revocation)
    monkeypatch.setattr(type(fake_ehr), "__call__", answering)
    return revoked


@pytest.mark.django_db
def test_signing_out_revokes_both_tokens_ends_the_launch_and_forgets_the_browser(
    client, fake_ehr, fake_tenant, revocation
):
    launch = _patient_signed_in(client, fake_ehr)
    home = client.get(f"/l/{launch.public_id}/home/")
    assert 'id="sign-out"' in home.content.decode() and home["Cache-Control"] == "no-store"

    out = client.post(f"/l/{launch.public_id}/sign-out/")

    assert out.status_code == 302 and out["Location"] == "/signed-out/"
    assert sorted(revocation) == [("access_token", "at-secret-1"), ("refresh_token", "rt-secret-1")]
    launch.refresh_from_db()
    assert launch.ended_at is not None and launch.access_token == launch.refresh_token == ""
    back = client.get(f"/l/{launch.public_id}/home/")  # the Back button
    assert back.status_code == 401 and b"SMART" not in back.content
    assert "You are signed out" in client.get("/signed-out/").content.decode()


@pytest.mark.django_db
def test_sign_out_ends_the_launch_even_when_the_server_cannot_revoke(client, fake_ehr, fake_tenant):
    launch = _patient_signed_in(client, fake_ehr)  # no revocation_endpoint in its discovery

    assert client.post(f"/l/{launch.public_id}/sign-out/").status_code == 302
    launch.refresh_from_db()
    assert launch.ended_at is not None and launch.refresh_token == ""


@pytest.mark.django_db
def test_a_clinician_from_the_ehr_is_told_to_close_the_app_instead(client, fake_ehr, fake_tenant):
    page = client.get(fake_launch(client, fake_ehr)["Location"]).content.decode()

    assert 'id="sign-out"' not in page and "close the app in the EHR" in page


@pytest.mark.django_db
def test_sign_out_needs_a_post_and_the_sessions_own_launch(client, fake_ehr, fake_tenant):
    launch = _patient_signed_in(client, fake_ehr)

    assert client.get(f"/l/{launch.public_id}/sign-out/").status_code == 405
    from django.test import Client

    assert Client().post(f"/l/{launch.public_id}/sign-out/").status_code == 401
    launch.refresh_from_db()
    assert launch.ended_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "idle", "expected"),
    [("patient", timedelta(minutes=16), "15 minutes without activity"),
     ("patient", timedelta(minutes=14), None),
     ("provider", timedelta(minutes=59), None),
     ("provider", timedelta(minutes=61), "60 minutes without activity")],
)  # fmt: skip
def test_a_launch_idle_too_long_ends_with_a_page_that_says_so(
    client, fake_ehr, fake_tenant, persona, idle, expected
):
    if persona == "patient":
        launch, page = _patient_signed_in(client, fake_ehr), "home/"
    else:
        fake_launch(client, fake_ehr)
        launch, page = Launch.objects.get(), "chart/"
    Launch.objects.filter(pk=launch.pk).update(last_seen_at=timezone.now() - idle)

    response = client.get(f"/l/{launch.public_id}/{page}")

    launch.refresh_from_db()
    if expected is None:
        assert response.status_code == 200 and launch.ended_at is None
    else:
        assert response.status_code == 401 and expected in response.content.decode()
        assert launch.ended_at is not None and launch.access_token == ""


@pytest.mark.django_db
def test_a_launch_ends_twelve_hours_after_sign_in_however_busy(client, fake_ehr, fake_tenant):
    launch = _patient_signed_in(client, fake_ehr)
    Launch.objects.filter(pk=launch.pk).update(
        created=timezone.now() - timedelta(hours=12, minutes=1), last_seen_at=timezone.now()
    )

    response = client.get(f"/l/{launch.public_id}/home/")

    assert response.status_code == 401 and "12 hours after signing in" in response.content.decode()


@pytest.mark.django_db
def test_a_page_refreshing_itself_does_not_keep_a_forgotten_session_alive(
    client, fake_ehr, fake_tenant
):
    launch = _patient_signed_in(client, fake_ehr)
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    Launch.objects.filter(pk=launch.pk).update(last_seen_at=ten_minutes_ago)

    client.get(f"/l/{launch.public_id}/appointments/", HTTP_HX_REQUEST="true")
    launch.refresh_from_db()
    assert launch.last_seen_at == ten_minutes_ago
    client.get(f"/l/{launch.public_id}/appointments/")
    launch.refresh_from_db()
    assert launch.last_seen_at > ten_minutes_ago


@pytest.mark.django_db(transaction=True)
def test_sign_out_revokes_the_tokens_at_the_sandbox(client, tenant):
    launch = launch_as_patient(client).launch
    access = launch.access_token
    assert (
        requests.get(
            f"{tenant.patient_fhir_base}/Patient/{launch.patient_id}",
            headers={"Authorization": f"Bearer {access}", "Accept": "application/fhir+json"},
            timeout=10,
        ).status_code
        == 200
    )

    assert client.post(f"/l/{launch.public_id}/sign-out/").status_code == 302

    refused = requests.get(
        f"{tenant.patient_fhir_base}/Patient/{launch.patient_id}",
        headers={"Authorization": f"Bearer {access}", "Accept": "application/fhir+json"},
        timeout=10,
    )
    assert refused.status_code == 401 and "revoked" in refused.text
    assert Grant.objects.filter(revoked_at__isnull=False).count() == 1
