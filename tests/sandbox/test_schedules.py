"""Location, Schedule and Slot over real HTTP, against Millennium's documented rules and shapes."""

from datetime import datetime

import pytest

from tests.examples import cerner_example
from tests.sandbox.conftest import (
    FIRST_CLINICIAN,
    OFFICE_VISIT,
    SCHEDULING_SCOPES,
    SERVICE_SYSTEM,
    fhir_get,
    fhir_patch,
    free_slots,
    patient_tokens,
    system_token,
    window,
)

pytestmark = pytest.mark.django_db(transaction=True)
example = cerner_example


@pytest.fixture
def token(sandbox) -> str:
    return system_token(sandbox, SCHEDULING_SCOPES)


def test_a_slot_search_without_the_start_pair_is_400(sandbox, token):
    url = f"{sandbox.provider_base}/Slot"
    missing = fhir_get(url, token, **{"service-type": OFFICE_VISIT})
    one_bound = fhir_get(url, token, **{"service-type": OFFICE_VISIT, "start": window()[0]})
    assert missing.status_code == 400 and one_bound.status_code == 400
    assert missing.json()["resourceType"] == "OperationOutcome"


def test_a_slot_search_needs_id_or_service_type(sandbox, token):
    response = fhir_get(
        f"{sandbox.provider_base}/Slot",
        token,
        **{"schedule.actor": f"Practitioner/{FIRST_CLINICIAN}", "start": window()},
    )
    assert response.status_code == 400


def test_slot_search_returns_only_free_slots_sorted_by_start(sandbox, token):
    from smartapp.sandbox.models import Slot

    slots = free_slots(sandbox, token, _count="200")
    assert slots and all(s["status"] == "free" for s in slots)
    starts = [datetime.fromisoformat(s["start"]) for s in slots]
    assert starts == sorted(starts)
    busy = Slot.objects.filter(status="busy", service_code="2572307911").values_list(
        "fhir_id", flat=True
    )
    assert busy and not set(busy) & {s["id"] for s in slots}


def test_slot_search_follows_next_links_without_repeats(sandbox, token):
    actor = {"schedule.actor": f"Practitioner/{FIRST_CLINICIAN}"}
    everything = free_slots(sandbox, token, _count="200", **actor)
    body = fhir_get(
        f"{sandbox.provider_base}/Slot",
        token,
        **{"service-type": OFFICE_VISIT, "start": window(), "_count": "10", **actor},
    ).json()
    seen = [e["resource"]["id"] for e in body["entry"]]
    while nexts := [link["url"] for link in body["link"] if link["relation"] == "next"]:
        body = fhir_get(nexts[0], token).json()
        seen += [e["resource"]["id"] for e in body.get("entry", [])]
    assert len(everything) > 10
    assert seen == [s["id"] for s in everything]


def test_schedule_actor_and_location_filters_narrow_the_slots(sandbox, token):
    mine = free_slots(sandbox, token, **{"schedule.actor": f"Practitioner/{FIRST_CLINICIAN}"})
    schedules = {s["schedule"]["reference"] for s in mine}
    assert mine and all(ref.endswith(f"-{FIRST_CLINICIAN}-0") for ref in schedules)
    location = mine[0]["extension"][0]["valueReference"]["reference"]
    here = free_slots(sandbox, token, **{"-location": location})
    assert here and {s["extension"][0]["valueReference"]["reference"] for s in here} == {location}
    assert free_slots(sandbox, token, **{"-location": "Location/1"}) == []


def test_slot_search_includes_schedules_and_practitioners(sandbox, token):
    body = fhir_get(
        f"{sandbox.provider_base}/Slot",
        token,
        **{
            "service-type": OFFICE_VISIT,
            "start": window(),
            "_count": "5",
            "_include": ["Slot:schedule", "Schedule:actor:Practitioner"],
        },
    ).json()
    matches = [e for e in body["entry"] if e["search"]["mode"] == "match"]
    included = [e for e in body["entry"] if e["search"]["mode"] == "include"]
    kinds = {e["resource"]["resourceType"] for e in included}
    assert len(matches) == 5 and kinds == {"Schedule", "Practitioner"}
    schedule_refs = {e["resource"]["schedule"]["reference"] for e in matches}
    included_schedules = {
        f"Schedule/{e['resource']['id']}"
        for e in included
        if e["resource"]["resourceType"] == "Schedule"
    }
    assert included_schedules == schedule_refs
    nexts = [link["url"] for link in body["link"] if link["relation"] == "next"]
    assert "_include=Slot%3Aschedule" in nexts[0]


def test_an_include_without_its_read_scope_is_refused(sandbox):
    narrow = system_token(sandbox, "system/Slot.read")
    response = fhir_get(
        f"{sandbox.provider_base}/Slot",
        narrow,
        **{"service-type": OFFICE_VISIT, "start": window(), "_include": "Slot:schedule"},
    )
    assert response.status_code == 403
    assert "insufficient-scopes" in response.json()["message"]


def test_a_booked_slot_is_still_readable_by_id(sandbox, token):
    from smartapp.sandbox.models import Slot

    busy = Slot.objects.filter(status="busy").first()
    body = fhir_get(f"{sandbox.provider_base}/Slot", token, _id=busy.fhir_id).json()
    assert [e["resource"]["status"] for e in body["entry"]] == ["busy"]


def test_slot_patch_holds_and_releases_a_slot(sandbox, token):
    slot = free_slots(sandbox, token, _count="1")[0]
    url = f"{sandbox.provider_base}/Slot/{slot['id']}"
    version = slot["meta"]["versionId"]
    held = fhir_patch(
        url,
        token,
        [{"op": "replace", "path": "/status", "value": "busy-tentative"}],
        f'W/"{version}"',
    )
    assert held.status_code == 200 and held.content == b""
    assert fhir_get(url, token).json()["status"] == "busy-tentative"
    assert slot["id"] not in {s["id"] for s in free_slots(sandbox, token, _count="200")}
    busy = fhir_patch(
        url, token, [{"op": "replace", "path": "/status", "value": "busy"}], held.headers["Etag"]
    )
    assert busy.status_code == 422
    freed = fhir_patch(
        url, token, [{"op": "replace", "path": "/status", "value": "free"}], held.headers["Etag"]
    )
    assert freed.status_code == 200 and fhir_get(url, token).json()["status"] == "free"


def test_a_patient_may_search_slots_but_not_hold_them(sandbox):
    tokens = patient_tokens(
        sandbox,
        "12724066",
        scope="launch/patient openid fhirUser patient/Patient.read patient/Slot.read "
        "patient/Schedule.read user/Location.read",
    )
    patient = tokens["access_token"]
    url = f"{sandbox.patient_base}/Slot"
    found = fhir_get(url, patient, **{"service-type": OFFICE_VISIT, "start": window()})
    assert found.status_code == 200 and found.json()["entry"]
    slot_id = found.json()["entry"][0]["resource"]["id"]
    held = fhir_patch(
        f"{url}/{slot_id}",
        patient,
        [{"op": "replace", "path": "/status", "value": "busy-tentative"}],
        'W/"0"',
    )
    assert held.status_code == 403


def test_schedule_read_and_id_search(sandbox, token):
    schedule_id = f"2572307911-32216049-{FIRST_CLINICIAN}-0"
    read = fhir_get(f"{sandbox.provider_base}/Schedule/{schedule_id}", token)
    assert read.status_code == 200
    body = read.json()
    assert body["serviceType"][0]["coding"][0]["system"] == SERVICE_SYSTEM
    assert body["actor"][0]["reference"] == f"Practitioner/{FIRST_CLINICIAN}"
    found = fhir_get(f"{sandbox.provider_base}/Schedule", token, _id=schedule_id).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [schedule_id]
    assert fhir_get(f"{sandbox.provider_base}/Schedule", token, actor="x").status_code == 400


def test_location_search_needs_id_physical_type_or_type(sandbox, token):
    url = f"{sandbox.provider_base}/Location"
    assert fhir_get(url, token, name="Riverside").status_code == 400
    by_type = fhir_get(
        url,
        token,
        **{"-physicalType": "http://terminology.hl7.org/CodeSystem/location-physical-type|si"},
    ).json()
    assert len(by_type["entry"]) >= 3
    clinics = fhir_get(url, token, type="PC").json()
    assert clinics["entry"] and all(
        e["resource"]["type"][0]["coding"][0]["code"] == "PC" for e in clinics["entry"]
    )
    city_alone = fhir_get(url, token, type="PC", **{"address-city": "Riverside"})
    assert city_alone.status_code == 400


def test_location_read_and_id_list(sandbox, token):
    body = fhir_get(f"{sandbox.provider_base}/Location/32216049", token).json()
    assert body["name"] == "Baseline West Family Medicine"
    assert body["address"]["city"] == "Kansas City"
    listed = fhir_get(f"{sandbox.provider_base}/Location", token, _id="32216049,21304876").json()
    assert {e["resource"]["id"] for e in listed["entry"]} == {"32216049", "21304876"}


def test_slot_search_entries_have_the_examples_keys(sandbox, token):
    bundle = example("r4_slot_search_bundle.json")
    body = fhir_get(
        f"{sandbox.provider_base}/Slot",
        token,
        **{"service-type": OFFICE_VISIT, "start": window(), "_count": "2"},
    ).json()
    assert set(body) == set(bundle)
    entry, theirs = body["entry"][0], bundle["entry"][0]
    assert set(entry) == set(theirs)
    assert set(entry["resource"]) == set(theirs["resource"])
    assert set(entry["resource"]["serviceType"][0]) == set(theirs["resource"]["serviceType"][0])
    assert entry["resource"]["extension"][0]["url"] == theirs["resource"]["extension"][0]["url"]


def test_schedule_and_location_reads_have_the_examples_keys(sandbox, token):
    schedule = fhir_get(
        f"{sandbox.provider_base}/Schedule/2572307911-32216049-{FIRST_CLINICIAN}-0", token
    ).json()
    assert set(schedule) == set(example("r4_schedule_read.json"))
    location = fhir_get(f"{sandbox.provider_base}/Location/32216049", token).json()
    theirs = example("r4_location_read.json")
    assert set(location) <= set(theirs)
    assert {"name", "address", "physicalType", "type", "status"} <= set(location)
    assert set(location["address"]) - set(theirs["address"]) <= {"postalCode"}


def test_the_capability_statement_lists_the_scheduling_resources(sandbox):
    body = fhir_get(f"{sandbox.provider_base}/metadata", None).json()
    served = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Appointment", "Slot", "Schedule", "Location"} <= served


def test_latency_knob_delays_fhir_answers(sandbox, token, settings):
    import time

    settings.SANDBOX_LATENCY_MS = 300
    began = time.monotonic()
    response = fhir_get(f"{sandbox.provider_base}/Location/32216049", token)
    assert response.status_code == 200 and time.monotonic() - began >= 0.3
