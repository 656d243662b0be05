"""Pay, return, status and desk pages: the Django client plays the browser, the sandbox is real."""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone

from smartapp.payments.models import Attempt, Payment, PaymentSettings, State
from smartapp.testing import launch_as_clinician, launch_as_patient, wait_for_state
from smartapp.testing.personas import Visits
from tests.payments.conftest import TENANT, no_estimate

pytestmark = pytest.mark.django_db(transaction=True)
CARD_OK, CARD_DECLINED = "4242424242424242", "4000000000000002"


def _signed_in(client, tenant, patient) -> str:
    return launch_as_patient(client, patient=patient, tenant=tenant.slug).public_id


def _pay_page(client, launch_id, encounter_id):
    return client.get(f"/l/{launch_id}/visits/{encounter_id}/pay/")


def _quote(html: str) -> str:
    found = re.search(r'name="quote" value="([^"]+)"', html)
    assert found, "the pay page carries its signed quote"
    return found[1]


def _card_page(checkout_url: str, card: str) -> requests.Response:
    """The patient on the processor's hosted page (the app never sees this)."""
    browser = requests.Session()
    page = browser.get(checkout_url, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:300]
    return browser.post(
        checkout_url,
        data={
            "csrfmiddlewaretoken": token[1],
            "number": card,
            "expiry": "12/39",
            "cvc": "123",
            "name": "Pat Patient",
            "pay": "1",
        },
        headers={"Referer": checkout_url},
        allow_redirects=False,
        timeout=10,
    )


def paid_by_card(client, tenant, encounter) -> Payment:
    """The encounter's patient signs in and pays its balance at the sandbox processor."""
    launch_id = _signed_in(client, tenant, encounter.patient)
    page = _pay_page(client, launch_id, encounter.fhir_id)
    sent = client.post(page.request["PATH_INFO"], {"quote": _quote(page.content.decode())})
    back = urlsplit(_card_page(sent["Location"], CARD_OK).headers["Location"])
    client.get(f"{back.path}?{back.query}")
    return Payment.objects.get(encounter_id=encounter.fhir_id, method="card")


def _start(client, tenant):
    encounter = Visits().registered()[0]  # the kit's `millennium.visits`
    launch_id = _signed_in(client, tenant, encounter.patient)
    page = _pay_page(client, launch_id, encounter.fhir_id)
    assert page.status_code == 200, page.content[:500]
    return encounter, launch_id, page


def test_a_patient_pays_the_visit_balance_at_the_processor_and_it_posts(
    client, tenant, millennium_ledger
):
    encounter, launch_id, page = _start(client, tenant)
    html = page.content.decode()
    assert 'id="pay-amount"' in html and "your balance for this visit" in html

    sent = client.post(page.request["PATH_INFO"], {"quote": _quote(html)})
    assert sent.status_code == 303 and "/sandbox/processor/checkout/" in sent["Location"]
    payment = Payment.objects.get()
    assert payment.state == State.NEW and payment.amount_source == "balance"

    back = _card_page(sent["Location"], CARD_OK)
    assert back.status_code == 303
    returned = client.get(
        urlsplit(back.headers["Location"]).path + "?" + urlsplit(back.headers["Location"]).query
    )
    assert returned.status_code == 303
    payment.refresh_from_db()
    assert payment.state == State.CAPTURED and payment.card_last4 == "4242"

    status = client.get(returned["Location"])
    body = status.content.decode()
    assert 'hx-trigger="every 2s"' in body and "Paid" in body
    wait_for_state(payment, "posted", run_inline=True)
    part = client.get(f"/l/{launch_id}/payments/{payment.public_id}/status/").content.decode()
    assert "Posted" in part and "hx-trigger" not in part  # final: the polling stops
    assert len(millennium_ledger.for_payment(payment)) == 1


def test_a_double_clicked_pay_makes_one_payment_and_one_checkout(client, tenant):
    encounter, launch_id, page = _start(client, tenant)
    quote = _quote(page.content.decode())
    first = client.post(page.request["PATH_INFO"], {"quote": quote})
    second = client.post(page.request["PATH_INFO"], {"quote": quote})
    assert first["Location"] == second["Location"]
    assert Payment.objects.count() == 1


def test_a_declined_card_takes_no_money_and_the_patient_can_try_again(client, tenant):
    encounter, launch_id, page = _start(client, tenant)
    sent = client.post(page.request["PATH_INFO"], {"quote": _quote(page.content.decode())})
    back = _card_page(sent["Location"], CARD_DECLINED)
    location = urlsplit(back.headers["Location"])
    client.get(f"{location.path}?{location.query}")
    payment = Payment.objects.get()
    assert payment.state == State.NEW and payment.charge_id == ""
    body = client.get(f"/l/{launch_id}/payments/{payment.public_id}/").content.decode()
    assert "No money was taken" in body and 'id="pay-again"' in body


def test_a_replayed_or_tampered_return_changes_nothing(client, tenant):
    encounter, launch_id, page = _start(client, tenant)
    sent = client.post(page.request["PATH_INFO"], {"quote": _quote(page.content.decode())})
    payment = Payment.objects.get()
    # Tampered: a made-up session, before paying.
    forged = client.get(
        f"/l/{launch_id}/payments/{payment.public_id}/return/?session=cs_fake&sig=00"
    )
    assert forged.status_code == 303
    payment.refresh_from_db()
    assert payment.state == State.NEW
    # The real session id but not paid: the processor says open, so still nothing.
    client.get(
        f"/l/{launch_id}/payments/{payment.public_id}/return/?session={payment.processor_session_id}&sig=00"
    )
    payment.refresh_from_db()
    assert payment.state == State.NEW
    back = _card_page(sent["Location"], CARD_OK)
    location = urlsplit(back.headers["Location"])
    for _ in range(3):  # replayed
        client.get(f"{location.path}?{location.query}")
    assert Payment.objects.get().state == State.CAPTURED
    assert Attempt.objects.filter(kind="processor", result="ok").count() == 1


def test_an_entered_amount_is_checked(client, tenant, settings, millennium):

    encounter = millennium.visits.unregistered()  # no account yet
    no_estimate(encounter)  # and no estimate: the patient enters the amount
    launch_id = _signed_in(client, tenant, encounter.patient)
    page = _pay_page(client, launch_id, encounter.fhir_id)
    quote = _quote(page.content.decode())
    url = f"/l/{launch_id}/visits/{encounter.fhir_id}/pay/"
    form_words = "for example 1,250.00 or 25"
    for amount, words in [
        ("0", "more than zero"),
        ("-5", form_words),
        ("abc", form_words),
        ("10.001", form_words),
        ("NaN", form_words),
        ("1e9", form_words),
        ("1e30", form_words),
        ("9" * 29, "largest payment"),
        ("1.000,00", form_words),
        ("１０", form_words),
        ("20000", "largest payment"),
        ("0.50", "smallest payment"),
    ]:
        response = client.post(url, {"quote": quote, "amount": amount})
        assert response.status_code == 400 and words in response.content.decode(), amount
    assert Payment.objects.count() == 0
    ok = client.post(url, {"quote": quote, "amount": "$12.50"})
    assert ok.status_code == 303 and Payment.objects.get().amount == 12.5


def test_an_edited_quote_is_refused(client, tenant):
    encounter, launch_id, page = _start(client, tenant)
    quote = _quote(page.content.decode())
    response = client.post(page.request["PATH_INFO"], {"quote": quote[:-3] + "AAA"})
    assert response.status_code == 303 and Payment.objects.count() == 0


def test_another_patients_visit_is_not_found(client, tenant, millennium):
    from smartapp.sandbox.models import Encounter

    encounter = millennium.visits.registered()[0]
    launch_id = _signed_in(client, tenant, encounter.patient)
    other = Encounter.objects.exclude(patient__fhir_id=encounter.patient.fhir_id).first()
    assert _pay_page(client, launch_id, other.fhir_id).status_code == 404
    assert client.post(
        f"/l/{launch_id}/visits/{other.fhir_id}/pay/", {"quote": "x"}
    ).status_code in (303, 404)
    assert Payment.objects.count() == 0


def test_another_patients_payment_is_not_found(client, tenant, millennium):
    encounters = millennium.visits.registered()
    mine = encounters[0]
    theirs = next(e for e in encounters if e.patient != mine.patient)
    from tests.payments.conftest import desk_row

    other_payment = desk_row(tenant, theirs)
    launch_id = _signed_in(client, tenant, mine.patient)
    assert client.get(f"/l/{launch_id}/payments/{other_payment.public_id}/").status_code == 404
    assert (
        client.get(f"/l/{launch_id}/payments/{other_payment.public_id}/status/").status_code == 404
    )


def test_pages_need_a_session_and_the_right_method(client, tenant):
    import uuid

    assert client.get(f"/l/{uuid.uuid4()}/payments/").status_code == 401
    encounter, launch_id, page = _start(client, tenant)
    assert client.put(page.request["PATH_INFO"]).status_code == 405
    assert client.post(f"/l/{launch_id}/payments/").status_code == 405


def test_a_clinician_records_cash_at_the_desk_and_it_posts(client, tenant, millennium):
    launch = launch_as_clinician(client).launch
    page = client.get(f"/l/{launch.public_id}/payments/desk/")
    assert page.status_code == 200
    key = re.search(r'name="key" value="([^"]+)"', page.content.decode())[1]
    form = {
        "key": key,
        "encounter": launch.encounter_id,
        "method": "cash",
        "amount": "7.00",
        "tendered": "5.00",
    }
    bad = client.post(f"/l/{launch.public_id}/payments/desk/", form)
    assert bad.status_code == 400 and "at least the amount" in bad.content.decode()
    form["tendered"] = "10.00"
    done = client.post(f"/l/{launch.public_id}/payments/desk/", form)
    again = client.post(f"/l/{launch.public_id}/payments/desk/", form)
    assert done.status_code == again.status_code == 303
    payment = Payment.objects.get()
    assert payment.state == State.CAPTURED and payment.taken_by.startswith("Practitioner/")
    assert (
        client.get(f"/l/{launch.public_id}/payments/desk/", {"encounter": "x"}).status_code == 200
    )
    registered = millennium.visits.balance(payment.encounter_id) is not None
    wait_for_state(payment, "posted" if registered else "awaiting_account", run_inline=True)


def test_staff_see_the_queue_and_retry_resolve_and_refund(client, tenant, django_user_model):
    encounter, launch_id, page = _start(client, tenant)
    sent = client.post(page.request["PATH_INFO"], {"quote": _quote(page.content.decode())})
    back = _card_page(sent["Location"], CARD_OK)
    location = urlsplit(back.headers["Location"])
    client.get(f"{location.path}?{location.query}")
    PaymentSettings.objects.filter(tenant=tenant).update(card_alias="9999")
    payment = wait_for_state(Payment.objects.get(), "failed", run_inline=True)

    assert client.get("/staff/payments/").status_code == 302  # not staff: to the admin login
    staff = django_user_model.objects.create_user("desk", password="pw-123456", is_staff=True)
    client.force_login(staff)
    queue = client.get("/staff/payments/", {"state": "failed"}).content.decode()
    assert payment.posting_id in queue and "post:refused(422)" in queue
    detail = client.get(f"/staff/payments/{payment.public_id}/").content.decode()
    assert "9999" in detail
    assert client.get(f"/staff/payments/{payment.public_id}/refund/").status_code == 405
    client.post(f"/staff/payments/{payment.public_id}/refund/", {"note": "cannot apply"})
    payment.refresh_from_db()
    assert payment.state == State.REFUNDED
    assert client.post(f"/staff/payments/{payment.public_id}/retry/").status_code == 303
    payment.refresh_from_db()
    assert payment.state == State.REFUNDED  # final: retry refused


def test_staff_retry_after_fixing_the_alias_posts_it(
    client, tenant, django_user_model, millennium, millennium_ledger
):
    from tests.payments.conftest import desk_row

    PaymentSettings.objects.filter(tenant=tenant).update(cash_alias="9999")
    payment = wait_for_state(
        desk_row(tenant, millennium.visits.registered()[0]), "failed", run_inline=True
    )
    PaymentSettings.objects.filter(tenant=tenant).update(cash_alias="0111")
    client.force_login(
        django_user_model.objects.create_user("ops", password="pw-123456", is_staff=True)
    )
    client.post(f"/staff/payments/{payment.public_id}/retry/")
    payment = wait_for_state(Payment.objects.get(pk=payment.pk), "posted", run_inline=True)
    assert len(millennium_ledger.for_payment(payment)) == 1
    resolve = client.post(
        f"/staff/payments/{payment.public_id}/resolve/", {"note": "x", "outcome": "posted"}
    )
    assert resolve.status_code == 303
    assert Payment.objects.get(pk=payment.pk).resolved_by == ""  # posted is final: refused
    assert timezone.now()


def _balance(encounter, amount: str) -> None:
    from decimal import Decimal

    from smartapp.sandbox.models import Account

    Account.objects.filter(
        tenant_id=TENANT, encounter_fhir_id=encounter.fhir_id, account_type="guarantor-balance"
    ).update(balance=Decimal(amount))


def test_a_balance_under_the_minimum_is_offered_as_it_is_never_rounded_up(
    client, tenant, millennium
):
    encounter = millennium.visits.registered()[0]
    _balance(encounter, "0.50")  # the tenant's minimum is $1.00
    launch_id = _signed_in(client, tenant, encounter.patient)

    page = _pay_page(client, launch_id, encounter.fhir_id).content.decode()

    assert 'id="pay-amount">$0.50<' in page and 'name="amount"' not in page
    posted = client.post(f"/l/{launch_id}/visits/{encounter.fhir_id}/pay/", {"quote": _quote(page)})
    assert posted.status_code == 303 and str(Payment.objects.get().amount) == "0.50"


def test_a_patient_never_pays_more_than_is_owed(client, tenant, millennium):
    encounter = millennium.visits.registered()[0]
    _balance(encounter, "250.00")
    PaymentSettings.objects.filter(tenant=tenant).update(max_amount="100.00")
    launch_id = _signed_in(client, tenant, encounter.patient)
    page = _pay_page(client, launch_id, encounter.fhir_id).content.decode()
    url = f"/l/{launch_id}/visits/{encounter.fhir_id}/pay/"

    assert "more than we can take online at once" in page  # a part, up to the online maximum
    too_much = client.post(url, {"quote": _quote(page), "amount": "150.00"})
    part = client.post(url, {"quote": _quote(page), "amount": "100.00"})

    assert too_much.status_code == 400 and "largest payment" in too_much.content.decode()
    assert part.status_code == 303 and str(Payment.objects.get().amount) == "100.00"


def _desk(client):
    launch = launch_as_clinician(client).launch
    page = client.get(f"/l/{launch.public_id}/payments/desk/").content.decode()
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key
    return launch, key[1]


def test_a_desk_payment_above_the_balance_needs_staff_to_record_a_credit(client, tenant):
    launch, key = _desk(client)
    from smartapp.sandbox.models import Encounter

    _balance(Encounter.objects.get(tenant_id=TENANT, fhir_id=launch.encounter_id), "40.00")
    url = f"/l/{launch.public_id}/payments/desk/"
    form = {"key": key, "encounter": launch.encounter_id, "method": "cash", "amount": "50.00", "tendered": "60.00"}  # fmt: skip

    refused = client.post(url, form)
    credit = client.post(url, {**form, "credit": "on"}, follow=True)

    assert (
        refused.status_code == 400
        and "record the difference as a credit" in refused.content.decode()
    )
    assert credit.status_code == 200 and "Change to give back: $10.00" in credit.content.decode()
    payment = Payment.objects.get()
    assert (payment.tendered - Decimal("10.00"), payment.amount) == (
        Decimal("50.00"),
        Decimal("50.00"),
    )


def test_a_desk_form_key_from_another_launch_never_shows_its_payment(client, tenant):
    from django.test import Client

    launch, key = _desk(client)
    url = f"/l/{launch.public_id}/payments/desk/"
    form = {"key": key, "encounter": launch.encounter_id, "method": "cash", "amount": "3.00"}
    assert client.post(url, form).status_code == 303
    other_browser = Client()
    other_launch, _ = _desk(other_browser)

    reused = other_browser.post(f"/l/{other_launch.public_id}/payments/desk/", form)

    text = reused.content.decode()
    assert reused.status_code == 400 and "already used for another payment" in text
    assert Payment.objects.count() == 1 and f'value="{key}"' not in text
