"""`POST /Basic` FinancialTransaction: Cerner's rules, the ledger, balances and injected faults."""

import copy
import re
from decimal import Decimal

import pytest
import requests

from smartapp.lib import row_leases
from smartapp.sandbox import faults
from smartapp.sandbox.models import Account
from tests.sandbox.conftest import TENANT, fhir_get, provider_token, system_token
from tests.sandbox.money import (
    EXT,
    balance_of,
    card_body,
    example,
    extension,
    ledger,
    past_account,
    payment_token,
    post_basic,
    retarget,
    set_faults,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(sandbox) -> str:
    return payment_token(sandbox)


@pytest.fixture(autouse=True)
def no_faults(sandbox):
    set_faults(sandbox)
    yield
    set_faults(sandbox)


def _balance(sandbox, token, account_id: str) -> Decimal:
    body = fhir_get(f"{sandbox.provider_base}/Account/{account_id}", token).json()
    return Decimal(balance_of(body))


def test_a_card_payment_is_accepted_and_lowers_the_balance(sandbox, token):
    account = past_account()
    before = _balance(sandbox, token, account.fhir_id)
    response = post_basic(sandbox, token, card_body(f"Account/{account.fhir_id}", 12.5, "PAY1"))
    assert response.status_code == 201, response.text
    assert response.content == b""
    location = response.headers["Location"]
    assert re.fullmatch(rf"{re.escape(sandbox.provider_base)}/Basic/FT-PL-\d+", location)
    assert response.headers["Etag"] == 'W/"0"'
    assert _balance(sandbox, token, account.fhir_id) == before - Decimal("12.50")
    [posting] = ledger(sandbox, identifier="PAY1")
    assert posting["amount"] == "12.50" and posting["target"] == f"Account/{account.fhir_id}"
    assert posting["id"] == location.rsplit("/", 1)[1] and posting["method"] == "CCCA"
    # No read back, as in Millennium.
    read = fhir_get(location, token)
    assert read.status_code in (403, 404, 405)


def test_duplicates_are_posted_twice(sandbox, token):
    account = past_account()
    before = _balance(sandbox, token, account.fhir_id)
    body = card_body(f"Account/{account.fhir_id}", 5, "DUP1")
    assert post_basic(sandbox, token, body).status_code == 201
    assert post_basic(sandbox, token, body).status_code == 201
    assert len(ledger(sandbox, identifier="DUP1")) == 2
    assert _balance(sandbox, token, account.fhir_id) == before - 10


def test_posting_to_the_encounter_applies_to_its_account(sandbox, token):
    account = past_account()
    before = _balance(sandbox, token, account.fhir_id)
    body = card_body(f"Encounter/{account.encounter_fhir_id}", 7, "ENC1")
    assert post_basic(sandbox, token, body).status_code == 201
    assert _balance(sandbox, token, account.fhir_id) == before - 7
    assert ledger(sandbox, identifier="ENC1")[0]["account"] == f"Account/{account.fhir_id}"


def _refused(sandbox, token, body) -> str:
    response = post_basic(sandbox, token, body)
    assert response.status_code == 422, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    return outcome["issue"][0]["details"]["text"]


def _mutated(mutate) -> dict:
    body = card_body(f"Account/{past_account().fhir_id}", 12, "BAD1")
    mutate(body)
    return body


def _set_type(body, code):
    extension(body, "financial-transaction-type")["valueCodeableConcept"]["coding"][0]["code"] = (
        code
    )


def _set_amount(body, value):
    extension(body, "financial-transaction-amount")["valueMoney"]["value"] = value


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: _set_type(b, "refund"),
        lambda b: extension(b, "financial-transaction-alias").update(valueString="9999"),
        lambda b: _set_amount(b, 13.0),
        lambda b: b["identifier"][0].update(value="PAY-1"),
        lambda b: b["identifier"][0].update(value="A" * 251),
        lambda b: b.update(identifier=[]),
        lambda b: b["code"]["coding"][0].update(code="Other"),
        lambda b: b["extension"].remove(extension(b, "financial-transaction-method")),
        lambda b: b["extension"].append({"url": EXT + "unknown", "valueString": "x"}),
        lambda b: extension(b, "financial-transaction-location").update(valueString="1"),
        lambda b: b.update(status="active"),
    ],
    ids=[
        "type",
        "alias",
        "amount",
        "identifier-char",
        "identifier-long",
        "no-identifier",
        "code",
        "no-method",
        "unknown-extension",
        "location",
        "field",
    ],
)
def test_invalid_bodies_are_refused(sandbox, token, mutate):
    before = len(ledger(sandbox))
    _refused(sandbox, token, _mutated(mutate))
    assert len(ledger(sandbox)) == before


def test_targets(sandbox, token):
    account = past_account()
    assert "guarantor-balance" in _refused(
        sandbox, token, card_body(f"Account/{account.part_of}", 12, "T1")
    )
    assert _refused(sandbox, token, card_body("Account/G1", 12, "T2"))
    assert _refused(sandbox, token, card_body("Patient/12724066", 12, "T3"))
    assert _refused(sandbox, token, card_body("Encounter/1", 12, "T4"))


def test_identifier_of_250_is_fine(sandbox, token):
    body = card_body(f"Account/{past_account().fhir_id}", 1, "A" * 250)
    assert post_basic(sandbox, token, body).status_code == 201


def test_personas_and_scopes(sandbox):
    body = card_body(f"Account/{past_account().fhir_id}", 1, "S1")
    provider = provider_token(sandbox, scope="openid fhirUser user/Account.read")
    assert post_basic(sandbox, provider, body).status_code == 403
    only_basic = system_token(sandbox, "system/Basic.write system/Account.read")
    assert post_basic(sandbox, only_basic, body).status_code == 403
    only_ft = system_token(sandbox, "system/FinancialTransaction.write system/Account.read")
    assert post_basic(sandbox, only_ft, body).status_code == 403
    assert ledger(sandbox, identifier="S1") == []


def _with_seeded_ids(name: str, identifier: str) -> dict:
    body = copy.deepcopy(example(name))
    account = past_account()
    target = extension(body, "financial-transaction-allocation")["extension"][0]
    kind = target["valueReference"]["reference"].split("/")[0]
    seeded = (
        f"Account/{account.fhir_id}"
        if kind == "Account"
        else f"Encounter/{account.encounter_fhir_id}"
    )
    return retarget(body, seeded, None, identifier)


@pytest.mark.parametrize("kind", ["card", "cash", "check", "adjustment"])
def test_cerner_examples_are_accepted(sandbox, token, kind):
    body = _with_seeded_ids(f"r4_financialtransaction_create_request_{kind}.json", f"EX{kind}")
    response = post_basic(sandbox, token, body)
    assert response.status_code == 201, response.text
    prefix = "FT-AL-" if kind == "adjustment" else "FT-PL-"
    assert response.headers["Location"].rsplit("/", 1)[1].startswith(prefix)


def test_injected_5xx_and_429_write_nothing(sandbox, token):
    account = past_account()
    set_faults(sandbox, basic_5xx=1.0)
    failed = post_basic(sandbox, token, card_body(f"Account/{account.fhir_id}", 3, "F5XX"))
    assert failed.status_code == 503
    set_faults(sandbox, basic_429=1.0)
    throttled = post_basic(sandbox, token, card_body(f"Account/{account.fhir_id}", 3, "F429"))
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert ledger(sandbox, identifier="F5XX") == [] and ledger(sandbox, identifier="F429") == []
    set_faults(sandbox, basic_5xx=1.0, times=1)
    assert (
        post_basic(sandbox, token, card_body(f"Account/{account.fhir_id}", 3, "F1")).status_code
        == 503
    )
    assert (
        post_basic(sandbox, token, card_body(f"Account/{account.fhir_id}", 3, "F1")).status_code
        == 201
    )


def test_timeout_after_write_keeps_the_posting(sandbox, token, settings):
    settings.SANDBOX_TIMEOUT_SLEEP_SECONDS = 2
    account = past_account()
    before = Account.objects.get(pk=account.pk).balance
    set_faults(sandbox, basic_timeout_after_write=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        post_basic(sandbox, token, card_body(f"Account/{account.fhir_id}", 4, "SLOW1"), timeout=0.5)
    # The client gave up after 0.5 s; a busy server may not have written by then: wait for the
    # write itself, not for a clock.
    assert row_leases.wait_until(lambda: bool(ledger(sandbox, identifier="SLOW1")), seconds=10)
    [posting] = ledger(sandbox, identifier="SLOW1")
    assert posting["amount"] == "4.00"
    set_faults(sandbox)
    assert _balance(sandbox, token, account.fhir_id) == before - 4
    # The slow answer still runs in the live server: let it end before the database is flushed.
    assert row_leases.wait_until(lambda: faults.slow_answers_in_flight() == 0, seconds=10)


def test_account_faults(sandbox, token):
    account = past_account()
    set_faults(sandbox, account_5xx=1.0)
    assert fhir_get(f"{sandbox.provider_base}/Account/{account.fhir_id}", token).status_code == 503
    set_faults(sandbox, account_429=1.0)
    assert fhir_get(f"{sandbox.provider_base}/Account/{account.fhir_id}", token).status_code == 429
    bad = requests.post(f"{sandbox.base}/sandbox/control/faults", json={"nope": 1}, timeout=5)
    assert bad.status_code == 400


def test_fault_rates_are_reported(sandbox):
    described = set_faults(sandbox, basic_5xx=0.2, basic_429=0.1)
    assert described["rates"]["basic_5xx"] == 0.2 and described["rates"]["account_5xx"] == 0.0
    got = requests.get(f"{sandbox.base}/sandbox/control/faults", timeout=5).json()
    assert got == described
    assert TENANT


def test_cerners_adjustment_raises_the_balance_by_its_debit_alias_and_a_credit_alias_lowers_it(
    sandbox, token
):
    from smartapp.sandbox.models import PaymentConfig

    account = past_account()
    before = _balance(sandbox, token, account.fhir_id)
    body = example("r4_financialtransaction_create_request_adjustment.json")
    debit = retarget(copy.deepcopy(body), f"Account/{account.fhir_id}", 2.0, "ADJ1")
    assert post_basic(sandbox, token, debit).status_code == 201
    assert _balance(sandbox, token, account.fhir_id) == before + Decimal("2.00")

    config = PaymentConfig.objects.filter(tenant_id=TENANT)
    config.update(adjustment_aliases={"3100": "credit"})
    credit = retarget(copy.deepcopy(body), f"Account/{account.fhir_id}", 2.0, "ADJ2")
    try:
        assert post_basic(sandbox, token, credit).status_code == 201
    finally:
        config.update(adjustment_aliases={"3100": "debit"})
    assert _balance(sandbox, token, account.fhir_id) == before
    assert [p["kind"] for p in ledger(sandbox, identifier="ADJ1")] == ["adjustment"]


def test_a_payment_alias_on_an_adjustment_and_the_other_way_round_are_refused(sandbox, token):
    account = past_account()
    adjustment = retarget(
        example("r4_financialtransaction_create_request_adjustment.json"),
        f"Account/{account.fhir_id}",
        1.0,
        "ADJ3",
    )
    for ext in adjustment["extension"]:
        if ext["url"].endswith("financial-transaction-alias"):
            ext["valueString"] = "0111"
    payment = card_body(f"Account/{account.fhir_id}", 1.0, "PAY3")
    for ext in payment["extension"]:
        if ext["url"].endswith("financial-transaction-alias"):
            ext["valueString"] = "3100"

    for body, words in (
        (adjustment, "'0111' is not an adjustment alias"),
        (payment, "'3100' is not a payment alias"),
    ):
        refused = post_basic(sandbox, token, body)
        assert refused.status_code == 422 and words in refused.text
    assert ledger(sandbox, identifier="ADJ3") == [] and ledger(sandbox, identifier="PAY3") == []
