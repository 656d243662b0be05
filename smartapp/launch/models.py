"""Authorizations in flight and completed launches (tokens encrypted, keyed by an opaque id)."""

import uuid

from django.db import models
from django.utils import timezone

from smartapp.lib.fields import EncryptedTextField
from smartapp.tenants.models import Persona, Tenant


class PendingAuthorization(models.Model):
    """One authorization request we sent; the callback must match it exactly once."""

    state_hash = models.CharField(max_length=64, unique=True)
    # Binds it to the browser session that started it.
    browser_hash = models.CharField(max_length=64)
    code_verifier = EncryptedTextField()
    nonce = models.CharField(max_length=100)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    persona = models.CharField(max_length=20, choices=Persona.choices)
    iss = models.CharField(max_length=500)  # the FHIR base, sent as `aud`
    kind = models.CharField(max_length=20, default="ehr")  # "ehr" or "standalone"
    created = models.DateTimeField(default=timezone.now, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} authorization for {self.persona} at {self.tenant_id} ({self.created:%Y-%m-%d %H:%M})"


class Launch(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    persona = models.CharField(max_length=20, choices=Persona.choices)
    fhir_base = models.CharField(max_length=500)
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(blank=True, default="")
    id_token = EncryptedTextField(blank=True, default="")
    expires_at = models.DateTimeField()
    scope = models.TextField(blank=True, default="")
    patient_id = models.CharField(max_length=100, blank=True)
    encounter_id = models.CharField(max_length=100, blank=True)
    user_type = models.CharField(max_length=40, blank=True)  # fhirUser resource type
    user_id = models.CharField(max_length=100, blank=True)
    user_display = models.CharField(max_length=300, blank=True)
    need_patient_banner = models.BooleanField(default=True)
    smart_style_url = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)  # refresh became impossible, or sign-out
    standalone = models.BooleanField(default=False)  # signed in from our page, not the EHR's
    last_seen_at = models.DateTimeField(null=True, blank=True)  # the user's latest page (idle)
    refresh_claimed_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.tenant.slug} {self.persona} launch {self.public_id}"

    @property
    def is_clinician(self) -> bool:
        return self.persona == Persona.PROVIDER

    @property
    def user_reference(self) -> str:
        return f"{self.user_type}/{self.user_id}" if self.user_type and self.user_id else ""
