"""Gateway writes: create and JSON Patch as Millennium answers them, audited, with typed errors."""

import json
import socket
import threading

import pytest
import requests

from smartapp.audit.models import AuditEvent
from smartapp.fhir import errors
from smartapp.fhir.gateway import AuditContext, FhirGateway, etag_version
from smartapp.fhir.resources import parse_resource
from tests.fakehttp import BASE, example, install, uninstall

pytestmark = pytest.mark.django_db

AUDIT = AuditContext(who="system", tenant="t", patient_id="12724066", reason="booked for a test")


@pytest.fixture
def gateway():
    yield FhirGateway(base_url=BASE, token=lambda: "tok", audit_context=AUDIT)
    uninstall()


def test_a_create_returns_the_id_from_location_and_the_version_from_etag(gateway):
    fake = install(
        lambda m, u, k: (201, None, {"Location": f"{BASE}/Appointment/4823", "Etag": 'W/"0"'})
    )
    body = example("r4_appointment_create_booked_request.json")

    written = gateway.create("Appointment", body, patient_id="12724066")

    method, url, kwargs = fake.calls[0]
    assert (written.resource_id, written.version) == ("4823", "0")
    assert method == "POST" and url == f"{BASE}/Appointment"
    assert json.loads(kwargs["data"]) == body
    assert kwargs["headers"]["Content-Type"] == "application/fhir+json"
    assert kwargs["what"] == "Appointment create"  # named in the call's one log line
    event = AuditEvent.objects.get()
    assert (event.action, event.what, event.status) == ("write", "Appointment/4823 create", 201)
    assert event.patient_id == "12724066" and event.reason == "booked for a test"


def test_a_patch_sends_json_patch_with_if_match(gateway):
    fake = install(lambda m, u, k: (200, None, {"Etag": 'W/"3"'}))
    ops = example("r4_appointment_patch_cancel_with_reason_request.json")

    written = gateway.patch("Appointment", "4823", ops, version="2")

    _, url, kwargs = fake.calls[0]
    assert written.version == "3" and url == f"{BASE}/Appointment/4823"
    assert kwargs["headers"]["If-Match"] == 'W/"2"'
    assert kwargs["headers"]["Content-Type"] == "application/json-patch+json"
    assert AuditEvent.objects.get().what == "Appointment/4823 patch"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (409, errors.Conflict),
        (412, errors.PreconditionFailed),
        (422, errors.Unprocessable),
        (423, errors.Locked),
    ],
)
def test_write_refusals_are_typed_and_audited(gateway, status, kind):
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "conflict", "details": {"text": "taken"}}],
    }
    install(lambda m, u, k: (status, outcome))

    with pytest.raises(kind) as raised:
        gateway.patch("Appointment", "1", [], version="0")

    assert raised.value.message == "taken" and AuditEvent.objects.get().status == status


def test_a_write_that_times_out_after_sending_is_a_timeout_not_unreachable(gateway):
    install(lambda m, u, k: requests.ReadTimeout())

    with pytest.raises(errors.Timeout):
        gateway.create("Appointment", {})


def _port_nobody_listens_on() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_write_that_never_connected_is_unreachable():
    port = _port_nobody_listens_on()
    gateway = FhirGateway(
        base_url=f"http://127.0.0.1:{port}/r4/t", token=lambda: "t", audit_context=AUDIT
    )

    with pytest.raises(errors.Unreachable):
        gateway.create("Appointment", {"resourceType": "Appointment"})


def test_a_write_whose_connection_drops_after_sending_may_have_landed():
    """The server reads the whole request, then hangs up: the write may have happened."""
    received = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def read_then_hang_up() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        received.set()
        conn.close()

    threading.Thread(target=read_then_hang_up, daemon=True).start()
    port = server.getsockname()[1]
    gateway = FhirGateway(
        base_url=f"http://127.0.0.1:{port}/r4/t", token=lambda: "t", audit_context=AUDIT
    )

    with pytest.raises(errors.Timeout):
        gateway.create("Appointment", {"resourceType": "Appointment"})
    assert received.is_set()
    server.close()


@pytest.mark.parametrize(
    ("etag", "version"), [('W/"10"', "10"), ('W/"10-1"', "10-1"), ('"7"', "7"), ("", "")]
)
def test_etag_versions_are_read_like_millennium_writes_them(etag, version):
    assert etag_version(etag) == version


@pytest.mark.parametrize(
    "name",
    [
        "r4_appointment_read.json",
        "r4_appointment_search_bundle.json",
        "r4_slot_search_include_schedule_bundle.json",
        "r4_slot_search_include_practitioner_bundle.json",
        "r4_schedule_read.json",
        "r4_location_read.json",
    ],
)
def test_it_parses_cerners_scheduling_examples(name):
    data = example(name)

    assert parse_resource(data).resource_type == data["resourceType"]


def test_include_entries_are_kept_apart_from_matches(gateway):
    install(lambda m, u, k: (200, example("r4_slot_search_include_practitioner_bundle.json")))

    result = gateway.search("Slot", {"_id": "x"})

    assert [r.resource_type for r in result.resources] == ["Slot"]
    assert [r.resource_type for r in result.included] == ["Practitioner"]
