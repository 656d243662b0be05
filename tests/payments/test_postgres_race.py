"""Claims on PostgreSQL: two processes racing over 200 due payments; each is taken exactly once."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RACE_PAYMENTS = 200

SETUP = f"""
import secrets
from django.utils import timezone
from smartapp.payments.models import Payment, State
from smartapp.tenants.models import Tenant
tenant = Tenant.objects.create(slug="race", name="Race", ehr_tenant_id="t", provider_fhir_base="http://127.0.0.1:9/")
now = timezone.now()
Payment.objects.bulk_create([
    Payment(request_key=secrets.token_hex(8), tenant=tenant, patient_id="1", encounter_id=str(n),
            amount="1.00", amount_source="desk", method="cash", state=State.CAPTURED,
            captured_at=now, next_check_at=now)
    for n in range({RACE_PAYMENTS})
])
"""

CHECK = """
from django.db.models import Count
from smartapp.payments.models import Attempt, Payment
posts = Attempt.objects.values("payment_id").annotate(n=Count("id"))
print("payments", Payment.objects.count(), "posted", Payment.objects.filter(state="posted").count(),
      "max_posts", max(p["n"] for p in posts), "posts", Attempt.objects.count())
"""


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _database(postgres_url: str, setup: str, **extra: str) -> dict[str, str]:
    """The environment of processes on the test's PostgreSQL, migrated and set up."""
    env = {**os.environ, "DATABASE_URL": postgres_url, "SANDBOX_ENABLED": "0", "DJANGO_DEBUG": "1"}
    env.update(extra)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    _manage(env, "migrate", "-v", "0")
    _manage(env, "shell", "-c", setup)
    return env


def _race(env: dict[str, str], module: str, racers: list[list[str]]) -> list[str]:
    """Starts `python -m module NAME START_AT …` once per racer, all released at the same
    instant; their outputs, once each has exited cleanly."""
    start_at = str(time.time() + 3)
    running = [
        subprocess.Popen(
            [sys.executable, "-m", module, name, start_at, *rest],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, *rest in racers
    ]
    outputs = [racer.communicate(timeout=120) for racer in running]
    for racer, (_out, err) in zip(running, outputs, strict=True):
        assert racer.returncode == 0, err[-3000:]
    return [out for out, _ in outputs]


def test_two_processes_racing_on_postgresql_claim_each_payment_once(postgres_url, figure):
    env = _database(postgres_url, SETUP)
    outputs = _race(env, "tests.payments.racer", [["a", "asc"], ["b", "desc"]])
    wins = [int(out.split()[-1]) for out in outputs]
    summary = _manage(env, "shell", "-c", CHECK).split()[-8:]
    figure(
        f"postgres race: {RACE_PAYMENTS} payments, 2 processes, wins {wins}, {' '.join(summary)}"
    )
    assert sum(wins) == RACE_PAYMENTS
    assert summary == ["payments", "200", "posted", "200", "max_posts", "1", "posts", "200"]


REFUND_SETUP = """
import secrets
from django.utils import timezone
from smartapp.payments.models import Payment, State
from smartapp.tenants.models import Tenant
tenant = Tenant.objects.create(slug="refund-race", name="Refund race", ehr_tenant_id="r", provider_fhir_base="http://127.0.0.1:9/")
now = timezone.now()
Payment.objects.bulk_create([
    Payment(request_key=secrets.token_hex(8), tenant=tenant, patient_id="1", encounter_id=str(n),
            account_id=f"G{n}", amount="10.00", amount_source="desk", method="cash",
            state=State.POSTED, captured_at=now, posted_at=now)
    for n in range(100)
])
"""

REFUND_CHECK = """
from django.db.models import Count, Sum
from smartapp.payments.models import Payment
given = Payment.objects.filter(tenant__slug="refund-race", reverses__isnull=False)
per = given.values("reverses_id").annotate(n=Count("id"), total=Sum("amount"))
print("refunds", given.count(), "max_per_payment", max(p["n"] for p in per),
      "max_total", max(p["total"] for p in per))
"""


def test_two_processes_refunding_the_same_payments_never_give_back_more_than_was_paid(
    postgres_url, figure
):
    # No broker: a refund handed back at the desk is not enqueued (the beat would find it).
    env = _database(postgres_url, REFUND_SETUP, CELERY_BROKER_URL="redis://127.0.0.1:9/0")
    outputs = _race(env, "tests.payments.refund_racer", [["a"], ["b"]])
    made = [int(out.split()[-3]) for out in outputs]
    summary = _manage(env, "shell", "-c", REFUND_CHECK).split()[-6:]
    figure(
        f"postgres refund race: 100 payments of $10, 2 processes refunding $6 each, made {made}, {' '.join(summary)}"
    )
    assert sum(made) == 100 and min(made) > 0  # both really raced
    assert summary == ["refunds", "100", "max_per_payment", "1", "max_total", "6.00"]
