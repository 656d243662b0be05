"""The Messages API door: requests as Oracle documents them, typed errors, audit with opc-request-id."""

from datetime import UTC, datetime

import pytest
import requests

from smartapp.audit.models import AuditEvent
from smartapp.fhir import errors
from smartapp.fhir.gateway import AuditContext
from smartapp.fhir.messages_api import MessagesApi
from smartapp.tenants.models import SystemToken
from smartapp.tenants.system_client import messages_access_token, system_access_token
from tests.fakehttp import install, uninstall

pytestmark = pytest.mark.django_db

BASE = "https://api.example.org/t1"
AUDIT = AuditContext(
    who="system", tenant="t", launch_id=None, patient_id="12724066", reason="on behalf of patient"
)


@pytest.fixture
def api():
    yield MessagesApi(base_url=BASE, token=lambda: "tok", audit_context=AUDIT)
    uninstall()


def test_the_inbox_asks_for_the_patient_and_a_utc_window_and_is_audited(api):
    fake = install(
        lambda m, u, k: (200, {"items": [{"id": "1", "subject": "Hi"}]}, {"opc-request-id": "r1"})
    )

    items = api.inbox(since=datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=UTC))

    method, url, kwargs = fake.calls[0]
    assert items == [{"id": "1", "subject": "Hi"}]
    assert (method, url) == ("GET", f"{BASE}/message/20241001/patientMessages/inboxItems")
    assert kwargs["query"] == {
        "patientId": "12724066",
        "createDateTimeGreaterThanOrEqualTo": "2025-01-02T03:04:05Z",
        "limit": 1000,
    }
    assert kwargs["headers"]["Authorization"] == "Bearer tok"
    assert kwargs["headers"]["opc-request-id"]
    event = AuditEvent.objects.get()
    assert (event.action, event.what, event.status) == ("search", "Messages inboxItems", 200)
    assert event.correlation_id == "r1" and event.patient_id == "12724066"
    assert event.reason == "on behalf of patient"


def test_our_request_id_is_recorded_when_the_api_echoes_none(api):
    fake = install(lambda m, u, k: (200, {"items": []}))

    api.sent(since=datetime(2025, 1, 1, tzinfo=UTC))

    sent_id = fake.calls[0][2]["headers"]["opc-request-id"]
    assert AuditEvent.objects.get().correlation_id == sent_id


def test_sent_items_follow_the_opc_next_page_header(api):
    pages = iter(
        [
            (200, {"items": [{"id": "1"}]}, {"opc-next-page": "p2"}),
            (200, {"items": [{"id": "2"}]}),
        ]
    )
    fake = install(lambda m, u, k: next(pages))

    items = api.sent(since=datetime(2025, 1, 1, tzinfo=UTC))

    assert [i["id"] for i in items] == ["1", "2"]
    assert fake.calls[1][2]["query"]["page"] == "p2"


def test_a_message_is_read_for_the_patient(api):
    fake = install(lambda m, u, k: (200, {"id": "7", "patientId": "12724066"}))

    assert api.message(message_id="7")["id"] == "7"

    _, url, kwargs = fake.calls[0]
    assert url.endswith("/patientMessages/7") and kwargs["query"]["patientId"] == "12724066"
    assert AuditEvent.objects.get().what == "Messages patientMessages/7"


def test_sending_posts_create_sent_item_details(api):
    fake = install(lambda m, u, k: (201, {"id": "880000001"}))

    written = api.send(
        sender={"id": "12724066", "type": "PERSON"},
        recipients=[{"id": "4122622", "type": "PERSONNEL"}],
        subject="Hello",
        content="<div><p>Hi</p></div>",
        previous_message_id="7",
    )

    method, url, kwargs = fake.calls[0]
    assert written["id"] == "880000001" and method == "POST"
    assert url.endswith("/patientMessages/sentItems")
    assert kwargs["json"] == {
        "patientId": "12724066",
        "messageSender": {"id": "12724066", "type": "PERSON"},
        "recipients": [{"id": "4122622", "type": "PERSONNEL"}],
        "subject": "Hello",
        "content": "<div><p>Hi</p></div>",
        "priority": {"value": "NORMAL"},
        "previousMessageId": "7",
    }
    event = AuditEvent.objects.get()
    assert (event.action, event.what, event.status) == ("write", "Messages sentItems create", 201)


def test_a_status_change_names_the_patient_and_the_messages(api):
    fake = install(lambda m, u, k: (204, None))

    api.set_status(message_ids=["7", "8"], status="OPENED")

    _, url, kwargs = fake.calls[0]
    assert url.endswith("/actions/updatePatientMessageStatus")
    assert kwargs["json"] == {"patientId": "12724066", "messages": ["7", "8"], "status": "OPENED"}
    assert AuditEvent.objects.get().what == "Messages status OPENED 7,8"


@pytest.mark.parametrize(
    ("status", "ids"), [("READ", ["1"]), ("OPENED", []), ("OPENED", ["1"] * 101)]
)
def test_a_bad_status_request_is_refused_before_sending(api, status, ids):
    fake = install(lambda m, u, k: (204, None))

    with pytest.raises(ValueError):
        api.set_status(message_ids=ids, status=status)
    assert fake.calls == []


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (
            400,
            {"code": "InvalidParameter", "message": "content is required"},
            errors.FhirError,
            "InvalidParameter",
        ),
        (
            404,
            {"code": "NotAuthorizedOrNotFound", "message": "no"},
            errors.NotFound,
            "NotAuthorizedOrNotFound",
        ),
        (
            401,
            {"code": "NotAuthenticated", "message": "bad token"},
            errors.Unauthorized,
            "NotAuthenticated",
        ),
        (
            429,
            {"code": "TooManyRequests", "message": "slow"},
            errors.RateLimited,
            "TooManyRequests",
        ),
        (
            500,
            {"code": "InternalServerError", "message": "boom"},
            errors.FhirError,
            "InternalServerError",
        ),
    ],
)
def test_json_errors_become_typed_errors_and_are_audited(api, status, body, kind, code):
    install(lambda m, u, k: (status, body, {"opc-request-id": "req-9"}))

    with pytest.raises(kind) as raised:
        api.inbox(since=datetime(2025, 1, 1, tzinfo=UTC))

    assert raised.value.status == status and raised.value.code == code
    assert raised.value.message == body["message"] and raised.value.correlation == "req-9"
    event = AuditEvent.objects.get()
    assert event.status == status and event.correlation_id == "req-9"


def test_a_timeout_is_typed_and_still_audited(api):
    install(lambda m, u, k: requests.ReadTimeout())

    with pytest.raises(errors.Timeout):
        api.send(sender={}, recipients=[], subject="", content="")

    assert AuditEvent.objects.get().status is None


def test_an_unreadable_answer_is_a_typed_error(api):
    install(lambda m, u, k: (200, "not a message"))

    with pytest.raises(errors.FhirError):
        api.message(message_id="7")


# The token: the system client, from the Messages API host's own token endpoint ------------------


@pytest.fixture
def messages_tenant(fake_tenant):
    fake_tenant.messages_api_base = BASE
    fake_tenant.messages_token_endpoint = "https://auth.example.org/tenants/t1/hosts/api/token"
    fake_tenant.save()
    return fake_tenant


def test_the_messages_token_is_a_separate_cached_client_credentials_token(
    fake_ehr, messages_tenant
):
    def handler(method, url, kwargs):
        if url.endswith("/hosts/api/token"):
            return 200, {
                "access_token": "msg-token",
                "expires_in": 570,
                "scope": kwargs["data"]["scope"],
            }
        return fake_ehr(method, url, kwargs)

    fake = install(handler)

    first = messages_access_token(tenant=messages_tenant)
    again = messages_access_token(tenant=messages_tenant)
    fhir = system_access_token(tenant=messages_tenant)

    token_calls = [c for c in fake.calls if c[1].endswith("token")]
    api_call = next(c for c in token_calls if c[1].endswith("/hosts/api/token"))
    assert first == again == "msg-token" and fhir != "msg-token"
    assert len(token_calls) == 2  # one per host, each cached
    assert api_call[2]["data"] == {
        "grant_type": "client_credentials",
        "scope": "oraclehealth:millennium:message",
    }
    assert set(SystemToken.objects.values_list("audience", flat=True)) == {"fhir", "messages"}


def test_a_tenant_without_a_messages_api_gets_a_clear_error(fake_ehr, fake_tenant):
    from smartapp.tenants.system_client import MessagesApiNotConfigured

    with pytest.raises(MessagesApiNotConfigured):
        messages_access_token(tenant=fake_tenant)
