"""The test knobs (`POST /sandbox/control/knobs`): behaviours smartapp.testing turns on."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import requests

from tests.sandbox.conftest import TENANT, fhir_get, system_token

pytestmark = pytest.mark.django_db(transaction=True)
PATIENT = "12724066"
EXPIRED = (
    'code="urn:cerner:error:oauth2:resource-access:expired-token",'
    'error="invalid_token",subcode="token_expired"'
)
UNKNOWN_KID = (
    'code="urn:cerner:error:oauth2:resource-access:signature-verification-failed",'
    'error="invalid_token",subcode="unknown_kid"'
)
MISMATCH = (
    'code="urn:cerner:error:oauth2:resource-access:invalid-tenant",'
    'error="invalid_token",subcode="tenant_mismatch"'
)


def knobs(sandbox, **payload):
    response = requests.post(f"{sandbox.base}/sandbox/control/knobs", json=payload, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _patient(sandbox, token):
    return fhir_get(f"{sandbox.provider_base}/Patient/{PATIENT}", token)


def test_throttle_answers_429_with_retry_after_the_given_number_of_times(sandbox):
    token = system_token(sandbox)
    knobs(sandbox, throttle={"retry_after": 3, "times": 2})

    answers = [_patient(sandbox, token) for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[0].json()["issue"][0]["code"] == "throttled"
    assert knobs(sandbox)["counts"]["throttled"] == 2


def test_throttle_without_times_lasts_until_turned_off(sandbox):
    token = system_token(sandbox)
    knobs(sandbox, throttle={"retry_after": 1})
    assert {_patient(sandbox, token).status_code for _ in range(4)} == {429}

    knobs(sandbox, throttle=None)

    assert _patient(sandbox, token).status_code == 200


def test_the_messages_api_is_throttled_too(sandbox):
    token = system_token(sandbox, "oraclehealth:millennium:message", host="api")
    knobs(sandbox, throttle={"retry_after": 2, "times": 1})

    inbox = requests.get(
        f"{sandbox.base}/sandbox/api/{TENANT}/message/20241001/patientMessages/inboxItems",
        params={"patientId": PATIENT},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )

    assert inbox.status_code == 429 and inbox.headers["Retry-After"] == "2"


def test_expire_tokens_refuses_tokens_issued_so_far_and_not_later_ones(sandbox):
    old = system_token(sandbox)
    through = knobs(sandbox, expire_tokens=True)["tokens_expired_through"]
    while time.time() < through + 1:
        time.sleep(0.02)
    new = system_token(sandbox)

    refused = _patient(sandbox, old)

    assert refused.status_code == 401 and refused.json()["message"] == EXPIRED
    assert _patient(sandbox, new).status_code == 200
    assert knobs(sandbox)["counts"]["expired"] == 1


def test_rotate_keys_makes_earlier_tokens_unknown_kid(sandbox):
    from smartapp.sandbox.models import SigningKey

    id_token_keys = set(
        SigningKey.objects.filter(purpose__startswith="id_token").values_list("kid")
    )
    old = system_token(sandbox)

    knobs(sandbox, rotate_keys=True)

    refused = _patient(sandbox, old)
    assert refused.status_code == 401 and refused.json()["message"] == UNKNOWN_KID
    assert _patient(sandbox, system_token(sandbox)).status_code == 200
    assert set(SigningKey.objects.filter(purpose__startswith="id_token").values_list("kid")) == (
        id_token_keys
    )


def test_tenant_mismatch_refuses_calls_as_from_another_tenant(sandbox):
    token = system_token(sandbox)
    knobs(sandbox, tenant_mismatch={"times": 1})

    refused = _patient(sandbox, token)

    assert refused.status_code == 401 and refused.json()["message"] == MISMATCH
    assert _patient(sandbox, token).status_code == 200
    assert knobs(sandbox)["counts"]["tenant_mismatch"] == 1


@pytest.fixture
def sleeps(monkeypatch):
    """The latency's pauses, recorded instead of slept (the sandbox answers in this process)."""
    from smartapp.sandbox import latency

    paused: list[float] = []
    monkeypatch.setattr(latency, "time", SimpleNamespace(sleep=paused.append))
    return paused


def test_latency_knob_wins_over_the_setting(sandbox, settings, sleeps):
    settings.SANDBOX_LATENCY_MS = 0
    token = system_token(sandbox)
    knobs(sandbox, latency_ms=400)

    assert _patient(sandbox, token).status_code == 200
    assert sleeps == [0.4]

    knobs(sandbox, latency_ms=None)
    assert _patient(sandbox, token).status_code == 200
    assert sleeps == [0.4]  # the knob off and the setting 0: no pause at all


def test_the_latency_counts_the_most_answers_it_held_at_once(sandbox, monkeypatch):
    from smartapp.sandbox import latency

    token = system_token(sandbox)
    together = threading.Barrier(2, timeout=10)  # both answers are held until both arrive
    monkeypatch.setattr(latency, "time", SimpleNamespace(sleep=lambda _: together.wait()))
    knobs(sandbox, latency_ms=50)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _patient(sandbox, token).status_code, range(2)))
    overlapped = knobs(sandbox)["counts"]["most_waiting_at_once"]
    knobs(sandbox, latency_ms=50)  # setting it again starts the count again
    monkeypatch.setattr(latency, "time", SimpleNamespace(sleep=lambda _: None))
    assert _patient(sandbox, token).status_code == 200

    assert answers == [200, 200] and overlapped == 2
    assert knobs(sandbox)["counts"]["most_waiting_at_once"] == 1


def test_registration_delay_knob_wins_over_the_setting(sandbox, settings):
    from smartapp.sandbox import registration

    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 100_000
    assert registration.delay().total_seconds() == 100_000

    knobs(sandbox, registration_delay_seconds=0)
    assert registration.delay().total_seconds() == 0

    knobs(sandbox, registration_delay_seconds=None)
    assert registration.delay().total_seconds() == 100_000


def test_only_named_knobs_change_and_reset_clears_them(sandbox):
    knobs(sandbox, latency_ms=5, throttle={"retry_after": 1, "times": 3})
    described = knobs(sandbox, tenant_mismatch={"times": None})
    assert described["latency_ms"] == 5 and described["throttle"] == {"retry_after": 1, "times": 3}
    assert described["tenant_mismatch"] == {"times": None}

    cleared = knobs(sandbox, reset=True)

    assert cleared["latency_ms"] is None and cleared["throttle"] is None
    assert cleared["tenant_mismatch"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {"nonsense": 1},
        {"latency_ms": -1},
        {"latency_ms": True},
        {"throttle": {"times": -2}},
        {"throttle": {"retry_after": "soon"}},
        {"tenant_mismatch": 3},
        {"registration_delay_seconds": "x"},
    ],
)
def test_bad_knobs_are_a_400(sandbox, payload):
    response = requests.post(f"{sandbox.base}/sandbox/control/knobs", json=payload, timeout=10)
    assert response.status_code == 400 and response.json()["error"]
