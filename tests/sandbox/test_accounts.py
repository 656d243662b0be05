"""Account read and search over real HTTP: Cerner's four combinations, personas, shapes."""

import pytest
import requests

from smartapp.sandbox.models import Account
from tests.sandbox.conftest import TENANT, fhir_get, patient_tokens, provider_token, system_token
from tests.sandbox.money import balance_of, example, past_account, payment_token

pytestmark = pytest.mark.django_db(transaction=True)
STATEMENT_SYSTEM = f"https://fhir.cerner.com/{TENANT}/statement-number"


@pytest.fixture
def token(sandbox) -> str:
    return payment_token(sandbox)


def _search(sandbox, token, **params) -> requests.Response:
    return fhir_get(f"{sandbox.provider_base}/Account", token, **params)


def test_guarantor_balance_by_encounter(sandbox, token):
    account = past_account()
    response = _search(
        sandbox, token, **{"-encounter": account.encounter_fhir_id, "type": "guarantor-balance"}
    )
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "searchset" and bundle["total"] == 1
    resource = bundle["entry"][0]["resource"]
    assert resource["id"] == account.fhir_id and resource["id"].startswith("G")
    assert resource["partOf"]["reference"].startswith("Account/F")
    value = balance_of(resource)
    assert isinstance(value, str) and value == f"{account.balance:.2f}"


def test_read_and_id_search(sandbox, token):
    account = past_account()
    read = fhir_get(f"{sandbox.provider_base}/Account/{account.fhir_id}", token)
    assert read.status_code == 200 and read.json()["type"]["text"] == "guarantor-balance"
    financial = read.json()["partOf"]["reference"].removeprefix("Account/")
    found = _search(sandbox, token, _id=financial).json()
    assert found["entry"][0]["resource"]["type"]["text"] == "financial-account"
    assert fhir_get(f"{sandbox.provider_base}/Account/G1", token).status_code == 404


def test_statement_and_financial_account_searches(sandbox, token):
    account = past_account()
    statement = Account.objects.get(tenant_id=TENANT, fhir_id=f"S{account.patient_fhir_id}")
    found = _search(
        sandbox,
        token,
        patient=account.patient_fhir_id,
        identifier=f"{STATEMENT_SYSTEM}|{statement.number}",
        type="statement",
    ).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [statement.fhir_id]
    guarantor = f"{account.patient_fhir_id}-{account.patient_fhir_id}"
    found = _search(sandbox, token, **{"-guarantor": guarantor, "type": "financial-account"}).json()
    assert f"Account/{found['entry'][0]['resource']['id']}" in {
        f"Account/{a.part_of}"
        for a in Account.objects.filter(patient_fhir_id=account.patient_fhir_id, tenant_id=TENANT)
    }
    account_number = f"https://fhir.cerner.com/{TENANT}/account-number|1"
    refused = _search(
        sandbox, token, patient=account.patient_fhir_id, identifier=account_number, type="statement"
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"type": "guarantor-balance"},
        {"-encounter": "97724066"},
        {"-encounter": "97724066", "type": "statement"},
        {"_id": "G1", "type": "guarantor-balance"},
        {"patient": "12724066", "type": "statement"},
        {"-guarantor": "1-1", "type": "guarantor-balance"},
        {"patient": "12724066"},
        {"subject": "12724066"},
    ],
)
def test_other_combinations_are_refused(sandbox, token, params):
    response = _search(sandbox, token, **params)
    assert response.status_code == 400, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


def test_patient_persona_is_refused(sandbox):
    tokens = patient_tokens(sandbox, "12724066")
    account = past_account()
    read = fhir_get(f"{sandbox.patient_base}/Account/{account.fhir_id}", tokens["access_token"])
    assert read.status_code == 403


def test_provider_may_search(sandbox):
    scope = "openid fhirUser user/Account.read user/Patient.read"
    token = provider_token(sandbox, scope=scope)
    account = past_account()
    response = _search(
        sandbox, token, **{"-encounter": account.encounter_fhir_id, "type": "guarantor-balance"}
    )
    assert response.status_code == 200 and response.json()["total"] == 1


def test_without_the_scope(sandbox):
    token = system_token(sandbox, "system/Patient.read")
    assert _search(sandbox, token, _id="G1").status_code == 403


def _keys(resource: dict) -> set[str]:
    return set(resource) - {"text"}


def test_shapes_match_cerner_examples(sandbox, token):
    account = past_account()
    ours = fhir_get(f"{sandbox.provider_base}/Account/{account.fhir_id}", token).json()
    theirs = example("r4_account_read_guarantor_balance.json")
    assert set(ours) == set(theirs)
    assert {e["url"] for e in ours["extension"]} == {e["url"] for e in theirs["extension"]}
    assert set(ours["servicePeriod"]) <= {"start", "end"}
    search = example("r4_account_search_encounter_guarantor_balance_bundle.json")
    found = _search(
        sandbox, token, **{"-encounter": account.encounter_fhir_id, "type": "guarantor-balance"}
    ).json()
    assert set(found) == set(search)
    assert set(found["entry"][0]) - {"search"} == set(search["entry"][0])
    financial = ours["partOf"]["reference"].removeprefix("Account/")
    ours_f = _search(sandbox, token, _id=financial).json()["entry"][0]["resource"]
    theirs_f = example("r4_account_search_guarantor_financial_account_bundle.json")
    assert set(ours_f) == set(theirs_f["entry"][0]["resource"])
    statement = Account.objects.get(tenant_id=TENANT, fhir_id=f"S{account.patient_fhir_id}")
    ours_s = fhir_get(f"{sandbox.provider_base}/Account/{statement.fhir_id}", token).json()
    theirs_s = example("r4_account_search_statement_bundle.json")["entry"][0]["resource"]
    assert set(ours_s) == set(theirs_s)
    assert {e["url"] for e in ours_s["extension"]} == {e["url"] for e in theirs_s["extension"]}
    assert isinstance(balance_of(ours_s), str)
