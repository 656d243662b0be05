"""The patient's payment pages in Spanish: pay (with its amount errors), the card page, the
status page and its self-refreshing part in each state, the receipt (with refunds), the payments
list, the pay button on the visits page and the receipt email; no text of ours left in English
(tests/spanish.py)."""

import re
import secrets
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.utils import timezone, translation

from smartapp.payments import refunds
from smartapp.payments.models import Method, Payment, PaymentSettings, State
from smartapp.payments.tasks import receipt_send
from smartapp.testing import wait_for_state
from smartapp.testing.personas import Visits
from tests.payments.conftest import (
    TENANT,
    desk_row,
    no_estimate,
)
from tests.payments.test_pages import CARD_OK, _card_page, _quote, _signed_in
from tests.payments.test_receipts import _sends_receipts
from tests.spanish import assert_all_spanish, untranslated

pytestmark = pytest.mark.django_db(transaction=True)
ES, EN = {"HTTP_ACCEPT_LANGUAGE": "es"}, {"HTTP_ACCEPT_LANGUAGE": "en"}


def _all_spanish(english, spanish, phrase: str, *, page: bool = True) -> str:
    """What assert_all_spanish checks, for two answers already had (a POST, a followed redirect,
    or the status part, which is no page of its own)."""
    assert english.status_code == spanish.status_code, (english.status_code, spanish.status_code)
    english_text, spanish_text = english.content.decode(), spanish.content.decode()
    if page:
        assert '<html lang="es">' in spanish_text and '<html lang="en">' in english_text
    assert phrase in spanish_text, spanish_text[:3000]
    left_in_english = untranslated(english_text, spanish_text)
    assert left_in_english == [], left_in_english
    return spanish_text


def _pay_url(launch_id: str, encounter_id: str) -> str:
    return f"/l/{launch_id}/visits/{encounter_id}/pay/"


def _paid(client, tenant, encounter=None, **language) -> Payment:
    """The visit's patient signs in and pays its balance by card (captured, not posted yet)."""
    encounter = encounter or Visits().registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)
    page = client.get(_pay_url(launch_id, encounter.fhir_id), **language)
    sent = client.post(page.request["PATH_INFO"], {"quote": _quote(page.content.decode())}, **language)  # fmt: skip
    back = urlsplit(_card_page(sent["Location"], CARD_OK).headers["Location"])
    client.get(f"{back.path}?{back.query}", **language)
    payment = Payment.objects.get(encounter_id=encounter.fhir_id, method="card")
    assert payment.state == State.CAPTURED, payment.state
    return payment


def _balance(encounter, amount: str) -> None:
    from smartapp.sandbox.models import Account

    Account.objects.filter(
        tenant_id=TENANT, encounter_fhir_id=encounter.fhir_id, account_type="guarantor-balance"
    ).update(balance=Decimal(amount))


# --- Pay for a visit ---------------------------------------------------------------------------


def test_the_pay_page_for_the_visit_balance_with_an_earlier_payment(client, tenant):
    paid = _paid(client, tenant)
    url = _pay_url(paid.launch.public_id, paid.encounter_id)

    page = assert_all_spanish(client, url, "Pague su visita")

    assert "su saldo de esta visita" in page and "Pagar con tarjeta" in page
    assert 'id="earlier-payments"' in page and "Pagos anteriores de esta visita" in page


def test_the_pay_page_for_the_hospitals_estimate(client, tenant, millennium):
    encounter = millennium.visits.unregistered()  # no account yet: the estimate is offered
    launch_id = _signed_in(client, tenant, encounter.patient)

    page = assert_all_spanish(client, _pay_url(launch_id, encounter.fhir_id), "Pague su visita")

    assert "el cálculo del hospital de lo que debe por esta visita" in page


def test_the_pay_page_where_the_patient_enters_the_amount(client, tenant, millennium):
    encounter = millennium.visits.unregistered()
    no_estimate(encounter)
    launch_id = _signed_in(client, tenant, encounter.patient)

    page = assert_all_spanish(client, _pay_url(launch_id, encounter.fhir_id), "Importe (USD)")

    assert "Entre $1.00 y $10,000.00, escrito así: 1,250.00." in page
    assert "El hospital aún no ha fijado un importe para esta visita" in page


@pytest.mark.parametrize(
    ("amount", "spanish"),
    [
        ("", "Escriba un importe."),
        ("abc", "Escriba el importe en dólares y centavos, por ejemplo 1,250.00 o 25."),
        ("0", "El importe debe ser mayor que cero."),
        ("0.50", "El pago más pequeño que podemos aceptar en línea es de $1.00."),
        ("20000", "El pago más grande que podemos aceptar en línea es de $10,000.00."),
        ("9" * 29, "El pago más grande que podemos aceptar en línea es de $10,000.00."),
    ],
)
def test_an_amount_posted_wrong_is_refused_in_spanish(client, tenant, amount, spanish, millennium):
    encounter = millennium.visits.unregistered()
    no_estimate(encounter)
    launch_id = _signed_in(client, tenant, encounter.patient)
    url = _pay_url(launch_id, encounter.fhir_id)
    quote = _quote(client.get(url).content.decode())

    english = client.post(url, {"quote": quote, "amount": amount}, **EN)
    refused = client.post(url, {"quote": quote, "amount": amount}, **ES)

    page = _all_spanish(english, refused, spanish)
    assert refused.status_code == 400 and 'id="error-amount"' in page
    assert Payment.objects.count() == 0


def test_a_balance_above_what_is_taken_online_asks_for_a_part(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    _balance(encounter, "250.00")
    PaymentSettings.objects.filter(tenant=tenant).update(max_amount="100.00")
    launch_id = _signed_in(client, tenant, encounter.patient)
    url = _pay_url(launch_id, encounter.fhir_id)

    page = assert_all_spanish(client, url, "Su saldo de esta visita es de $250.00")
    too_much = {"quote": _quote(page), "amount": "150.00"}
    _all_spanish(
        client.post(url, too_much, **EN),
        client.post(url, too_much, **ES),
        "El pago más grande que podemos aceptar en línea es de $100.00.",
    )


def test_a_visit_with_nothing_left_to_pay(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    _balance(encounter, "0.00")
    launch_id = _signed_in(client, tenant, encounter.patient)

    assert_all_spanish(
        client, _pay_url(launch_id, encounter.fhir_id), "no tiene nada pendiente de pago"
    )


def test_payments_turned_off(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    PaymentSettings.objects.filter(tenant=tenant).update(enabled=False)
    launch_id = _signed_in(client, tenant, encounter.patient)

    assert_all_spanish(
        client, _pay_url(launch_id, encounter.fhir_id), "Los pagos en línea están desactivados"
    )


def test_an_edited_pay_form_says_so_in_spanish(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)
    url = _pay_url(launch_id, encounter.fhir_id)
    edited = {"quote": _quote(client.get(url).content.decode())[:-3] + "AAA"}

    english = client.post(url, edited, follow=True, **EN)
    spanish = client.post(url, edited, follow=True, **ES)

    _all_spanish(english, spanish, "Este formulario de pago venció o fue modificado.")
    assert Payment.objects.count() == 0


def test_another_patients_visit_is_not_found_in_spanish(client, tenant, millennium):
    from smartapp.sandbox.models import Encounter

    encounter = millennium.visits.registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)
    other = Encounter.objects.exclude(patient__fhir_id=encounter.patient.fhir_id).first()

    page = client.get(_pay_url(launch_id, other.fhir_id), **ES)

    assert page.status_code == 404 and "Visita no encontrada" in page.content.decode()


# --- The card page (Stripe Elements, ours) ------------------------------------------------------


def test_the_card_page(client, stripe_tenant, localstripe_server):
    from tests.payments.test_stripe import card_page_of

    payment, card_url = card_page_of(client, stripe_tenant)

    page = assert_all_spanish(client, card_url, f"Pagar ${payment.amount} con tarjeta")

    assert 'data-locale="es"' in page and 'data-refused="La tarjeta no fue aceptada."' in page


def test_the_card_page_says_the_processor_is_down_in_spanish(
    client, stripe_tenant, localstripe_server
):
    from smartapp.demo import processes
    from tests.payments.test_stripe import card_page_of

    payment, card_url = card_page_of(client, stripe_tenant)
    PaymentSettings.objects.filter(tenant=stripe_tenant).update(
        processor_base_url=f"http://127.0.0.1:{processes.free_port()}"
    )

    english = client.get(card_url, follow=True, **EN)
    spanish = client.get(card_url, follow=True, **ES)

    _all_spanish(english, spanish, "El procesador de tarjetas no responde en este momento.")


# --- The status page and its self-refreshing part -----------------------------------------------


def test_a_payment_not_paid_yet_offers_the_card_page_again(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)
    url = _pay_url(launch_id, encounter.fhir_id)
    client.post(url, {"quote": _quote(client.get(url).content.decode())})
    payment = Payment.objects.get()

    page = assert_all_spanish(
        client, f"/l/{launch_id}/payments/{payment.public_id}/", "Aún no pagado"
    )

    assert f"Pagar ${payment.amount} con tarjeta" in page and 'id="pay-again"' in page


def test_leaving_the_card_page_says_so_in_spanish(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)
    url = _pay_url(launch_id, encounter.fhir_id)
    client.post(url, {"quote": _quote(client.get(url).content.decode())})
    left = f"/l/{launch_id}/payments/{Payment.objects.get().public_id}/cancelled/"

    english = client.get(left, follow=True, **EN)
    spanish = client.get(left, follow=True, **ES)

    _all_spanish(english, spanish, "Salió de la página de la tarjeta. No se cobró nada.")


STATES = {
    "declined": (
        {"state": State.NEW, "captured_at": None, "message": "Your card was declined."},
        "La tarjeta no fue aceptada",
    ),
    "charged": ({}, "Lo estamos enviando al hospital ahora."),
    "not accepted yet": ({"checks": 3}, "Aún no está en el sistema de facturación del hospital"),
    "waiting for the account": ({"state": State.AWAITING_ACCOUNT}, "Esperando el registro"),
    "posting": ({"state": State.POSTING}, "Llegando al hospital"),
    "outcome unknown": ({"state": State.OUTCOME_UNKNOWN}, "Llegando al hospital"),
    "posted": ({"state": State.POSTED, "posted_at": timezone.now()}, "Aplicado"),
    "failed": ({"state": State.FAILED}, "El hospital no pudo aceptar el pago"),
    "staff checking": ({"state": State.NEEDS_ATTENTION}, "El personal lo está revisando"),
    "refunded": ({"state": State.REFUNDED}, "Reembolsado"),
    "cancelled": ({"state": State.CANCELLED, "captured_at": None}, "Este pago se canceló."),
}


@pytest.mark.parametrize("state", STATES)
def test_the_status_page_and_its_part_in_each_state(client, tenant, state):
    fields, phrase = STATES[state]
    payment = _paid(client, tenant)
    Payment.objects.filter(pk=payment.pk).update(**fields)
    base = f"/l/{payment.launch.public_id}/payments/{payment.public_id}/"

    page = assert_all_spanish(client, base, phrase)
    part = _all_spanish(
        client.get(f"{base}status/", **EN), client.get(f"{base}status/", **ES), phrase, page=False
    )

    assert "Forma de pago" in part and "Tarjeta terminada en 4242" in part
    assert "(dólares estadounidenses)" in page and "Todos los pagos" in page


def test_the_status_of_a_posted_payment_with_a_refund(client, tenant):
    paid = wait_for_state(_paid(client, tenant), "posted", run_inline=True)
    refund = refunds.posted_refund_start(
        ask=refunds.RefundAsk(payment=paid, amount=Decimal("2.50"), reason="overcharged",
                              by="billing.clerk", request_key=secrets.token_urlsafe(16))
    )  # fmt: skip
    base = f"/l/{paid.launch.public_id}/payments/{paid.public_id}/"

    page = assert_all_spanish(client, base, "Reembolso")

    assert f"Se reembolsaron $2.50 a su tarjeta terminada en {paid.card_last4}" in page
    wait_for_state(refund, "posted", run_inline=True)
    assert_all_spanish(client, base, "su cuenta del hospital ya lo muestra")


# --- The receipt -------------------------------------------------------------------------------


def test_the_receipt_of_a_card_payment(client, tenant):
    payment = _paid(client, tenant)
    url = f"/l/{payment.launch.public_id}/payments/{payment.public_id}/receipt/"

    page = assert_all_spanish(client, url, "En el sistema del hospital")

    visit = page.split('id="receipt-visit">')[1].split("</dd>")[0]
    assert ", con " in visit and "Tarjeta" not in visit
    assert "Visa terminada en 4242" in page.replace("VISA", "Visa")
    assert "Para guardar una copia, use la opción Imprimir" in page and "Volver al pago" in page
    assert re.search(r"\d{1,2} (ene|feb|mar|abr|may|jun|jul|ago|sep|oct|nov|dic) \d{4}", page)


def test_the_receipt_with_refunds(client, tenant):
    paid = wait_for_state(_paid(client, tenant), "posted", run_inline=True)
    for amount in ("2.50", "1.00"):
        refund = refunds.posted_refund_start(
            ask=refunds.RefundAsk(payment=paid, amount=Decimal(amount), reason="overcharged",
                                  by="billing.clerk", request_key=secrets.token_urlsafe(16))
        )  # fmt: skip
    wait_for_state(refund, "posted", run_inline=True)  # one posted, one still reaching the account
    url = f"/l/{paid.launch.public_id}/payments/{paid.public_id}/receipt/"

    page = assert_all_spanish(client, url, "Reembolsos")

    refunds_part = page.split('id="receipt-refunds">')[1].split("</ul>")[0]
    assert "$2.50" in refunds_part and "$1.00" in refunds_part and "</b> el " in refunds_part


def test_the_receipt_of_a_desk_payment_whose_visit_cannot_be_read(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)
    payment = desk_row(tenant, encounter, "5.00", method=Method.CASH)
    Payment.objects.filter(pk=payment.pk).update(encounter_id="no-such-visit")

    page = assert_all_spanish(
        client, f"/l/{launch_id}/payments/{payment.public_id}/receipt/", "Efectivo en la recepción"
    )

    assert "El sistema del hospital no pudo indicar de qué visita se trata" in page


# --- The payments list -------------------------------------------------------------------------


def test_the_payments_list_with_a_refund_and_a_desk_payment(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    paid = wait_for_state(_paid(client, tenant, encounter), "posted", run_inline=True)
    refunds.posted_refund_start(
        ask=refunds.RefundAsk(payment=paid, amount=Decimal("2.50"), reason="overcharged",
                              by="billing.clerk", request_key=secrets.token_urlsafe(16))
    )  # fmt: skip
    desk_row(tenant, encounter, "5.00", method=Method.CHECK, check_number="1234")

    page = assert_all_spanish(
        client, f"/l/{paid.launch.public_id}/payments/", "Dónde está el dinero"
    )

    assert "$2.50 reembolsados" in page and "<td>Cheque</td>" in page and "Recibo" in page


def test_the_payments_list_with_none_yet(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)

    assert_all_spanish(client, f"/l/{launch_id}/payments/", "Aún no hay pagos.")


# --- The pay button on the visits page ---------------------------------------------------------


def _pay_slots(page: str) -> str:
    return "".join(re.findall(r'<span class="pay-slot".*?</span>', page, flags=re.S))


def test_the_pay_buttons_on_the_visits_page(client, tenant):
    paid = _paid(client, tenant)
    url = f"/l/{paid.launch.public_id}/visits/"

    english, spanish = client.get(url, **EN), client.get(url, **ES)

    assert english.status_code == spanish.status_code == 200
    english_slots, spanish_slots = _pay_slots(english.content.decode()), _pay_slots(spanish.content.decode())  # fmt: skip
    assert f'id="pay-{paid.encounter_id}"' in spanish_slots
    assert f"${paid.amount} · Pagado" in spanish_slots and ">Pagar" in spanish_slots
    assert untranslated(english_slots, spanish_slots) == []


def test_a_pay_button_with_the_estimate(client, tenant, millennium):
    from types import SimpleNamespace

    from django.template.loader import render_to_string

    from smartapp.launch.models import Launch
    from smartapp.payments.templatetags.payments import pay_button

    encounter = millennium.visits.registered()[0]
    launch = Launch.objects.get(public_id=_signed_in(client, tenant, encounter.patient))
    visit = SimpleNamespace(
        encounter_id=encounter.fhir_id,
        status="finished",
        estimated_responsibility=Decimal("1250.5"),
    )

    def rendered(language: str) -> str:
        with translation.override(language):
            return render_to_string("payments/_pay_button_inner.html", pay_button(launch, visit))

    english, spanish = rendered("en"), rendered("es")

    assert "Pagar (aprox. $1,250.50)" in spanish and "Pay (est. $1,250.50)" in english
    assert untranslated(english, spanish) == []


# --- The receipt email -------------------------------------------------------------------------


def test_the_receipt_email_goes_out_in_the_language_the_patient_paid_in(
    client, tenant, sandbox_tenants_file, tmp_path
):
    _sends_receipts(tenant, sandbox_tenants_file, tmp_path)
    payment = _paid(client, tenant, **ES)
    assert payment.language == "es"
    mail.outbox.clear()

    with translation.override("en"):  # the worker's (or staff's) own language does not matter
        receipt_send(payment.pk)

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.subject == f"{tenant.name}: recibo {payment.posting_id}"
    body = sent.body
    assert f"{tenant.name}: recibo de su pago" in body
    assert f"Importe: ${payment.amount:,.2f} (dólares estadounidenses)" in body
    assert "Forma de pago: Visa terminada en 4242" in body.replace("VISA", "Visa")
    assert "Pagado: " in body and "(hora de " in body and "Visita: " in body and ", con " in body
    assert f"Referencia: {payment.posting_id}" in body and "Estado: Pagado." in body
    assert re.search(r"\d{1,2} (ene|feb|mar|abr|may|jun|jul|ago|sep|oct|nov|dic) \d{4}", body)
    for english in ("Amount", "Paid by", "Visit:", "Reference", "Status", " with ", "ending"):
        assert english not in body, english


def test_the_receipt_email_of_a_patient_who_paid_in_english_stays_english(
    client, tenant, sandbox_tenants_file, tmp_path
):
    _sends_receipts(tenant, sandbox_tenants_file, tmp_path)
    payment = _paid(client, tenant, **EN)
    mail.outbox.clear()

    with translation.override("es"):
        receipt_send(payment.pk)

    sent = mail.outbox[0]
    assert sent.subject == f"{tenant.name}: receipt {payment.posting_id}"
    assert f"Amount: ${payment.amount:,.2f} USD" in sent.body and "Paid by: " in sent.body
