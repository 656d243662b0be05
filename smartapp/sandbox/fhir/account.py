"""Account read and search in Cerner's four combinations (FACTS §2.8); provider and system only.

Bodies follow examples/r4_account_*: `account-balance` is a Money whose value is a STRING.
Guarantor-balance Accounts appear only once their Encounter is registered (registration.py).
"""

from html import escape
from typing import Any

from django.db.models import QuerySet

from smartapp.sandbox import registration
from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import (
    Access,
    InsufficientScope,
    ResourceHandler,
    SearchParams,
    register,
)
from smartapp.sandbox.models import Account, Encounter
from smartapp.sandbox.scheduling import _human, instant

EXT = "https://fhir-ehr.cerner.com/r4/StructureDefinition"
ORGANIZATION = "3304067"
ALLOWED = {"_id", "-encounter", "type", "patient", "identifier", "-guarantor"}
# The only combinations Millennium accepts (besides _count and paging).
COMBINATIONS = {
    frozenset({"_id"}): None,
    frozenset({"-encounter", "type"}): Account.GUARANTOR_BALANCE,
    frozenset({"patient", "identifier", "type"}): Account.STATEMENT,
    frozenset({"-guarantor", "type"}): Account.FINANCIAL_ACCOUNT,
}
STATES = {
    Account.GUARANTOR_BALANCE: ("24451", "629234", "Ready to bill"),
    Account.STATEMENT: ("4002640", "20752989", "Pending"),
}


def _system(tenant: str, name: str) -> str:
    return f"https://fhir.cerner.com/{tenant}/{name}"


def _money(value: Any, currency: str) -> dict[str, Any]:
    return {"value": f"{value:.2f}", "currency": currency}


def _state(row: Account) -> dict[str, Any]:
    code_set, code, display = STATES[row.account_type]
    coding = {
        "system": _system(row.tenant_id, f"codeSet/{code_set}"),
        "code": code,
        "display": row.state or display,
        "userSelected": True,
    }
    return {
        "url": f"{EXT}/account-state",
        "valueCodeableConcept": {"coding": [coding], "text": row.state or display},
    }


def _text(row: Account, extra: list[tuple[str, str]]) -> dict[str, str]:
    rows = [("Account Type", row.account_type)]
    rows.append(("Service Period Start Date", _human(row.service_start)))
    if row.service_end:
        rows.append(("Service Period End Date", _human(row.service_end)))
    cells = "".join(f"<p><b>{escape(k)}</b>: {escape(v)}</p>" for k, v in rows + extra)
    return {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>Account</b></p>{cells}</div>',
    }


def _period(row: Account) -> dict[str, str]:
    period = {"start": instant(row.service_start)}
    if row.service_end:
        period["end"] = instant(row.service_end)
    return period


def _guarantor_balance(row: Account) -> dict[str, Any]:
    return {
        "resourceType": "Account",
        "id": row.fhir_id,
        "text": _text(row, []),
        "extension": [
            {"url": f"{EXT}/account-balance", "valueMoney": _money(row.balance, row.currency)},
            {
                "url": f"{EXT}/associated-encounter",
                "valueReference": {"reference": f"Encounter/{row.encounter_fhir_id}"},
            },
            _state(row),
        ],
        "status": "active",
        "type": {"text": Account.GUARANTOR_BALANCE},
        "servicePeriod": _period(row),
        "partOf": {"reference": f"Account/{row.part_of}"},
    }


def _financial_account(row: Account) -> dict[str, Any]:
    extra = [("Account Number", row.number), ("Guarantor", row.guarantor)]
    return {
        "resourceType": "Account",
        "id": row.fhir_id,
        "text": _text(row, extra),
        "identifier": [
            {
                "use": "usual",
                "system": _system(row.tenant_id, "account-number"),
                "value": row.number,
            }
        ],
        "status": "active",
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "ACCTRECEIVABLE",
                    "display": "account receivable",
                }
            ],
            "text": Account.FINANCIAL_ACCOUNT,
        },
        "subject": [{"reference": f"Patient/{row.patient_fhir_id}"}],
        "servicePeriod": _period(row),
        "owner": {"reference": f"Organization/{ORGANIZATION}"},
        "guarantor": [
            {
                "party": {"reference": f"RelatedPerson/{row.guarantor}"},
                "period": {"start": instant(row.service_start)},
            }
        ],
    }


def _statement(row: Account) -> dict[str, Any]:
    parts = Account.objects.filter(tenant_id=row.tenant_id, fhir_id__in=row.related)
    balance = sum((part.balance for part in parts), start=row.balance)
    extra = [("Statement Number", row.number), ("Guarantor", row.guarantor)]
    extensions = [
        {"url": f"{EXT}/account-balance", "valueMoney": _money(balance, row.currency)},
        _state(row),
    ]
    for related in row.related:
        extensions.append(
            {
                "url": f"{EXT}/account-related-parts",
                "valueReference": {"reference": f"Account/{related}"},
            }
        )
    return {
        "resourceType": "Account",
        "id": row.fhir_id,
        "text": _text(row, extra),
        "extension": extensions,
        "identifier": [
            {
                "use": "usual",
                "system": _system(row.tenant_id, "statement-number"),
                "value": row.number,
            }
        ],
        "status": "active",
        "type": {"text": Account.STATEMENT},
        "subject": [{"reference": f"Patient/{row.patient_fhir_id}"}],
        "servicePeriod": _period(row),
        "owner": {"reference": f"Organization/{ORGANIZATION}"},
        "guarantor": [{"party": {"reference": f"RelatedPerson/{row.guarantor}"}}],
    }


def account_resource(row: Account) -> dict[str, Any]:
    builders = {
        Account.GUARANTOR_BALANCE: _guarantor_balance,
        Account.FINANCIAL_ACCOUNT: _financial_account,
        Account.STATEMENT: _statement,
    }
    return builders[row.account_type](row)


def _encounter(tenant: str, fhir_id: str) -> Encounter | None:
    return (
        Encounter.objects.select_related("patient")
        .filter(tenant_id=tenant, fhir_id=fhir_id)
        .first()
    )


def materialise_ids(tenant: str, ids: list[str]) -> None:
    """Ids of Accounts that registration has not created yet, but would on this lookup."""
    known = set(
        Account.objects.filter(tenant_id=tenant, fhir_id__in=ids).values_list("fhir_id", flat=True)
    )
    for fhir_id in set(ids) - known:
        if fhir_id.startswith("G"):
            encounter = _encounter(tenant, fhir_id[1:])
        else:
            encounter = (
                Encounter.objects.select_related("patient")
                .filter(tenant_id=tenant, account_fhir_id=fhir_id)
                .first()
            )
        if encounter is not None:
            registration.account_for(encounter)


def _combination(params: SearchParams) -> str | None:
    p.check_names(params, ALLOWED)
    p.require_one(params, ALLOWED - {"type"})
    names = frozenset(name for name in params if name in ALLOWED)
    if names not in COMBINATIONS:
        raise p.bad_request(
            "Account search needs exactly one of: _id; -encounter with type=guarantor-balance; "
            "patient, identifier and type=statement; -guarantor with type=financial-account"
        )
    wanted = COMBINATIONS[names]
    if wanted is not None and params["type"] != wanted:
        raise p.bad_request(f"This combination needs type={wanted}")
    return wanted


def _statement_number(tenant: str, value: str) -> str:
    system, bar, number = value.rpartition("|")
    if not bar or system != _system(tenant, "statement-number") or not number:
        raise p.bad_request(
            f"identifier must be {_system(tenant, 'statement-number')}|{{statement number}}"
        )
    return number


@register
class AccountHandler(ResourceHandler):
    type_name = "Account"
    default_count = 10

    @staticmethod
    def _check(access: Access) -> None:
        if access.persona == "patient":  # Millennium: provider and system personas only
            raise InsufficientScope

    def read(self, *, tenant: str, fhir_id: str, access: Access) -> dict[str, Any] | None:
        self._check(access)
        materialise_ids(tenant, [fhir_id])
        row = Account.objects.filter(tenant_id=tenant, fhir_id=fhir_id).first()
        return row.resource if row else None

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        self._check(access)
        wanted = _combination(params)
        rows = Account.objects.filter(tenant_id=tenant)
        if wanted is None:
            ids = p.id_list(params["_id"])
            materialise_ids(tenant, ids)
            rows = rows.filter(fhir_id__in=ids)
        elif wanted == Account.GUARANTOR_BALANCE:
            encounter = _encounter(tenant, params["-encounter"].removeprefix("Encounter/"))
            if encounter is not None:
                registration.account_for(encounter)
            rows = rows.filter(
                account_type=wanted, encounter_fhir_id=encounter.fhir_id if encounter else "-"
            )
        elif wanted == Account.STATEMENT:
            number = _statement_number(tenant, params["identifier"])
            patient = params["patient"].removeprefix("Patient/")
            rows = rows.filter(account_type=wanted, patient_fhir_id=patient, number=number)
        else:
            guarantor = params["-guarantor"].removeprefix("RelatedPerson/")
            patient_id = guarantor.rpartition("-")[2]
            if patient_id:
                registration.sync_patient(tenant, patient_id)
            rows = rows.filter(account_type=wanted, guarantor=guarantor)
        return rows.order_by("fhir_id")
