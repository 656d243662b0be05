import pytest
import requests

from tests.examples import cerner_example
from tests.sandbox.conftest import fhir_get, system_token

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(sandbox) -> str:
    return system_token(sandbox)


def test_a_patient_read_has_millenniums_shape(sandbox, token):
    response = fhir_get(
        f"{sandbox.provider_base}/Patient/12724066",
        token,
    )
    body = response.json()
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert response.headers["opc-request-id"] and response.headers["X-Request-Id"]
    assert body["resourceType"] == "Patient" and body["id"] == "12724066"
    assert {
        "meta",
        "text",
        "identifier",
        "name",
        "telecom",
        "gender",
        "birthDate",
        "address",
    } <= set(body)
    mrn = body["identifier"][0]
    assert [c["code"] for c in mrn["type"]["coding"]] == ["10", "MR"]
    assert mrn["type"]["coding"][0]["system"].endswith("/codeSet/4")
    assert (
        body["name"][0]["text"]
        == f"{body['name'][0]['family']}, {' '.join(body['name'][0]['given'])}"
    )
    example = cerner_example("r4_patient_read.json")
    assert set(body) - set(example) == set()


def test_the_request_id_is_echoed(sandbox, token):
    response = requests.get(
        f"{sandbox.provider_base}/Patient/12724066",
        timeout=10,
        headers={"Authorization": f"Bearer {token}", "opc-request-id": "abc123"},
    )
    assert response.headers["opc-request-id"] == "abc123"


def test_a_practitioner_read_has_an_npi(sandbox, token):
    body = fhir_get(f"{sandbox.provider_base}/Practitioner/4122622", token).json()
    assert body["identifier"][0]["system"] == "http://hl7.org/fhir/sid/us-npi"
    assert body["extension"][0]["url"].endswith("/is-physician")


def test_an_unknown_id_is_a_404_operation_outcome(sandbox, token):
    response = fhir_get(f"{sandbox.provider_base}/Patient/999", token)
    assert response.status_code == 404
    assert response.json() == {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "not-found", "details": {"text": "Resource not found"}}
        ],
    }


def test_a_search_without_supported_parameters_is_400(sandbox, token):
    response = fhir_get(f"{sandbox.provider_base}/Patient", token, gender="female")
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_an_unsupported_parameter_is_400(sandbox, token):
    assert (
        fhir_get(f"{sandbox.provider_base}/Patient", token, _id="1", colour="red").status_code
        == 400
    )


def test_given_without_family_is_refused_for_practitioners(sandbox, token):
    assert fhir_get(f"{sandbox.provider_base}/Practitioner", token, given="Joe").status_code == 400


def test_a_non_json_accept_is_406(sandbox, token):
    response = requests.get(
        f"{sandbox.provider_base}/Patient/12724066",
        timeout=10,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/xml"},
    )
    assert response.status_code == 406
    assert response.content == b""


def test_search_by_id_list_returns_a_searchset(sandbox, token):
    response = fhir_get(f"{sandbox.provider_base}/Patient", token, _id="12724066,12724067")
    body = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "searchset"
    assert body["total"] == 2
    assert body["link"][0]["relation"] == "self"
    assert [e["fullUrl"] for e in body["entry"]] == [
        f"{sandbox.provider_base}/Patient/12724066",
        f"{sandbox.provider_base}/Patient/12724067",
    ]
    assert all(e["search"] == {"mode": "match"} for e in body["entry"])


def test_search_by_mrn_and_by_birthdate_range(sandbox, token):
    patient = fhir_get(f"{sandbox.provider_base}/Patient/12724067", token).json()
    mrn = patient["identifier"][0]["value"]
    found = fhir_get(
        f"{sandbox.provider_base}/Patient",
        token,
        identifier=f"urn:oid:2.16.840.1.113883.6.1000|{mrn}",
    ).json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["12724067"]
    born = patient["birthDate"]
    ranged = fhir_get(
        f"{sandbox.provider_base}/Patient", token, birthdate=[f"ge{born}", f"le{born}"]
    ).json()
    assert "12724067" in [e["resource"]["id"] for e in ranged["entry"]]


def test_family_search_matches_apostrophes(sandbox, token):
    body = fhir_get(f"{sandbox.provider_base}/Patient", token, family="O'Brien").json()
    assert body["total"] == 1
    assert body["entry"][0]["resource"]["name"][0]["family"] == "O'Brien"


def test_paging_follows_next_links_to_the_end(sandbox, token):
    ids = ",".join(str(12724066 + i) for i in range(16))
    url, seen, pages = f"{sandbox.provider_base}/Patient", [], 0
    params = {"_id": ids, "_count": "5"}
    while url:
        body = fhir_get(url, token, **params).json()
        seen += [e["resource"]["id"] for e in body.get("entry", [])]
        nexts = [link["url"] for link in body["link"] if link["relation"] == "next"]
        url, params, pages = (nexts[0] if nexts else None), {}, pages + 1
        if nexts:
            assert "-pageContext=" in nexts[0] and "-pageDirection=NEXT" in nexts[0]
    assert pages == 4
    assert seen == [str(12724066 + i) for i in range(16)]


def test_practitioner_search_by_npi_has_no_total(sandbox, token):
    body = fhir_get(
        f"{sandbox.provider_base}/Practitioner",
        token,
        identifier="http://hl7.org/fhir/sid/us-npi|1111111111",
    ).json()
    assert [e["resource"]["id"] for e in body["entry"]] == ["4122622"]
    assert "total" not in body


def test_the_second_tenant_has_its_own_data(sandbox):
    from smartapp.sandbox.links import SECOND_TENANT
    from smartapp.sandbox.models import Patient

    first = Patient.objects.get(tenant_id=SECOND_TENANT, fhir_id="12724066")
    assert first.resource["id"] == "12724066"
    assert Patient.objects.filter(tenant_id=SECOND_TENANT).count() == 3
