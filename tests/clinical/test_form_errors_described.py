"""Every field error is tied to its field: the field is marked invalid and described by the
message's element (`aria-describedby`), so a screen reader reads them together (WCAG 3.3.1)."""

import re

import pytest

from tests.clinical.test_schedule_live import _url
from tests.journeys import hidden

pytestmark = pytest.mark.django_db(transaction=True)


def _tied(text: str) -> list[str]:
    """The error ids on the page; each must describe an invalid field, and each description
    must point at an error shown on the page."""
    errors = re.findall(r'class="field-error" id="(error-[\w-]+)"', text)
    described = [
        ref
        for refs in re.findall(r'<(?:input|select|textarea)[^>]*aria-describedby="([^"]+)"', text)
        for ref in refs.split()
        if ref.startswith("error-")  # (Django adds a field's help text id too)
    ]
    invalid = re.findall(r'<(?:input|select|textarea)[^>]*aria-invalid="true"[^>]*>', text)
    assert errors, "the page shows no field error"
    assert sorted(set(errors)) == sorted(set(described)), (errors, described)
    assert len(invalid) >= len(set(errors))
    return errors


def test_the_booking_search_ties_its_date_error_to_the_field(client, patient):
    page = client.get(
        _url(patient, "book/"), {"service_type": "x", "start": "2026-02-30", "end": "yesterday"}
    )
    assert page.status_code == 400
    assert {"error-start", "error-end"} & set(_tied(page.content.decode()))


def test_a_message_without_a_subject_ties_the_error_to_the_subject(client, patient):
    compose = client.get(_url(patient, "messages/new/")).content.decode()
    recipient = re.search(r'<option value="([^"]+)"', compose)[1]
    sent = client.post(
        _url(patient, "messages/new/"),
        {"key": hidden(compose, "key"), "recipient": recipient, "subject": "", "body": "Hello"},
    )
    assert sent.status_code == 400
    assert "error-subject" in _tied(sent.content.decode())


def test_a_desk_payment_ties_each_error_to_its_field(client, clinician):
    desk = client.get(_url(clinician, "payments/desk/")).content.decode()
    sent = client.post(
        _url(clinician, "payments/desk/"),
        {"key": hidden(desk, "key"), "encounter": "bad id!", "method": "check", "amount": "-1"},
    )
    assert sent.status_code == 400
    assert {"error-encounter", "error-amount", "error-check_number"} <= set(
        _tied(sent.content.decode())
    )
