"""The Messages API (non-FHIR patient portal messaging) over real HTTP."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.sandbox.conftest import TENANT, system_token

pytestmark = pytest.mark.django_db(transaction=True)
SCOPE = "oraclehealth:millennium:message"
PATIENT = "12724066"
# Seeded ids for patient 12724066 (see seed_messages.py).
SENT_REFILL, REPLY, LABS, UNREAD_SCRIPT, UNREAD_LINK, OLD_REMINDER, SENT_BILLING = (
    str(710_000_000 + k) for k in range(7)
)
OTHER_PATIENTS_MESSAGE = "710000010"  # patient 12724067's unread message


class Api:
    def __init__(self, sandbox, token: str):
        self.base = f"{sandbox.base}/sandbox/api/{TENANT}/message/20241001"
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(f"{self.base}/{path}", params=params, headers=self.headers, timeout=10)

    def post(self, path: str, body, **headers) -> requests.Response:
        headers = {**self.headers, "Content-Type": "application/json", **headers}
        return requests.post(
            f"{self.base}/{path}", data=json.dumps(body), headers=headers, timeout=10
        )


@pytest.fixture
def api(sandbox, sandbox_tenants_file) -> Api:
    tenant = json.loads(sandbox_tenants_file.read_text())["tenants"][0]
    assert tenant["messages_api_base"] == f"{sandbox.base}/sandbox/api/{TENANT}"
    assert tenant["messages_token_endpoint"] == sandbox.token_url("api")
    return Api(sandbox, system_token(sandbox, SCOPE, host="api"))


def _reply_body(**overrides):
    body = {
        "content": "<p>Thanks — can we talk about the <b>bill</b>?</p>",
        "messageSender": {"id": PATIENT, "type": "PERSON"},
        "patientId": PATIENT,
        "recipients": [{"id": "4122622", "type": "PERSONNEL"}],
        "priority": {"value": "NORMAL"},
        "subject": "Follow-up",
    }
    body.update(overrides)
    return body


def test_token_rules(sandbox, api):
    fhir_token = system_token(sandbox, "system/Patient.read")
    response = Api(sandbox, fhir_token).get("patientMessages/inboxItems", patientId=PATIENT)
    assert response.status_code == 401 and "unknown_kid" in response.json()["message"]
    assert requests.get(f"{api.base}/patientMessages/inboxItems", timeout=10).status_code == 401
    refused = requests.post(
        sandbox.token_url("api"),
        auth=sandbox.basic("system"),
        data={"grant_type": "client_credentials", "scope": "system/Patient.read"},
        timeout=10,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    not_on_fhir = requests.post(
        sandbox.token_url("fhir-ehr"),
        auth=sandbox.basic("system"),
        data={"grant_type": "client_credentials", "scope": SCOPE},
        timeout=10,
    )
    assert not_on_fhir.status_code == 400


def test_inbox_and_sent_items(api):
    response = api.get("patientMessages/inboxItems", patientId=PATIENT)
    assert response.status_code == 200, response.text
    assert response.headers["opc-request-id"]
    body = response.json()
    assert body["hasMore"] is False
    items = {item["id"]: item for item in body["items"]}
    assert set(items) == {REPLY, LABS, UNREAD_SCRIPT, UNREAD_LINK}  # the reminder is 120 days old
    assert items[UNREAD_SCRIPT]["status"] == "UNREAD" and items[LABS]["status"] == "OPENED"
    assert items[UNREAD_LINK]["priority"] == "HIGH"
    assert items[REPLY]["sender"]["type"] == "PERSONNEL"
    assert "<" not in items[LABS]["preview"]
    stamps = [item["createDateTime"] for item in body["items"]]
    assert stamps == sorted(stamps, reverse=True) and stamps[0].endswith("Z")
    since = f"{datetime.now(UTC) - timedelta(days=200):%Y-%m-%dT%H:%M:%SZ}"
    older = api.get(
        "patientMessages/inboxItems", patientId=PATIENT, createDateTimeGreaterThanOrEqualTo=since
    ).json()
    assert OLD_REMINDER in {item["id"] for item in older["items"]}
    sent = api.get("patientMessages/sentItems", patientId=PATIENT).json()["items"]
    assert {item["id"] for item in sent} == {SENT_REFILL, SENT_BILLING}
    assert {item["sender"]["type"] for item in sent} == {"PERSON"}


def test_limits_and_windows(api):
    inbox = "patientMessages/inboxItems"
    assert api.get(inbox).json()["code"] == "InvalidParameter"
    assert api.get(inbox, patientId=PATIENT, limit="50").status_code == 400
    assert api.get(inbox, patientId=PATIENT, limit="1000").status_code == 200
    bad_time = api.get(inbox, patientId=PATIENT, createDateTimeGreaterThanOrEqualTo="2024-01-01")
    assert bad_time.status_code == 400
    future = f"{datetime.now(UTC) + timedelta(days=30):%Y-%m-%dT%H:%M:%SZ}"
    assert api.get(inbox, patientId=PATIENT, createDateTimeLessThanOrEqualTo=future).ok
    reminders = api.get(inbox, patientId=PATIENT, notificationType="REMINDER",
                        createDateTimeGreaterThanOrEqualTo="2000-01-01T00:00:00Z")  # fmt: skip
    assert [item["id"] for item in reminders.json()["items"]] == [OLD_REMINDER]
    by_priority = api.get(inbox, patientId=PATIENT, sortBy="priority").json()["items"]
    assert by_priority[0]["id"] == UNREAD_LINK
    assert api.get(inbox, patientId=PATIENT, sortBy="subject").status_code == 400


def test_message_by_id(api):
    response = api.get(f"patientMessages/{UNREAD_SCRIPT}", patientId=PATIENT)
    assert response.status_code == 200
    message = response.json()
    assert message["patientId"] == PATIENT and "<script>" in message["content"]
    assert "onerror=" in message["content"]
    link = api.get(f"patientMessages/{UNREAD_LINK}", patientId=PATIENT).json()
    assert "javascript:" in link["content"]
    reply = api.get(f"patientMessages/{REPLY}", patientId=PATIENT).json()
    assert reply["previousMessageId"] == SENT_REFILL
    other = api.get(f"patientMessages/{OTHER_PATIENTS_MESSAGE}", patientId=PATIENT)
    assert other.status_code == 404 and other.json()["code"] == "NotAuthorizedOrNotFound"
    assert api.get("patientMessages/999", patientId=PATIENT).status_code == 404
    assert api.get(f"patientMessages/{LABS},{REPLY}", patientId=PATIENT).status_code == 400
    assert api.get(f"patientMessages/{LABS}").status_code == 400


def test_send_and_reply(api):
    created = api.post("patientMessages/sentItems", _reply_body(), **{"opc-request-id": "abc"})
    assert created.status_code == 201, created.text
    assert created.headers["opc-request-id"] == "abc"
    message = created.json()
    assert created.headers["Location"].endswith(f"/patientMessages/{message['id']}")
    assert message["recipients"][0]["name"].startswith("Cerner Test")
    assert message["status"] == "OPENED" and message["sender"]["type"] == "PERSON"
    sent = api.get("patientMessages/sentItems", patientId=PATIENT).json()["items"]
    assert sent[0]["id"] == message["id"]
    reply = api.post("patientMessages/sentItems", _reply_body(subject="", previousMessageId=LABS))
    assert reply.status_code == 201
    assert reply.json()["subject"] == "RE: Your lab results are ready"
    assert reply.json()["previousMessageId"] == LABS
    reminder = api.post("patientMessages/sentItems", _reply_body(previousMessageId=OLD_REMINDER))
    assert reminder.status_code == 400
    stolen = api.post(
        "patientMessages/sentItems", _reply_body(previousMessageId=OTHER_PATIENTS_MESSAGE)
    )
    assert stolen.status_code == 404


@pytest.mark.parametrize(
    "overrides",
    [
        {"content": ""},
        {"content": "   "},
        {"content": "x" * (32 * 1024 + 1)},
        {"messageSender": {"id": PATIENT, "type": "PERSONNEL"}},
        {"messageSender": {"id": "12724067", "type": "PERSON"}},
        {"recipients": []},
        {"recipients": [{"id": "4122622", "type": "PATIENT"}]},
        {"recipients": [{"id": "999", "type": "PERSONNEL"}]},
        {"recipients": [{"id": "a@example.org", "type": "EMAIL"}, {"id": "5000", "type": "GROUPINBOX"}]},
        {"priority": {"value": "URGENT"}},
        {"patientId": ""},
    ],
)  # fmt: skip
def test_validation_errors(api, overrides):
    response = api.post("patientMessages/sentItems", _reply_body(**overrides))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "InvalidParameter" and response.json()["message"]


def test_update_status(api):
    action = "actions/updatePatientMessageStatus"
    body = {"patientId": PATIENT, "messages": [UNREAD_SCRIPT, UNREAD_LINK], "status": "OPENED"}
    assert api.post(action, body).status_code == 204
    items = api.get("patientMessages/inboxItems", patientId=PATIENT).json()["items"]
    assert {i["status"] for i in items} == {"OPENED"}
    assert api.post(action, {**body, "status": "DELETED", "messages": [LABS]}).status_code == 204
    items = api.get("patientMessages/inboxItems", patientId=PATIENT).json()["items"]
    assert LABS not in {i["id"] for i in items}
    assert api.post(action, {**body, "status": "UNREAD", "messages": [LABS]}).status_code == 204
    assert api.get(f"patientMessages/{LABS}", patientId=PATIENT).json()["status"] == "UNREAD"
    assert api.post(action, {**body, "status": "ARCHIVED"}).status_code == 400
    assert api.post(action, {**body, "messages": [str(i) for i in range(101)]}).status_code == 400
    assert api.post(action, {**body, "messages": []}).status_code == 400
    other = api.post(action, {**body, "messages": [OTHER_PATIENTS_MESSAGE]})
    assert other.status_code == 404
