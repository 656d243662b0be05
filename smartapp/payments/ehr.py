"""Millennium shapes for payments: the guarantor-balance Account and the FinancialTransaction body."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fhirclient.models.resource import Resource

from smartapp.fhir.gateway import FhirGateway
from smartapp.payments.models import Method, Payment, PaymentSettings
from smartapp.payments.money import BadAmount, to_money

EXT = "https://fhir-ehr.cerner.com/r4/StructureDefinition/"
BALANCE = EXT + "account-balance"
RESPONSIBILITY = EXT + "estimated-financial-responsibility-amount"
V2_0570 = "http://terminology.hl7.org/CodeSystem/v2-0570"
METHODS = {
    Method.CARD: ("CCCA", "Credit Card"),
    Method.CASH: ("CASH", "Cash"),
    Method.CHECK: ("CHCK", "Check"),  # v2-0570 CHCK = check (CCHK is a cashier's check)
}
CARD_BRANDS = {"visa": "VISA", "mastercard": "MASTER", "master": "MASTER", "amex": "AMEX"}


@dataclass(frozen=True)
class AccountBalance:
    account_id: str
    balance: Decimal | None  # None: the Account carries no readable balance


def money_extension(resource: Resource | None, url: str) -> Decimal | None:
    for extension in getattr(resource, "extension", None) or []:
        if extension.url == url and extension.valueMoney is not None:
            try:
                return to_money(extension.valueMoney.value)
            except BadAmount:
                return None
    return None


def guarantor_account(*, gateway: FhirGateway, encounter_id: str) -> AccountBalance | None:
    """The visit's guarantor-balance Account, or None while the visit is not registered."""
    found = gateway.search(
        "Account", {"-encounter": encounter_id, "type": "guarantor-balance"}
    ).resources
    for account in found:
        if (getattr(account.type, "text", "") or "") in ("guarantor-balance", ""):
            return AccountBalance(str(account.id), money_extension(account, BALANCE))
    return None


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": EXT + name, **value}


def _money(amount: Decimal) -> dict[str, Any]:
    return {"value": float(amount), "currency": "USD"}


def _method_extensions(payment: Payment) -> list[dict[str, Any]]:
    code, display = METHODS[Method(payment.method)]
    concept = {"coding": [{"code": code, "display": display, "system": V2_0570}], "text": display}
    found = [_ext("financial-transaction-method", valueCodeableConcept=concept)]
    if payment.method == Method.CASH:
        tendered = max(payment.tendered or payment.amount, payment.amount)
        found.append(_ext("financial-transaction-tendered-amount", valueMoney=_money(tendered)))
    if payment.method == Method.CARD:
        if payment.card_expiry:
            found.append(_ext("financial-transaction-date", valueDate=payment.card_expiry))
        if payment.card_last4:
            found.append(
                _ext("financial-transaction-account-number", valueString=payment.card_last4)
            )
        if payment.card_brand:
            brand = CARD_BRANDS.get(payment.card_brand.lower(), payment.card_brand.upper())
            found.append(_ext("financial-transaction-card-brand", valueString=brand))
    if payment.method == Method.CHECK and payment.check_number:
        found.append(_ext("financial-transaction-account-number", valueString=payment.check_number))
    return found


def _type(code: str) -> dict[str, Any]:
    concept = {
        "coding": [{"code": code, "system": "http://terminology.hl7.org/CodeSystem/payment-type"}]
    }
    return _ext("financial-transaction-type", valueCodeableConcept=concept)


def _allocation(account_id: str, amount: Decimal) -> dict[str, Any]:
    return _ext(
        "financial-transaction-allocation",
        extension=[
            {"url": "target", "valueReference": {"reference": f"Account/{account_id}"}},
            {"url": "amount", "valueMoney": _money(amount)},
        ],
    )


def _body(identifier: str, extensions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Basic",
        "code": {"coding": [{"code": "FinancialTransaction"}]},
        "identifier": [{"value": identifier, "use": "usual"}],
        "extension": extensions,
    }


def financial_transaction(
    *, payment: Payment, account_id: str, settings: PaymentSettings
) -> dict[str, Any]:
    """The POST /Basic body (as r4_financialtransaction_create_request_*.json): a payment, or for
    a refund the reversing adjustment (as r4_financialtransaction_create_request_adjustment.json:
    type, allocation, the refund alias and amount; no method)."""
    if payment.is_reversal:
        return _body(
            payment.posting_id,
            [
                _type("adjustment"),
                _allocation(account_id, payment.amount),
                _ext("financial-transaction-alias", valueString=settings.refund_alias),
                _ext("financial-transaction-amount", valueMoney=_money(payment.amount)),
            ],
        )
    extensions = [
        _type("payment"),
        *_method_extensions(payment),
        _ext("financial-transaction-amount", valueMoney=_money(payment.amount)),
        _allocation(account_id, payment.amount),
        _ext("financial-transaction-alias", valueString=settings.alias_for(payment.method)),
    ]
    if settings.location:
        extensions.append(_ext("financial-transaction-location", valueString=settings.location))
    return _body(payment.posting_id, extensions)
