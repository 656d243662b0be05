"""Helpers that drive the sandbox over real HTTP, as the app (and a browser) would."""

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"
SMART = f"/sandbox/authorization/tenants/{TENANT}/protocols/oauth2/profiles/smart-v1"


@dataclass
class Sandbox:
    base: str
    clients: dict[str, dict[str, Any]]
    provider_base: str
    patient_base: str

    def authorize_url(self, persona: str) -> str:
        return f"{self.base}{SMART}/personas/{persona}/authorize"

    def token_url(self, host: str = "fhir-ehr", env: str = "authorization") -> str:
        return (
            f"{self.base}/sandbox/{env}/tenants/{TENANT}/hosts/{host}"
            "/protocols/oauth2/profiles/smart-v1/token"
        )

    def basic(self, persona: str) -> tuple[str, str]:
        client = self.clients[persona]
        return client["client_id"], client["client_secret"]


@pytest.fixture
def sandbox(sandbox_tenants_file: Path, live_server) -> Sandbox:
    tenant = json.loads(sandbox_tenants_file.read_text())["tenants"][0]
    return Sandbox(
        base=live_server.url,
        clients={c["persona"]: c for c in tenant["clients"]},
        provider_base=tenant["provider_fhir_base"],
        patient_base=tenant["patient_fhir_base"],
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def form_fields(html: str) -> dict[str, str]:
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    txn = re.search(r'name="txn" value="([^"]+)"', html)
    assert csrf and txn, html[:300]
    return {"csrfmiddlewaretoken": csrf[1], "txn": txn[1]}


def authorize_params(sb: Sandbox, persona: str, **overrides: str) -> dict[str, str]:
    client = sb.clients[persona]
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uri"],
        "scope": "openid fhirUser online_access user/Patient.read user/Practitioner.read"
        if persona == "provider"
        else "launch/patient openid fhirUser offline_access patient/Patient.read "
        "user/Practitioner.read",
        "state": "st-123",
        "aud": sb.provider_base if persona == "provider" else sb.patient_base,
        "nonce": "n-456",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def start(http: requests.Session, sb: Sandbox, persona: str, **overrides: str) -> requests.Response:
    return http.get(
        sb.authorize_url(persona),
        params=authorize_params(sb, persona, **overrides),
        allow_redirects=False,
    )


def log_in_and_decide(
    http: requests.Session, sb: Sandbox, response: requests.Response, user: str, decision: str
) -> str:
    """Follows the sandbox's login and consent pages; returns the redirect back to the app."""
    login_url = urljoin(sb.base, response.headers["Location"])
    page = http.get(login_url)
    posted = http.post(
        login_url, data={**form_fields(page.text), "user": user}, allow_redirects=False
    )
    consent_url = urljoin(sb.base, posted.headers["Location"])
    page = http.get(consent_url)
    done = http.post(
        consent_url, data={**form_fields(page.text), "decision": decision}, allow_redirects=False
    )
    return done.headers["Location"]


def exchange_code(
    sb: Sandbox, persona: str, code: str, verifier: str | None = None, host: str | None = None
) -> requests.Response:
    client = sb.clients[persona]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client["redirect_uri"],
    }
    if verifier:
        data["code_verifier"] = verifier
    host = host or ("fhir-ehr" if persona == "provider" else "fhir-myrecord")
    if client["client_secret"]:
        return requests.post(sb.token_url(host), data=data, auth=sb.basic(persona), timeout=10)
    return requests.post(
        sb.token_url(host), data={**data, "client_id": client["client_id"]}, timeout=10
    )


def patient_tokens(sb: Sandbox, patient_id: str, **overrides: str) -> dict[str, Any]:
    """A whole standalone patient launch: authorize, sign in, allow, exchange."""
    verifier, challenge = pkce_pair()
    http = requests.Session()
    first = start(
        http, sb, "patient", code_challenge=challenge, code_challenge_method="S256", **overrides
    )
    back = log_in_and_decide(http, sb, first, patient_id, "allow")
    response = exchange_code(sb, "patient", query_of(back)["code"], verifier)
    assert response.status_code == 200, response.text
    return response.json()


def system_token(
    sb: Sandbox,
    scope: str = "system/Patient.read system/Practitioner.read",
    env: str = "authorization",
    host: str = "fhir-ehr",
) -> str:
    response = requests.post(
        sb.token_url(host, env),
        auth=sb.basic("system"),
        data={"grant_type": "client_credentials", "scope": scope},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def fhir_get(url: str, token: str | None, **params: Any) -> requests.Response:
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(url, params=params or None, headers=headers, timeout=10)


# Scheduling (issue 3): seeded facts and helpers shared by test_schedules / test_appointments.
SERVICE_SYSTEM = f"https://fhir.cerner.com/{TENANT}/codeSet/14249"
OFFICE_VISIT = f"{SERVICE_SYSTEM}|2572307911"
FIRST_CLINICIAN = "4122622"
SCHEDULING_SCOPES = (
    "system/Slot.read system/Slot.write system/Schedule.read system/Location.read "
    "system/Practitioner.read system/Patient.read system/Appointment.read system/Appointment.write"
)
FHIR_JSON = "application/fhir+json"
PATCH_JSON = "application/json-patch+json"


def provider_token(sb: Sandbox, clinician: str = FIRST_CLINICIAN, scope: str = "") -> str:
    """A standalone provider sign-in (login page, consent) with the scheduling scopes."""
    scope = scope or (
        "openid fhirUser online_access user/Patient.read user/Practitioner.read "
        "user/Appointment.read user/Appointment.write user/Slot.read user/Slot.write "
        "user/Schedule.read user/Location.read"
    )
    http = requests.Session()
    back = log_in_and_decide(http, sb, start(http, sb, "provider", scope=scope), clinician, "allow")
    response = exchange_code(sb, "provider", query_of(back)["code"])
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def window(days: int = 30, start_offset: timedelta = timedelta()) -> list[str]:
    """`start=ge…&start=lt…` values from now (plus an offset) for `days` days."""
    begin = datetime.now(UTC) + start_offset
    end = begin + timedelta(days=days)
    return [f"ge{begin:%Y-%m-%dT%H:%M:%SZ}", f"lt{end:%Y-%m-%dT%H:%M:%SZ}"]


def free_slots(sb: Sandbox, token: str, **params: Any) -> list[dict[str, Any]]:
    params = {"service-type": OFFICE_VISIT, "start": window(), **params}
    response = fhir_get(f"{sb.provider_base}/Slot", token, **params)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


def booking_body(slot_id: str, patient_id: str = "12724066", reason: str = "Cough") -> dict:
    from smartapp.clinical.booking import appointment_body

    return appointment_body(slot_id=slot_id, patient_id=patient_id, reason=reason)


def fhir_post(url: str, token: str, body: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON}
    return requests.post(url, data=json.dumps(body), headers=headers, timeout=30)


def fhir_patch(url: str, token: str, ops: Any, if_match: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": PATCH_JSON}
    if if_match is not None:
        headers["If-Match"] = if_match
    return requests.patch(url, data=json.dumps(ops), headers=headers, timeout=30)


__all__ = ["urlencode"]


def ehr_launch_tokens(sandbox, src: str) -> dict:
    """Authorizes the provider app for the EHR launch framed at `src`; the token response."""
    client = sandbox.clients["provider"]
    params = query_of(src)
    response = requests.get(
        sandbox.authorize_url("provider"),
        allow_redirects=False,
        timeout=10,
        params={
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": client["redirect_uri"],
            "scope": "launch openid fhirUser online_access user/Patient.read",
            "state": "s1",
            "aud": params["iss"],
            "launch": params["launch"],
        },
    )
    assert response.status_code == 302
    back = query_of(response.headers["Location"])
    assert back["state"] == "s1"
    return exchange_code(sandbox, "provider", back["code"]).json()
