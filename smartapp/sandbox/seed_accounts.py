"""Seeded money (issue 5): each tenant's payment config and processor merchant, Accounts for past
visits (registered long ago, balance billed) and a statement per patient who has any.

Upcoming (planned) and today's visits are left to registration.py: they register
`SANDBOX_REGISTRATION_DELAY_SECONDS` after the seed, or at once with "Register now".
"""

import secrets
from datetime import timedelta
from decimal import Decimal
from typing import Any

from smartapp.sandbox import links, registration
from smartapp.sandbox.models import (
    Account,
    Encounter,
    FaultSettings,
    Merchant,
    PaymentConfig,
    Posting,
)

TRANSACTION_ALIASES = ["0111", "3100"]  # payment, adjustment (Cerner's examples)
PAYMENT_ALIAS = "0111"
REFUND_ALIAS = "3100"
ADJUSTMENT_ALIASES = {REFUND_ALIAS: "debit"}  # the refund's reversal: owed again
PAYMENT_LOCATION = "98920358"
MERCHANT_NAME = "Millennium Sandbox Hospital"


def _past_balance(encounter: Encounter) -> Decimal:
    """The estimate when the visit has one (0.00 = nothing owed), else a seeded charge."""
    for extension in encounter.resource.get("extension", []):
        if extension.get("url") == registration.EFR_URL:
            return Decimal(str(extension["valueMoney"]["value"])).quantize(Decimal("0.01"))
    return registration.charges(encounter)


def _tenant(tenant: str, statement_base: int) -> None:
    PaymentConfig.objects.create(
        tenant_id=tenant,
        transaction_aliases=TRANSACTION_ALIASES,
        adjustment_aliases=ADJUSTMENT_ALIASES,
        payment_location=PAYMENT_LOCATION,
    )
    Merchant.objects.create(
        tenant_id=tenant, name=MERCHANT_NAME, api_key=f"sk_test_{secrets.token_urlsafe(24)}"
    )
    finished = (
        Encounter.objects.filter(tenant_id=tenant, status="finished")
        .select_related("patient")
        .order_by("patient__fhir_id", "start", "fhir_id")
    )
    by_patient: dict[str, list[Account]] = {}
    for encounter in finished:
        began = encounter.start or encounter.created_at
        assert began is not None  # a finished visit has begun
        registered_at = began - timedelta(minutes=10)
        account = registration.seed_registered(encounter, registered_at, _past_balance(encounter))
        by_patient.setdefault(encounter.patient.fhir_id, []).append(account)
    for n, (patient_id, accounts) in enumerate(sorted(by_patient.items())):
        Account.objects.create(
            tenant_id=tenant,
            fhir_id=f"S{patient_id}",
            account_type=Account.STATEMENT,
            patient_fhir_id=patient_id,
            guarantor=registration.guarantor_of(patient_id),
            number=str(statement_base + n),
            balance=Decimal("0.00"),  # the statement shows the sum of its parts
            state="Pending",
            related=[a.fhir_id for a in accounts],
            service_start=min(a.service_start for a in accounts),
        )


def seed_accounts() -> None:
    """Wipes issue 5's tables and seeds both tenants (after encounters exist)."""
    for model in (Posting, Account, PaymentConfig, Merchant, FaultSettings):
        model.objects.all().delete()
    _tenant(links.TENANT, 68_000)
    _tenant(links.SECOND_TENANT, 78_000)


def tenant_keys(base_url: str) -> dict[str, Any]:
    """Tenant-file keys for the app: payment settings and the card processor."""
    merchant = Merchant.objects.get(tenant_id=links.TENANT)
    return {
        "payments": {
            "transaction_aliases": [PAYMENT_ALIAS],
            "aliases": {"refund": REFUND_ALIAS},
            "payment_location": PAYMENT_LOCATION,
        },
        "processor": {
            "base_url": f"{base_url.rstrip('/')}/sandbox/processor",
            "api_key": merchant.api_key,
        },
    }
