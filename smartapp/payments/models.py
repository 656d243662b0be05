"""The payments outbox: one row per payment, written before anything is posted, and its attempts."""

import secrets
import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy

from smartapp.launch.models import Launch
from smartapp.lib.fields import EncryptedTextField
from smartapp.tenants.models import Tenant

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_posting_id() -> str:
    """`SA` + 20 base32 characters: alphanumeric, unique, fixed when the row is created."""
    return "SA" + "".join(secrets.choice(BASE32) for _ in range(20))


class State(models.TextChoices):
    NEW = "new", "New (at the card processor)"
    CAPTURED = "captured", "Captured, to post"
    AWAITING_ACCOUNT = "awaiting_account", "Waiting for the visit's account"
    POSTING = "posting", "Posting (a write may be in flight)"
    POSTED = "posted", "Posted"
    FAILED = "failed", "Refused by the EHR"
    OUTCOME_UNKNOWN = "outcome_unknown", "Sent, no clear answer"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    REFUNDED = "refunded", "Refunded"
    CANCELLED = "cancelled", "Cancelled"


class Actor(models.TextChoices):
    """Who may move a payment (see transitions.TRANSITIONS)."""

    WORKER = "worker", "worker step"
    STAFF = "staff", "staff action"
    PROCESSOR = "processor", "processor event"
    RECONCILIATION = "reconciliation", "reconciliation"
    EXPIRY = "expiry", "expiry"


# Rows a worker may pick up when due (`next_check_at <= now`) and not leased to another worker.
DUE_STATES = (
    State.CAPTURED,
    State.AWAITING_ACCOUNT,
    State.POSTING,
    State.OUTCOME_UNKNOWN,
    State.NEEDS_ATTENTION,
)
FINAL_STATES = (State.POSTED, State.REFUNDED, State.CANCELLED)


class Method(models.TextChoices):
    CARD = "card", gettext_lazy("Card")
    CASH = "cash", gettext_lazy("Cash")
    CHECK = "check", gettext_lazy("Check")


class AmountSource(models.TextChoices):
    BALANCE = "balance", "the visit's account balance"
    ESTIMATE = "estimate", "the visit's estimated responsibility"
    ENTERED = "entered", "entered by the patient"
    DESK = "desk", "taken at the desk"
    REFUND = "refund", "a refund of an earlier payment"


class PaymentSettings(models.Model):
    """A tenant's payment settings (tenant file key "payments", processor from key "processor")."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="payment_settings")
    enabled = models.BooleanField(default=True)
    card_alias = models.CharField(max_length=40, default="0111")
    cash_alias = models.CharField(max_length=40, default="0111")
    check_alias = models.CharField(max_length=40, default="0111")
    # The adjustment alias that reverses a payment (Cerner's adjustment example uses 3100).
    refund_alias = models.CharField(max_length=40, default="3100")
    location = models.CharField(
        max_length=40, blank=True, help_text="financial-transaction-location"
    )
    min_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("1.00"))
    max_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("10000.00"))
    backoff_cap_seconds = models.PositiveIntegerField(default=900)
    escalate_after_seconds = models.PositiveIntegerField(default=3 * 24 * 3600)
    processor_kind = models.CharField(
        max_length=20, choices=[("sandbox", "sandbox"), ("stripe", "Stripe")], default="sandbox"
    )
    # sandbox: its API base; stripe: blank for api.stripe.com (set for an emulator such as localstripe)
    processor_base_url = models.URLField(max_length=500, blank=True)
    processor_api_key = EncryptedTextField(blank=True, default="")  # stripe: the secret key
    processor_publishable_key = models.CharField(max_length=200, blank=True)
    processor_webhook_secret = EncryptedTextField(blank=True, default="")
    receipt_from = models.EmailField(blank=True)  # blank: no receipt emails

    class Meta:
        verbose_name_plural = "payment settings"

    def __str__(self) -> str:
        return f"payment settings for {self.tenant.slug}"

    def alias_for(self, method: str) -> str:
        aliases: dict[str, str] = {Method.CASH: self.cash_alias, Method.CHECK: self.check_alias}
        return aliases.get(method, self.card_alias)


class Payment(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    posting_id = models.CharField(
        max_length=40, unique=True, default=new_posting_id, editable=False
    )
    # The one-time key of the form that created it: a second submit finds this row.
    request_key = models.CharField(max_length=64, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="payments")
    launch = models.ForeignKey(Launch, null=True, blank=True, on_delete=models.SET_NULL)
    patient_id = models.CharField(max_length=100)
    encounter_id = models.CharField(max_length=100)
    account_id = models.CharField(max_length=100, blank=True)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    amount_source = models.CharField(max_length=20, choices=AmountSource.choices)
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.CARD)
    taken_by = models.CharField(max_length=200, blank=True)  # fhirUser of desk staff
    # A refund of a posted payment is its own row: refunded at the processor, then posted to
    # Millennium as a reversing adjustment through the same outbox and evidence.
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals"
    )
    refund_reason = models.CharField(max_length=500, blank=True)
    refund_id = models.CharField(max_length=100, blank=True)  # the processor's refund
    state = models.CharField(max_length=20, choices=State.choices, default=State.NEW)
    message = models.TextField(blank=True)  # the latest explanation, for staff
    # Card processor (card numbers never come here: only what the processor tells us).
    processor_session_id = models.CharField(max_length=100, blank=True)
    checkout_url = models.URLField(max_length=500, blank=True)
    charge_id = models.CharField(max_length=100, blank=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_expiry = models.CharField(max_length=7, blank=True)  # YYYY-MM
    check_number = models.CharField(max_length=20, blank=True)
    tendered = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    # Scheduling and claiming.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    receipt_sent_at = models.DateTimeField(null=True, blank=True)  # emailed once
    # The patient's language when they paid ("es", "en"; blank: the default): their receipt's.
    language = models.CharField(max_length=10, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    checks = models.PositiveIntegerField(default=0)  # look-ups that found no account (backoff)
    # Staff.
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_check_at"], name="payment_due")]

    def __str__(self) -> str:
        return f"{self.posting_id} {self.amount} {self.currency} {self.state}"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def by_card(self) -> bool:
        return self.method == Method.CARD

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None

    def refunds_given(self) -> Decimal:
        """What its refunds give back: all but those the processor refused (reads `reversals`
        prefetched by the caller, else asks the database)."""
        given = (r.amount for r in self.reversals.all() if r.state != State.CANCELLED)
        return sum(given, Decimal("0.00"))

    @property
    def balance_effect(self) -> Decimal:
        """How posting it moves the Account's balance: a payment lowers it, a reversal raises it
        (the refund alias is a debit adjustment: the money given back is owed again)."""
        return self.amount if self.is_reversal else -self.amount


class AttemptQuerySet(models.QuerySet["Attempt"]):
    def in_doubt(self) -> "AttemptQuerySet":
        """POSTs sent without a clear answer yet: the balance decides whether they landed."""
        return self.filter(kind=Attempt.Kind.POST, result__in=Attempt.UNRESOLVED)


class Attempt(models.Model):
    """One look-up, post or staff action on a payment, with what the EHR (or processor) said."""

    class Kind(models.TextChoices):
        LOOKUP = "lookup", "Account look-up"
        POST = "post", "POST /Basic"
        VERIFY = "verify", "Balance check after an unclear answer"
        PROCESSOR = "processor", "Card processor"
        STAFF = "staff", "Staff action"

    class Result(models.TextChoices):
        SENDING = "sending", "sending (no answer recorded)"
        POSTED = "posted", "posted (201)"
        REFUSED = "refused", "refused"
        UNKNOWN = "unknown", "sent, outcome unknown"
        LANDED = "landed", "unknown, then found on the account"
        NOT_LANDED = "not_landed", "unknown, then found not on the account"
        NOT_SENT = "not_sent", "not processed (retry)"
        NO_ACCOUNT = "no_account", "no account yet"
        FOUND = "found", "account found"
        ERROR = "error", "error"
        OK = "ok", "ok"

    UNRESOLVED = (Result.SENDING, Result.UNKNOWN)

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="attempts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    result = models.CharField(max_length=12, choices=Result.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    correlation_id = models.CharField(max_length=200, blank=True)
    outcome_text = models.TextField(blank=True)  # OperationOutcome text or our note
    account_id = models.CharField(max_length=100, blank=True)
    # The Account's balance read just before a POST: the evidence if the answer is lost.
    balance_before = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    by = models.CharField(max_length=150, blank=True)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["account_id", "kind", "result"], name="attempt_account")]

    def __str__(self) -> str:
        return f"{self.kind} {self.result} for {self.payment_id}"


class VisitLock(models.Model):
    """One poster at a time per visit, so the balance read before a POST is that POST's evidence.

    The lease lets another worker take over from one that died. A visit's guarantor-balance Account
    belongs to that visit, so this lock also keeps our payments to one Account from interleaving.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    encounter_id = models.CharField(max_length=100)
    claimed_until = models.DateTimeField(null=True, blank=True)
    holder = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "encounter_id"], name="one_lock_per_visit")
        ]

    def __str__(self) -> str:
        return f"lock {self.tenant_id}/{self.encounter_id}"


class Transition(models.Model):
    """One change of a payment's state, as `transitions.payment_move` made it (append-only)."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="transitions")
    source = models.CharField(max_length=20, choices=State.choices)
    target = models.CharField(max_length=20, choices=State.choices)
    actor = models.CharField(max_length=20, choices=Actor.choices)
    by = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    attempt = models.ForeignKey(Attempt, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.payment_id}: {self.source} → {self.target} ({self.actor})"


class ProcessorEvent(models.Model):
    """A processor's webhook event, recorded before it acts: a redelivery is recognised by id."""

    event_id = models.CharField(max_length=255, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="processor_events")
    kind = models.CharField(max_length=100)  # e.g. payment_intent.succeeded
    received_at = models.DateTimeField(default=timezone.now)
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    outcome = models.CharField(max_length=500, blank=True)  # what it changed, for staff

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"


class ReconciliationRun(models.Model):
    """One day's reconciliation of a tenant, kept so the staff queue can show its exceptions."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="reconciliations")
    day = models.DateField()
    exceptions = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)
    note = models.CharField(max_length=500, blank=True)
    ran_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="one_reconciliation_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}: {self.exceptions} exception(s)"
