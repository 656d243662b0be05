"""Registration: an Encounter gets its guarantor-balance Account only once registered (after the
configured delay from its creation, or at once through "Register now")."""

import re
from datetime import timedelta

import pytest
import requests
from django.db.models import F

from smartapp.sandbox.models import Encounter
from tests.sandbox.conftest import (
    SCHEDULING_SCOPES,
    booking_body,
    fhir_get,
    fhir_post,
    free_slots,
    system_token,
)
from tests.sandbox.money import balance_of, payment_token, upcoming_encounter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(sandbox) -> str:
    return payment_token(sandbox)


def _accounts(sandbox, token, encounter_id: str) -> list[dict]:
    response = fhir_get(
        f"{sandbox.provider_base}/Account",
        token,
        **{"-encounter": encounter_id, "type": "guarantor-balance"},
    )
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


def test_no_account_before_registration(sandbox, token, settings):
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 180
    encounter = upcoming_encounter()
    assert _accounts(sandbox, token, encounter.fhir_id) == []
    read = fhir_get(f"{sandbox.provider_base}/Account/G{encounter.fhir_id}", token)
    assert read.status_code == 404


def test_account_after_the_delay(sandbox, token, settings):
    encounter = upcoming_encounter()
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 180
    assert _accounts(sandbox, token, encounter.fhir_id) == []
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 0
    [account] = _accounts(sandbox, token, encounter.fhir_id)
    assert account["id"] == f"G{encounter.fhir_id}"
    assert (
        account["extension"][1]["valueReference"]["reference"] == f"Encounter/{encounter.fhir_id}"
    )
    assert re.fullmatch(r"\d+\.\d\d", balance_of(account))
    # Once there, it stays (even if the knob moves back).
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 180
    assert len(_accounts(sandbox, token, encounter.fhir_id)) == 1


def test_a_new_booking_registers_after_the_delay(sandbox, token, settings):
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 1
    scheduling = system_token(sandbox, SCHEDULING_SCOPES)
    slot = free_slots(sandbox, scheduling, _count="1")[0]
    created = fhir_post(
        f"{sandbox.provider_base}/Appointment", scheduling, booking_body(slot["id"])
    )
    assert created.status_code == 201, created.text
    appointment_id = created.headers["Location"].rsplit("/", 1)[1]
    encounter = Encounter.objects.get(appointment_fhir_id=appointment_id)
    assert _accounts(sandbox, token, encounter.fhir_id) == []
    Encounter.objects.filter(pk=encounter.pk).update(  # a second and more passes
        created_at=F("created_at") - timedelta(seconds=1.5)
    )
    [account] = _accounts(sandbox, token, encounter.fhir_id)
    assert balance_of(account) == "40.00"  # the booking's estimated responsibility


def test_register_now_endpoint(sandbox, token, settings):
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 180
    encounter = upcoming_encounter()
    response = requests.post(
        f"{sandbox.base}/sandbox/ehr/encounters/{encounter.fhir_id}/register", timeout=10
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account"] == f"Account/G{encounter.fhir_id}" and body["registered"] is True
    [account] = _accounts(sandbox, token, encounter.fhir_id)
    assert balance_of(account) == body["balance"]
    missing = requests.post(f"{sandbox.base}/sandbox/ehr/encounters/nope/register", timeout=10)
    assert missing.status_code == 404


def test_register_now_on_the_ehr_page(sandbox, token, settings):
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 180
    encounter = upcoming_encounter()
    http = requests.Session()
    page = http.get(f"{sandbox.base}/sandbox/ehr/", timeout=10)
    action = f"/sandbox/ehr/encounters/{encounter.fhir_id}/register"
    assert action in page.text and "Register now" in page.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    done = http.post(
        f"{sandbox.base}{action}",
        data={"csrfmiddlewaretoken": csrf, "next": "/sandbox/ehr/#registration"},
        allow_redirects=False,
        timeout=10,
    )
    assert done.status_code == 302 and done.headers["Location"] == "/sandbox/ehr/#registration"
    assert len(_accounts(sandbox, token, encounter.fhir_id)) == 1
    assert action not in http.get(f"{sandbox.base}/sandbox/ehr/", timeout=10).text
