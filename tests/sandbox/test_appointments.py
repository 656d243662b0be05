"""Appointment search, booking, cancelling and rescheduling over real HTTP."""

import json
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.examples import cerner_example
from tests.sandbox.conftest import (
    FIRST_CLINICIAN,
    SCHEDULING_SCOPES,
    booking_body,
    fhir_get,
    fhir_patch,
    fhir_post,
    free_slots,
    patient_tokens,
    provider_token,
    system_token,
)

pytestmark = pytest.mark.django_db(transaction=True)
CANCEL = [
    {"op": "replace", "path": "/status", "value": "cancelled"},
    {
        "op": "add",
        "path": "/cancelationReason",
        "value": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                    "code": "oth-err",
                }
            ]
        },
    },
]


@pytest.fixture
def token(sandbox) -> str:
    return system_token(sandbox, SCHEDULING_SCOPES)


def _today_range() -> list[str]:
    zone = ZoneInfo("America/Chicago")
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    begin, end = midnight.astimezone(UTC), (midnight + timedelta(days=1)).astimezone(UTC)
    return [f"ge{begin:%Y-%m-%dT%H:%M:%SZ}", f"lt{end:%Y-%m-%dT%H:%M:%SZ}"]


def _book(sandbox, token, slot_id, **kwargs) -> requests.Response:
    return fhir_post(f"{sandbox.provider_base}/Appointment", token, booking_body(slot_id, **kwargs))


def _booked(sandbox, token) -> tuple[str, dict]:
    """A fresh booking: its URL and its body as read back."""
    slot = free_slots(sandbox, token, _count="1")[0]
    created = _book(sandbox, token, slot["id"])
    assert created.status_code == 201, created.text
    return created.headers["Location"], fhir_get(created.headers["Location"], token).json()


def test_the_first_clinician_has_appointments_today(sandbox, token):
    body = fhir_get(
        f"{sandbox.provider_base}/Appointment",
        token,
        practitioner=FIRST_CLINICIAN,
        date=_today_range(),
    ).json()
    statuses = [e["resource"]["status"] for e in body["entry"]]
    assert len([s for s in statuses if s != "cancelled"]) >= 6
    starts = [e["resource"]["start"] for e in body["entry"]]
    assert starts == sorted(starts)


def test_appointment_search_needs_an_actor_and_a_date(sandbox, token):
    url = f"{sandbox.provider_base}/Appointment"
    assert fhir_get(url, token, date=_today_range()).status_code == 400
    assert fhir_get(url, token, patient="12724066").status_code == 400
    both = fhir_get(
        url, token, patient="12724066", practitioner=FIRST_CLINICIAN, date="ge2020-01-01"
    )
    assert both.status_code == 400
    assert fhir_get(url, token, patient="12724066", date="ge2020-01-01").status_code == 200


def test_appointment_search_filters_by_status_and_pages(sandbox, token):
    url = f"{sandbox.provider_base}/Appointment"
    everything = fhir_get(url, token, location="32216049", date="ge2000-01-01", _count="200").json()
    first = fhir_get(url, token, location="32216049", date="ge2000-01-01", _count="3").json()
    following = [link["url"] for link in first["link"] if link["relation"] == "next"]
    second = fhir_get(following[0], token).json()
    ids = [e["resource"]["id"] for e in everything["entry"]]
    assert [e["resource"]["id"] for e in first["entry"] + second["entry"]] == ids[:6]
    fulfilled = fhir_get(
        url, token, location="32216049", date="ge2000-01-01", status="fulfilled", _count="200"
    ).json()
    assert fulfilled["entry"] and {e["resource"]["status"] for e in fulfilled["entry"]} == {
        "fulfilled"
    }


def test_an_appointment_has_displays_extensions_and_the_examples_keys(sandbox, token):
    body = fhir_get(
        f"{sandbox.provider_base}/Appointment",
        token,
        practitioner=FIRST_CLINICIAN,
        date=_today_range(),
    ).json()
    cancelled = next(e["resource"] for e in body["entry"] if e["resource"]["status"] == "cancelled")
    # New Patient visits add a display-only room, video visits two "#n" meeting rooms.
    references = [
        p["actor"] for p in cancelled["participant"] if "/" in p["actor"].get("reference", "")
    ]
    actors = {actor["reference"].split("/")[0]: actor for actor in references}
    assert set(actors) == {"Patient", "Practitioner", "Location"}
    assert all(actor["display"] for actor in actors.values())
    assert cancelled["cancelationReason"]["coding"][0]["code"]
    flags = {e["url"].rsplit("/", 1)[1]: e["valueBoolean"] for e in cancelled["extension"]}
    assert flags == {"is-cancelable": False, "is-reschedulable": False}
    assert cancelled["minutesDuration"] in (20, 30) and cancelled["reasonCode"][0]["text"]
    theirs = cerner_example("r4_appointment_read.json")
    assert set(cancelled) - {"slot", "contained"} == set(theirs)
    bundle = cerner_example("r4_appointment_search_bundle.json")
    assert set(body) == set(bundle) and set(body["entry"][0]) >= set(bundle["entry"][0])


def test_booking_a_slot_answers_201_and_the_slot_leaves_the_search(sandbox, token):
    slot = free_slots(sandbox, token, _count="1")[0]
    created = _book(sandbox, token, slot["id"], reason="Sore throat")
    assert created.status_code == 201 and created.content == b""
    assert created.headers["Etag"] == 'W/"0"'
    assert created.headers["Location"].startswith(f"{sandbox.provider_base}/Appointment/")
    body = fhir_get(created.headers["Location"], token).json()
    assert body["status"] == "booked" and body["start"] == slot["start"]
    assert body["slot"] == [{"reference": f"Slot/{slot['id']}"}]
    assert body["reasonCode"] == [{"text": "Sore throat"}]
    slot_now = fhir_get(f"{sandbox.provider_base}/Slot/{slot['id']}", token).json()
    assert slot_now["status"] == "busy"
    assert slot["id"] not in {s["id"] for s in free_slots(sandbox, token, _count="200")}


def test_booking_the_same_slot_twice_is_a_409(sandbox, token):
    slot = free_slots(sandbox, token, _count="1")[0]
    assert _book(sandbox, token, slot["id"]).status_code == 201
    again = _book(sandbox, token, slot["id"], patient_id="12724067")
    assert again.status_code == 409
    assert again.json()["issue"][0]["code"] == "conflict"
    assert again.json()["issue"][0]["details"]["text"] == "The slot is no longer available."


def test_two_concurrent_bookings_of_one_slot_give_exactly_one_201(sandbox, token):
    slot = free_slots(sandbox, token, _count="1")[0]
    barrier, statuses = threading.Barrier(2), []

    def book(patient_id: str) -> None:
        barrier.wait()
        statuses.append(_book(sandbox, token, slot["id"], patient_id=patient_id).status_code)

    threads = [threading.Thread(target=book, args=(p,)) for p in ("12724066", "12724067")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
    from smartapp.sandbox.models import Appointment

    assert Appointment.objects.filter(slot__fhir_id=slot["id"], status="booked").count() == 1


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda b: b["slot"].append({"reference": "Slot/x"}), "two slots"),
        (lambda b: b.pop("reasonCode"), "no reason"),
        (lambda b: b["reasonCode"][0].update(text="x" * 256), "a reason over 255 characters"),
        (lambda b: b["participant"][0].update(status="needs-action"), "a tentative patient"),
        (lambda b: b["participant"][0].update(type=[{"text": "Patient"}]), "a participant type"),
        (lambda b: b.update(status="arrived"), "a status other than booked"),
    ],
)
def test_a_booking_with_a_broken_body_is_422(sandbox, token, change, why):
    slot = free_slots(sandbox, token, _count="1")[0]
    body = booking_body(slot["id"])
    change(body)
    response = fhir_post(f"{sandbox.provider_base}/Appointment", token, body)
    assert response.status_code == 422, why
    assert fhir_get(f"{sandbox.provider_base}/Slot/{slot['id']}", token).json()["status"] == "free"


def test_a_reason_of_exactly_255_characters_is_accepted(sandbox, token):
    slot = free_slots(sandbox, token, _count="1")[0]
    assert _book(sandbox, token, slot["id"], reason="x" * 255).status_code == 201


def test_a_patient_token_may_read_its_appointments_but_not_book(sandbox, token):
    tokens = patient_tokens(
        sandbox,
        "12724066",
        scope="launch/patient openid fhirUser patient/Patient.read patient/Appointment.read "
        "patient/Slot.read",
    )
    patient = tokens["access_token"]
    slot = free_slots(sandbox, token, _count="1")[0]
    refused = fhir_post(f"{sandbox.patient_base}/Appointment", patient, booking_body(slot["id"]))
    assert refused.status_code == 403
    assert "insufficient-scopes" in refused.json()["message"]
    mine = fhir_get(
        f"{sandbox.patient_base}/Appointment", patient, patient="12724066", date="ge2000-01-01"
    ).json()
    assert mine["entry"]
    others = fhir_get(
        f"{sandbox.patient_base}/Appointment", patient, patient="12724067", date="ge2000-01-01"
    ).json()
    assert "entry" not in others


def test_a_clinician_can_book_with_a_provider_token(sandbox, token):
    clinician = provider_token(sandbox)
    slot = free_slots(sandbox, clinician, _count="1")[0]
    created = _book(sandbox, clinician, slot["id"], patient_id="12724070")
    assert created.status_code == 201, created.text


def test_cancelling_with_if_match_frees_the_slot(sandbox, token):
    url, body = _booked(sandbox, token)
    read = fhir_get(url, token)
    response = fhir_patch(url, token, CANCEL, read.headers["Etag"])
    assert response.status_code == 200 and response.content == b""
    assert response.headers["Etag"] == 'W/"1"'
    after = fhir_get(url, token).json()
    assert after["status"] == "cancelled" and after["meta"]["versionId"] == "1"
    assert after["cancelationReason"]["coding"][0]["code"] == "oth-err"
    slot_id = body["slot"][0]["reference"].split("/")[1]
    assert fhir_get(f"{sandbox.provider_base}/Slot/{slot_id}", token).json()["status"] == "free"


def test_a_patch_without_if_match_is_412(sandbox, token):
    url, _ = _booked(sandbox, token)
    assert fhir_patch(url, token, CANCEL).status_code == 412
    assert fhir_get(url, token).json()["status"] == "booked"


def test_a_patch_with_a_stale_version_is_409(sandbox, token):
    url, _ = _booked(sandbox, token)
    checked_in = [{"op": "replace", "path": "/status", "value": "checked-in"}]
    assert fhir_patch(url, token, checked_in, 'W/"0"').status_code == 200
    stale = fhir_patch(url, token, CANCEL, 'W/"0"')
    assert stale.status_code == 409
    assert fhir_get(url, token).json()["status"] == "checked-in"


def test_a_transition_millennium_does_not_allow_is_422(sandbox, token):
    url, _ = _booked(sandbox, token)
    fulfilled = [{"op": "replace", "path": "/status", "value": "fulfilled"}]
    assert fhir_patch(url, token, fulfilled, 'W/"0"').status_code == 422
    assert fhir_get(url, token).json()["status"] == "booked"


def test_rescheduling_moves_the_appointment_to_the_new_slot(sandbox, token):
    url, body = _booked(sandbox, token)
    old_slot = body["slot"][0]["reference"].split("/")[1]
    new = free_slots(sandbox, token, _count="1")[0]
    move = [{"op": "replace", "path": "/slot", "value": [{"reference": f"Slot/{new['id']}"}]}]
    response = fhir_patch(url, token, move, 'W/"0"')
    assert response.status_code == 200, response.text
    after = fhir_get(url, token).json()
    assert after["slot"] == [{"reference": f"Slot/{new['id']}"}] and after["start"] == new["start"]
    slot_url = f"{sandbox.provider_base}/Slot"
    assert fhir_get(f"{slot_url}/{old_slot}", token).json()["status"] == "free"
    assert fhir_get(f"{slot_url}/{new['id']}", token).json()["status"] == "busy"


def test_rescheduling_into_a_taken_slot_is_409_and_changes_nothing(sandbox, token):
    url, body = _booked(sandbox, token)
    _, other = _booked(sandbox, token)
    taken = other["slot"][0]["reference"]
    move = [{"op": "replace", "path": "/slot", "value": [{"reference": taken}]}]
    assert fhir_patch(url, token, move, 'W/"0"').status_code == 409
    after = fhir_get(url, token).json()
    assert after["slot"] == body["slot"] and after["meta"]["versionId"] == "0"


def test_the_method_override_patches_through_post(sandbox, token):
    url, _ = _booked(sandbox, token)
    response = requests.post(
        f"{url}?_method=patch",
        data=json.dumps(CANCEL),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json-patch+json",
            "If-Match": 'W/"0"',
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert fhir_get(url, token).json()["status"] == "cancelled"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json-patch+json",
        "If-Match": 'W/"1"',
        "X-HTTP-Method-Override": "PATCH",
    }
    again = requests.post(url, data=json.dumps(CANCEL), headers=headers, timeout=10)
    assert again.status_code == 422  # cancelled → cancelled is no transition


def test_appointments_can_be_found_by_id_list_or_by_date_or_requested_period(sandbox, token):
    url = f"{sandbox.provider_base}/Appointment"
    by_id = fhir_get(url, token, _id="4822366,4822367").json()
    assert {e["resource"]["id"] for e in by_id["entry"]} == {"4822366", "4822367"}
    either = fhir_get(
        url, token, practitioner=FIRST_CLINICIAN, **{"-date-or-req-period": _today_range()}
    ).json()
    assert len(either["entry"]) >= 7
    assert fhir_get(url, token, _id="4822366", date="ge2000-01-01").status_code == 200
    odd_pair = fhir_get(url, token, patient="12724066", date=["ge2020-01-01", "le2030-01-01"])
    assert odd_pair.status_code == 400


def test_a_patient_cannot_read_another_patients_appointment(sandbox, token):
    from smartapp.sandbox.models import Appointment

    theirs = Appointment.objects.exclude(patient_fhir_id="12724066").first()
    mine = Appointment.objects.filter(patient_fhir_id="12724066").first()
    patient = patient_tokens(
        sandbox, "12724066", scope="launch/patient openid patient/Appointment.read"
    )["access_token"]
    url = f"{sandbox.patient_base}/Appointment"
    assert fhir_get(f"{url}/{theirs.fhir_id}", patient).status_code == 404
    read = fhir_get(f"{url}/{mine.fhir_id}", patient)
    assert read.status_code == 200 and read.headers["Etag"] == f'W/"{mine.version}"'
