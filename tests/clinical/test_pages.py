"""The chart and patient home pages: who may see them and what they show."""

import pytest
from django.test import Client

from smartapp.launch.models import Launch
from tests.fakehttp import PATIENT_BASE, authorize_params, example, fake_launch

pytestmark = pytest.mark.django_db


@pytest.fixture
def launched(client, fake_ehr, fake_tenant):
    response = fake_launch(client, fake_ehr)
    return Launch.objects.get(), response["Location"]


def test_a_clinician_lands_on_the_chart_and_the_launch_page_routes_there(client, launched):
    launch, url = launched

    response = client.get(f"/l/{launch.public_id}/")

    assert url == f"/l/{launch.public_id}/chart/"
    assert response.status_code == 302 and response["Location"] == url


@pytest.mark.parametrize("page", ["", "chart/", "home/"])
def test_pages_without_an_app_session_say_so_with_a_401(launched, page):
    launch, _ = launched

    response = Client().get(f"/l/{launch.public_id}/{page}")

    assert response.status_code == 401 and b"You are not signed in" in response.content
    assert b"Sign in again" in response.content


@pytest.mark.parametrize("page", ["", "chart/", "home/"])
def test_pages_of_another_sessions_launch_are_not_found(launched, fake_ehr, page):
    launch, _ = launched
    other = Client()
    fake_launch(other, fake_ehr)

    response = other.get(f"/l/{launch.public_id}/{page}")

    assert response.status_code == 404


@pytest.mark.parametrize("page", ["", "chart/", "home/"])
def test_pages_refuse_post(client, launched, page):
    launch, _ = launched

    assert client.post(f"/l/{launch.public_id}/{page}").status_code == 405


def test_a_clinician_launch_has_no_patient_home(client, launched):
    launch, _ = launched

    assert client.get(f"/l/{launch.public_id}/home/").status_code == 404


def test_the_chart_refuses_a_server_that_answers_with_another_patient(client, launched, fake_ehr):
    launch, _ = launched
    other = example("r4_patient_read.json")
    other["id"] = "999"
    fake_ehr.fhir["Patient/12724067"] = (200, other)

    response = client.get(f"/l/{launch.public_id}/chart/")

    assert response.status_code == 502 and b"999" not in response.content


def test_the_chart_says_when_the_ehr_gave_no_patient(client, fake_ehr, fake_tenant):
    fake_ehr.token_fields = {"need_patient_banner": True}
    response = fake_launch(client, fake_ehr)

    chart = client.get(response["Location"], follow=True)

    assert chart.status_code == 200 and b"No patient selected" in chart.content


def test_a_missing_permission_gives_a_clear_403(client, launched, fake_ehr):
    launch, _ = launched
    fake_ehr.fhir["Patient/12724067"] = (
        403,
        {"code": 403, "message": 'error="insufficient_scope"'},
    )

    response = client.get(f"/l/{launch.public_id}/chart/")

    assert response.status_code == 403 and b"lacks a permission" in response.content


def test_a_patient_launch_has_no_chart(client, fake_ehr, fake_tenant):
    fake_ehr.client_id = "patient-client"
    fake_ehr.claims_override = {"fhirUser": f"{PATIENT_BASE}/Patient/12724067"}
    fake_ehr.fhir["Patient/12724067"] = (200, example("r4_patient_read.json"))
    params = authorize_params(
        client.post("/signin", {"tenant": "fake", "persona": "patient"})["Location"]
    )
    fake_ehr.nonce = params["nonce"]
    done = client.get("/launch/callback", {"code": "c", "state": params["state"]})
    launch = Launch.objects.get()

    assert done["Location"] == f"/l/{launch.public_id}/home/"
    assert client.get(f"/l/{launch.public_id}/")["Location"] == f"/l/{launch.public_id}/home/"
    assert client.get(f"/l/{launch.public_id}/chart/").status_code == 404
