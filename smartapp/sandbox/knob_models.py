"""Test knobs (issue 17): one row, set over HTTP, read by every server thread and process.

Imported at the bottom of `models.py` so Django registers the model in the sandbox app.
"""

from django.db import models


class Knobs(models.Model):
    """Millennium behaviours a test turns on: latency, 429s, expired tokens, a tenant mismatch,
    a registration delay. Without a row (or with a field left null) the settings decide."""

    latency_ms = models.PositiveIntegerField(null=True, blank=True)  # null: SANDBOX_LATENCY_MS
    # null: SANDBOX_REGISTRATION_DELAY_SECONDS
    registration_delay_seconds = models.FloatField(null=True, blank=True)
    # 429 with this Retry-After on FHIR and Messages API calls; null = not throttled.
    throttle_retry_after = models.PositiveIntegerField(null=True, blank=True)
    throttle_remaining = models.IntegerField(null=True, blank=True)  # null = every call
    throttled = models.PositiveIntegerField(default=0)  # 429s answered so far
    # Access tokens issued at or before this second (epoch) are refused as expired.
    tokens_expired_through = models.BigIntegerField(null=True, blank=True)
    expired_refused = models.PositiveIntegerField(default=0)  # tokens refused as expired so far
    tenant_mismatch = models.BooleanField(default=False)
    tenant_mismatch_remaining = models.IntegerField(null=True, blank=True)  # null = every call
    mismatched = models.PositiveIntegerField(default=0)  # calls refused with tenant_mismatch

    def __str__(self) -> str:
        return f"Knobs {self.pk}"
