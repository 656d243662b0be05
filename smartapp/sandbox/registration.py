"""Registration: when an Encounter gets its guarantor-balance Account (FACTS §2.8, DESIGN §2).

Lazy and deterministic: an Encounter is registered once `now >= created + delay`
(`SANDBOX_REGISTRATION_DELAY_SECONDS`, read per call) or once staff registered it explicitly.
Its Accounts (the encounter's financial-account `F…` and its guarantor-balance `G…`) are
materialised on the first lookup after that.
"""

import hashlib
import os
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from smartapp.sandbox.models import Account, Encounter, Knobs, Registration

DEFAULT_DELAY_SECONDS = 180
EFR_URL = (
    "https://fhir-ehr.cerner.com/r4/StructureDefinition/estimated-financial-responsibility-amount"
)
STATE_READY = "Ready to bill"


def delay() -> timedelta:
    """The `registration_delay_seconds` knob, else `SANDBOX_REGISTRATION_DELAY_SECONDS` (setting,
    then environment; default 180)."""
    knob = Knobs.objects.order_by("pk").values_list("registration_delay_seconds", flat=True).first()
    if knob is not None:
        return timedelta(seconds=knob)
    raw: Any = getattr(settings, "SANDBOX_REGISTRATION_DELAY_SECONDS", None)
    if raw is None:
        raw = os.environ.get("SANDBOX_REGISTRATION_DELAY_SECONDS", DEFAULT_DELAY_SECONDS)
    try:
        return timedelta(seconds=max(0.0, float(raw)))
    except (TypeError, ValueError):
        return timedelta(seconds=DEFAULT_DELAY_SECONDS)


def _registration(encounter: Encounter) -> Registration:
    try:
        return encounter.registration
    except Registration.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Registration.objects.create(encounter=encounter, seen_at=timezone.now())
    except IntegrityError:
        return Registration.objects.get(encounter=encounter)


def registers_at(encounter: Encounter) -> datetime:
    """When the delay rule registers it (explicit registration may come sooner)."""
    registration = _registration(encounter)
    if registration.registered_at is not None:
        return registration.registered_at
    created = encounter.created_at or registration.seen_at
    return created + delay()


def is_registered(encounter: Encounter, now: datetime | None = None) -> bool:
    if encounter.status == "cancelled":
        return _registration(encounter).registered_at is not None
    return (now or timezone.now()) >= registers_at(encounter)


def register_now(encounter: Encounter) -> Account:
    """Staff's "Register now": registered from this moment; its Account at once."""
    registration = _registration(encounter)
    if registration.registered_at is None:
        Registration.objects.filter(pk=registration.pk, registered_at=None).update(
            registered_at=timezone.now()
        )
        encounter.registration.refresh_from_db()
    account = account_for(encounter)
    assert account is not None  # noqa: S101 - registered just above
    return account


def _money(value: object) -> Decimal | None:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount > 0 else None


def charges(encounter: Encounter) -> Decimal:
    """The guarantor's share: the estimated responsibility, else a seeded amount per encounter."""
    for extension in encounter.resource.get("extension", []):
        if extension.get("url") == EFR_URL:
            amount = _money(extension.get("valueMoney", {}).get("value"))
            if amount is not None:
                return amount
    digest = int(
        hashlib.sha256(f"{encounter.tenant_id}/{encounter.fhir_id}".encode()).hexdigest(), 16
    )
    return Decimal(35 + (digest % 90) * 5).quantize(Decimal("0.01"))


def guarantor_of(patient_id: str) -> str:
    """The patient as their own guarantor (RelatedPerson `{person}-{patient}`)."""
    return f"{patient_id}-{patient_id}"


def _period(encounter: Encounter) -> tuple[datetime, datetime | None]:
    period = encounter.resource.get("period", {})
    start = encounter.start or parse_datetime(period.get("start", "") or "") or timezone.now()
    end = parse_datetime(period["end"]) if period.get("end") else None
    return start, end


def financial_account_id(encounter: Encounter) -> str:
    return encounter.account_fhir_id or f"F{encounter.fin or encounter.fhir_id}"


def guarantor_balance_id(encounter: Encounter) -> str:
    return f"G{encounter.fhir_id}"


def _materialise(encounter: Encounter, balance: Decimal | None) -> Account:
    tenant, patient_id = encounter.tenant_id, encounter.patient.fhir_id
    start, end = _period(encounter)
    financial_id = financial_account_id(encounter)
    Account.objects.get_or_create(
        tenant_id=tenant,
        fhir_id=financial_id,
        defaults={
            "account_type": Account.FINANCIAL_ACCOUNT,
            "patient_fhir_id": patient_id,
            "encounter_fhir_id": "",
            "guarantor": guarantor_of(patient_id),
            "number": encounter.fin or encounter.fhir_id,
            "service_start": start,
        },
    )
    account, _ = Account.objects.get_or_create(
        tenant_id=tenant,
        fhir_id=guarantor_balance_id(encounter),
        defaults={
            "account_type": Account.GUARANTOR_BALANCE,
            "patient_fhir_id": patient_id,
            "encounter_fhir_id": encounter.fhir_id,
            "guarantor": guarantor_of(patient_id),
            "part_of": financial_id,
            "balance": charges(encounter) if balance is None else balance,
            "state": STATE_READY,
            "service_start": start,
            "service_end": end,
        },
    )
    return account


def account_for(encounter: Encounter, now: datetime | None = None) -> Account | None:
    """The Encounter's guarantor-balance Account, created on the first lookup once registered."""
    existing = Account.objects.filter(
        tenant_id=encounter.tenant_id, fhir_id=guarantor_balance_id(encounter)
    ).first()
    if existing is not None or not is_registered(encounter, now):
        return existing
    try:
        with transaction.atomic():
            return _materialise(encounter, None)
    except IntegrityError:  # a concurrent first lookup made it
        return Account.objects.get(
            tenant_id=encounter.tenant_id, fhir_id=guarantor_balance_id(encounter)
        )


def seed_registered(encounter: Encounter, registered_at: datetime, balance: Decimal) -> Account:
    """The seed's past visits: registered long ago, their balance already billed."""
    Registration.objects.update_or_create(
        encounter=encounter, defaults={"seen_at": registered_at, "registered_at": registered_at}
    )
    return _materialise(encounter, balance)


def sync_patient(tenant: str, patient_id: str) -> None:
    """Materialises every registered Encounter's Accounts for a patient (for searches by patient)."""
    for encounter in Encounter.objects.filter(tenant_id=tenant, patient__fhir_id=patient_id):
        account_for(encounter)


def unregistered(tenant: str, patient_id: str = "", limit: int = 50) -> list[dict[str, object]]:
    """For the EHR page: encounters not registered yet, most recently created first."""
    now = timezone.now()
    rows = (
        Encounter.objects.filter(tenant_id=tenant)
        .exclude(status="cancelled")
        .filter(Q(registration__isnull=True) | Q(registration__registered_at__isnull=True))
        .filter(Q(created_at__isnull=True) | Q(created_at__gt=now - delay()))
    )
    if patient_id:
        rows = rows.filter(patient__fhir_id=patient_id)
    rows = rows.select_related("patient").order_by("-created_at", "-fhir_id")
    found: list[dict[str, object]] = []
    for encounter in rows.iterator():
        if len(found) >= limit:
            break
        if is_registered(encounter, now):
            continue
        found.append(
            {
                "encounter": encounter,
                "patient": encounter.patient.display_name,
                "start": _period(encounter)[0],
                "registers_at": registers_at(encounter),
            }
        )
    return found
