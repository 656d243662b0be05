"""Every bad input of issue §4 gets a clear page with a 4xx (or 502) status, never a 500."""

from datetime import timedelta

import pytest
import requests
from django.contrib.auth.models import User
from django.utils import timezone

from smartapp.launch.models import Launch, PendingAuthorization
from tests.fakehttp import BASE, authorize_params, fake_launch

pytestmark = pytest.mark.django_db


def _start(client):
    return authorize_params(client.get("/launch", {"iss": BASE, "launch": "l-1"})["Location"])


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"iss": BASE},
        {"launch": "x"},
        {"iss": "not a url", "launch": "x"},
        {"iss": "ftp://fhir.example.org/r4/t1", "launch": "x"},
        {"iss": BASE, "launch": "bad value"},
        {"iss": BASE, "launch": ""},
    ],
)
def test_it_explains_a_missing_or_malformed_iss_or_launch(client, fake_ehr, fake_tenant, query):
    response = client.get("/launch", query)

    assert response.status_code == 400
    assert b"This launch link is incomplete" in response.content
    assert b"Relaunch from the EHR" in response.content
    assert fake_ehr.session.calls == []


def test_it_refuses_an_unregistered_iss_without_contacting_it(client, fake_ehr, fake_tenant):
    response = client.get("/launch", {"iss": "https://evil.example.net/r4/t1", "launch": "x"})

    assert response.status_code == 400
    assert b"This EHR is not registered" in response.content
    assert fake_ehr.session.calls == []


def test_it_accepts_the_registered_iss_with_a_trailing_slash_and_other_host_case(
    client, fake_ehr, fake_tenant
):
    response = client.get(
        "/launch", {"iss": BASE.replace("fhir.example", "FHIR.Example") + "/", "launch": "x"}
    )

    assert response.status_code == 302


def test_it_shows_a_friendly_page_when_the_user_denies_access(
    client, fake_ehr, fake_tenant, caplog
):
    params = _start(client)
    error_uri = "https://auth.example.org/errors/urn%3Adenied/instances/1"

    response = client.get(
        "/launch/callback",
        {"state": params["state"], "error": "access_denied", "error_uri": error_uri},
    )

    assert response.status_code == 403
    assert b"Access was not granted" in response.content
    assert error_uri.encode() not in response.content
    assert error_uri in caplog.text


def test_it_shows_the_error_uri_to_staff_only(client, fake_ehr, fake_tenant):
    staff = User.objects.create_user("ops", password="x", is_staff=True)
    client.force_login(staff)
    params = _start(client)

    response = client.get(
        "/launch/callback",
        {
            "state": params["state"],
            "error": "access_denied",
            "error_uri": "https://auth.example.org/errors/x",
        },
    )

    assert response.status_code == 403 and b"https://auth.example.org/errors/x" in response.content


@pytest.mark.parametrize("state", ["", "unknown-state"])
def test_it_refuses_a_missing_or_unknown_state(client, fake_ehr, fake_tenant, state):
    _start(client)

    response = client.get("/launch/callback", {"code": "c", "state": state})

    assert (
        response.status_code == 400 and b"This sign-in link is no longer valid" in response.content
    )


def test_it_refuses_a_state_started_in_another_browser(client, fake_ehr, fake_tenant):
    from django.test import Client

    params = _start(Client())

    response = client.get("/launch/callback", {"code": "c", "state": params["state"]})

    assert (
        response.status_code == 400
        and b"does not match a sign-in started in this browser" in response.content
    )
    assert not [c for c in fake_ehr.session.calls if c[1].endswith("/token")]


def test_it_refuses_the_same_callback_twice(client, fake_ehr, fake_tenant):
    params = _start(client)
    fake_ehr.nonce = params["nonce"]
    fake_ehr.fhir["Practitioner/4122622"] = (404, None)
    assert (
        client.get("/launch/callback", {"code": "c", "state": params["state"]}).status_code == 302
    )

    again = client.get("/launch/callback", {"code": "c", "state": params["state"]})

    # cycle_key keeps the session data, so the same browser replays: still refused as reused.
    assert again.status_code == 400 and b"already used" in again.content


def test_it_refuses_an_expired_state(client, fake_ehr, fake_tenant):
    params = _start(client)
    PendingAuthorization.objects.update(created=timezone.now() - timedelta(minutes=11))

    response = client.get("/launch/callback", {"code": "c", "state": params["state"]})

    assert response.status_code == 400 and b"longer than 10 minutes" in response.content


def test_it_explains_an_expired_code_and_shows_cerners_text_to_staff_only(
    client, fake_ehr, fake_tenant
):
    error_uri = "https://auth.example.org/errors/urn%3Acode-invalid-or-expired/instances/9"
    fake_ehr.token_error = (400, {"error": "invalid_grant", "error_uri": error_uri})
    params = _start(client)

    response = client.get("/launch/callback", {"code": "old", "state": params["state"]})

    assert response.status_code == 400
    assert b"The sign-in could not be completed" in response.content
    assert b"invalid_grant" not in response.content and b"Relaunch from the EHR" in response.content
    client.force_login(User.objects.create_user("ops", is_staff=True))
    params = _start(client)
    staff = client.get("/launch/callback", {"code": "old", "state": params["state"]})
    assert b"invalid_grant" in staff.content and error_uri.encode() in staff.content


@pytest.mark.parametrize("problem", ["signature", "aud", "nonce", "expired", "iss"])
def test_it_refuses_an_id_token_that_does_not_check_out(client, fake_ehr, fake_tenant, problem):
    from joserfc.jwk import RSAKey

    if problem == "signature":
        fake_ehr.sign_key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    overrides = {
        "aud": {"aud": "someone-else"},
        "nonce": {"nonce": "other"},
        "expired": {"exp": 1000, "iat": 900},
        "iss": {"iss": "https://auth.example.org/tenants/t2/"},
    }
    fake_ehr.claims_override = overrides.get(problem, {})

    response = fake_launch(client, fake_ehr)

    assert response.status_code == 400
    assert b"The sign-in could not be verified" in response.content
    assert not Launch.objects.exists()


def test_it_shows_a_502_page_when_discovery_fails(client, fake_ehr, fake_tenant):
    fake_ehr.smart_configuration = lambda persona="provider": {}

    response = client.get("/launch", {"iss": BASE, "launch": "x"})

    assert response.status_code == 502 and b"The EHR is not answering" in response.content
    assert b"does not publish its SMART sign-in addresses" in response.content


def test_it_shows_a_502_page_when_discovery_times_out(client, fake_tenant):
    from tests.fakehttp import install, uninstall

    install(lambda method, url, kwargs: requests.Timeout())
    try:
        response = client.get("/launch", {"iss": BASE, "launch": "x"})
    finally:
        uninstall()

    assert response.status_code == 502 and b"did not answer in time" in response.content


def test_it_explains_an_ended_session_with_a_401(client, fake_ehr, fake_tenant):
    done = fake_launch(client, fake_ehr)
    Launch.objects.update(expires_at=timezone.now() - timedelta(seconds=5))
    fake_ehr.refresh_error = (400, {"error": "invalid_grant"})

    response = client.get(done["Location"], follow=True)

    assert response.status_code == 401
    assert (
        b"Your EHR session ended" in response.content
        and b"Relaunch from the EHR" in response.content
    )


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_it_refuses_wrong_methods_on_launch_and_callback(client, fake_tenant, method):
    assert getattr(client, method)("/launch").status_code == 405
    assert getattr(client, method)("/launch/callback").status_code == 405


def test_it_refuses_get_on_sign_in_and_post_on_the_start_page(client, fake_tenant):
    assert client.get("/signin").status_code == 405
    assert client.post("/").status_code == 405


def test_it_asks_again_when_the_sign_in_form_is_incomplete(client, fake_tenant):
    response = client.post("/signin", {"tenant": "nope", "persona": "patient"})

    assert response.status_code == 400 and b"Please choose your organisation" in response.content
