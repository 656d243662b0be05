"""Sandbox state for issue 5: registration, Accounts, the FinancialTransaction ledger, faults.

Imported at the bottom of `models.py` so Django registers these models in the sandbox app.
"""

from decimal import Decimal

from django.db import models


class PaymentConfig(models.Model):
    """What a tenant's Revenue Cycle build accepts: transaction aliases and payment location."""

    tenant_id = models.CharField(max_length=64, unique=True)
    transaction_aliases = models.JSONField(default=list)
    # Adjustment aliases and their direction: "debit" raises the balance (a payment reversed,
    # the money owed again), "credit" lowers it (a write-off). Cerner's docs leave the direction
    # to the client's alias build; an alias not listed here is a payment alias.
    adjustment_aliases = models.JSONField(default=dict)
    payment_location = models.CharField(max_length=40)

    def __str__(self) -> str:
        return f"Payment config {self.tenant_id}"


class Registration(models.Model):
    """An Encounter's registration. Without a row, it registers by delay from its creation."""

    encounter = models.OneToOneField(
        "sandbox.Encounter", on_delete=models.CASCADE, related_name="registration"
    )
    # When the sandbox first saw an Encounter that has no `created_at` (the delay counts from it).
    seen_at = models.DateTimeField()
    registered_at = models.DateTimeField(null=True, blank=True)  # "Register now" (or the seed)

    def __str__(self) -> str:
        return f"Registration of {self.encounter_id}"


class Account(models.Model):
    """A Millennium Account; its FHIR body is built from the columns (the balance changes)."""

    GUARANTOR_BALANCE = "guarantor-balance"
    FINANCIAL_ACCOUNT = "financial-account"
    STATEMENT = "statement"
    TYPES = [(t, t) for t in (GUARANTOR_BALANCE, FINANCIAL_ACCOUNT, STATEMENT)]

    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=64)
    account_type = models.CharField(max_length=30, choices=TYPES)
    patient_fhir_id = models.CharField(max_length=64)
    encounter_fhir_id = models.CharField(max_length=64, blank=True)  # guarantor-balance only
    guarantor = models.CharField(max_length=140, blank=True)  # RelatedPerson id
    part_of = models.CharField(
        max_length=64, blank=True
    )  # financial-account id (guarantor-balance)
    number = models.CharField(max_length=40, blank=True)  # account or statement number
    balance = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default="USD")
    state = models.CharField(max_length=40, blank=True)  # account-state display
    related = models.JSONField(default=list, blank=True)  # statement: guarantor-balance ids
    service_start = models.DateTimeField()
    service_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "fhir_id"], name="sandbox_account_id")
        ]
        indexes = [
            models.Index(fields=["tenant_id", "encounter_fhir_id"]),
            models.Index(fields=["tenant_id", "guarantor"]),
        ]

    def __str__(self) -> str:
        return f"Account {self.fhir_id}"

    @property
    def resource(self) -> dict:
        from smartapp.sandbox.fhir.account import account_resource

        return account_resource(self)


class Posting(models.Model):
    """One accepted `POST /Basic` FinancialTransaction. Duplicates are kept, as in Millennium."""

    tenant_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=20)  # payment | adjustment
    identifier = models.CharField(max_length=250)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    alias = models.CharField(max_length=40)
    method = models.CharField(max_length=20, blank=True)  # v2-0570 code
    target = models.CharField(max_length=140)  # as sent: Encounter/{id} | Account/{id}
    account_fhir_id = models.CharField(max_length=64)  # the guarantor-balance Account it lowered
    client_id = models.CharField(max_length=100)
    request_id = models.CharField(max_length=100)
    body = models.JSONField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant_id", "identifier"])]

    def __str__(self) -> str:
        return f"Posting {self.pk} {self.identifier}"

    @property
    def transaction_id(self) -> str:
        """The id in `Location`: FT-PL-… for payments, FT-AL-… for adjustments."""
        return f"FT-{'AL' if self.kind == 'adjustment' else 'PL'}-{90_000_000 + self.pk}"


class FaultSettings(models.Model):
    """One row once set over HTTP: injected fault rates shared by every server process."""

    rates = models.JSONField(default=dict)
    remaining = models.IntegerField(null=True, blank=True)  # faults left to inject; null = no limit
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Faults {self.rates}"
