"""Claims and the visit lock: which worker may step which payments, and one poster per visit.

A claim is a conditional UPDATE (works on SQLite and PostgreSQL, across processes) with a lease
longer than a task's hard time limit, so a task delivered twice finds the rows taken and a dead
worker's rows come back by themselves.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TypedDict

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from smartapp.fhir.gateway import AuditContext, FhirGateway
from smartapp.lib import row_leases
from smartapp.payments.models import DUE_STATES, Attempt, Payment, PaymentSettings, VisitLock
from smartapp.tenants.models import Tenant

logger = logging.getLogger(__name__)
TokenProvider = Callable[[], str]


def lease() -> timedelta:
    return timedelta(seconds=settings.PAYMENT_CLAIM_SECONDS)


def payments_claim(*, payment_ids: list[int]) -> str:
    """Claims those of the payments that are due and free, all under one returned claim token."""
    now = timezone.now()
    token = uuid.uuid4().hex
    Payment.objects.filter(
        row_leases.free(now), pk__in=payment_ids, state__in=DUE_STATES, next_check_at__lte=now
    ).update(claimed_until=now + lease(), claim_token=token, updated_at=now)
    return token


def payment_claim(*, payment_id: int) -> str | None:
    """Claims a due payment for this worker; returns the claim token, or None if not ours."""
    token = payments_claim(payment_ids=[payment_id])
    return token if Payment.objects.filter(pk=payment_id, claim_token=token).exists() else None


@dataclass
class Job:
    """A claimed payment, with what its step needs: settings, the system client, a write in doubt."""

    payment: Payment
    token: str
    settings: PaymentSettings
    gateway: FhirGateway
    unresolved: Attempt | None = None

    @property
    def visit(self) -> tuple[int, str]:
        return self.payment.tenant_id, self.payment.encounter_id

    @property
    def held(self) -> Q:
        """The row is still this job's: the guard of every write the step makes."""
        return Q(claim_token=self.token)


def claimed_jobs(payment_ids: list[int]) -> list[Job]:
    """Claims the due ones of `payment_ids` and loads them (one query each way), unclear first."""
    token = payments_claim(payment_ids=payment_ids)
    in_doubt = Attempt.objects.in_doubt().filter(payment=OuterRef("pk"))
    payments = (
        Payment.objects.filter(claim_token=token)
        .select_related("tenant__payment_settings", "launch")
        .annotate(in_doubt=Exists(in_doubt))
    )
    tokens: dict[int, TokenProvider] = {}
    jobs = []
    for payment in sorted(payments, key=lambda p: (not p.in_doubt, payment_ids.index(p.pk))):
        provider = tokens.setdefault(payment.tenant_id, _system_tokens(payment.tenant))
        job = Job(payment, token, _settings(payment), _gateway(payment, provider))
        if payment.in_doubt:
            job.unresolved = payment.attempts.in_doubt().latest("id")
        jobs.append(job)
    return jobs


def jobs_release(jobs: list[Job], *, again: bool) -> None:
    """Gives back claims a step did not use; `again`: the beat sends them at its next tick."""
    if jobs:
        Payment.objects.filter(
            pk__in=[job.payment.pk for job in jobs], claim_token=jobs[0].token
        ).update(claimed_until=None, claim_token="", **({"enqueued_at": None} if again else {}))


class Released(TypedDict):
    claimed_until: datetime | None
    claim_token: str
    enqueued_at: datetime | None


def released() -> Released:
    """The fields that give a claim back, for a step's last write to a payment."""
    return {"claimed_until": None, "claim_token": "", "enqueued_at": None}


def visit_lock(job: Job) -> bool:
    """Holds the visit's lock, or takes over one whose holder's lease ran out (a dead worker)."""
    payment, now = job.payment, timezone.now()
    visit = {"tenant": payment.tenant, "encounter_id": payment.encounter_id}
    until = now + lease()
    if VisitLock.objects.filter(row_leases.free(now) | Q(holder=job.token), **visit).update(
        holder=job.token, claimed_until=until
    ):
        return True
    try:  # the visit's first payment: its lock row does not exist yet
        VisitLock.objects.create(holder=job.token, claimed_until=until, **visit)
    except IntegrityError:  # another worker created it first, and holds it
        return False
    return True


def visit_unlock(job: Job) -> None:
    payment = job.payment
    VisitLock.objects.filter(
        tenant=payment.tenant, encounter_id=payment.encounter_id, holder=job.token
    ).update(holder="", claimed_until=None)


def _settings(payment: Payment) -> PaymentSettings:
    try:
        return payment.tenant.payment_settings
    except PaymentSettings.DoesNotExist:
        return PaymentSettings.objects.get_or_create(tenant=payment.tenant)[0]


def _system_tokens(tenant: Tenant) -> TokenProvider:
    """The tenant's system token, read once a step (it is reused until a minute before expiry)."""
    from smartapp.tenants.system_client import system_access_token

    return cache(lambda: system_access_token(tenant=tenant))


def payment_gateway(payment: Payment) -> FhirGateway:
    """The system client's gateway for work on one payment outside a step (its receipt)."""
    return _gateway(payment, _system_tokens(payment.tenant))


def _gateway(payment: Payment, tokens: TokenProvider) -> FhirGateway:
    """The tenant's system client (patients cannot read Accounts or post payments)."""
    tenant = payment.tenant
    launch = str(payment.launch.public_id) if payment.launch is not None else ""
    return FhirGateway(
        base_url=tenant.provider_fhir_base,
        token=tokens,
        audit_context=AuditContext(
            who=payment.taken_by or "system",
            tenant=tenant.slug,
            launch_id=launch or None,
            patient_id=payment.patient_id,
            reason=f"payment {payment.posting_id} on behalf of patient, launch {launch or '-'}",
        ),
    )
