"""The tenant file's "payments" and "processor" keys → PaymentSettings (registered in apps.ready)."""

from decimal import Decimal
from pathlib import Path
from typing import Any

from smartapp.payments.models import PaymentSettings
from smartapp.payments.money import BadAmount, to_money
from smartapp.tenants.models import Tenant
from smartapp.tenants.services import TenantFileError

PAYMENT_ALIASES = {"card": "card_alias", "cash": "cash_alias", "check": "check_alias"}
ALIASES = {**PAYMENT_ALIASES, "refund": "refund_alias"}  # refund: the reversing adjustment
SECONDS = ("backoff_cap_seconds", "escalate_after_seconds")


def _amount(section: dict[str, Any], key: str) -> Decimal:
    try:
        amount = to_money(section[key])
    except BadAmount:
        raise TenantFileError(f'"payments.{key}" must be an amount like "10000.00"') from None
    if amount <= 0:
        raise TenantFileError(f'"payments.{key}" must be more than zero')
    return amount


def _payments_fields(section: Any) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise TenantFileError('"payments" must be an object')
    fields: dict[str, Any] = {}
    aliases = section.get("aliases") or {}
    if not isinstance(aliases, dict):
        raise TenantFileError('"payments.aliases" must map card/cash/check/refund to an alias')
    for method, alias in aliases.items():
        if method not in ALIASES or not str(alias).strip():
            raise TenantFileError(f"unknown payment method or empty alias {method!r}")
        fields[ALIASES[method]] = str(alias).strip()[:40]
    listed = section.get("transaction_aliases")  # the sandbox's form: one list, first is used
    if listed is not None:
        if not isinstance(listed, list) or not listed or not str(listed[0]).strip():
            raise TenantFileError('"payments.transaction_aliases" must be a non-empty list')
        for name in PAYMENT_ALIASES.values():
            fields.setdefault(name, str(listed[0]).strip()[:40])
    for key in ("location", "payment_location"):
        if key in section:
            fields["location"] = str(section[key]).strip()[:40]
    for key in ("min_amount", "max_amount"):
        if key in section:
            fields[key] = _amount(section, key)
    for key in SECONDS:
        if key in section:
            if not isinstance(section[key], int) or section[key] < 1:
                raise TenantFileError(f'"payments.{key}" must be a whole number of seconds')
            fields[key] = section[key]
    if "enabled" in section:
        fields["enabled"] = bool(section["enabled"])
    if "receipt_from" in section:
        sender = str(section["receipt_from"]).strip()
        if sender and ("@" not in sender or len(sender) > 254):
            raise TenantFileError('"payments.receipt_from" must be an email address')
        fields["receipt_from"] = sender
    return fields


def _secret(section: dict[str, Any], key: str) -> str:
    """A secret given inline (`key`) or in a file (`key_file`, e.g. a mounted secret)."""
    if section.get(f"{key}_file"):
        try:
            return Path(str(section[f"{key}_file"])).read_text().strip()
        except OSError:
            raise TenantFileError(f'"processor.{key}_file" cannot be read') from None
    return str(section.get(key) or "").strip()


def _stripe_fields(section: dict[str, Any]) -> dict[str, Any]:
    secret, hook = _secret(section, "secret_key"), _secret(section, "webhook_secret")
    publishable = str(section.get("publishable_key") or "").strip()
    if not secret.startswith(("sk_", "rk_")) or not publishable.startswith("pk_"):
        raise TenantFileError(
            '"processor" of kind "stripe" needs "secret_key" (or "secret_key_file", sk_…) and '
            '"publishable_key" (pk_…)'
        )
    if not hook.startswith("whsec_"):
        raise TenantFileError(
            '"processor" of kind "stripe" needs "webhook_secret(_file)" (whsec_…)'
        )
    return {
        "processor_kind": "stripe",
        "processor_base_url": str(section.get("api_base") or "").rstrip("/"),
        "processor_api_key": secret,
        "processor_publishable_key": publishable[:200],
        "processor_webhook_secret": hook,
    }


def _processor_fields(section: Any) -> dict[str, Any]:
    if isinstance(section, dict) and section.get("kind") == "stripe":
        return _stripe_fields(section)
    if not isinstance(section, dict) or not section.get("base_url") or not section.get("api_key"):
        raise TenantFileError('"processor" needs "base_url" and "api_key" (or "kind": "stripe")')
    return {
        "processor_kind": "sandbox",
        "processor_base_url": str(section["base_url"]).rstrip("/"),
        "processor_api_key": str(section["api_key"]),
    }


def payment_settings_register(*, tenant: Tenant, entry: dict[str, Any]) -> None:
    """Creates or updates the tenant's payment settings from its tenant-file entry."""
    fields = _payments_fields(entry["payments"]) if "payments" in entry else {}
    if "processor" in entry:
        fields.update(_processor_fields(entry["processor"]))
    row, _ = PaymentSettings.objects.get_or_create(tenant=tenant)
    for name, value in fields.items():
        setattr(row, name, value)
    if row.min_amount > row.max_amount:
        raise TenantFileError('"payments.min_amount" is more than "max_amount"')
    row.save()
