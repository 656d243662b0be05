"""Booking answers the sandbox does not give: a write that times out after it was sent."""

import re

import pytest
import requests

from smartapp.clinical.models import BookingRequest
from smartapp.launch.models import Launch
from tests.fakehttp import PATIENT_BASE, authorize_params, example

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def patient_launch(client, fake_ehr, fake_tenant):
    fake_ehr.client_id = "patient-client"
    fake_ehr.claims_override = {"fhirUser": f"{PATIENT_BASE}/Patient/12724066"}
    fake_ehr.token_fields = {"patient": "12724066"}
    params = authorize_params(
        client.post("/signin", {"tenant": "fake", "persona": "patient"})["Location"]
    )
    fake_ehr.nonce = params["nonce"]
    client.get("/launch/callback", {"code": "c", "state": params["state"]})
    slot = example("r4_slot_read.json")
    fake_ehr.fhir["Slot"] = (200, {"resourceType": "Bundle", "entry": [{"resource": slot}]})
    fake_ehr.fhir["Location"] = (200, example("r4_location_search_id_bundle.json"))
    return Launch.objects.get()


def test_a_booking_with_no_answer_is_never_sent_twice(client, fake_ehr, patient_launch):
    fake_ehr.fhir["Appointment"] = requests.ReadTimeout()
    url = f"/l/{patient_launch.public_id}/book/confirm/"
    confirm = client.get(f"{url}?slot=4047611-32216049-61518614-0")
    key = re.search(r'name="key" value="([^"]+)"', confirm.content.decode())[1]

    first = client.post(url, {"key": key, "reason": "Cramp"})
    again = client.post(url, {"key": key, "reason": "Cramp"})
    fake_ehr.fhir["Appointment"] = (200, {"resourceType": "Bundle", "type": "searchset"})
    shown = client.get(again["Location"])

    posts = [c for c in fake_ehr.session.calls if c[0] == "POST" and c[1].endswith("/Appointment")]
    assert len(posts) == 1
    assert first.status_code == again.status_code == 303
    assert first["Location"] == again["Location"] == f"/l/{patient_launch.public_id}/appointments/"
    assert shown.status_code == 200 and b"did not confirm the booking" in shown.content
    assert BookingRequest.objects.get(key=key).state == "unknown"
    token_calls = [c for c in fake_ehr.session.calls if c[1].endswith("/token")]
    assert token_calls[-1][2]["data"]["grant_type"] == "client_credentials"


def test_the_confirm_page_shows_cerners_slot_with_its_place(client, patient_launch):
    page = client.get(
        f"/l/{patient_launch.public_id}/book/confirm/?slot=4047611-32216049-61518614-0"
    )

    assert page.status_code == 200 and b"Surgery Rapid" in page.content
    assert b'name="csrfmiddlewaretoken"' in page.content or b"csrf" in page.content
