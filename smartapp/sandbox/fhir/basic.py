"""`POST /Basic` FinancialTransaction (FACTS §2.9): system persona, Basic and FinancialTransaction
write scopes, Cerner's body rules, a ledger row per accepted posting and the balance it moves (a
payment lowers it; an adjustment as its alias is built: a debit raises it, a credit lowers it).

Create only: Millennium cannot read a FinancialTransaction back and does not de-duplicate.
"""

import re
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F

from smartapp.sandbox import registration
from smartapp.sandbox.fhir.account import materialise_ids
from smartapp.sandbox.fhir.registry import (
    Access,
    InsufficientScope,
    OutcomeError,
    ResourceHandler,
    register,
)
from smartapp.sandbox.models import Account, Encounter, PaymentConfig, Posting
from smartapp.sandbox.oauth import scopes as scope_rules

EXT = "https://fhir-ehr.cerner.com/r4/StructureDefinition/"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/payment-type"
METHOD_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0570"
# HL7 v2 table 0570 (payment method), plus CCHK as Cerner's check example spells it.
METHODS = {"CASH", "CCCA", "CCHK", "CDAC", "CHCK", "DDPO", "DEBC", "SWFT", "TRAC", "VISN"}
BRANDS = {"VISA", "MASTER", "AMEX", "DISCOVER"}
KNOWN = {
    "financial-transaction-type",
    "financial-transaction-alias",
    "financial-transaction-amount",
    "financial-transaction-allocation",
    "financial-transaction-method",
    "financial-transaction-tendered-amount",
    "financial-transaction-card-brand",
    "financial-transaction-account-number",
    "financial-transaction-date",
    "financial-transaction-location",
    "apply-first-in-first-out",
}
FIELDS = {"resourceType", "code", "identifier", "extension"}
IDENTIFIER = re.compile(r"^[A-Za-z0-9]{1,250}$")
DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
# The caller's opc-request-id for the ledger; set by the view wrapper (faults.py).
REQUEST_ID: ContextVar[str] = ContextVar("sandbox_request_id", default="")


def refuse(text: str, code: str = "business-rule") -> OutcomeError:
    return OutcomeError(422, code, text)


@dataclass
class Transaction:
    kind: str
    identifier: str
    amount: Decimal
    currency: str
    alias: str
    method: str
    target: str


def _extensions(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    extensions = body.get("extension")
    if not isinstance(extensions, list):
        raise refuse("extension is required")
    for extension in extensions:
        url = extension.get("url", "") if isinstance(extension, dict) else ""
        name = url.removeprefix(EXT)
        if not url.startswith(EXT) or name not in KNOWN:
            raise refuse(f"Unsupported extension: {url or '(no url)'}")
        if name in found:
            raise refuse(f"{name} may be given only once")
        found[name] = extension
    return found


def _money(extension: dict[str, Any] | None, name: str) -> tuple[Decimal, str]:
    money = extension.get("valueMoney") if extension else None
    if not isinstance(money, dict):
        raise refuse(f"{name} needs a valueMoney")
    value = money.get("value")
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidOperation
        amount = Decimal(str(value))
    except InvalidOperation:
        raise refuse(f"{name} value must be a number") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise refuse(f"{name} must be positive with at most two decimals")
    if money.get("currency") != "USD":
        raise refuse(f"{name} currency must be USD")
    return amount.quantize(Decimal("0.01")), "USD"


def _coding(extension: dict[str, Any] | None, name: str, system: str) -> str:
    concept = extension.get("valueCodeableConcept") if extension else None
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list) or not codings or not isinstance(codings[0], dict):
        raise refuse(f"{name} is required")
    if codings[0].get("system") != system:
        raise refuse(f"{name} system must be {system}")
    return str(codings[0].get("code", ""))


def _string(extension: dict[str, Any] | None, name: str, key: str = "valueString") -> str | None:
    if extension is None:
        return None
    value = extension.get(key)
    if not isinstance(value, str) or not value:
        raise refuse(f"{name} needs a {key}")
    return value


def _allocation(extension: dict[str, Any] | None) -> tuple[str, Decimal]:
    if extension is None:
        raise refuse("financial-transaction-allocation is required")
    parts = {p.get("url"): p for p in extension.get("extension", []) if isinstance(p, dict)}
    target = parts.get("target", {}).get("valueReference", {})
    reference = target.get("reference") if isinstance(target, dict) else None
    if not isinstance(reference, str) or not re.match(r"^(Encounter|Account)/[^/]+$", reference):
        raise refuse("The allocation target must reference an Encounter or an Account")
    amount, _ = _money(parts.get("amount"), "The allocation amount")
    return reference, amount


def _identifier(body: dict[str, Any]) -> str:
    identifiers = body.get("identifier")
    if not isinstance(identifiers, list) or not identifiers or not isinstance(identifiers[0], dict):
        raise refuse("identifier is required")
    value = identifiers[0].get("value")
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise refuse("identifier value must be alphanumeric, at most 250 characters")
    return value


def _optional(found: dict[str, dict[str, Any]], amount: Decimal, method: str) -> None:
    brand = _string(found.get("financial-transaction-card-brand"), "card-brand")
    if brand is not None and brand.upper() not in BRANDS:
        raise refuse("financial-transaction-card-brand must be VISA, MASTER, AMEX or DISCOVER")
    number = _string(found.get("financial-transaction-account-number"), "account-number")
    if number is not None and not number.isdigit():
        raise refuse("financial-transaction-account-number must be numeric")
    day = _string(found.get("financial-transaction-date"), "date", "valueDate")
    if day is not None and not DATE.match(day):
        raise refuse("financial-transaction-date must be YYYY-MM or YYYY-MM-DD")
    tendered = found.get("financial-transaction-tendered-amount")
    if tendered is not None and _money(tendered, "tendered amount")[0] < amount:
        raise refuse("The tendered amount must be at least the amount")
    fifo = found.get("apply-first-in-first-out")
    if fifo is not None and not isinstance(fifo.get("valueBoolean"), bool):
        raise refuse("apply-first-in-first-out needs a valueBoolean")
    if method == "CASH" and (brand or number):
        raise refuse("Card or check details do not belong to a cash payment")


def parse(body: Any, config: PaymentConfig | None) -> Transaction:
    """The FinancialTransaction in `body`, or 422 naming the first problem."""
    if not isinstance(body, dict) or body.get("resourceType") != "Basic":
        raise refuse("The body must be a Basic resource")
    if "implicitRules" in body:
        raise refuse("implicitRules is not supported", "not-supported")
    if "modifierExtension" in body:
        raise refuse("modifierExtension is not supported", "extension")
    unsupported = sorted(set(body) - FIELDS)
    if unsupported:
        raise refuse(f"Unsupported fields: {', '.join(unsupported)}")
    codings = body.get("code", {}).get("coding") if isinstance(body.get("code"), dict) else None
    if not codings or not isinstance(codings[0], dict):
        raise refuse("code.coding FinancialTransaction is required")
    if codings[0].get("code") != "FinancialTransaction":
        raise refuse("code must be FinancialTransaction")
    identifier = _identifier(body)
    found = _extensions(body)
    kind = _coding(
        found.get("financial-transaction-type"), "financial-transaction-type", PAYMENT_TYPE
    )
    if kind not in ("payment", "adjustment"):
        raise refuse("financial-transaction-type must be payment or adjustment")
    alias = _string(found.get("financial-transaction-alias"), "financial-transaction-alias")
    if alias is None:
        raise refuse("financial-transaction-alias is required")
    if config is None or alias not in config.transaction_aliases:
        raise refuse(f"financial-transaction-alias '{alias}' is not configured for this client")
    if (kind == "adjustment") != (alias in config.adjustment_aliases):
        wanted = "an adjustment" if kind == "adjustment" else "a payment"
        raise refuse(f"financial-transaction-alias '{alias}' is not {wanted} alias")
    amount, currency = _money(
        found.get("financial-transaction-amount"), "financial-transaction-amount"
    )
    target, allocated = _allocation(found.get("financial-transaction-allocation"))
    if allocated != amount:
        raise refuse("financial-transaction-amount must equal the allocation amount")
    method = ""
    if kind == "payment" or "financial-transaction-method" in found:
        method = _coding(
            found.get("financial-transaction-method"), "financial-transaction-method", METHOD_SYSTEM
        )
        if method not in METHODS:
            raise refuse(f"Unknown financial-transaction-method '{method}'")
    location = _string(found.get("financial-transaction-location"), "location")
    if location is not None and (config is None or location != config.payment_location):
        raise refuse(f"financial-transaction-location '{location}' is not configured")
    _optional(found, amount, method)
    return Transaction(kind, identifier, amount, currency, alias, method, target)


def balance_change(parsed: Transaction, config: PaymentConfig | None) -> Decimal:
    """A payment lowers the balance; an adjustment moves it as its alias is built to."""
    direction = (config.adjustment_aliases if config else {}).get(parsed.alias, "credit")
    if parsed.kind == "adjustment" and direction == "debit":
        return parsed.amount
    return -parsed.amount


def target_account(tenant: str, target: str) -> Account:
    """The guarantor-balance Account the allocation lowers, or 422."""
    kind, _, fhir_id = target.partition("/")
    if kind == "Account":
        materialise_ids(tenant, [fhir_id])
        account = Account.objects.filter(tenant_id=tenant, fhir_id=fhir_id).first()
        if account is None:
            raise refuse(f"Account/{fhir_id} does not exist")
        if account.account_type != Account.GUARANTOR_BALANCE:
            raise refuse("The allocation target must be a guarantor-balance Account")
        return account
    encounter = (
        Encounter.objects.select_related("patient")
        .filter(tenant_id=tenant, fhir_id=fhir_id)
        .first()
    )
    if encounter is None:
        raise refuse(f"Encounter/{fhir_id} does not exist")
    account = registration.account_for(encounter)
    if account is None:
        raise refuse(f"Encounter/{fhir_id} has no guarantor balance (not registered yet)")
    return account


@register
class BasicHandler(ResourceHandler):
    type_name = "Basic"
    include_total = False
    write_personas = frozenset({"system"})

    def create(self, *, tenant: str, body: Any, access: Access) -> tuple[str, int]:
        granted = scope_rules.granting_prefix(
            access.scopes, access.persona, "FinancialTransaction", "create"
        )
        if access.persona != "system" or granted != "system":
            raise InsufficientScope
        config = PaymentConfig.objects.filter(tenant_id=tenant).first()
        parsed = parse(body, config)
        account = target_account(tenant, parsed.target)
        with transaction.atomic():
            posting = Posting.objects.create(
                tenant_id=tenant,
                kind=parsed.kind,
                identifier=parsed.identifier,
                amount=parsed.amount,
                currency=parsed.currency,
                alias=parsed.alias,
                method=parsed.method,
                target=parsed.target,
                account_fhir_id=account.fhir_id,
                client_id=access.client_id,
                request_id=REQUEST_ID.get(),
                body=body,
            )
            change = balance_change(parsed, config)
            Account.objects.filter(pk=account.pk).update(balance=F("balance") + change)
        return posting.transaction_id, 0
