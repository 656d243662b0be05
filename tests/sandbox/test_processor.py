"""The sandbox card processor: API key, idempotent sessions, the hosted page, refunds."""

import hashlib
import hmac
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

pytestmark = pytest.mark.django_db(transaction=True)
RETURN = "https://app.example/payments/return?x=1"
CANCEL = "https://app.example/payments/cancel"


@pytest.fixture
def processor(sandbox, sandbox_tenants_file) -> dict:
    return json.loads(sandbox_tenants_file.read_text())["tenants"][0]["processor"]


def _api(processor, method: str, path: str, key: str | None = None, **kwargs):
    headers = {
        "Authorization": f"Bearer {key or processor['api_key']}",
        **kwargs.pop("headers", {}),
    }
    return requests.request(
        method, f"{processor['base_url']}{path}", headers=headers, timeout=10, **kwargs
    )


def _session(processor, reference: str = "PAY100", amount: str = "25.00") -> requests.Response:
    body = {
        "amount": amount,
        "currency": "USD",
        "reference": reference,
        "return_url": RETURN,
        "cancel_url": CANCEL,
    }
    return _api(processor, "POST", "/v1/checkout/sessions", json=body)


def _pay(session: dict, number: str, expiry: str = "12/39", cvc: str = "123", **extra):
    http = requests.Session()
    page = http.get(session["checkout_url"], timeout=10)
    assert page.status_code == 200
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert csrf, page.text[:300]
    data = {"csrfmiddlewaretoken": csrf[1], "number": number, "expiry": expiry, "cvc": cvc}
    data |= {"name": "Nancy Smart", **extra}
    return http.post(session["checkout_url"], data=data, allow_redirects=False, timeout=10)


def test_sessions_are_idempotent_by_reference(processor):
    first = _session(processor)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["status"] == "open" and body["amount"] == "25.00" and body["charge"] is None
    again = _session(processor)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert _session(processor, amount="26.00").status_code == 409
    found = _api(processor, "GET", "/v1/checkout/sessions", params={"reference": "PAY100"})
    assert found.json()["id"] == body["id"]
    assert _session(processor, reference="bad ref!").status_code == 400
    assert _session(processor, reference="P2", amount="1.005").status_code == 400


def test_api_key_is_required(processor):
    assert _api(processor, "GET", "/v1/checkout/sessions/cs_x", key="wrong").status_code == 401
    response = requests.post(f"{processor['base_url']}/v1/checkout/sessions", json={}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_a_good_card_is_captured(processor):
    session = _session(processor).json()
    done = _pay(session, "4242 4242 4242 4242")
    assert done.status_code == 303
    back = urlsplit(done.headers["Location"])
    assert back.netloc == "app.example" and back.path == "/payments/return"
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    assert query["session"] == session["id"] and query["x"] == "1"
    expected = hmac.new(processor["api_key"].encode(), session["id"].encode(), hashlib.sha256)
    assert query["sig"] == expected.hexdigest()
    got = _api(processor, "GET", f"/v1/checkout/sessions/{session['id']}").json()
    assert got["status"] == "captured"
    charge = got["charge"]
    assert (charge["brand"], charge["last4"], charge["exp_month"], charge["exp_year"]) == (
        "visa",
        "4242",
        12,
        2039,
    )
    assert charge["amount"] == "25.00" and charge["status"] == "succeeded"
    # The page now says it is paid, and a replayed submit never charges twice.
    http = requests.Session()
    assert "This payment is complete" in http.get(session["checkout_url"], timeout=10).text
    other = _session(processor, "PAY101").json()
    page = http.get(other["checkout_url"], timeout=10).text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    card = {"number": "5555555555554444", "expiry": "12/39", "cvc": "123", "name": "N"}
    replay = http.post(
        session["checkout_url"], data={"csrfmiddlewaretoken": csrf, **card}, timeout=10
    )
    assert replay.status_code == 200
    again = _api(processor, "GET", f"/v1/checkout/sessions/{session['id']}").json()
    assert again["charge"]["id"] == charge["id"]


def test_decline_then_another_card(processor):
    session = _session(processor, "PAY200").json()
    assert _pay(session, "4000000000000002").status_code == 303
    got = _api(processor, "GET", f"/v1/checkout/sessions/{session['id']}").json()
    assert got["status"] == "declined" and got["failure"]["code"] == "card_declined"
    assert got["charge"] is None
    assert _pay(session, "5555555555554444").status_code == 303
    got = _api(processor, "GET", f"/v1/checkout/sessions/{session['id']}").json()
    assert got["status"] == "captured" and got["charge"]["brand"] == "mastercard"
    assert got["failure"] is None


def test_processor_failure(processor):
    session = _session(processor, "PAY300").json()
    assert _pay(session, "4000000000009995").status_code == 303
    got = _api(processor, "GET", f"/v1/checkout/sessions/{session['id']}").json()
    assert got["status"] == "failed" and got["failure"]["code"] == "processing_error"


@pytest.mark.parametrize(
    ("number", "expiry", "cvc"),
    [
        ("4111111111111111", "12/39", "123"),
        ("4242424242424242", "01/20", "123"),
        ("4242424242424242", "12/39", "12"),
    ],  # fmt: skip
)
def test_form_errors_record_nothing(processor, number, expiry, cvc):
    session = _session(processor, "PAY400").json()
    assert _pay(session, number, expiry, cvc).status_code == 400
    got = _api(processor, "GET", f"/v1/checkout/sessions/{session['id']}").json()
    assert got["status"] == "open"


def test_cancel_goes_back_unchanged(processor):
    session = _session(processor, "PAY500").json()
    done = _pay(session, "", cancel="1")
    assert done.status_code == 303
    assert done.headers["Location"] == f"{CANCEL}?session={session['id']}"
    got = _api(processor, "GET", f"/v1/checkout/sessions/{session['id']}").json()
    assert got["status"] == "open"


def test_refunds(processor):
    session = _session(processor, "PAY600").json()
    _pay(session, "4242424242424242")
    charge_id = _api(processor, "GET", f"/v1/checkout/sessions/{session['id']}").json()["charge"][
        "id"
    ]
    path = f"/v1/charges/{charge_id}/refund"
    part = _api(
        processor, "POST", path, json={"amount": "10.00"}, headers={"Idempotency-Key": "k1"}
    )
    assert part.status_code == 201 and part.json()["amount"] == "10.00"
    repeat = _api(
        processor, "POST", path, json={"amount": "10.00"}, headers={"Idempotency-Key": "k1"}
    )
    assert repeat.status_code == 200 and repeat.json()["id"] == part.json()["id"]
    assert _api(processor, "POST", path, json={"amount": "20.00"}).status_code == 422
    rest = _api(processor, "POST", path)
    assert rest.status_code == 201 and rest.json()["amount"] == "15.00"
    charge = _api(processor, "GET", f"/v1/charges/{charge_id}").json()
    assert charge["status"] == "refunded" and charge["amount_refunded"] == "25.00"
    assert len(charge["refunds"]) == 2
    assert _api(processor, "POST", path).json()["error"]["code"] == "charge_not_refundable"
    assert _api(processor, "POST", "/v1/charges/ch_nope/refund").status_code == 404
