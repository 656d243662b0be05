"""Payment fixtures: outbox rows on sandbox visits, the sandbox ledger and fault controls."""

import secrets
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from smartapp.payments.models import Method, Payment, State

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"


@pytest.fixture(autouse=True)
def _fast_payments(settings):
    settings.PAYMENT_UNKNOWN_SETTLE_SECONDS = 0
    settings.PAYMENT_BACKOFF_BASE_SECONDS = 0.2
    settings.SANDBOX_TIMEOUT_SLEEP_SECONDS = 1.5
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 100_000


def registered_encounters(n: int | None = None) -> list:
    """Sandbox visits that have a guarantor-balance Account now, with a balance over $5."""
    from smartapp.sandbox.models import Account, Encounter

    ids = Account.objects.filter(
        tenant_id=TENANT, account_type="guarantor-balance", balance__gt=5
    ).values_list("encounter_fhir_id", flat=True)
    rows = list(
        Encounter.objects.filter(tenant_id=TENANT, fhir_id__in=list(ids))
        .select_related("patient")
        .order_by("fhir_id")
    )
    return rows[:n] if n else rows


def unregistered_encounter():
    from smartapp.sandbox import registration
    from smartapp.sandbox.models import Encounter

    for encounter in Encounter.objects.filter(tenant_id=TENANT, status="planned").select_related(
        "patient"
    ):
        if registration.account_for(encounter) is None:
            return encounter
    raise AssertionError("the seed has no unregistered visit")


def balance_of(encounter) -> Decimal:
    from smartapp.sandbox.models import Account

    return Account.objects.get(
        tenant_id=TENANT, account_type="guarantor-balance", encounter_fhir_id=encounter.fhir_id
    ).balance


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


def ledger(live_server, identifier: str = "") -> list[dict]:
    params = {"identifier": identifier} if identifier else {}
    response = requests.get(f"{live_server.url}/sandbox/control/ledger", params=params, timeout=10)
    assert response.status_code == 200, response.text[:300]
    return response.json()


def set_faults(live_server, **rates) -> None:
    response = requests.post(f"{live_server.url}/sandbox/control/faults", json=rates, timeout=10)
    assert response.status_code == 200, response.text[:300]


def register_now(live_server, encounter) -> None:
    response = requests.post(
        f"{live_server.url}/sandbox/ehr/encounters/{encounter.fhir_id}/register",
        json={},
        timeout=10,
    )
    assert response.status_code == 200, response.text[:300]


def step_until_final(payment: Payment, *, steps: int = 30) -> Payment:
    """Runs the worker's step in this process until the payment stops moving (or is final)."""
    import time

    from smartapp.payments.posting import payment_process

    for _ in range(steps):
        Payment.objects.filter(pk=payment.pk).update(next_check_at=timezone.now())
        payment_process(payment_id=payment.pk)
        payment.refresh_from_db()
        if payment.state in (
            State.POSTED,
            State.FAILED,
            State.NEEDS_ATTENTION,
            State.AWAITING_ACCOUNT,
        ):
            return payment
        time.sleep(0.05)
    return payment


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL server (Debian's package) for this test module."""
    from tests.payments import postgres

    url, server, folder = postgres.start()
    yield url
    postgres.stop(server, folder)
