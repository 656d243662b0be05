import pytest
import requests

from tests.sandbox.conftest import authorize_params, log_in_and_decide, query_of, start

pytestmark = pytest.mark.django_db(transaction=True)


def _refused_with(response: requests.Response, error: str) -> dict[str, str]:
    assert response.status_code == 302
    query = query_of(response.headers["Location"])
    assert query["error"] == error
    assert query["state"] == "st-123"
    return query


def test_it_shows_a_page_for_a_redirect_uri_that_differs_by_a_trailing_slash(sandbox):
    redirect = sandbox.clients["patient"]["redirect_uri"] + "/"
    response = start(requests.Session(), sandbox, "patient", redirect_uri=redirect)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "redirect_uri" in response.text


def test_it_shows_a_page_for_an_unknown_client(sandbox):
    response = start(requests.Session(), sandbox, "patient", client_id="nobody")
    assert response.status_code == 400
    assert "Unknown client_id" in response.text


def test_it_refuses_a_request_without_aud(sandbox):
    _refused_with(start(requests.Session(), sandbox, "patient", aud=None), "invalid_request")


def test_it_refuses_an_aud_of_the_other_host(sandbox):
    response = start(requests.Session(), sandbox, "patient", aud=sandbox.provider_base)
    _refused_with(response, "invalid_request")


def test_it_accepts_an_aud_with_a_trailing_slash(sandbox):
    response = start(requests.Session(), sandbox, "patient", aud=sandbox.patient_base + "/")
    assert response.status_code == 302
    assert "/personas/patient/login?txn=" in response.headers["Location"]


def test_it_refuses_a_wildcard_scope(sandbox):
    response = start(requests.Session(), sandbox, "patient", scope="launch/patient patient/*.read")
    _refused_with(response, "invalid_scope")


def test_it_refuses_a_scope_not_registered_for_the_client(sandbox):
    response = start(requests.Session(), sandbox, "patient", scope="patient/Observation.read")
    _refused_with(response, "invalid_scope")


def test_it_refuses_plain_pkce(sandbox):
    response = start(
        requests.Session(),
        sandbox,
        "patient",
        code_challenge="a" * 43,
        code_challenge_method="plain",
    )
    _refused_with(response, "invalid_request")


def test_it_refuses_a_provider_client_on_the_patient_persona(sandbox):
    params = authorize_params(sandbox, "provider", aud=sandbox.patient_base)
    response = requests.get(
        sandbox.authorize_url("patient"), params=params, allow_redirects=False, timeout=10
    )
    query = _refused_with(response, "unauthorized_client")
    assert "client-persona-mismatch" in query["error_uri"]
    assert "persona=patient" in query["error_uri"]


def test_deny_on_the_consent_page_redirects_with_access_denied(sandbox):
    http = requests.Session()
    back = log_in_and_decide(http, sandbox, start(http, sandbox, "patient"), "12724066", "deny")
    query = query_of(back)
    assert back.startswith(sandbox.clients["patient"]["redirect_uri"] + "?")
    assert query["error"] == "access_denied"
    assert query["state"] == "st-123"
    assert (
        "/errors/urn%3Acerner%3Aerror%3Aauthorization-server%3Aoauth2%3Agrant%3Adenied-by-server/instances/"
        in query["error_uri"]
    )
    assert "code" not in query


def test_the_login_page_lists_seeded_patients_escaped(sandbox):
    http = requests.Session()
    first = start(http, sandbox, "patient")
    page = http.get(sandbox.base + first.headers["Location"])
    assert 'name="csrfmiddlewaretoken"' in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)</script>" not in page.text


def test_the_login_form_refuses_a_post_without_csrf_token(sandbox):
    http = requests.Session()
    first = start(http, sandbox, "patient")
    txn = query_of(first.headers["Location"])["txn"]
    response = http.post(
        sandbox.base + first.headers["Location"],
        data={"txn": txn, "user": "12724066"},
        allow_redirects=False,
    )
    assert response.status_code == 403
