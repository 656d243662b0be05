"""Registered EHR tenants and the OAuth clients the app holds at each of them."""

from django.db import models

from smartapp.lib.fields import EncryptedTextField


class Persona(models.TextChoices):
    PROVIDER = "provider", "Clinician (provider)"
    PATIENT = "patient", "Patient"
    SYSTEM = "system", "System (background work)"


class Tenant(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    ehr_tenant_id = models.CharField(
        max_length=100, help_text="The EHR's tenant id (a UUID at Millennium)."
    )
    provider_fhir_base = models.URLField(
        max_length=500, help_text="FHIR base for clinicians (fhir-ehr host)."
    )
    patient_fhir_base = models.URLField(
        max_length=500, blank=True, help_text="FHIR base for patients (fhir-myrecord host)."
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def fhir_base_for(self, persona: str) -> str:
        return self.patient_fhir_base if persona == Persona.PATIENT else self.provider_fhir_base


class ClientRegistration(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="clients")
    persona = models.CharField(max_length=20, choices=Persona.choices)
    client_id = models.CharField(max_length=200)
    # Blank means a public client (no secret; authenticates by sending client_id in the form).
    client_secret = EncryptedTextField(blank=True, default="")
    # Sent verbatim: Millennium matches redirect URIs exactly, trailing slash included.
    redirect_uri = models.CharField(max_length=500, blank=True)
    scopes = models.TextField(help_text="Space-separated scopes, exactly as registered at the EHR.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "persona"], name="one_client_per_persona")
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug} {self.persona} ({self.client_id})"

    @property
    def is_confidential(self) -> bool:
        return bool(self.client_secret)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class SystemToken(models.Model):
    """The cached client_credentials token of a tenant's system client (encrypted at rest)."""

    registration = models.OneToOneField(
        ClientRegistration, on_delete=models.CASCADE, related_name="system_token"
    )
    access_token = EncryptedTextField(blank=True, default="")
    scope = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    # A process that is fetching a new token claims the row until this time (see system_client).
    claimed_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"system token for {self.registration}"
