"""Whole journeys over real HTTP against the sandbox on the live server, shared by test modules.

The Django test `client` plays the browser on the app's side; `requests` plays it on the
sandbox's side (EHR page, login, consent), and the code is carried back to /launch/callback.
"""

import html
import re
from urllib.parse import urljoin

import requests

# The browser's side of a launch is the test kit's (smartapp.testing), shared with hospitals.
from smartapp.testing._browser import csrf_post, follow_to_callback
from smartapp.testing._browser import local_path as callback_path


def sandbox_people():
    from smartapp.sandbox.models import Client, Encounter, Patient, Practitioner

    patient = Patient.objects.order_by("fhir_id").first()
    return {
        "client": Client.objects.filter(persona="provider").first(),
        "practitioner": Practitioner.objects.order_by("fhir_id").first(),
        "patient": patient,
        "encounter": Encounter.objects.filter(patient=patient).order_by("fhir_id").first(),
    }


def ehr_launch_url(live_server, *, banner: bool = True, patient=None) -> str:
    """Uses the sandbox EHR page (PowerChart stand-in) and returns the app URL it frames."""
    from smartapp.sandbox.models import Encounter

    people = sandbox_people()
    patient = patient or people["patient"]
    encounter = Encounter.objects.filter(patient=patient).order_by("fhir_id").first()
    browser = requests.Session()
    data = {
        "client": people["client"].client_id,
        "practitioner": people["practitioner"].fhir_id,
        "patient": patient.fhir_id,
        "encounter": encounter.fhir_id if encounter else "",
    }
    if banner:
        data["need_patient_banner"] = "on"
    launched = csrf_post(browser, f"{live_server.url}/sandbox/ehr/", data)
    assert launched.status_code == 302, launched.text[:500]
    page = browser.get(urljoin(launched.url, launched.headers["Location"]))
    src = re.search(r'<iframe[^>]*src="([^"]+)"', page.text)
    assert src, page.text[:500]
    return html.unescape(src[1])


def ehr_launch(client, live_server, *, banner: bool = True, patient=None):
    app_url = ehr_launch_url(live_server, banner=banner, patient=patient)
    started = client.get(callback_path(app_url))
    assert started.status_code == 302, started.content[:500]
    callback = follow_to_callback(requests.Session(), started["Location"])
    return client.get(callback_path(callback))


def patient_sign_in(client, tenant, *, decision: str = "allow", patient=None):
    from smartapp.sandbox.models import Patient

    patient = patient or Patient.objects.order_by("fhir_id").first()
    started = client.post("/signin", {"tenant": tenant.slug, "persona": "patient"})
    assert started.status_code == 302, started.content[:500]
    browser = requests.Session()
    login = browser.get(started["Location"])
    assert login.status_code == 200, login.text[:300]
    found = re.search(r'name="txn" value="([^"]+)"', login.text)
    assert found, login.text[:300]
    txn = found[1]
    consent = csrf_post(browser, login.url, {"txn": txn, "user": patient.fhir_id})
    consent_url = urljoin(login.url, consent.headers["Location"])
    decided = csrf_post(browser, consent_url, {"txn": txn, "decision": decision})
    callback = urljoin(consent_url, decided.headers["Location"])
    return patient, client.get(callback_path(callback))


def app_page(client, url: str):
    """GETs an app page; returns (response, FHIR calls it made, counted by their audit events)."""
    from smartapp.audit.models import AuditEvent

    before = AuditEvent.objects.count()
    response = client.get(url)
    return response, AuditEvent.objects.count() - before


def slot_ids(page_html: str) -> list[str]:
    """The free slots a booking page offers, in page order."""
    return re.findall(r'data-slot="([^"]+)"', page_html)


def week_of_slots(client, launch_url: str, tenant) -> list[str]:
    """The free slots of the tenant's first service type this week, from the booking page."""
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    search = client.get(
        f"{launch_url}/book/",
        {"service_type": tenant.service_types.first().code, "start": today.isoformat(),
         "end": (today + timedelta(days=6)).isoformat()},
    )  # fmt: skip
    return slot_ids(search.content.decode())


def hidden(page_html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page_html)
    assert match, f"no hidden {name} in the page"
    return html.unescape(match[1])


def system_book(tenant, *, slot_id: str, patient_id: str) -> requests.Response:
    """Books a slot straight at the sandbox with the system client (someone else, meanwhile)."""
    from smartapp.clinical.booking import appointment_body
    from smartapp.tenants.system_client import system_access_token

    return requests.post(
        f"{tenant.provider_fhir_base}/Appointment",
        json=appointment_body(
            slot_id=slot_id, patient_id=patient_id, reason="booked meanwhile at the front desk"
        ),
        headers={
            "Authorization": f"Bearer {system_access_token(tenant=tenant)}",
            "Content-Type": "application/fhir+json",
            "Accept": "application/fhir+json",
        },
        timeout=10,
    )
