"""Cerner's published examples through the real pages (a scripted EHR behind the app's session):
what a clinician and a patient see, in the clinic's time zone, for each shape Millennium sends."""

import copy
import re
from datetime import UTC, datetime, timedelta

import pytest

from smartapp.clinical.names import names_by_reference
from smartapp.fhir.gateway import FhirGateway
from smartapp.launch.models import Launch
from smartapp.payments.ehr import guarantor_account
from tests.fakehttp import (
    BASE,
    PATIENT_BASE,
    authorize_params,
    example,
    fake_launch,
    install,
    uninstall,
)

pytestmark = pytest.mark.django_db(transaction=True)
CHICAGO = "America/Chicago"


def _bundle(*resources, **modes):
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r, **modes} for r in resources],
    }


def _text(page) -> str:
    assert page.status_code == 200, page.content[:500]
    return re.sub(r"\s+", " ", page.content.decode())


@pytest.fixture
def scripted(monkeypatch):
    """Answers every FHIR call with one body, in every thread."""

    def answer(body):
        fake = install(lambda method, url, kwargs: (200, body))
        monkeypatch.setattr("smartapp.fhir.gateway.session", lambda: fake)
        return FhirGateway(base_url=BASE, token=lambda: "t")

    yield answer
    uninstall()


@pytest.fixture
def chart(client, fake_ehr, fake_tenant, monkeypatch):
    """A clinician launched into Cerner's example patient 12724067 (clinic in Chicago)."""
    monkeypatch.setattr("smartapp.fhir.gateway.session", lambda: fake_ehr.session)
    fake_tenant.time_zone = CHICAGO
    fake_tenant.save()
    assert fake_launch(client, fake_ehr).status_code == 302
    return Launch.objects.get()


def _about_nancy(launch: Launch, fake_ehr) -> None:
    """Cerner's scheduling and visit examples are about Patient/12724066 (Nancy Smart)."""
    nancy = example("r4_patient_read.json") | {"id": "12724066"}
    fake_ehr.fhir["Patient/12724066"] = (200, nancy)
    launch.patient_id = "12724066"
    launch.save()


@pytest.fixture
def patient(client, fake_ehr, fake_tenant, monkeypatch):
    """Cerner's example patient 12724066 signed in on the patient host."""
    monkeypatch.setattr("smartapp.fhir.gateway.session", lambda: fake_ehr.session)
    fake_tenant.time_zone = CHICAGO
    fake_tenant.save()
    fake_ehr.client_id = "patient-client"
    fake_ehr.claims_override = {"fhirUser": f"{PATIENT_BASE}/Patient/12724066"}
    fake_ehr.token_fields = {"patient": "12724066"}
    started = client.post("/signin", {"tenant": "fake", "persona": "patient"})
    fake_ehr.nonce = authorize_params(started["Location"])["nonce"]
    state = authorize_params(started["Location"])["state"]
    client.get("/launch/callback", {"code": "c", "state": state})
    return Launch.objects.get()


def test_the_chart_shows_the_current_name_and_mrn_not_the_old_ones(client, chart):
    text = _text(client.get(f"/l/{chart.public_id}/chart/"))

    assert "SMART, JOE" in text and "STEPHEN ALLEN" not in text
    words = re.sub(r"<[^>]+>", " ", text)  # not the markup: its random ids may hold any digits
    assert 'id="patient-mrn">6931<' in text and not re.search(r"\b6978\b", words)  # ended 2020
    assert "merged" not in text


def test_a_merged_record_is_followed_to_the_surviving_patient(client, fake_ehr, chart):
    merged = example("r4_patient_read_combined.json")  # Patient/12742633 replaced-by 12724067
    chart.patient_id = merged["id"]
    chart.save()
    fake_ehr.fhir[f"Patient/{merged['id']}"] = (200, merged)

    text = _text(client.get(f"/l/{chart.public_id}/chart/"))

    assert 'id="merged-notice"' in text and "was merged into this patient's current record" in text
    assert "<b>SMART, JOE</b>, MRN 6931" in text and "(12742633)" in text
    assert 'id="patient-name">SMART, JOE<' in text


def test_a_merged_record_whose_survivor_is_hidden_says_so_instead_of_an_empty_chart(
    client, fake_ehr, chart
):
    merged = example("r4_patient_read_combined.json")
    chart.patient_id = merged["id"]
    chart.save()
    fake_ehr.fhir[f"Patient/{merged['id']}"] = (200, merged)
    fake_ehr.fhir["Patient/12724067"] = (403, {"resourceType": "OperationOutcome", "issue": []})

    text = _text(client.get(f"/l/{chart.public_id}/chart/"))

    assert "which could not be opened here. Open the patient's current chart in the EHR" in text
    assert "Name not recorded" in text


def test_appointments_show_rooms_reasons_and_times_in_the_clinics_zone(client, fake_ehr, chart):
    _about_nancy(chart, fake_ehr)
    read = example("r4_appointment_read.json")
    read["cancelationReason"]["coding"][0].update(
        system="http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason",
        code="oth-weath",
    )
    fake_ehr.fhir["Appointment"] = (
        200,
        _bundle(read, example("r4_appointment_read_video_visit.json")),
    )

    text = _text(client.get(f"/l/{chart.public_id}/chart/appointments/"))

    row = text[text.index('id="appointment-4822366"') :]
    row = row[: row.index("</tr>")]
    assert "Endoscopy Rooms" in row and "Endoscopy" in row  # a room named only by its display
    assert "Thu 23 Jan 2020, 16:10" in row and "–17:10" in row  # 22:10Z in Chicago
    assert "Cancelled" in row and "Weather" in row
    video = text[text.index('id="appointment-4817572"') :]
    video = video[: video.index("</tr>")]
    assert "Applegate MD, Christina" in video and "Did not attend" in video
    assert "Join video visit" not in video  # a past visit, and not attended


def _video_visit_now() -> dict:
    visit = copy.deepcopy(example("r4_appointment_read_video_visit.json"))
    now = datetime.now(UTC)
    visit["status"] = "booked"
    visit["start"] = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    visit["end"] = (now + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for room, url in zip(visit["contained"], ("https://video.example.org/patient", "https://video.example.org/provider"), strict=True):  # fmt: skip
        room["telecom"][0]["value"] = url
        room["telecom"][0]["period"] = {
            "start": (now - timedelta(minutes=5)).isoformat(),
            "end": visit["end"],
        }
    return visit


def test_a_video_visit_near_its_time_offers_each_person_their_own_room(client, fake_ehr, chart):
    _about_nancy(chart, fake_ehr)
    fake_ehr.fhir["Appointment"] = (200, _bundle(_video_visit_now()))

    text = _text(client.get(f"/l/{chart.public_id}/chart/appointments/"))

    assert 'href="https://video.example.org/provider"' in text and "Join video visit" in text
    assert "video.example.org/patient" not in text


def test_the_patient_gets_the_patient_room_and_not_before_it_opens(client, fake_ehr, patient):
    visit = _video_visit_now()
    fake_ehr.fhir["Appointment"] = (200, _bundle(visit))
    text = _text(client.get(f"/l/{patient.public_id}/appointments/"))
    assert 'href="https://video.example.org/patient"' in text

    later = datetime.now(UTC) + timedelta(hours=1)
    visit["contained"][0]["telecom"][0]["period"]["start"] = later.isoformat()
    text = _text(client.get(f"/l/{patient.public_id}/appointments/"))
    assert "video.example.org" not in text and "Video visit: the link opens" in text


def test_a_video_room_with_a_script_url_is_never_a_link(client, fake_ehr, patient):
    visit = _video_visit_now()
    for room in visit["contained"]:
        room["telecom"][0]["value"] = "javascript:alert(1)"
    fake_ehr.fhir["Appointment"] = (200, _bundle(visit))

    text = _text(client.get(f"/l/{patient.public_id}/appointments/"))

    assert "javascript:" not in text and "Join video visit" not in text


def test_free_slots_name_a_room_schedule_once_whatever_the_days_searched(client, fake_ehr, chart):
    chart.tenant.service_types.create(system="s", code="4047611", display="Surgery Rapid")
    bundle = example("r4_slot_search_include_schedule_bundle.json")
    for entry in bundle["entry"]:
        entry.pop("search")  # Millennium leaves search.mode out of some bundles
    fake_ehr.fhir["Slot"] = (200, bundle)
    fake_ehr.fhir["Location"] = (200, example("r4_location_search_id_bundle.json"))

    today = datetime.now(UTC).date()
    week = {"start": today.isoformat(), "end": (today + timedelta(days=6)).isoformat()}
    page = client.get(f"/l/{chart.public_id}/book/", {"service_type": "4047611", **week})
    text = _text(page)

    assert text.count('id="slot-4047611-32216049-61518614-0"') == 1  # 7 day searches, one slot
    row = text[: text.index('id="slot-4047611-32216049-61518614-0"')]
    row = row[row.rindex('class="first-available-row"') :]  # the room's row, first available
    assert "OR Add-On 02" in row and "OR Add-On 02," not in row and "Any clinician" not in row
    assert "<b>Mon 23 Jan, 00:00</b>" in text  # 06:00Z is midnight in Chicago


def test_visits_show_the_current_attending_and_cerners_places(client, fake_ehr, chart):
    _about_nancy(chart, fake_ehr)
    encounter = example("r4_encounter_read.json")
    first = copy.deepcopy(encounter["participant"][0])
    first["individual"]["display"] = "Former, Attending"
    first["period"] = {"start": "2019-12-26T15:38:02Z", "end": "2019-12-27T15:38:02Z"}
    encounter["participant"].insert(0, first)
    persona = example("r4_encounter_search_patient_persona_bundle.json")
    fake_ehr.fhir["Encounter"] = (
        200,
        _bundle(encounter, *[e["resource"] for e in persona["entry"]]),
    )

    text = _text(client.get(f"/l/{chart.public_id}/chart/visits/"))

    row = text[text.index('id="visit-97939518"') :]
    row = row[: row.index("</tr>")]
    assert "Cerner Test, Physician - Hospitalist Cerner" in row and "Former, Attending" not in row
    assert "Model Hospital, MX Hospital, NU05, 102, A" in row and "Finished" in row
    assert "Thu 26 Dec 2019, 09:38" in row  # 15:38Z in Chicago
    assert text.count('class="visit"') == 1 + len(persona["entry"])


def test_a_combined_encounter_shows_as_unknown_without_failing(client, fake_ehr, chart):
    # No subject at all (data-absent): the app cannot tell whose it is, and shows it as unknown.
    fake_ehr.fhir["Encounter"] = (200, _bundle(example("r4_encounter_read_combined.json")))

    text = _text(client.get(f"/l/{chart.public_id}/chart/visits/"))

    assert 'id="visit-97865451"' in text and "Unknown" in text and "date not recorded" in text


def test_my_messages_show_cerners_communication_and_its_sanitized_body(client, fake_ehr, chart):
    message = example("r4_communication_read.json")
    chart.user_id = "12093978"  # Cerner's example is addressed to Practitioner/12093978
    chart.save()
    fake_ehr.fhir["Communication"] = (200, example("r4_communication_search_bundle.json"))
    fake_ehr.fhir[f"Communication/{message['id']}"] = (200, message)
    fake_ehr.fhir[f"Binary/{message['id']}"] = (200, example("r4_binary_read_communication.json"))

    listed = _text(client.get(f"/l/{chart.public_id}/my-messages/"))
    opened = _text(client.get(f"/l/{chart.public_id}/my-messages/{message['id']}/"))

    assert "CDI Query" in listed and "Stratford, Angela Cerner" in listed
    assert "16 Jul, 16:31" in listed  # 21:31Z in Chicago
    assert "CDI Query" in opened and "<script" not in opened.split("<body", 1)[1]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("r4_account_read_guarantor_balance.json", ("G2572738", "1250.00")),
        ("r4_account_search_encounter_guarantor_balance_bundle.json", ("G71248138", "-5.00")),
        ("r4_account_search_id_guarantor_balance_bundle.json", ("G71248138", "-5.00")),
        ("r4_account_search_statement_bundle.json", None),  # not a guarantor-balance Account
        ("r4_account_search_guarantor_financial_account_bundle.json", None),
        ("r4_account_search_id_financial_account_bundle.json", None),
    ],
)
def test_the_pay_page_reads_the_guarantor_balance_from_cerners_accounts(name, expected):
    data = example(name)
    body = data if data["resourceType"] == "Bundle" else _bundle(data)
    install(lambda method, url, kwargs: (200, body))

    found = guarantor_account(
        gateway=FhirGateway(base_url=BASE, token=lambda: "t"), encounter_id="98028029"
    )

    assert (found and (found.account_id, f"{found.balance:.2f}")) == expected or (
        expected is None and found is None
    )


@pytest.mark.parametrize(
    ("kind", "name", "fhir_id", "shown"),
    [
        ("Practitioner", "r4_practitioner_search_bundle.json", "4122622", "Cerner Test, Physician - Hospitalist Cerner"),
        ("Practitioner", "r4_practitioner_read.json", "4122622", "Cerner Test, Physician - Hospitalist Cerner"),
        ("Location", "r4_location_search_id_bundle.json", "21250409", "BE 1 North"),
        ("Location", "r4_location_read.json", None, None),
    ],
)  # fmt: skip
def test_unnamed_references_are_named_from_cerners_people_and_places(
    scripted, kind, name, fhir_id, shown
):
    data = example(name)
    gateway = scripted(data if data["resourceType"] == "Bundle" else _bundle(data))
    fhir_id, shown = fhir_id or data["id"], shown or data["name"]

    names = names_by_reference(gateway=gateway, wanted={kind: {fhir_id}})

    assert names == {(kind, fhir_id): shown}
