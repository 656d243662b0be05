"""Payment fixtures: outbox rows as the desk records them, fast payment timings and a
PostgreSQL server. The sandbox's visits, balances, ledger and faults are the test kit's
(`millennium.visits`, `millennium_ledger`, `millennium.faults`, `wait_for_state`)."""

import secrets
from decimal import Decimal

import pytest
from django.utils import timezone

from smartapp.payments.models import Method, Payment, State

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"


@pytest.fixture(autouse=True)
def _fast_payments(settings):
    settings.PAYMENT_UNKNOWN_SETTLE_SECONDS = 0
    settings.PAYMENT_BACKOFF_BASE_SECONDS = 0.2
    settings.SANDBOX_TIMEOUT_SLEEP_SECONDS = 1.5
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 100_000


def no_estimate(visit) -> None:
    """The sandbox visit loses its estimate: its patient is asked to enter the amount."""
    from smartapp.sandbox.models import Encounter

    row = Encounter.objects.get(tenant_id=TENANT, fhir_id=visit.fhir_id)
    row.resource["extension"] = [
        e for e in row.resource.get("extension", []) if "financial-responsibility" not in e["url"]
    ]
    row.save(update_fields=["resource"])


def desk_row(tenant, encounter, amount: str = "1.00", **fields) -> Payment:
    """A captured payment (as the desk records one), due now."""
    now = timezone.now()
    return Payment.objects.create(
        request_key=secrets.token_urlsafe(16),
        tenant=tenant,
        patient_id=encounter.patient.fhir_id,
        encounter_id=encounter.fhir_id,
        amount=Decimal(amount),
        amount_source="desk",
        method=fields.pop("method", Method.CASH),
        state=State.CAPTURED,
        captured_at=now,
        next_check_at=now,
        **fields,
    )


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL server (Debian's package) for this test module."""
    from tests.payments import postgres

    url, server, folder = postgres.start()
    yield url
    postgres.stop(server, folder)
