import html
import re
from urllib.parse import urljoin

import pytest
import requests

from smartapp.sandbox.models import Encounter, Patient, Practitioner
from tests.sandbox.conftest import TENANT, ehr_launch_tokens, fhir_get, query_of

pytestmark = pytest.mark.django_db(transaction=True)


def _launch(
    sandbox, *, banner: bool = True, encounter: bool = True
) -> tuple[str, requests.Response]:
    http = requests.Session()
    page = http.get(f"{sandbox.base}/sandbox/ehr/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert csrf, page.text[:300]
    patient = Patient.objects.filter(tenant_id=TENANT).order_by("fhir_id").first()
    practitioner = Practitioner.objects.filter(tenant_id=TENANT).order_by("fhir_id").first()
    visit = patient.encounters.order_by("fhir_id").first() if patient and encounter else None
    assert patient and practitioner and (visit or not encounter), "the sandbox is seeded"
    data = {
        "csrfmiddlewaretoken": csrf[1],
        "client": sandbox.clients["provider"]["client_id"],
        "practitioner": practitioner.fhir_id,
        "patient": patient.fhir_id,
        "encounter": visit.fhir_id if visit else "",
    }
    if banner:
        data["need_patient_banner"] = "on"
    if not encounter:
        data["without_encounter"] = "on"
    posted = http.post(f"{sandbox.base}/sandbox/ehr/", data=data, allow_redirects=False)
    assert posted.status_code == 302, posted.text
    frame = http.get(urljoin(sandbox.base, posted.headers["Location"]))
    src = re.search(r'<iframe id="app-frame" name="app-frame"[^>]* src="([^"]+)"', frame.text)
    assert src, frame.text[:300]
    return html.unescape(src[1]), frame


def test_the_ehr_page_renders_the_app_in_an_iframe_with_iss_and_launch(sandbox):
    src, frame = _launch(sandbox)
    assert src.startswith(sandbox.base + "/launch?")
    params = query_of(src)
    assert params["iss"] == sandbox.provider_base
    assert len(params["launch"]) > 10
    assert f"frame-src 'self' {sandbox.base}" in frame.headers["Content-Security-Policy"]
    assert "script-src 'self'" in frame.headers["Content-Security-Policy"]


def test_an_ehr_launch_skips_login_and_gives_the_launch_context(sandbox):
    src, _ = _launch(sandbox)
    body = ehr_launch_tokens(sandbox, src)
    patient = Patient.objects.filter(tenant_id=TENANT).order_by("fhir_id").first()
    assert body["patient"] == patient.fhir_id
    assert body["encounter"] == patient.encounters.order_by("fhir_id").first().fhir_id
    assert body["user"] == "4122622"
    assert body["need_patient_banner"] is True
    assert body["username"] == "clinician1"
    assert (
        fhir_get(
            f"{sandbox.provider_base}/Patient/{body['patient']}", body["access_token"]
        ).status_code
        == 200
    )


def test_the_banner_can_be_turned_off_and_the_encounter_left_out(sandbox):
    src, _ = _launch(sandbox, banner=False, encounter=False)
    body = ehr_launch_tokens(sandbox, src)
    assert body["need_patient_banner"] is False
    assert "encounter" not in body


def test_a_launch_without_a_chosen_encounter_uses_the_patients_latest_visit(sandbox):
    http = requests.Session()
    page = http.get(f"{sandbox.base}/sandbox/ehr/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    patient = Patient.objects.filter(tenant_id=TENANT).order_by("fhir_id").first()
    latest = max(patient.encounters.all(), key=lambda e: e.resource["period"]["start"])
    posted = http.post(
        f"{sandbox.base}/sandbox/ehr/",
        data={
            "csrfmiddlewaretoken": csrf,
            "client": sandbox.clients["provider"]["client_id"],
            "practitioner": Practitioner.objects.filter(tenant_id=TENANT).first().fhir_id,
            "patient": patient.fhir_id,
            "encounter": "",
        },
        allow_redirects=False,
    )
    assert posted.status_code == 302, posted.text
    src = html.unescape(
        re.search(
            r'<iframe[^>]*src="([^"]+)"',
            http.get(urljoin(sandbox.base, posted.headers["Location"])).text,
        )[1]
    )
    assert ehr_launch_tokens(sandbox, src)["encounter"] == latest.fhir_id


def test_an_unknown_launch_is_refused(sandbox):
    client = sandbox.clients["provider"]
    response = requests.get(
        sandbox.authorize_url("provider"),
        allow_redirects=False,
        timeout=10,
        params={
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": client["redirect_uri"],
            "scope": "launch user/Patient.read",
            "state": "s1",
            "aud": sandbox.provider_base,
            "launch": "nope",
        },
    )
    assert query_of(response.headers["Location"])["error"] == "invalid_request"


def test_the_ehr_form_refuses_an_encounter_of_another_patient(sandbox):
    http = requests.Session()
    page = http.get(f"{sandbox.base}/sandbox/ehr/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    other = Encounter.objects.filter(tenant_id=TENANT).exclude(patient__fhir_id="12724066").first()
    response = http.post(
        f"{sandbox.base}/sandbox/ehr/",
        allow_redirects=False,
        data={
            "csrfmiddlewaretoken": csrf,
            "client": sandbox.clients["provider"]["client_id"],
            "practitioner": "4122622",
            "patient": "12724066",
            "encounter": other.fhir_id,
        },
    )
    assert response.status_code == 400
    assert "another patient" in response.text
