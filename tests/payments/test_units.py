"""Money parsing, posting identifiers, the FinancialTransaction body, tenant-file keys, a dead broker."""

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartapp.payments.models import new_posting_id
from smartapp.payments.money import BadAmount, parse_amount, to_money
from smartapp.testing._worker import use_broker as celery_use_broker
from tests.examples import cerner_example

LOW, HIGH = Decimal("1.00"), Decimal("10000.00")


@pytest.mark.parametrize(
    "text",
    ["", "0", "0.00", "-1", "abc", "1e3x", "NaN", "Infinity", "12.345", "10000.01", "0.99",
     # read loosely once: each means something else to someone, so none is guessed at
     "1.000,00", "1,0,0,0", "1_000", "1E+3", "+5", "١٠", "१०", "１０", "𝟏𝟎", "0,500",
     "1e30", "1e400", "9" * 29, "$ 5", "5$", "1,00", "1 000"],
)  # fmt: skip
def test_it_refuses_bad_amounts_with_a_message_showing_the_form(text):
    with pytest.raises(BadAmount) as refused:
        parse_amount(text, low=LOW, high=HIGH)
    assert str(refused.value)


@given(text=st.text(max_size=40))
def test_any_text_is_an_amount_in_limits_with_cents_or_refused(text):
    try:
        amount = parse_amount(text, low=LOW, high=HIGH)
    except BadAmount:
        return
    assert LOW <= amount <= HIGH and amount == amount.quantize(Decimal("0.01"))
    assert text.strip().lstrip("$").replace(",", "").replace(".", "").isascii()


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("12", "12.00"),
        ("$1,250.5", "1250.50"),
        (" 1.00 ", "1.00"),
        ("1,000", "1000.00"),
        ("$25", "25.00"),
    ],
)
def test_it_reads_good_amounts_as_two_place_decimals(text, amount):
    assert parse_amount(text, low=LOW, high=HIGH) == Decimal(amount)


def test_it_reads_the_ehrs_string_and_number_money():
    assert to_money("1250.00") == Decimal("1250.00") and to_money(12.1) == Decimal("12.10")


def test_posting_identifiers_are_alphanumeric_and_distinct():
    ids = {new_posting_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(re.fullmatch(r"SA[A-Z2-7]{20}", i) for i in ids)


@pytest.mark.django_db
def test_the_body_matches_cerners_card_example_shape():

    from smartapp.payments.ehr import financial_transaction
    from smartapp.payments.models import Payment, PaymentSettings
    from smartapp.tenants.models import Tenant

    tenant = Tenant.objects.create(
        slug="t", name="T", ehr_tenant_id="x", provider_fhir_base="https://x/"
    )
    settings = PaymentSettings.objects.create(tenant=tenant, location="98920358")
    payment = Payment(
        posting_id="SAABC",
        amount=Decimal("12.00"),
        method="card",
        card_brand="visa",
        card_last4="4321",
        card_expiry="2005-01",
    )
    body = financial_transaction(payment=payment, account_id="G1", settings=settings)
    example = cerner_example("r4_financialtransaction_create_request_card.json")
    urls = sorted(e["url"] for e in body["extension"])
    assert urls == sorted(e["url"] for e in example["extension"])
    assert body["identifier"] == [{"value": "SAABC", "use": "usual"}]
    brand = next(e for e in body["extension"] if e["url"].endswith("card-brand"))
    assert brand["valueString"] == "VISA"


@pytest.mark.django_db
def test_the_tenant_file_sets_limits_aliases_and_refuses_nonsense(tmp_path):
    import json

    from smartapp.payments.models import PaymentSettings
    from smartapp.tenants.services import TenantFileError, tenants_register_file

    entry = {
        "slug": "h",
        "name": "H",
        "ehr_tenant_id": "x",
        "provider_fhir_base": "https://x/",
        "payments": {
            "aliases": {"card": "0222"},
            "location": "7",
            "min_amount": "5.00",
            "max_amount": "500.00",
            "backoff_cap_seconds": 60,
            "escalate_after_seconds": 3600,
        },
        "processor": {"base_url": "https://p/", "api_key": "k"},
    }
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"tenants": [entry]}))
    tenants_register_file(path=path)
    row = PaymentSettings.objects.get(tenant__slug="h")
    assert (row.card_alias, row.cash_alias, row.location) == ("0222", "0111", "7")
    assert (row.min_amount, row.max_amount, row.backoff_cap_seconds) == (
        Decimal("5.00"),
        Decimal("500.00"),
        60,
    )
    assert row.processor_api_key == "k"
    entry["payments"]["max_amount"] = "abc"
    path.write_text(json.dumps({"tenants": [entry]}))
    with pytest.raises(TenantFileError):
        tenants_register_file(path=path)


@pytest.mark.django_db(transaction=True)
def test_a_dead_broker_loses_nothing_the_beat_finds_the_payment_later():
    from django.utils import timezone

    from smartapp.celery import app
    from smartapp.payments.models import Payment, State
    from smartapp.payments.services import enqueue_soon, payments_due_by_visit
    from smartapp.tenants.models import Tenant

    previous = app.conf.broker_url
    celery_use_broker("redis://127.0.0.1:9/0")  # nothing listens there
    tenant = Tenant.objects.create(
        slug="t", name="T", ehr_tenant_id="x", provider_fhir_base="https://x/"
    )
    payment = Payment.objects.create(
        request_key="k",
        tenant=tenant,
        patient_id="1",
        encounter_id="2",
        amount=Decimal("3.00"),
        amount_source="desk",
        state=State.CAPTURED,
        next_check_at=timezone.now(),
    )
    from django.db import transaction

    try:
        with transaction.atomic():
            enqueue_soon(payment)  # must not raise into the user's request
    finally:
        celery_use_broker(previous)
    assert payments_due_by_visit() == [[payment.pk]]
    assert payments_due_by_visit() == []  # enqueued just now: not handed out twice within the grace


@pytest.mark.django_db
def test_the_beat_hands_out_due_payments_by_visit_in_bounded_groups():
    from django.utils import timezone

    from smartapp.payments.models import Payment, State
    from smartapp.payments.services import payments_due_by_visit
    from smartapp.tenants.models import Tenant

    tenant = Tenant.objects.create(
        slug="t", name="T", ehr_tenant_id="x", provider_fhir_base="https://x/"
    )
    now = timezone.now()

    def due(encounter: str, n: int) -> int:
        return Payment.objects.create(
            request_key=f"k{encounter}{n}",
            tenant=tenant,
            patient_id="1",
            encounter_id=encounter,
            amount=Decimal("1.00"),
            amount_source="desk",
            state=State.CAPTURED,
            next_check_at=now,
        ).pk

    a = [due("A", n) for n in range(5)]
    b = [due("B", n) for n in range(2)]

    assert sorted(payments_due_by_visit(per_visit=3)) == sorted([a[:3], a[3:], b])
    assert payments_due_by_visit(per_visit=3) == []  # handed out once within the grace
