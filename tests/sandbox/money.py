"""Helpers for the sandbox's Account, FinancialTransaction and processor tests (issue 5)."""

import copy
import json
from typing import Any

import requests

from smartapp.sandbox.models import Account, Encounter
from tests.examples import cerner_example
from tests.sandbox.conftest import FHIR_JSON, TENANT, Sandbox, system_token

EXT = "https://fhir-ehr.cerner.com/r4/StructureDefinition/"
PAYMENT_SCOPES = (
    "system/Account.read system/Encounter.read system/Basic.write system/FinancialTransaction.write"
)


def payment_token(sb: Sandbox, scope: str = PAYMENT_SCOPES) -> str:
    return system_token(sb, scope)


def example(name: str) -> dict[str, Any]:
    return cerner_example(name)


def card_body(target: str, amount: float = 12.0, identifier: str = "74389581") -> dict[str, Any]:
    """Cerner's card example, allocated to `target` for `amount`."""
    body = copy.deepcopy(example("r4_financialtransaction_create_request_card.json"))
    return retarget(body, target, amount, identifier)


def retarget(body: dict[str, Any], target: str, amount: float | None, identifier: str | None):
    for extension in body["extension"]:
        name = extension["url"].removeprefix(EXT)
        if name == "financial-transaction-allocation":
            for part in extension["extension"]:
                if part["url"] == "target":
                    part["valueReference"]["reference"] = target
                elif amount is not None:
                    part["valueMoney"]["value"] = amount
        elif name in ("financial-transaction-amount", "financial-transaction-tendered-amount"):
            if amount is not None:
                extension["valueMoney"]["value"] = amount
    if identifier is not None:
        body["identifier"][0]["value"] = identifier
    return body


def extension(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in body["extension"] if e["url"] == EXT + name)


def post_basic(sb: Sandbox, token: str, body: Any, timeout: float = 30) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON}
    return requests.post(
        f"{sb.provider_base}/Basic", data=json.dumps(body), headers=headers, timeout=timeout
    )


def balance_of(resource: dict[str, Any]) -> str:
    return extension(resource, "account-balance")["valueMoney"]["value"]


def past_account() -> Account:
    """A seeded past visit's guarantor-balance Account with something owed."""
    return Account.objects.filter(
        tenant_id=TENANT, account_type="guarantor-balance", balance__gt=50
    ).order_by("fhir_id")[0]


def upcoming_encounter() -> Encounter:
    """A seeded planned visit (not registered within the default delay)."""
    return (
        Encounter.objects.filter(tenant_id=TENANT, status="planned")
        .select_related("patient")
        .order_by("fhir_id")[0]
    )


def set_faults(sb: Sandbox, **rates: Any) -> dict[str, Any]:
    response = requests.post(f"{sb.base}/sandbox/control/faults", json=rates, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def ledger(sb: Sandbox, **params: str) -> list[dict[str, Any]]:
    response = requests.get(f"{sb.base}/sandbox/control/ledger", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()
