"""Communication search, create and email-status PATCH; Binary bodies in both Accept forms."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.examples import cerner_example
from tests.sandbox.conftest import (
    FIRST_CLINICIAN,
    fhir_get,
    fhir_patch,
    fhir_post,
    patient_tokens,
    provider_token,
    system_token,
)

pytestmark = pytest.mark.django_db(transaction=True)
SCOPES = "system/Communication.read system/Communication.write system/Binary.read"
TASK = "http://hl7.org/fhir/task-status"
FIRST_NOTE = "489580643.0.-4.prsnl"  # clinician 4122622's urgent, unread notification


@pytest.fixture
def token(sandbox) -> str:
    return system_token(sandbox, SCOPES)


def _since(days: int = 30) -> str:
    return f"ge{datetime.now(UTC) - timedelta(days=days):%Y-%m-%dT%H:%M:%SZ}"


def _inbox(sandbox, token, status="in-progress", category="notification,reminder", **extra):
    params = {
        "category": category,
        "recipient:Practitioner": FIRST_CLINICIAN,
        "received": _since(),
        "-email-status": f"{TASK}|{status}",
        **extra,
    }
    return fhir_get(f"{sandbox.provider_base}/Communication", token, **params)


def test_a_clinicians_unread_messages_need_all_four_parameters(sandbox, token):
    response = _inbox(sandbox, token)
    assert response.status_code == 200, response.text
    found = [e["resource"] for e in response.json()["entry"]]
    assert FIRST_NOTE in {r["id"] for r in found}
    for resource in found:
        refs = {r["reference"] for r in resource["recipient"]}
        assert f"Practitioner/{FIRST_CLINICIAN}" in refs
        assert (
            resource["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "in-progress"
        )
    received = [r["received"] for r in found]
    assert received == sorted(received, reverse=True)
    done = [e["resource"]["id"] for e in _inbox(sandbox, token, "completed").json()["entry"]]
    assert done and FIRST_NOTE not in done
    url = f"{sandbox.provider_base}/Communication"
    base = {"category": "notification", "recipient:Practitioner": FIRST_CLINICIAN}
    base |= {"received": _since(), "-email-status": f"{TASK}|in-progress"}
    for missing in base:
        partial = {k: v for k, v in base.items() if k != missing}
        assert fhir_get(url, token, **partial).status_code == 400, missing
    assert fhir_get(url, token, **{**base, "received": "le2030-01-01T00:00:00Z"}).status_code == 400
    assert fhir_get(url, token, **{**base, "category": "alert"}).status_code == 400
    by_id = fhir_get(url, token, _id=FIRST_NOTE).json()
    assert [e["resource"]["id"] for e in by_id["entry"]] == [FIRST_NOTE]
    as_ref = fhir_get(url, token, **{**base, "recipient:Practitioner": None,
                                     "recipient": f"Practitioner/{FIRST_CLINICIAN}"})  # fmt: skip
    assert as_ref.status_code == 200 and as_ref.json()["entry"]


def test_binary_in_both_accept_forms(sandbox, token):
    url = f"{sandbox.provider_base}/Binary/{FIRST_NOTE}"
    as_json = fhir_get(url, token)
    assert as_json.status_code == 200
    body = as_json.json()
    assert body["resourceType"] == "Binary" and body["contentType"] == "text/html"
    html = base64.b64decode(body["data"]).decode()
    assert "<script>" in html  # hostile on purpose: the app must sanitize
    raw = requests.get(
        url, headers={"Authorization": f"Bearer {token}", "Accept": "text/html"}, timeout=10
    )
    assert raw.status_code == 200 and raw.headers["Content-Type"].startswith("text/html")
    assert raw.text == html
    no_comm = system_token(sandbox, "system/Binary.read")
    assert fhir_get(url, no_comm).status_code == 403
    assert requests.get(url, headers={"Accept": "application/xml"}, timeout=10).status_code == 406


def test_create_read_and_patch_email_status(sandbox, token):
    body = cerner_example("r4_communication_create_request.json")
    body["subject"] = {"reference": "Patient/12724066"}
    body["encounter"] = {"reference": "Encounter/97724066"}
    body["recipient"] = [{"reference": f"Practitioner/{FIRST_CLINICIAN}"}, {"reference": "Group/9"}]
    body["sender"] = {"reference": "Practitioner/4122623"}
    text = "<p>Please call the patient about <b>results</b>.</p>"
    body["payload"][0]["contentAttachment"] = {
        "contentType": "application/xhtml+xml;charset=utf-8",
        "data": base64.b64encode(text.encode()).decode(),
    }
    created = fhir_post(f"{sandbox.provider_base}/Communication", token, body)
    assert created.status_code == 201, created.text
    assert created.content == b"" and created.headers["Etag"] == 'W/"0"'
    new_id = created.headers["Location"].rsplit("/", 1)[1]
    assert new_id.endswith(".0.-4.0")
    read = fhir_get(f"{sandbox.provider_base}/Communication/{new_id}", token).json()
    assert read["subject"]["reference"] == "Patient/12724066"
    assert read["payload"][0]["contentReference"]["reference"] == f"Binary/{new_id}"
    binary = fhir_get(f"{sandbox.provider_base}/Binary/{new_id}", token).json()
    assert base64.b64decode(binary["data"]).decode() == text
    assert new_id in {e["resource"]["id"] for e in _inbox(sandbox, token).json()["entry"]}
    patch = cerner_example("r4_communication_patch_request.json")
    url = f"{sandbox.provider_base}/Communication/{new_id}"
    patched = fhir_patch(url, token, patch, 'W/"0"')
    assert patched.status_code == 200 and patched.headers["Etag"] == 'W/"1"'
    assert fhir_patch(url, token, patch, 'W/"0"').status_code == 409
    status = fhir_get(url, token).json()["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert status["code"] == "completed"
    bad = [{"op": "replace", "path": "/status", "value": "entered-in-error"}]
    assert fhir_patch(url, token, bad).status_code == 422
    invalid = {**body, "status": "in-progress"}
    assert fhir_post(f"{sandbox.provider_base}/Communication", token, invalid).status_code == 422
    extra = {**body, "note": [{"text": "x"}]}
    assert fhir_post(f"{sandbox.provider_base}/Communication", token, extra).status_code == 422


def test_provider_can_read_patient_cannot(sandbox, token):
    scope = "openid fhirUser user/Communication.read user/Binary.read"
    provider = provider_token(sandbox, scope=scope)
    assert _inbox(sandbox, provider).status_code == 200
    assert fhir_get(f"{sandbox.provider_base}/Binary/{FIRST_NOTE}", provider).status_code == 200
    patient = patient_tokens(
        sandbox, "12724066", scope="launch/patient openid fhirUser patient/Binary.read"
    )["access_token"]
    assert fhir_get(f"{sandbox.patient_base}/Binary/{FIRST_NOTE}", patient).status_code == 403
    assert (
        fhir_get(f"{sandbox.patient_base}/Communication/{FIRST_NOTE}", patient).status_code == 403
    )


def test_conformance_with_cerner_examples(sandbox, token):
    example = cerner_example("r4_communication_read.json")
    body = fhir_get(f"{sandbox.provider_base}/Communication/{FIRST_NOTE}", token).json()
    assert set(body) == set(example) - {"inResponseTo"}
    binary = cerner_example("r4_binary_read_communication.json")
    assert set(fhir_get(f"{sandbox.provider_base}/Binary/{FIRST_NOTE}", token).json()) == set(
        binary
    )
