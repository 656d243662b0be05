"""Registered EHR tenants and the OAuth clients the app holds at each of them."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from smartapp.lib.fields import EncryptedTextField


def default_time_zone() -> str:
    return settings.TIME_ZONE


def is_time_zone(name: str) -> bool:
    """An IANA zone name zoneinfo knows (e.g. "America/Chicago")."""
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def validate_time_zone(name: str) -> None:
    if not is_time_zone(name):
        raise ValidationError(f"{name!r} is not a time zone name (e.g. America/Chicago).")


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
    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        help_text="The clinics' IANA time zone (e.g. America/Chicago): clinicians' days and "
        "patients without a browser time zone use it.",
    )
    # The non-FHIR Messages API (patient portal messages): its base and host-scoped token URL.
    messages_api_base = models.URLField(
        max_length=500,
        blank=True,
        help_text="Messages API base, e.g. https://api.cernermillennium.com/{tenant} (blank: off).",
    )
    messages_token_endpoint = models.URLField(
        max_length=500,
        blank=True,
        help_text="Token endpoint for the Messages API host (…/hosts/api.cernermillennium.com/…/token).",
    )
    # Where the EHR frames the app from (PowerChart's web host, the portal): CSP frame-ancestors.
    ehr_origins = models.TextField(
        blank=True,
        default="",
        help_text="Origins that may frame the app, space-separated (https://portal.example.org).",
    )
    # Shown with a booking and the appointment list (tenant file "booking"); blank: not shown.
    what_to_bring = models.TextField(blank=True, default="")
    how_to_cancel = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def fhir_base_for(self, persona: str) -> str:
        return self.patient_fhir_base if persona == Persona.PATIENT else self.provider_fhir_base

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone if is_time_zone(self.time_zone) else settings.TIME_ZONE)


class ServiceType(models.Model):
    """An appointment type patients may book at this tenant (Millennium code set 14249 or SNOMED)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="service_types")
    system = models.CharField(max_length=300)
    code = models.CharField(max_length=100)
    display = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "display"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "system", "code"], name="one_service_type_per_code"
            )
        ]

    def __str__(self) -> str:
        return self.display

    @property
    def token(self) -> str:
        """The `service-type` search value: `{system}|{code}`."""
        return f"{self.system}|{self.code}"


class AuthMethod(models.TextChoices):
    """How a client proves who it is at the token endpoint."""

    SECRET = "client_secret_basic", "client secret (HTTP Basic)"
    KEY = "private_key_jwt", "signed assertion (private_key_jwt)"
    PUBLIC = "none", "none (a public client)"


class ClientRegistration(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="clients")
    persona = models.CharField(max_length=20, choices=Persona.choices)
    client_id = models.CharField(max_length=200)
    # Blank means a public client (no secret; authenticates by sending client_id in the form).
    client_secret = EncryptedTextField(blank=True, default="")
    # Sent verbatim: Millennium matches redirect URIs exactly, trailing slash included.
    redirect_uri = models.CharField(max_length=500, blank=True)
    scopes = models.TextField(help_text="Space-separated scopes, exactly as registered at the EHR.")
    # Blank: derived from the secret (a secret means client_secret_basic, none means public).
    auth_method = models.CharField(max_length=30, choices=AuthMethod.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "persona"], name="one_client_per_persona")
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug} {self.persona} ({self.client_id})"

    @property
    def authentication(self) -> str:
        """The AuthMethod this client uses at the token endpoint."""
        if self.auth_method:
            return self.auth_method
        return AuthMethod.SECRET if self.client_secret else AuthMethod.PUBLIC

    @property
    def is_confidential(self) -> bool:
        return self.authentication != AuthMethod.PUBLIC

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class SystemToken(models.Model):
    """A cached client_credentials token of a tenant's system client (encrypted at rest).

    One row per API host the client talks to (`audience`): the FHIR host, the Messages API host.
    """

    registration = models.ForeignKey(
        ClientRegistration, on_delete=models.CASCADE, related_name="system_tokens"
    )
    audience = models.CharField(max_length=40, default="fhir")
    access_token = EncryptedTextField(blank=True, default="")
    scope = models.TextField(blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    # A process that is fetching a new token claims the row until this time (see system_client).
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "audience"], name="one_system_token_per_audience"
            )
        ]

    def __str__(self) -> str:
        return f"system token ({self.audience}) for {self.registration}"


class ClientKey(models.Model):
    """One of the app's keys for signed client assertions (see tenants.client_keys)."""

    class State(models.TextChoices):
        NEXT = "next", "published, not signing yet"
        ACTIVE = "active", "signing"
        RETIRING = "retiring", "published until its last assertion expires"
        RETIRED = "retired", "retired"

    kid = models.CharField(max_length=64, unique=True)
    algorithm = models.CharField(max_length=10)  # ES384 | RS384
    private_jwk = EncryptedTextField()
    public_jwk = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices)
    published_at = models.DateTimeField()
    activated_at = models.DateTimeField(null=True, blank=True)
    signing_ended_at = models.DateTimeField(null=True, blank=True)
    published_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["published_at"]

    def __str__(self) -> str:
        return f"{self.kid} ({self.algorithm}, {self.state})"
