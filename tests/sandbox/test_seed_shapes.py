"""Millennium shapes the seed carries on purpose (issue 10): display-only rooms, video visits'
contained meeting rooms, cancellation reasons, a merged patient, a handed-over attending and an
old MRN. Everything over real HTTP, as the app sees it.
"""

import copy
import html
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest
import requests

from smartapp.sandbox import seed
from smartapp.sandbox.models import Appointment, Patient, PortalMessage, Schedule
from tests.examples import cerner_example
from tests.sandbox.conftest import (
    FIRST_CLINICIAN,
    SCHEDULING_SCOPES,
    SERVICE_SYSTEM,
    TENANT,
    booking_body,
    ehr_launch_tokens,
    fhir_get,
    fhir_patch,
    fhir_post,
    form_fields,
    start,
    system_token,
    window,
)

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PATIENT, VIDEO_VISIT, OFFICE_VISIT = "4047613", "2582093771", "2572307911"
MERGED = str(12724066 + 2 * 8)  # after the 16 patients of the fixture's --size 8
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.6.1000"


@pytest.fixture
def token(sandbox) -> str:
    return system_token(sandbox, f"{SCHEDULING_SCOPES} system/Encounter.read")


def _read(sandbox, token, path: str) -> dict:
    response = fhir_get(f"{sandbox.provider_base}/{path}", token)
    assert response.status_code == 200, response.text
    return response.json()


def _entries(response: requests.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


def _millis(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _seeded(code: str) -> Appointment:
    return Appointment.objects.filter(tenant_id=TENANT, service_code=code).order_by("fhir_id")[0]


def _book(sandbox, token, code: str) -> tuple[str, dict]:
    free = _entries(
        fhir_get(
            f"{sandbox.provider_base}/Slot",
            token,
            **{"service-type": f"{SERVICE_SYSTEM}|{code}", "start": window(), "_count": "1"},
        )
    )
    created = fhir_post(f"{sandbox.provider_base}/Appointment", token, booking_body(free[0]["id"]))
    assert created.status_code == 201, created.text
    return created.headers["Location"], fhir_get(created.headers["Location"], token).json()


def _unreferenced(appointment: dict) -> list[dict]:
    return [p for p in appointment["participant"] if "reference" not in p["actor"]]


# 1. Display-only room participants --------------------------------------------------------------


def test_new_patient_schedules_list_a_room_without_a_reference(sandbox, token):
    row = Schedule.objects.filter(
        tenant_id=TENANT, practitioner_fhir_id=FIRST_CLINICIAN, service_code=NEW_PATIENT
    ).first()
    actors = _read(sandbox, token, f"Schedule/{row.fhir_id}")["actor"]
    assert actors[2] == {"display": "Exam Room 3"}  # 1 + 4122622 % 4
    assert [a["reference"].split("/")[0] for a in actors[:2]] == ["Practitioner", "Location"]
    office = row.fhir_id.replace(NEW_PATIENT, OFFICE_VISIT, 1)
    assert len(_read(sandbox, token, f"Schedule/{office}")["actor"]) == 2
    example = cerner_example("r4_slot_search_include_schedule_bundle.json")
    theirs = next(
        e["resource"] for e in example["entry"] if e["resource"]["resourceType"] == "Schedule"
    )
    assert set(actors[2]) == set(theirs["actor"][0])


def test_new_patient_appointments_carry_the_room_as_cerner_does(sandbox, token):
    row = _seeded(NEW_PATIENT)
    room = f"Exam Room {1 + int(row.practitioner_fhir_id) % 4}"
    body = _read(sandbox, token, f"Appointment/{row.fhir_id}")
    [participant] = _unreferenced(body)
    assert participant["actor"] == {"display": room}
    role, performer = participant["type"]
    assert role["text"] == role["coding"][0]["display"] == room
    assert role["coding"][0]["system"] == f"https://fhir.cerner.com/{TENANT}/codeSet/14250"
    assert performer["coding"][0]["code"] == "PPRF"
    assert (participant["required"], participant["status"]) == ("required", "accepted")
    theirs = cerner_example("r4_appointment_read.json")["participant"][1]
    assert set(participant) == set(theirs) and set(role) == set(theirs["type"][0])
    assert f"<b>Other Resource</b>: {room}" in body["text"]["div"]
    assert body["participant"][-1]["actor"]["reference"] == f"Patient/{row.patient_fhir_id}"
    office = _read(sandbox, token, f"Appointment/{_seeded(OFFICE_VISIT).fhir_id}")
    assert _unreferenced(office) == []


def test_the_room_follows_the_appointment_when_it_moves(sandbox, token):
    url, booked = _book(sandbox, token, NEW_PATIENT)
    clinician = booked["participant"][1]["actor"]["reference"].removeprefix("Practitioner/")
    room = {"display": f"Exam Room {1 + int(clinician) % 4}"}
    assert [p["actor"] for p in _unreferenced(booked)] == [room]
    other = _entries(
        fhir_get(
            f"{sandbox.provider_base}/Slot",
            token,
            **{"service-type": f"{SERVICE_SYSTEM}|{OFFICE_VISIT}", "start": window()},
        )
    )[0]
    move = [{"op": "replace", "path": "/slot", "value": [{"reference": f"Slot/{other['id']}"}]}]
    assert fhir_patch(url, token, move, 'W/"0"').status_code == 200
    assert _unreferenced(fhir_get(url, token).json()) == []


# 2. Video visits and their contained meeting rooms --------------------------------------------


def test_a_video_visit_contains_two_meeting_rooms_shaped_like_cerners(sandbox, token):
    row = _seeded(VIDEO_VISIT)
    body = _read(sandbox, token, f"Appointment/{row.fhir_id}")
    theirs = cerner_example("r4_appointment_read_video_visit.json")
    contained = body["contained"]
    assert [set(c) for c in contained] == [set(c) for c in theirs["contained"]]
    assert [set(c["telecom"][0]) for c in contained] == [
        set(c["telecom"][0]) for c in theirs["contained"]
    ]
    assert [c["id"] for c in contained] == ["1", "2"]
    assert [c["type"] for c in contained] == [
        [{"text": "Patient Virtual Meeting Room"}],
        [{"text": "Provider Virtual Meeting Room"}],
    ]
    opens = {"start": _millis(row.start - timedelta(minutes=10)), "end": _millis(row.end)}
    for room, role in zip(contained, ("patient", "provider"), strict=True):
        assert room["resourceType"] == "HealthcareService"
        assert room["telecom"] == [
            {
                "system": "url",
                "value": f"{sandbox.base}/sandbox/video/{row.fhir_id}/{role}/",
                "period": opens,
            }
        ]
    rooms = [p for p in body["participant"] if p["actor"].get("reference", "").startswith("#")]
    assert rooms == [
        {
            "type": [{"text": "Patient Virtual Meeting Room"}],
            "actor": {"reference": "#1"},
            "status": "accepted",
        },
        {
            "type": [{"text": "Provider Virtual Meeting Room"}],
            "actor": {"reference": "#2"},
            "status": "accepted",
        },
    ]
    assert [set(p) for p in rooms] == [set(p) for p in theirs["participant"][3:]]
    assert "<b>Video Visit</b>: Yes" in body["text"]["div"]
    assert body["participant"][-1]["actor"]["reference"] == f"Patient/{row.patient_fhir_id}"
    assert "contained" not in _read(sandbox, token, f"Appointment/{_seeded(OFFICE_VISIT).fhir_id}")


def test_a_new_video_booking_links_its_own_meeting_rooms(sandbox, token):
    url, body = _book(sandbox, token, VIDEO_VISIT)
    links = [c["telecom"][0]["value"] for c in body["contained"]]
    assert links == [
        f"{sandbox.base}/sandbox/video/{body['id']}/patient/",
        f"{sandbox.base}/sandbox/video/{body['id']}/provider/",
    ]
    assert url.endswith(f"/Appointment/{body['id']}")


def test_the_meeting_room_link_opens_a_plain_sandbox_page(sandbox, token):
    row = _seeded(VIDEO_VISIT)
    body = _read(sandbox, token, f"Appointment/{row.fhir_id}")
    page = requests.get(body["contained"][1]["telecom"][0]["value"], timeout=10)
    assert page.status_code == 200
    assert "stand-in for the virtual meeting room" in page.text
    assert "Provider virtual meeting room" in page.text and row.fhir_id in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # CSP-safe: no inline script
    patient = Patient.objects.get(tenant_id=TENANT, fhir_id=row.patient_fhir_id)
    assert patient.family not in page.text and patient.mrn not in page.text
    office = _seeded(OFFICE_VISIT).fhir_id
    assert (
        requests.get(f"{sandbox.base}/sandbox/video/{office}/patient/", timeout=10).status_code
        == 404
    )
    assert (
        requests.get(f"{sandbox.base}/sandbox/video/{row.fhir_id}/nurse/", timeout=10).status_code
        == 404
    )


# 3. Cancellation reasons ------------------------------------------------------------------------


def test_the_first_clinicians_cancellation_today_has_a_reason_with_a_display(sandbox, token):
    midnight = datetime.now(ZoneInfo("America/Chicago")).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    day = [f"ge{midnight.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"]
    day.append(f"lt{(midnight + timedelta(days=1)).astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}")
    [today] = _entries(
        fhir_get(
            f"{sandbox.provider_base}/Appointment",
            token,
            practitioner=FIRST_CLINICIAN,
            date=day,
            status="cancelled",
        )
    )
    assert today["cancelationReason"] == {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
                "code": "pat",
                "display": "Patient",
            }
        ]
    }


def test_a_cancellation_without_a_reason_gets_millenniums_default_and_still_renders(sandbox, token):
    url, _ = _book(sandbox, token, OFFICE_VISIT)
    cancel = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    assert fhir_patch(url, token, cancel, 'W/"0"').status_code == 200
    read = fhir_get(url, token)
    assert read.status_code == 200
    body = read.json()
    assert body["cancelationReason"] == {
        "coding": [
            {
                "system": f"https://fhir.cerner.com/{TENANT}/codeSet/14229",
                "code": "0",
                "userSelected": True,
            }
        ]
    }
    assert "<b>Status</b>: Cancelled" in body["text"]["div"]
    assert (
        body["cancelationReason"] == cerner_example("r4_appointment_read.json")["cancelationReason"]
    )


# 4. A merged (combined) patient -----------------------------------------------------------------


def test_a_direct_read_of_the_merged_patient_is_cerners_combined_shape(sandbox, token):
    expected = copy.deepcopy(cerner_example("r4_patient_read_combined.json"))
    expected["id"] = MERGED
    expected["link"][0]["other"]["reference"] = "Patient/12724066"
    expected["text"]["div"] = expected["text"]["div"].replace("12724067", "12724066")
    assert _read(sandbox, token, f"Patient/{MERGED}") == expected


def test_no_patient_search_returns_the_merged_patient(sandbox, token):
    url = f"{sandbox.provider_base}/Patient"
    both = _entries(fhir_get(url, token, _id=f"12724066,{MERGED}"))
    assert [p["id"] for p in both] == ["12724066"]
    assert fhir_get(url, token, _id=MERGED).json()["total"] == 0
    everyone = ",".join(str(12724066 + i) for i in range(17))
    assert MERGED not in {
        p["id"] for p in _entries(fhir_get(url, token, _id=everyone, _count="50"))
    }


def test_the_merged_patient_has_no_visits_appointments_or_messages(sandbox, token):
    base = sandbox.provider_base
    assert _entries(fhir_get(f"{base}/Encounter", token, patient=MERGED)) == []
    appointments = fhir_get(f"{base}/Appointment", token, patient=MERGED, date="ge2000-01-01")
    assert _entries(appointments) == []
    assert not PortalMessage.objects.filter(tenant_id=TENANT, patient_fhir_id=MERGED).exists()
    assert Patient.objects.filter(tenant_id=TENANT).current().count() == 16


def test_the_patient_login_page_does_not_offer_the_merged_patient(sandbox):
    http = requests.Session()
    first = start(http, sandbox, "patient")
    login_url = urljoin(sandbox.base, first.headers["Location"])
    page = http.get(login_url)
    assert 'value="12724066"' in page.text and f'value="{MERGED}"' not in page.text
    posted = http.post(
        login_url, data={**form_fields(page.text), "user": MERGED}, allow_redirects=False
    )
    assert posted.status_code == 200 and "Choose someone from the list." in posted.text


def test_the_ehr_picker_offers_the_merged_patient_and_launches_its_chart(sandbox):
    http = requests.Session()
    page = http.get(f"{sandbox.base}/sandbox/ehr/")
    survivor = Patient.objects.get(tenant_id=TENANT, fhir_id="12724066").display_name
    label = html.escape(f"Merged record {MERGED} → {survivor}")
    assert f'<option value="{MERGED}">{label}</option>' in page.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    posted = http.post(
        f"{sandbox.base}/sandbox/ehr/",
        data={
            "csrfmiddlewaretoken": csrf,
            "client": sandbox.clients["provider"]["client_id"],
            "practitioner": FIRST_CLINICIAN,
            "patient": MERGED,
            "encounter": "",
        },
        allow_redirects=False,
    )
    assert posted.status_code == 302, posted.text
    frame = http.get(urljoin(sandbox.base, posted.headers["Location"]))
    assert f"Merged record {MERGED}" in frame.text
    src = html.unescape(re.search(r'<iframe id="app-frame"[^>]* src="([^"]+)"', frame.text)[1])
    body = ehr_launch_tokens(sandbox, src)
    assert body["patient"] == MERGED and "encounter" not in body
    chart = fhir_get(f"{sandbox.provider_base}/Patient/{MERGED}", body["access_token"]).json()
    assert chart["active"] is False and chart["link"][0]["type"] == "replaced-by"


# 5. An encounter whose first attending handed over --------------------------------------------


def test_the_first_patients_latest_visit_lists_an_ended_attending_first(sandbox, token):
    body = _read(sandbox, token, "Encounter/97724066")
    earlier, current = body["participant"]
    for participant in (earlier, current):
        codes = [c["code"] for c in participant["type"][0]["coding"]]
        assert codes == ["1119", "ATND"]
        assert participant["individual"]["reference"].startswith("Practitioner/")
        assert participant["individual"]["display"]
    assert earlier["individual"]["reference"] != current["individual"]["reference"]
    assert earlier["period"]["start"] == body["period"]["start"]
    assert set(earlier["period"]) == {"start", "end"} and set(current["period"]) == {"start"}
    assert earlier["period"]["end"] == current["period"]["start"] < body["period"]["end"]
    appointment = body["appointment"][0]["reference"].split("/")[1]
    booked = Appointment.objects.get(tenant_id=TENANT, fhir_id=appointment)
    assert current["individual"]["reference"] == f"Practitioner/{booked.practitioner_fhir_id}"
    other = _read(sandbox, token, "Encounter/97724067")
    assert len(other["participant"]) == 1 and set(other["participant"][0]["period"]) == {"start"}


# 6. Two MRNs, the older one ended ----------------------------------------------------------------


def test_the_first_patient_lists_an_old_mrn_before_the_current_one(sandbox, token):
    identifiers = _read(sandbox, token, "Patient/12724066")["identifier"]
    old, current = identifiers
    assert (old["value"], current["value"]) == ("6978", "6931")
    assert old["period"] == {"end": "2020-07-06T21:21:25.000Z"}
    assert set(current["period"]) == {"start"}
    assert old["type"] == current["type"] and old["use"] == current["use"] == "usual"
    assert old["system"] == current["system"] == MRN_SYSTEM
    theirs = cerner_example("r4_patient_read.json")["identifier"][1]
    assert set(old) == set(theirs) and old["type"] == theirs["type"]
    assert len(_read(sandbox, token, "Patient/12724067")["identifier"]) == 1


def test_the_current_mrn_still_finds_the_patient(sandbox, token):
    found = _entries(
        fhir_get(f"{sandbox.provider_base}/Patient", token, identifier=f"{MRN_SYSTEM}|6931")
    )
    assert [p["id"] for p in found] == ["12724066"]


# Determinism ------------------------------------------------------------------------------------


def test_the_shapes_come_back_identical_when_seeding_again(live_server):
    def snapshot():
        seed.seed(base_url=live_server.url, app_url=live_server.url, size=3)
        patients = Patient.objects.filter(tenant_id=TENANT).order_by("fhir_id")
        rooms = Schedule.objects.filter(tenant_id=TENANT, service_code=NEW_PATIENT)
        return (
            [(p.fhir_id, p.replaced_by, p.resource) for p in patients],
            sorted((s.fhir_id, s.resource["actor"][2]["display"]) for s in rooms),
        )

    first = snapshot()
    assert first == snapshot()
    assert first[0][-1][:2] == ("12724072", "12724066")
