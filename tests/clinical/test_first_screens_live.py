"""The first screens against the sandbox over HTTP: the clinician's chart answers what is going on
with this patient (today, next appointments, money, their messages), the patient's home answers
when, what is owed and what is new; each from one round of parallel calls, a failing part saying
so in one line while the rest shows."""

import html
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from smartapp.clinical.visits import STATUS_LABELS
from smartapp.launch.models import Launch
from smartapp.sandbox.models import Appointment, Encounter, PortalMessage
from tests.journeys import app_page

pytestmark = pytest.mark.django_db(transaction=True)


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _section(text: str, section_id: str) -> str:
    found = re.search(rf'<section[^>]*id="{section_id}".*?</section>', text, re.S)
    assert found, f"no #{section_id}"
    return found[0]


def _upcoming(patient_id: str) -> list[Appointment]:
    now = timezone.now()
    return list(
        Appointment.objects.filter(  # not over yet: one under way now is still "next"
            patient_fhir_id=patient_id, end__gt=now, start__lt=now + timedelta(days=180)
        )
        .exclude(status__in=("cancelled", "noshow", "entered-in-error"))
        .order_by("start")
    )


def _estimated(patient_id: str) -> dict[str, Decimal]:
    """The sandbox visits of the past year that carry an estimated responsibility above zero."""
    since = timezone.now() - timedelta(days=365)
    found = {}
    for encounter in Encounter.objects.filter(patient__fhir_id=patient_id):
        if encounter.status in ("cancelled", "entered-in-error"):
            continue
        if encounter.start and encounter.start < since:
            continue
        for ext in encounter.resource.get("extension", []):
            if ext.get("url", "").endswith("estimated-financial-responsibility-amount"):
                amount = Decimal(str(ext["valueMoney"]["value"]))
                if amount > 0:
                    found[encounter.fhir_id] = amount
    return found


def test_the_patients_home_answers_when_what_is_owed_and_what_is_new(client, patient):
    page, calls = app_page(client, f"/l/{patient.public_id}/home/")
    text = _text(page)

    assert page.status_code == 200 and calls <= 5, calls
    upcoming = _upcoming(patient.patient_id)
    shown = _section(text, "home-next")
    if upcoming:
        assert 'id="next-appointment"' in shown
        assert ("Cancel" in shown) == (upcoming[0].start > timezone.now())  # not once under way
        first = upcoming[0].start.astimezone(patient.tenant.zone)
        assert first.strftime("%-d %b, %H:%M") in shown  # in the clinic's time
    else:
        assert 'id="no-next"' in shown
    money = _section(text, "home-money")
    for encounter_id in list(_estimated(patient.patient_id))[:3]:
        assert f'id="home-pay-{encounter_id}"' in money
    unread = PortalMessage.objects.filter(
        patient_fhir_id=patient.patient_id, folder="INBOX", status="UNREAD"
    ).count()
    messages = _section(text, "home-messages")
    if unread:
        assert f"<b>{unread}</b> unread message" in messages
    else:
        assert 'id="no-unread"' in messages
    # The patient's own record number is not what they came for (words only: a CSRF token
    # may spell anything).
    assert not re.search(r"\bMRN\b", re.sub(r"<[^>]+>", " ", text))


def test_the_home_shows_a_payment_and_its_receipt_and_takes_it_off_what_is_owed(client, patient):
    from smartapp.payments.models import Payment, State

    estimated = _estimated(patient.patient_id)
    encounter_id, amount = next(iter(estimated.items()))
    Payment.objects.create(
        request_key="home-1", tenant=patient.tenant, launch=patient,
        patient_id=patient.patient_id, encounter_id=encounter_id, amount=amount,
        amount_source="estimate", state=State.CAPTURED, captured_at=timezone.now(),
    )  # fmt: skip

    text = _text(client.get(f"/l/{patient.public_id}/home/"))

    money = _section(text, "home-money")
    payment = Payment.objects.get(request_key="home-1")
    assert f'id="recent-{payment.public_id}"' in money and "Receipt" in money
    assert f'id="home-pay-{encounter_id}"' not in money  # paid in full here: nothing left


def test_the_clinicians_chart_shows_today_next_money_and_the_patients_messages(
    client, clinician, figure
):
    page, calls = app_page(client, f"/l/{clinician.public_id}/chart/")
    text = _text(page)

    figure(f"chart page: {calls} FHIR calls")
    assert page.status_code == 200 and calls <= 6, calls
    today = _section(text, "chart-today")
    assert 'id="today-visit"' in today  # the launch's encounter
    encounter = Encounter.objects.get(
        fhir_id=clinician.encounter_id, tenant_id=clinician.tenant.ehr_tenant_id
    )
    assert str(STATUS_LABELS[encounter.status]) in today
    upcoming = _upcoming(clinician.patient_id)
    nexts = _section(text, "chart-next")
    for appointment in upcoming[:3]:
        start = appointment.start.astimezone(clinician.tenant.zone)
        if start.date() != timezone.now().astimezone(clinician.tenant.zone).date():
            assert f'id="next-{appointment.fhir_id}"' in nexts
    if not upcoming:
        assert 'id="no-next"' in nexts
    assert "Record a payment" in _section(text, "chart-money") or 'id="no-owed"' in text
    sent = PortalMessage.objects.filter(
        patient_fhir_id=clinician.patient_id,
        folder="SENT",
        created_at__gte=timezone.now() - timedelta(days=30),
    ).exclude(status="DELETED")
    messages = _section(text, "chart-messages")
    for message in sent.order_by("-created_at")[:3]:
        assert f'id="from-patient-{message.message_id}"' in messages
    if not sent.exists():
        assert 'id="no-messages"' in messages


def test_a_part_whose_call_fails_says_so_and_the_rest_shows(client, patient, monkeypatch):
    from smartapp.clinical import first_screens
    from smartapp.fhir import errors as fhir

    def refused(**_):
        raise fhir.FhirError("busy", status=503, code="transient", correlation="ref-part-1")

    monkeypatch.setattr(first_screens, "patient_visits", refused)

    page = client.get(f"/l/{patient.public_id}/home/")
    text = _text(page)

    assert page.status_code == 200
    money = _section(text, "home-money")
    assert "could not complete the request (HTTP 503)" in money and "ref-part-1" in money
    assert 'id="home-next"' in text and 'id="home-messages"' in text  # the other parts came


def test_the_chart_without_a_patient_says_so(client, tenant):
    from smartapp.testing import launch_as_clinician

    launch = launch_as_clinician(client).launch
    Launch.objects.filter(pk=launch.pk).update(patient_id="")

    page = client.get(f"/l/{launch.public_id}/chart/")

    assert page.status_code == 200 and 'id="no-patient"' in page.content.decode()
