"""Every page and form, for every way the EHR can fail, answers with a page that says what failed
and what to do, the right status and the EHR's reference: never a 500.

The EHR is scripted (tests/fakehttp.py): its FHIR hosts, its token endpoint (for the system
client) and its Messages API each fail in turn: refused, throttled, broken, silent, unreadable.
"""

from typing import Any

import pytest
import requests
from django.test import Client

from smartapp.launch.models import Launch
from tests.fakehttp import (
    AUTH,
    BASE,
    PATIENT_BASE,
    example,
    fake_in_every_thread,
    fake_launch,
    fake_patient_sign_in,
    install,
)

pytestmark = pytest.mark.django_db(transaction=True)
MESSAGES = "https://api.example.org/t1"
REFERENCE = "ref-6f1c2a"
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x", "details": {"text": "no"}}]}  # fmt: skip
# kind → (what the EHR does, the statuses a page may answer, words the page must say)
FAILURES: dict[str, tuple[Any, set[int], str]] = {
    "403": ((403, OUTCOME), {403}, "did not allow"),
    "404": ((404, OUTCOME), {404}, "no such"),
    "405": ((405, OUTCOME), {502}, "answered the app's request with an error (HTTP 405)"),
    "429": ((429, OUTCOME), {503}, "asked the app to slow down"),
    "500": ((500, OUTCOME), {502}, "could not complete the request (HTTP 500)"),
    "503": ((503, OUTCOME), {502}, "could not complete the request (HTTP 503)"),
    "timeout": (requests.ReadTimeout(), {504}, "took too long to answer"),
    "unreachable": (requests.ConnectionError(), {502}, "could not reach"),
    "unreadable": ((200, "<html>oops</html>"), {502}, "not in a form the app understands"),
}
TOKEN_FAILURES: dict[str, tuple[Any, set[int], str]] = {
    "invalid_client": ((401, {"error": "invalid_client"}), {502}, "client id, secret or signing key"),
    "invalid_request": ((400, {"error": "invalid_request"}), {502}, "incomplete or malformed"),
    "invalid_scope": ((400, {"error": "invalid_scope"}), {502}, "permissions (scopes)"),
    "server_error": ((500, {"error": "server_error"}), {502}, "could not reach the EHR's sign-in"),
    "timeout": (requests.ReadTimeout(), {502}, "could not reach the EHR's sign-in"),
}  # fmt: skip
CLINICIAN_PAGES = ["chart/", "chart/appointments/", "chart/visits/", "chart/messages/", "my-day/",
                   "my-messages/", "payments/desk/?encounter=97939518"]  # fmt: skip
PATIENT_PAGES = ["home/", "appointments/", "visits/", "messages/", "visits/97939518/pay/"]


class Failing:
    """The scripted EHR, with one part of it failing."""

    def __init__(self, ehr) -> None:
        self.ehr, self.part = ehr, ""
        self.answer: Any = None

    def __call__(self, method: str, url: str, kwargs: dict[str, Any]) -> Any:
        failing = self.part and (
            (self.part == "fhir" and url.startswith((BASE, PATIENT_BASE)) and ".well-known" not in url)
            or (self.part == "token" and url == f"{AUTH}/hosts/fhir/token"
                and (kwargs.get("data") or {}).get("grant_type") == "client_credentials")
            or (self.part == "messages" and url.startswith(MESSAGES))
        )  # fmt: skip
        if failing:
            if isinstance(self.answer, Exception):
                return self.answer
            return (*self.answer, {"opc-request-id": REFERENCE})
        if url.startswith(MESSAGES):
            return 200, []
        return self.ehr(method, url, kwargs)


@pytest.fixture
def failing(fake_ehr, fake_tenant, monkeypatch):
    scripted = Failing(fake_ehr)
    fake = install(scripted)
    fake_ehr.session = fake
    fake_in_every_thread(monkeypatch, fake)
    fake_tenant.messages_api_base = MESSAGES
    fake_tenant.messages_token_endpoint = f"{AUTH}/hosts/fhir/token"
    fake_tenant.save()
    fake_tenant.clients.filter(persona="system").update(
        scopes="system/Account.read system/Basic.write"
    )
    nancy = example("r4_patient_read.json") | {"id": "12724066"}
    fake_ehr.fhir["Patient/12724066"] = (200, nancy)
    fake_ehr.fhir["Encounter/97939518"] = (200, example("r4_encounter_read.json"))
    return scripted


def _clinician(fake_ehr) -> tuple[Client, str]:
    browser = Client(raise_request_exception=False)
    assert fake_launch(browser, fake_ehr).status_code == 302
    return browser, str(Launch.objects.get(persona="provider").public_id)


def _patient(fake_ehr) -> tuple[Client, str]:
    browser = Client(raise_request_exception=False)
    fake_ehr.token_fields = {"patient": "12724066"}
    signed_in = fake_patient_sign_in(browser, fake_ehr, user=f"{PATIENT_BASE}/Patient/12724066")
    assert signed_in.status_code == 302
    return browser, str(Launch.objects.get(persona="patient").public_id)


def _check(browser: Client, url: str, expected: set[int], words: str, answered=True) -> list[str]:
    page = browser.get(url)
    text = page.content.decode(errors="replace").replace("&#x27;", "'")
    problems = []
    if page.status_code >= 500 and page.status_code not in expected:
        problems.append(f"{url}: {page.status_code}")
    if page.status_code in expected and words not in text:
        problems.append(f"{url}: {page.status_code} without {words!r}")
    if (
        answered
        and page.status_code in expected
        and REFERENCE not in text
        and page.status_code != 404
    ):
        problems.append(f"{url}: no reference")
    return problems


@pytest.mark.parametrize("kind", FAILURES)
def test_every_page_explains_each_kind_of_fhir_failure(failing, fake_ehr, kind):
    answer, expected, words = FAILURES[kind]
    pages = [(b, f"/l/{i}/{p}") for b, i in [_clinician(fake_ehr)] for p in CLINICIAN_PAGES]
    pages += [(b, f"/l/{i}/{p}") for b, i in [_patient(fake_ehr)] for p in PATIENT_PAGES]
    failing.part, failing.answer = "fhir", answer

    answered = not isinstance(answer, Exception)  # a timeout has no reference to show
    problems = [p for b, url in pages for p in _check(b, url, expected, words, answered)]

    assert problems == []


@pytest.mark.parametrize("kind", TOKEN_FAILURES)
def test_pages_that_use_the_system_client_explain_its_token_being_refused(failing, fake_ehr, kind):
    answer, expected, words = TOKEN_FAILURES[kind]
    browser, launch = _patient(fake_ehr)
    failing.part, failing.answer = "token", answer

    answered = not isinstance(answer, Exception)
    problems = _check(browser, f"/l/{launch}/visits/97939518/pay/", expected, words, answered)
    problems += _check(browser, f"/l/{launch}/messages/", expected, words, answered)

    assert problems == []


@pytest.mark.parametrize("kind", ["403", "404", "429", "500", "timeout", "unreadable"])
def test_the_messages_pages_explain_the_messages_api_failing(failing, fake_ehr, kind):
    answer, expected, words = FAILURES[kind]
    browser, launch = _patient(fake_ehr)
    failing.part, failing.answer = "messages", answer

    page = browser.get(f"/l/{launch}/messages/")

    assert page.status_code < 500 or page.status_code in expected | {503}, page.status_code
    assert page.status_code != 500
