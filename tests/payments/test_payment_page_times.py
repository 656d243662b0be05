"""The payment pages show times on the same clock as the schedule pages: the patient's browser
zone (checked), else the clinic's; never the server's UTC."""

import secrets
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from smartapp.payments.models import Payment, State

pytestmark = pytest.mark.django_db(transaction=True)


def _posted(patient) -> Payment:
    at = datetime(2026, 3, 5, 15, 30, tzinfo=UTC)  # 09:30 in Chicago (CST)
    return Payment.objects.create(
        request_key=secrets.token_urlsafe(16),
        tenant=patient.tenant,
        patient_id=patient.patient_id,
        encounter_id="97953477",
        amount=Decimal("12.00"),
        amount_source="entered",
        state=State.POSTED,
        created_at=at,
        captured_at=at,
        posted_at=at,
    )


def test_the_payments_list_and_status_show_the_patients_time(client, patient):
    payment = _posted(patient)  # the patient's browser says America/Chicago (the fixture)
    base = f"/l/{patient.public_id}/payments/"

    listed = client.get(base).content.decode()
    status = client.get(f"{base}{payment.public_id}/").content.decode()

    assert "5 Mar 2026, 09:30" in listed and "15:30" not in listed
    assert "5 Mar 2026, 09:30" in status and "15:30" not in status
