"""Launching the app as a clinician (from the sandbox EHR) or a patient (standalone sign-in)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import requests

from smartapp.testing import _browser
from smartapp.testing.personas import TENANT, SeededClinician, SeededPatient, SeededVisit

if TYPE_CHECKING:
    from django.http.response import HttpResponseBase
    from django.test import Client

    from smartapp.launch.models import Launch
    from smartapp.payments.models import Payment

CLINIC_TZ = "America/Chicago"  # the seeded clinics' zone, given to the browser as its own
_LAUNCH_PATH = re.compile(r"/l/([0-9a-f-]{36})/")


class LaunchRefused(AssertionError):
    """The launch did not reach the app's first screen: `response` is the app's answer (its
    refusal page when consent was denied, a 400 for a tampered callback…)."""

    def __init__(self, message: str, response: HttpResponseBase) -> None:
        super().__init__(message)
        self.response = response


@dataclass(frozen=True)
class Launched:
    """A completed launch: the app's pages for it live under `/l/<public_id>/`."""

    public_id: str
    persona: str  # provider | patient
    patient_id: str
    encounter_id: str
    landing: str  # where the callback sent the browser (the first screen)

    def url(self, path: str = "") -> str:
        """`launched.url("appointments/")` → `/l/<public_id>/appointments/`."""
        return f"/l/{self.public_id}/{path.lstrip('/')}"

    @property
    def launch(self) -> Launch:
        """The app's Launch row (tokens, scopes, context), read afresh."""
        from smartapp.launch.models import Launch

        return Launch.objects.select_related("tenant").get(public_id=self.public_id)

    def payments(self) -> list[Payment]:
        """The payments made in this launch (card or desk), oldest first."""
        from smartapp.payments.models import Payment

        rows = Payment.objects.filter(launch__public_id=self.public_id)
        return list(rows.order_by("created_at", "pk"))


def _id(value: SeededPatient | SeededClinician | SeededVisit | str | None) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.fhir_id


def _sandbox_base() -> str:
    from smartapp.sandbox.models import SandboxSettings

    row = SandboxSettings.objects.first()
    if row is None:
        raise RuntimeError("no sandbox is seeded: use the `millennium` fixture in this test")
    return row.base_url


def _finished(client: Client, callback_url: str) -> Launched:
    from smartapp.launch.models import Launch

    answer = client.get(_browser.local_path(callback_url))
    location = answer.get("Location", "") if answer.status_code in (302, 303) else ""
    found = _LAUNCH_PATH.search(location)
    if not found:
        body = answer.content.decode(errors="replace")[:500]
        raise LaunchRefused(f"the launch did not complete ({answer.status_code}): {body}", answer)
    launch = Launch.objects.get(public_id=found[1])
    return Launched(
        str(launch.public_id), launch.persona, launch.patient_id, launch.encounter_id, location
    )


def _browser_zone(client: Client) -> None:
    if "tz" not in client.cookies:
        client.cookies["tz"] = CLINIC_TZ


def launch_as_clinician(
    client: Client,
    *,
    patient: SeededPatient | str | None = None,
    encounter: SeededVisit | str | None = None,
    banner: bool = True,
    clinician: SeededClinician | str | None = None,
) -> Launched:
    """An EHR launch from the sandbox's PowerChart page, through the real authorization-code flow
    (PKCE, state, nonce, id_token), with Django's test `client` as the framed browser.

    `patient` defaults to `millennium.patients.first`, `encounter` to the patient's first visit,
    `clinician` to `millennium.clinicians.first`; `banner=False` launches with
    `need_patient_banner` false (the EHR shows its own banner).
    """
    from smartapp.sandbox.models import Client as SandboxClient
    from smartapp.sandbox.models import Encounter, Patient, Practitioner

    base = _sandbox_base()
    app = SandboxClient.objects.filter(tenant_id=TENANT, persona="provider", jwks_url="")
    registered = app.order_by("pk").first()
    if registered is None:
        raise RuntimeError("the sandbox has no clinician app registered")
    patients = Patient.objects.filter(tenant_id=TENANT)
    patient_id = _id(patient) or patients.current().order_by("fhir_id")[0].fhir_id
    clinicians = Practitioner.objects.filter(tenant_id=TENANT).order_by("fhir_id")
    practitioner_id = _id(clinician) or clinicians[0].fhir_id
    encounter_id = _id(encounter)
    if encounter is None:
        first = Encounter.objects.filter(tenant_id=TENANT, patient__fhir_id=patient_id)
        row = first.order_by("fhir_id").first()
        encounter_id = row.fhir_id if row else ""
    form = {
        "client": registered.client_id,
        "practitioner": practitioner_id,
        "patient": patient_id,
        "encounter": encounter_id,
    }
    if banner:
        form["need_patient_banner"] = "on"
    ehr = requests.Session()
    launched = _browser.csrf_post(ehr, f"{base}/sandbox/ehr/", form)
    if launched.status_code != 302:
        raise AssertionError(f"the sandbox EHR refused the launch: {launched.text[:500]}")
    page = ehr.get(urljoin(launched.url, launched.headers["Location"]), timeout=_browser.TIMEOUT)
    _browser_zone(client)
    started = client.get(_browser.local_path(_browser.framed_app_url(page.text)))
    if started.status_code != 302:
        raise LaunchRefused(
            f"/launch answered {started.status_code}: {started.content[:500]!r}", started
        )
    return _finished(client, _browser.follow_to_callback(ehr, started["Location"]))


def launch_as_patient(
    client: Client,
    *,
    patient: SeededPatient | str | None = None,
    tenant: str = "",
    decision: str = "allow",
) -> Launched:
    """A patient's standalone sign-in from the app's home page: the sandbox's login page (the
    patient picked) and consent (`decision`), then the callback, with Django's test `client`.

    `patient` defaults to `millennium.patients.first`; `tenant` is the app's tenant slug
    (default: the sandbox's). `decision="deny"` raises `LaunchRefused`, whose `response` is the
    app's refusal page.
    """
    from smartapp.sandbox.models import Patient
    from smartapp.tenants.models import Tenant

    slug = tenant or Tenant.objects.get(ehr_tenant_id=TENANT).slug
    patients = Patient.objects.filter(tenant_id=TENANT)
    patient_id = _id(patient) or patients.current().order_by("fhir_id")[0].fhir_id
    _browser_zone(client)
    started = client.post("/signin", {"tenant": slug, "persona": "patient"})
    if started.status_code != 302:
        raise LaunchRefused(
            f"/signin answered {started.status_code}: {started.content[:500]!r}", started
        )
    browser = requests.Session()
    login = browser.get(started["Location"], timeout=_browser.TIMEOUT)
    txn = _browser.hidden_field(login.text, "txn")
    chosen = _browser.csrf_post(browser, login.url, {"txn": txn, "user": patient_id})
    consent_url = urljoin(login.url, chosen.headers["Location"])
    decided = _browser.csrf_post(browser, consent_url, {"txn": txn, "decision": decision})
    return _finished(client, urljoin(consent_url, decided.headers["Location"]))
