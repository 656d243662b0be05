"""Card processor state: merchants (API keys), checkout sessions, charges and refunds.

Imported at the bottom of `smartapp/sandbox/models.py` so Django registers them in the sandbox app.
"""

from decimal import Decimal

from django.db import models


class Merchant(models.Model):
    """One API key per tenant; every session and charge belongs to one merchant."""

    tenant_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    api_key = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class CheckoutSession(models.Model):
    STATUSES = [(s, s) for s in ("open", "captured", "declined", "failed")]

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="sessions")
    session_id = models.CharField(max_length=64, unique=True)
    reference = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=200, blank=True)
    return_url = models.CharField(max_length=1000)
    cancel_url = models.CharField(max_length=1000)
    status = models.CharField(max_length=20, choices=STATUSES, default="open")
    failure_code = models.CharField(max_length=40, blank=True)
    failure_message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "reference"], name="sandbox_processor_reference"
            )
        ]

    def __str__(self) -> str:
        return self.session_id


class Charge(models.Model):
    session = models.OneToOneField(CheckoutSession, on_delete=models.CASCADE, related_name="charge")
    charge_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    brand = models.CharField(max_length=20)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.charge_id


class Refund(models.Model):
    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="refunds")
    refund_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    idempotency_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.refund_id
