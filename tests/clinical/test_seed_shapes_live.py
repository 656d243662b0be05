"""The Millennium shapes the sandbox seeds, through the app's pages over real HTTP: rooms named
only by display, video visits, cancellation reasons, a merged record, a handed-over attending,
an old MRN and portal message previews."""

import html
import re

import pytest
from django.utils import timezone

from smartapp.clinical.appointment_rows import CANCEL_WORDS
from smartapp.launch.models import Launch
from smartapp.sandbox.models import Appointment, Patient
from smartapp.testing import launch_as_clinician, launch_as_patient
from tests.conftest import SANDBOX_TENANT_ID

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PATIENT, VIDEO = "4047613", "2582093771"


def _text(page) -> str:
    assert page.status_code == 200, page.content[:400]
    return re.sub(r"\s+", " ", page.content.decode())


def _row(text: str, row_id: str) -> str:
    row = text[text.index(f'id="{row_id}"') :]
    return row[: row.index("</tr>")]


def _launch_on(client, patient_id: str) -> Launch:
    return launch_as_clinician(client, patient=patient_id).launch


def _appointment(**filters) -> Appointment:
    found = Appointment.objects.filter(tenant_id=SANDBOX_TENANT_ID, **filters).order_by("start")
    assert found.exists(), f"the sandbox seeds an appointment with {filters}"
    return found[0]


def test_a_room_named_only_by_display_shows_beside_the_clinician(client, tenant):
    booked = _appointment(service_code=NEW_PATIENT, status="booked")
    launch = _launch_on(client, booked.patient_fhir_id)

    text = _text(client.get(f"/l/{launch.public_id}/chart/appointments/"))

    row = _row(text, f"appointment-{booked.fhir_id}")
    room = next(
        p["actor"]["display"]
        for p in booked.resource["participant"]
        if "reference" not in p["actor"]
    )
    assert room.startswith("Exam Room ") and f'class="muted small room">{room}<' in row


def test_a_video_visit_says_when_its_link_opens_or_offers_it(client, tenant):
    # One not over yet: the link of a visit that has ended is no longer offered.
    visit = _appointment(service_code=VIDEO, status="booked", end__gt=timezone.now())
    launch = _launch_on(client, visit.patient_fhir_id)

    text = _text(client.get(f"/l/{launch.public_id}/chart/appointments/"))

    row = _row(text, f"appointment-{visit.fhir_id}")
    provider_room = f"/sandbox/video/{visit.fhir_id}/provider/"
    assert "Video visit: the link opens" in row or (
        "Join video visit" in row and provider_room in row
    )
    assert f"/sandbox/video/{visit.fhir_id}/patient/" not in row


def test_a_cancelled_appointment_says_why(client, tenant):
    cancelled = _appointment(status="cancelled")
    launch = _launch_on(client, cancelled.patient_fhir_id)
    reason = CANCEL_WORDS[cancelled.cancelation_reason["coding"][0]["code"]]

    text = _text(client.get(f"/l/{launch.public_id}/chart/appointments/"))

    row = _row(text, f"appointment-{cancelled.fhir_id}")
    assert "Cancelled" in row and f'cancel-reason">{html.escape(reason)}<' in row


def test_a_merged_record_opens_on_the_surviving_patient(client, tenant):
    merged = Patient.objects.get(tenant_id=SANDBOX_TENANT_ID, replaced_by__gt="")
    survivor = Patient.objects.get(tenant_id=SANDBOX_TENANT_ID, fhir_id=merged.replaced_by)
    launch = _launch_on(client, merged.fhir_id)

    text = _text(client.get(f"/l/{launch.public_id}/chart/"))

    assert 'id="merged-notice"' in text and "was merged into this patient's current record" in text
    assert f'id="patient-name">{html.escape(survivor.display_name)}<' in text
    assert f'id="patient-mrn">{survivor.mrn}<' in text


def test_the_banner_shows_the_current_mrn_not_the_old_one(client, tenant):
    nancy = Patient.objects.get(tenant_id=SANDBOX_TENANT_ID, fhir_id="12724066")
    old = [i["value"] for i in nancy.resource["identifier"] if "end" in i.get("period", {})]
    launch = _launch_on(client, nancy.fhir_id)

    text = _text(client.get(f"/l/{launch.public_id}/chart/"))

    words = re.sub(r"<[^>]+>", " ", text)  # not the markup: its random ids may hold any digits
    assert old and f'id="patient-mrn">{nancy.mrn}<' in text
    assert not re.search(rf"\b{re.escape(old[0])}\b", words)


def test_a_visit_shows_its_current_attending_not_the_first_listed(client, tenant):
    from smartapp.sandbox.models import Encounter

    visit = Encounter.objects.get(tenant_id=SANDBOX_TENANT_ID, fhir_id="97724066")
    first, current = visit.resource["participant"][:2]
    assert "end" in first["period"] and "end" not in current["period"]
    launch = _launch_on(client, visit.patient.fhir_id)

    text = _text(client.get(f"/l/{launch.public_id}/chart/visits/"))

    row = _row(text, "visit-97724066")
    assert html.escape(current["individual"]["display"]) in row
    assert html.escape(first["individual"]["display"]) not in row


def test_inbox_previews_keep_blocks_apart_and_drop_scripts(client, tenant):
    launch = launch_as_patient(client).launch

    text = _text(client.get(f"/l/{launch.public_id}/messages/"))

    previews = re.findall(r'class="preview muted small">([^<]*)<', text)
    assert previews, "the sandbox seeds portal messages for the first patient"
    for preview in previews:
        assert not re.search(r"[a-z0-9.%][A-Z][a-z]", preview.replace("McD", "")), preview
        assert "alert(" not in preview and "<" not in html.unescape(preview).replace("&lt;", "")
