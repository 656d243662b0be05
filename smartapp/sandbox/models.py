"""Sandbox state: seeded people, registered clients, keys, launches and grants.

FHIR resources are stored as the JSON bodies Millennium would return; the columns beside them
exist only so searches can filter without parsing JSON.
"""

from django.db import models


class SandboxSettings(models.Model):
    """One row: the public base URL the sandbox was seeded for (every URL it hands out uses it)."""

    base_url = models.CharField(max_length=300)

    def __str__(self) -> str:
        return self.base_url


class SigningKey(models.Model):
    """A private JWK. `purpose` is `id_token:{env}` or `access:{env}:{host}`."""

    kid = models.CharField(max_length=100, unique=True)
    purpose = models.CharField(max_length=100, unique=True)
    private_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.kid


class Client(models.Model):
    PERSONAS = [("provider", "provider"), ("patient", "patient"), ("system", "system")]

    client_id = models.CharField(max_length=100, unique=True)
    client_secret = models.CharField(max_length=200, blank=True)  # empty: public client
    name = models.CharField(max_length=200)
    tenant_id = models.CharField(max_length=64)
    persona = models.CharField(max_length=20, choices=PERSONAS)
    redirect_uri = models.CharField(max_length=500, blank=True)
    launch_url = models.CharField(max_length=500, blank=True)
    scopes = models.TextField()
    # private_key_jwt clients: where their public keys are (the app's /.well-known/jwks.json).
    jwks_url = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.persona})"

    @property
    def signs_assertions(self) -> bool:
        """Authenticates only with a signed JWT (private_key_jwt), never a secret."""
        return bool(self.jwks_url)

    @property
    def is_public(self) -> bool:
        return not self.client_secret and not self.jwks_url

    @property
    def scope_set(self) -> set[str]:
        return set(self.scopes.split())


class Practitioner(models.Model):
    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=64)
    username = models.CharField(max_length=100)
    family = models.CharField(max_length=200)
    given = models.CharField(max_length=200)
    npi = models.CharField(max_length=20)
    active = models.BooleanField(default=True)
    resource = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "fhir_id"], name="sandbox_practitioner_id")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return str(self.resource["name"][0]["text"])


class PatientQuerySet(models.QuerySet):
    def current(self) -> "PatientQuerySet":
        """Without combined (merged) records: Millennium returns those only on direct read."""
        return self.filter(replaced_by="")


class Patient(models.Model):
    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=64)
    username = models.CharField(max_length=100)
    family = models.CharField(max_length=200)
    given = models.CharField(max_length=200)
    birth_date = models.DateField(null=True, blank=True)  # none on a combined record
    gender = models.CharField(max_length=20)
    mrn = models.CharField(max_length=40)
    phone = models.CharField(max_length=40)
    email = models.CharField(max_length=200)
    postal_code = models.CharField(max_length=20)
    # A combined record: the surviving Patient's id (its resource links to it as replaced-by).
    replaced_by = models.CharField(max_length=64, blank=True, default="")
    resource = models.JSONField()

    objects = PatientQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "fhir_id"], name="sandbox_patient_id")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.replaced_by:  # its name is data-absent
            return f"Merged record {self.fhir_id}"
        return str(self.resource["name"][0]["text"])


class Encounter(models.Model):
    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=64)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="encounters")
    # Search columns (the resource is the truth): planned | in-progress | finished | cancelled.
    status = models.CharField(max_length=20, blank=True, default="")
    start = models.DateTimeField(null=True, blank=True)
    appointment_fhir_id = models.CharField(max_length=64, blank=True, default="")
    fin = models.CharField(max_length=40, blank=True, default="")  # identifier "FIN NBR"
    account_fhir_id = models.CharField(max_length=64, blank=True, default="")  # `account` search
    last_updated = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    resource = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "fhir_id"], name="sandbox_encounter_id")
        ]
        indexes = [models.Index(fields=["tenant_id", "patient", "start"])]

    def __str__(self) -> str:
        return f"Encounter {self.fhir_id}"


class LaunchContext(models.Model):
    """What PowerChart knows when it launches an app: user, patient, encounter."""

    launch_id = models.CharField(max_length=64, unique=True)
    tenant_id = models.CharField(max_length=64)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE)
    encounter = models.ForeignKey(Encounter, null=True, blank=True, on_delete=models.CASCADE)
    need_patient_banner = models.BooleanField(default=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Launch {self.launch_id}"


class PendingAuthorization(models.Model):
    """An authorize request waiting for the user to log in and consent."""

    txn = models.CharField(max_length=64, unique=True)
    params = models.JSONField()
    user_fhir_id = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Pending {self.pk}"


class Grant(models.Model):
    """One authorization: its code (single use) and, when granted, its refresh token."""

    tenant_id = models.CharField(max_length=64)
    client = models.ForeignKey(Client, on_delete=models.CASCADE)
    persona = models.CharField(max_length=20)
    host = models.CharField(max_length=40)
    scope = models.TextField()
    redirect_uri = models.CharField(max_length=500, blank=True)
    user_type = models.CharField(max_length=20)  # Practitioner | Patient
    user_fhir_id = models.CharField(max_length=64)
    username = models.CharField(max_length=100)
    user_name = models.CharField(max_length=300)
    patient_fhir_id = models.CharField(max_length=64, blank=True)
    encounter_fhir_id = models.CharField(max_length=64, blank=True)
    need_patient_banner = models.BooleanField(default=False)
    nonce = models.CharField(max_length=300, blank=True)
    code_challenge = models.CharField(max_length=200, blank=True)
    code_hash = models.CharField(max_length=64, unique=True)
    code_expires_at = models.DateTimeField()
    code_used_at = models.DateTimeField(null=True, blank=True)
    refresh_hash = models.CharField(max_length=64, blank=True, db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Grant {self.pk} ({self.persona})"


class Location(models.Model):
    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    physical_type = models.CharField(max_length=20)  # HL7 location-physical-type code
    type_code = models.CharField(max_length=20)  # v3 RoleCode
    identifier = models.CharField(max_length=100)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=20)
    postal_code = models.CharField(max_length=20)
    address_text = models.CharField(max_length=500)
    organization = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64)
    resource = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "fhir_id"], name="sandbox_location_id")
        ]

    def __str__(self) -> str:
        return self.name


class Schedule(models.Model):
    """One clinician's calendar for one appointment type at one location."""

    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=100)
    practitioner_fhir_id = models.CharField(max_length=64)
    location_fhir_id = models.CharField(max_length=64)
    service_code = models.CharField(max_length=40)
    resource = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "fhir_id"], name="sandbox_schedule_id")
        ]

    def __str__(self) -> str:
        return f"Schedule {self.fhir_id}"


class Slot(models.Model):
    """A bookable interval. Its FHIR body is built from the columns (status changes often)."""

    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=100)
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="slots")
    schedule_fhir_id = models.CharField(max_length=100)
    practitioner_fhir_id = models.CharField(max_length=64)
    location_fhir_id = models.CharField(max_length=64)
    service_code = models.CharField(max_length=40)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=20)  # free | busy | busy-tentative
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "fhir_id"], name="sandbox_slot_id")
        ]
        indexes = [models.Index(fields=["tenant_id", "status", "start"])]

    def __str__(self) -> str:
        return f"Slot {self.fhir_id}"

    @property
    def resource(self) -> dict:
        from smartapp.sandbox.scheduling import slot_row_resource

        return slot_row_resource(self)


class Appointment(models.Model):
    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=64)
    patient_fhir_id = models.CharField(max_length=64)
    practitioner_fhir_id = models.CharField(max_length=64)
    location_fhir_id = models.CharField(max_length=64)
    slot = models.ForeignKey(Slot, null=True, on_delete=models.SET_NULL)
    service_code = models.CharField(max_length=40)
    start = models.DateTimeField()
    end = models.DateTimeField()
    status = models.CharField(max_length=20)
    version = models.PositiveIntegerField(default=0)
    reason_text = models.CharField(max_length=255)
    cancelation_reason = models.JSONField(null=True, blank=True)
    action_comment = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField()
    resource = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "fhir_id"], name="sandbox_appointment_id")
        ]
        indexes = [
            models.Index(fields=["tenant_id", "practitioner_fhir_id", "start"]),
            models.Index(fields=["tenant_id", "patient_fhir_id", "start"]),
        ]

    def __str__(self) -> str:
        return f"Appointment {self.fhir_id}"


class Communication(models.Model):
    """Clinician messaging (FHIR Communication); its body is served as Binary with the same id."""

    tenant_id = models.CharField(max_length=64)
    fhir_id = models.CharField(max_length=100)
    category = models.CharField(max_length=20)  # notification | reminder | 312853008
    recipients = models.CharField(max_length=1000)  # " Practitioner/1 Group/2 " for searching
    received = models.DateTimeField()
    email_status = models.CharField(max_length=20)  # http://hl7.org/fhir/task-status code
    patient_fhir_id = models.CharField(max_length=64, blank=True)
    version = models.PositiveIntegerField(default=0)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()
    resource = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "fhir_id"], name="sandbox_communication_id"
            )
        ]
        indexes = [models.Index(fields=["tenant_id", "category", "received"])]

    def __str__(self) -> str:
        return f"Communication {self.fhir_id}"


class PortalMessage(models.Model):
    """One patient-portal message of the (non-FHIR) Messages API, in the patient's inbox or sent items."""

    FOLDERS = [("INBOX", "inbox"), ("SENT", "sent")]

    tenant_id = models.CharField(max_length=64)
    message_id = models.CharField(max_length=64)
    patient_fhir_id = models.CharField(max_length=64)
    folder = models.CharField(max_length=10, choices=FOLDERS)
    subject = models.CharField(max_length=255)
    content = models.TextField()  # XHTML
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10)  # UNREAD | OPENED | DELETED
    priority = models.CharField(max_length=10, default="NORMAL")  # HIGH | NORMAL
    notification_type = models.CharField(max_length=20, default="MESSAGE")  # MESSAGE | REMINDER
    sender = models.JSONField()  # {"id", "type", "name"}
    recipients = models.JSONField()  # [{"id", "type", "name"}]
    previous_message_id = models.CharField(max_length=64, blank=True)
    encounter_fhir_id = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "message_id"], name="sandbox_message_id")
        ]
        indexes = [models.Index(fields=["tenant_id", "patient_fhir_id", "folder", "created_at"])]

    def __str__(self) -> str:
        return f"Message {self.message_id}"


# Issue 5 (accounts, payments, card processor) keeps its models in their own modules.
from smartapp.sandbox.payment_models import (  # noqa: E402, F401
    Account,
    FaultSettings,
    PaymentConfig,
    Posting,
    Registration,
)
from smartapp.sandbox.processor.models import (  # noqa: E402, F401
    Charge,
    CheckoutSession,
    Merchant,
    Refund,
)


class RevokedToken(models.Model):
    """An access token revoked before it expired (RFC 7009), known by its `jti`."""

    jti = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=100)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"revoked {self.jti}"


class UsedAssertion(models.Model):
    """A client assertion's `jti`, kept until the assertion expires: each works once."""

    jti = models.CharField(max_length=200, unique=True)
    client_id = models.CharField(max_length=100)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"assertion {self.jti}"


from smartapp.sandbox.knob_models import Knobs  # noqa: E402, F401 - issue 17: test knobs
