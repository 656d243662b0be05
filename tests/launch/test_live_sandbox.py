"""Whole launches against the Millennium sandbox over real HTTP (live server).

The Django test `client` plays the browser on the app's side; `requests` plays it on the
sandbox's side (EHR page, login, consent), and the code is carried back to /launch/callback.
"""

import html
import re
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from django.core.management import call_command

from smartapp.launch.models import Launch

pytestmark = pytest.mark.django_db(transaction=True)


def csrf_post(browser: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    page = browser.get(url)
    assert page.status_code == 200, page.text[:500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    return browser.post(
        page.url,
        data={**data, "csrfmiddlewaretoken": token[1] if token else ""},
        allow_redirects=False,
        headers={"Referer": page.url},
    )


def follow_to_callback(browser: requests.Session, url: str) -> str:
    """Follows the authorization server's redirects; returns the app callback URL (not opened)."""
    for _ in range(10):
        if "/launch/callback" in urlsplit(url).path:
            return url
        response = browser.get(url, allow_redirects=False)
        if response.status_code not in (301, 302, 303):
            return (
                response.url
                if "/launch/callback" in response.url
                else _form_step(browser, response)
            )
        url = urljoin(response.url, response.headers["Location"])
    raise AssertionError("no callback redirect")


def _form_step(browser: requests.Session, page: requests.Response) -> str:
    raise AssertionError(f"unexpected page at {page.url}: {page.status_code} {page.text[:300]}")


def callback_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def sandbox_people():
    from smartapp.sandbox.models import Client, Encounter, Patient, Practitioner

    patient = Patient.objects.order_by("fhir_id").first()
    return {
        "client": Client.objects.filter(persona="provider").first(),
        "practitioner": Practitioner.objects.order_by("fhir_id").first(),
        "patient": patient,
        "encounter": Encounter.objects.filter(patient=patient).order_by("fhir_id").first(),
    }


def ehr_launch_url(live_server, *, banner: bool = True) -> str:
    """Uses the sandbox EHR page (PowerChart stand-in) and returns the app URL it frames."""
    people = sandbox_people()
    browser = requests.Session()
    data = {
        "client": people["client"].client_id,
        "practitioner": people["practitioner"].fhir_id,
        "patient": people["patient"].fhir_id,
        "encounter": people["encounter"].fhir_id,
    }
    if banner:
        data["need_patient_banner"] = "on"
    launched = csrf_post(browser, f"{live_server.url}/sandbox/ehr/", data)
    assert launched.status_code == 302, launched.text[:500]
    page = browser.get(urljoin(launched.url, launched.headers["Location"]))
    src = re.search(r'<iframe[^>]*src="([^"]+)"', page.text)
    assert src, page.text[:500]
    return html.unescape(src[1])


def ehr_launch(client, live_server, *, banner: bool = True):
    app_url = ehr_launch_url(live_server, banner=banner)
    started = client.get(callback_path(app_url))
    assert started.status_code == 302, started.content[:500]
    callback = follow_to_callback(requests.Session(), started["Location"])
    return client.get(callback_path(callback))


def patient_sign_in(client, tenant, *, decision: str = "allow"):
    from smartapp.sandbox.models import Patient

    patient = Patient.objects.order_by("fhir_id").first()
    started = client.post("/signin", {"tenant": tenant.slug, "persona": "patient"})
    assert started.status_code == 302, started.content[:500]
    browser = requests.Session()
    login = browser.get(started["Location"])
    assert login.status_code == 200, login.text[:300]
    txn = re.search(r'name="txn" value="([^"]+)"', login.text)[1]
    consent = csrf_post(browser, login.url, {"txn": txn, "user": patient.fhir_id})
    consent_url = urljoin(login.url, consent.headers["Location"])
    decided = csrf_post(browser, consent_url, {"txn": txn, "decision": decision})
    callback = urljoin(consent_url, decided.headers["Location"])
    return patient, client.get(callback_path(callback))


def test_a_clinician_ehr_launch_shows_the_launched_patient(client, live_server, tenant):
    response = ehr_launch(client, live_server)

    assert response.status_code == 302 and response["Location"].startswith("/l/")
    page = client.get(response["Location"], follow=True)
    people = sandbox_people()
    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="patient-banner"' in text
    assert html.escape(people["patient"].display_name) in text and people["patient"].mrn in text
    launch = Launch.objects.get()
    assert (
        launch.patient_id == people["patient"].fhir_id
        and launch.encounter_id == people["encounter"].fhir_id
    )
    assert (launch.user_type, launch.user_id) == ("Practitioner", people["practitioner"].fhir_id)


def test_a_launch_without_the_banner_flag_shows_a_compact_header(client, live_server, tenant):
    response = ehr_launch(client, live_server, banner=False)

    text = client.get(response["Location"], follow=True).content.decode()
    assert 'id="patient-banner"' not in text and 'id="patient-header"' in text


def test_a_patient_signs_in_standalone_and_is_welcomed(client, live_server, tenant):
    patient, response = patient_sign_in(client, tenant)

    assert response.status_code == 302, response.content[:500]
    page = client.get(response["Location"], follow=True)
    assert page.status_code == 200
    given = patient.resource["name"][0]["given"][0]
    assert f"Welcome, {html.escape(given)}</h1>" in page.content.decode()
    assert html.escape(patient.display_name) in page.content.decode()


def test_denying_consent_shows_a_friendly_page(client, live_server, tenant):
    _, response = patient_sign_in(client, tenant, decision="deny")

    assert response.status_code == 403 and b"Access was not granted" in response.content
    assert b"Sign in again" in response.content


def test_the_token_is_refreshed_against_the_sandbox(client, live_server, tenant):
    from datetime import timedelta

    from django.utils import timezone

    response = ehr_launch(client, live_server)
    launch = Launch.objects.get()
    old = launch.access_token
    Launch.objects.update(expires_at=timezone.now() + timedelta(seconds=5))

    page = client.get(response["Location"], follow=True)

    launch.refresh_from_db()
    assert page.status_code == 200 and launch.access_token != old and launch.refresh_token


def test_smart_doctor_is_happy_with_the_sandbox(live_server, tenant, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("smart_doctor", tenant.slug)
        raise SystemExit(0)

    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out


def test_a_patient_sign_in_reads_the_patient_record_once(client, live_server, tenant):
    from smartapp.audit.models import AuditEvent

    patient, response = patient_sign_in(client, tenant)
    client.get(response["Location"], follow=True)

    reads = AuditEvent.objects.filter(action="read", what=f"Patient/{patient.fhir_id}")
    assert reads.count() == 1
