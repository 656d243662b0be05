"""Receipts: the visit in words, the card, the reference and where it stands; printable; emailed
once where the hospital sends receipts and the patient has an email address; staff re-send."""

import html
import json

import pytest
from django.core import mail
from django.core.management import call_command

from smartapp.payments.models import Payment, State
from smartapp.payments.tasks import receipt_send
from smartapp.testing.personas import Visits
from tests.payments.test_pages import _quote, _start, paid_by_card

pytestmark = pytest.mark.django_db(transaction=True)


def _paid(client, tenant) -> Payment:
    payment = paid_by_card(client, tenant, Visits().registered()[0])
    assert payment.state in (State.CAPTURED, State.POSTED, State.AWAITING_ACCOUNT)
    return payment


def _sends_receipts(tenant, tenants_file, tmp_path) -> None:
    document = json.loads(tenants_file.read_text())
    document["tenants"][0].setdefault("payments", {})["receipt_from"] = "billing@hospital.example"
    (tmp_path / "tenants.json").write_text(json.dumps(document))
    call_command("register_tenants", str(tmp_path / "tenants.json"))


def test_a_receipt_names_the_visit_in_words_the_card_and_where_it_stands(client, tenant):
    payment = _paid(client, tenant)
    launch = payment.launch

    page = client.get(f"/l/{launch.public_id}/payments/{payment.public_id}/receipt/")
    text = html.unescape(page.content.decode())
    listed = client.get(f"/l/{launch.public_id}/payments/").content.decode()

    assert page.status_code == 200 and tenant.name in text
    assert f"${payment.amount} USD" in text and "Visa ending 4242" in text.replace("VISA", "Visa")
    assert payment.posting_id in text and "In the hospital's system" in text
    visit = text.split('id="receipt-visit">')[1].split("</dd>")[0]
    assert ", with " in visit and "not recorded" not in visit and payment.encounter_id not in visit
    assert f'id="receipt-{payment.public_id}"' in listed


def test_no_receipt_before_the_money_was_taken(client, tenant):
    encounter, launch_id, page = _start(client, tenant)
    client.post(page.request["PATH_INFO"], {"quote": _quote(page.content.decode())})
    payment = Payment.objects.get()

    assert client.get(f"/l/{launch_id}/payments/{payment.public_id}/receipt/").status_code == 404


def test_the_receipt_is_emailed_once_and_staff_can_send_it_again(
    client, tenant, sandbox_tenants_file, tmp_path, django_user_model
):
    _sends_receipts(tenant, sandbox_tenants_file, tmp_path)
    payment = _paid(client, tenant)
    mail.outbox.clear()

    receipt_send(payment.pk)
    receipt_send(payment.pk)  # a redelivered task

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.from_email == "billing@hospital.example" and sent.to[0].endswith("@example.org")
    assert payment.posting_id in sent.subject and f"${payment.amount:,.2f}" in sent.body
    assert "4242" in sent.body and "Visit: " in sent.body
    client.force_login(django_user_model.objects.create_user("desk", is_staff=True))
    client.post(f"/staff/payments/{payment.public_id}/receipt/")
    assert len(mail.outbox) == 2
    assert payment.attempts.filter(outcome_text="receipt emailed again").exists()
