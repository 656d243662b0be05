"""The daily reconciliation against the sandbox processor's own list of charges and our postings:
matched, captured but not posted (and why), amounts that differ, refunds after posting, charges
we do not know; the command, the CSV, the staff page and the queue's banner."""

import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from smartapp.payments.models import Payment, PaymentSettings, ReconciliationRun
from smartapp.payments.processor import processor_for
from smartapp.payments.reconciliation import (
    AMOUNTS_DIFFER,
    MATCHED,
    NOT_POSTED,
    POSTED_UNCAPTURED,
    REFUND_NOT_REVERSED,
    UNKNOWN_CHARGE,
    reconciliation_for,
)
from smartapp.testing import wait_for_state
from tests.payments.conftest import desk_row
from tests.payments.test_pages import CARD_OK, _card_page, paid_by_card

pytestmark = pytest.mark.django_db(transaction=True)


def _today(tenant):
    return timezone.now().astimezone(tenant.zone).date()


def _verdicts(tenant) -> dict[str, str]:
    return {row.reference or row.why: row.verdict for row in reconciliation_for(tenant=tenant, day=_today(tenant)).rows}  # fmt: skip


def test_a_clean_day_matches_every_charge_and_posting(client, tenant, millennium):
    first, second = millennium.visits.registered()[:2]
    wait_for_state(paid_by_card(client, tenant, first), "posted", run_inline=True)
    wait_for_state(desk_row(tenant, second, "4.00"), "posted", run_inline=True)

    report = reconciliation_for(tenant=tenant, day=_today(tenant))

    assert report.exceptions == [] and report.counts()[MATCHED] == 2
    assert report.counts()[POSTED_UNCAPTURED] == 0 and report.processor_note == ""


def test_the_exceptions_are_named_with_why(client, tenant, millennium):
    first, second, third = millennium.visits.registered()[:3]
    waiting = paid_by_card(client, tenant, first)  # captured, never stepped: not posted
    differs = wait_for_state(paid_by_card(client, tenant, second), "posted", run_inline=True)
    Payment.objects.filter(pk=differs.pk).update(amount=differs.amount + Decimal("1.00"))
    refunded = wait_for_state(paid_by_card(client, tenant, third), "posted", run_inline=True)
    stripe_like = processor_for(PaymentSettings.objects.get(tenant=tenant))
    stripe_like.refund(charge_id=refunded.charge_id, idempotency_key="after-posting")
    stranger = stripe_like.create_checkout(amount=Decimal("9.00"), reference="NOT-OURS", return_url="https://x/", cancel_url="https://x/")  # fmt: skip
    _card_page(stranger.checkout_url, CARD_OK)

    verdicts = _verdicts(tenant)

    assert verdicts[waiting.posting_id] == NOT_POSTED
    assert verdicts[differs.posting_id] == AMOUNTS_DIFFER
    assert verdicts[refunded.posting_id] == REFUND_NOT_REVERSED
    charge = stripe_like.fetch_session(session_id=stranger.session_id).charge_id
    assert verdicts[charge] == UNKNOWN_CHARGE


def test_the_command_writes_one_csv_row_a_payment_keeps_the_run_and_the_queue_says_so(
    client, tenant, tmp_path, django_user_model, millennium
):
    first, second = millennium.visits.registered()[:2]
    wait_for_state(paid_by_card(client, tenant, first), "posted", run_inline=True)
    waiting = paid_by_card(client, tenant, second)

    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "payments_reconcile", "--tenant", tenant.slug, "--csv", str(tmp_path / "day.csv")
        )

    rows = list(csv.DictReader(io.StringIO((tmp_path / "day.csv").read_text())))
    assert exit_info.value.code == 1 and len(rows) == 2
    assert {r["verdict"] for r in rows} == {MATCHED, NOT_POSTED}
    assert ReconciliationRun.objects.get(tenant=tenant).exceptions == 1
    client.force_login(django_user_model.objects.create_user("billing", is_staff=True))
    queue = client.get("/staff/payments/").content.decode()
    assert f'id="reconciliation-{tenant.slug}"' in queue and "found 1 exception." in queue
    page = client.get("/staff/payments/reconciliation/", {"tenant": tenant.slug})
    assert waiting.posting_id in page.content.decode()
    download = client.get(
        "/staff/payments/reconciliation/", {"tenant": tenant.slug, "format": "csv"}
    )
    assert (
        download["Content-Type"].startswith("text/csv")
        and waiting.posting_id in download.content.decode()
    )
