"""Encounter read and search (Cerner's rules), extensions, and the planned Encounter of a booking."""

import pytest

from smartapp.sandbox.models import Appointment, Encounter
from tests.examples import cerner_example
from tests.sandbox.conftest import (
    SCHEDULING_SCOPES,
    TENANT,
    booking_body,
    fhir_get,
    fhir_patch,
    fhir_post,
    free_slots,
    patient_tokens,
    system_token,
)

pytestmark = pytest.mark.django_db(transaction=True)
EFR = "https://fhir-ehr.cerner.com/r4/StructureDefinition/estimated-financial-responsibility-amount"
SCOPES = f"{SCHEDULING_SCOPES} system/Encounter.read"


@pytest.fixture
def token(sandbox) -> str:
    return system_token(sandbox, SCOPES)


def _search(sandbox, token, **params):
    response = fhir_get(f"{sandbox.provider_base}/Encounter", token, **params)
    assert response.status_code == 200, response.text
    return response.json()


def _resources(bundle):
    return [e["resource"] for e in bundle.get("entry", [])]


def test_patient_search_is_sorted_by_period_start_and_pages(sandbox, token):
    everything = _resources(_search(sandbox, token, patient="12724066", _count="50"))
    starts = [r["period"]["start"] for r in everything]
    assert len(everything) >= 3 and starts == sorted(starts)
    assert {r["subject"]["reference"] for r in everything} == {"Patient/12724066"}
    first = _search(sandbox, token, patient="12724066", _count="2")
    assert first["total"] == len(everything)
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert "-pageContext=" in nxt
    second = fhir_get(nxt, token).json()
    ids = [r["id"] for r in _resources(first) + _resources(second)]
    assert ids == [r["id"] for r in everything][:4]


def test_seeded_visits_are_tied_to_appointments_with_extensions(sandbox, token):
    visits = _resources(_search(sandbox, token, patient="12724066", _count="50"))
    by_status = {}
    for visit in visits:
        by_status.setdefault(visit["status"], []).append(visit)
        ref = visit["appointment"][0]["reference"]
        appointment = Appointment.objects.get(tenant_id=TENANT, fhir_id=ref.split("/")[1])
        assert appointment.patient_fhir_id == "12724066"
        assert visit["location"][0]["location"]["reference"].startswith("Location/")
        assert visit["participant"][0]["individual"]["reference"].startswith("Practitioner/")
        assert visit["participant"][0]["type"][0]["coding"][1]["code"] == "ATND"
        expected = {"fulfilled": "finished", "booked": "planned", "checked-in": "in-progress"}
        assert visit["status"] == expected[appointment.status]
    assert by_status["finished"] and by_status["planned"]
    # The encounter ids seed.py always made stay (launches and tests use them).
    first = Encounter.objects.filter(patient__fhir_id="12724066").order_by("fhir_id").first()
    assert first.fhir_id == "97724066" and first.status == "finished"
    rows = Encounter.objects.filter(tenant_id=TENANT)
    with_amount = [r for r in rows if any(e["url"] == EFR for e in r.resource["extension"])]
    assert len(with_amount) > rows.count() / 2
    money = next(e for e in with_amount[0].resource["extension"] if e["url"] == EFR)["valueMoney"]
    assert money["currency"] == "USD" and isinstance(money["value"], float)


def test_search_rules(sandbox, token):
    url = f"{sandbox.provider_base}/Encounter"
    assert fhir_get(url, token).status_code == 400
    assert fhir_get(url, token, status="planned").status_code == 400
    assert fhir_get(url, token, _id="97724066", patient="12724066").status_code == 400
    assert fhir_get(url, token, _id="97724066", status="planned").status_code == 400
    assert fhir_get(url, token, patient="12724066", class_="AMB").status_code == 400
    assert fhir_get(url, token, patient="12724066", status="arrived").status_code == 400
    assert fhir_get(url, token, patient="12724066", date=["ge2024", "le2025"]).status_code == 400
    planned = _resources(_search(sandbox, token, patient="12724066", status="planned"))
    assert planned and {r["status"] for r in planned} == {"planned"}
    subject = _search(sandbox, token, subject="Patient/12724066")
    typed = fhir_get(f"{url}?subject:Patient=12724066", token).json()
    assert (
        subject["total"] == typed["total"] == _search(sandbox, token, patient="12724066")["total"]
    )
    row = Encounter.objects.get(tenant_id=TENANT, fhir_id="97724066")
    for params in ({"_id": "97724066"}, {"account": row.account_fhir_id},
                   {"identifier": row.fin}, {"identifier": f"urn:x|{row.fin}"}):  # fmt: skip
        assert [r["id"] for r in _resources(_search(sandbox, token, **params))] == ["97724066"]
    start = row.resource["period"]["start"]
    dated = _resources(
        _search(sandbox, token, patient="12724066", date=[f"ge{start}", f"le{start}"])
    )
    assert [r["id"] for r in dated] == ["97724066"]
    assert _search(sandbox, token, patient="12724066", _lastUpdated="ge2000-01-01T00:00:00Z")


def test_read_and_patient_compartment(sandbox, token):
    body = fhir_get(f"{sandbox.provider_base}/Encounter/97724066", token).json()
    assert body["resourceType"] == "Encounter" and body["id"] == "97724066"
    other = Encounter.objects.filter(tenant_id=TENANT).exclude(patient__fhir_id="12724066").first()
    patient = patient_tokens(
        sandbox, "12724066", scope="launch/patient openid fhirUser patient/Encounter.read"
    )["access_token"]
    mine = fhir_get(f"{sandbox.patient_base}/Encounter/97724066", patient)
    assert mine.status_code == 200
    assert fhir_get(f"{sandbox.patient_base}/Encounter/{other.fhir_id}", patient).status_code == 404
    found = fhir_get(f"{sandbox.patient_base}/Encounter", patient, patient=other.patient.fhir_id)
    assert found.status_code == 200 and "entry" not in found.json()


def test_booking_creates_a_planned_encounter_that_follows_the_appointment(sandbox, token):
    slot = free_slots(sandbox, token)[0]
    booked = fhir_post(
        f"{sandbox.provider_base}/Appointment", token, booking_body(slot["id"], "12724067")
    )
    assert booked.status_code == 201, booked.text
    appointment_id = booked.headers["Location"].rsplit("/", 1)[1]
    visits = _resources(_search(sandbox, token, patient="12724067", status="planned", _count="50"))
    visit = next(v for v in visits if v["appointment"][0]["reference"].endswith(appointment_id))
    assert visit["period"]["start"] == slot["start"]
    assert any(e["url"] == EFR for e in visit["extension"])
    cancel = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    url = f"{sandbox.provider_base}/Appointment/{appointment_id}"
    assert fhir_patch(url, token, cancel, 'W/"0"').status_code == 200
    after = fhir_get(f"{sandbox.provider_base}/Encounter/{visit['id']}", token).json()
    assert after["status"] == "cancelled"


def test_conformance_with_cerner_examples(sandbox, token):
    example = cerner_example("r4_encounter_read.json")
    body = fhir_get(f"{sandbox.provider_base}/Encounter/97724066", token).json()
    assert set(body) == set(example)
    for name in ("identifier", "participant", "location"):
        assert set(body[name][0]) == set(example[name][0])
    assert set(body["period"]) == set(example["period"])
    bundle_example = cerner_example("r4_encounter_search_bundle.json")
    bundle = _search(sandbox, token, patient="12724066")
    assert set(bundle_example) <= set(bundle)
    assert set(bundle["entry"][0]) >= set(bundle_example["entry"][0]) - {"search"}
