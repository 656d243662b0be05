"""The posting pipeline on PostgreSQL, as deployed: the sandbox and two Celery workers as real
processes, visit steps racing under injected faults. The ledger must hold each payment once.
"""

import collections
import json
import subprocess
import time
from datetime import UTC, datetime

import requests

from bench.harness import PYTHON, ROOT, Stack
from bench.payments import CREATE_ROWS, FAR_FUTURE, payment_states
from smartapp.demo.processes import stop_process
from tests.payments.workers import start_worker, wait_logged_ready

PAYMENTS, LATE_PAYMENTS, LATE_VISITS = 240, 30, 3
FAULTS = {
    "basic_5xx": 0.08,
    "basic_timeout_after_write": 0.08,
    "basic_429": 0.05,
    "account_5xx": 0.05,
    "account_timeout": 0.03,
}
FINAL = ("posted", "failed", "needs_attention")


def _rows(stack: Stack) -> dict:
    made = subprocess.run(
        [PYTHON, "-c", CREATE_ROWS, stack.tenants["ehr_tenant_id"], str(PAYMENTS)]
        + [str(LATE_PAYMENTS), str(LATE_VISITS), FAR_FUTURE],
        cwd=ROOT,
        env={**stack.env(), "DJANGO_SETTINGS_MODULE": "smartapp.settings"},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(made.stdout.strip().splitlines()[-1])


def _wait_final(db, total: int, seconds: float) -> collections.Counter:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = payment_states(db)
        if sum(states[state] for state in FINAL) >= total:
            break
        time.sleep(0.5)
    return payment_states(db)


def _wait_states(db, state: str, count: int, seconds: float) -> int:
    """Waits until `count` payments are in `state` (the workers have reached them)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and payment_states(db)[state] < count:
        time.sleep(0.2)
    return payment_states(db)[state]


def test_two_workers_on_postgresql_post_each_payment_once_under_faults(
    postgres_url, redis_server, tmp_path, figure
):
    stack = Stack(workdir=tmp_path, database_url=postgres_url)
    workers = []
    try:
        stack.start(latency_ms=0, sandbox_env={"SANDBOX_TIMEOUT_SLEEP_SECONDS": "2"})
        visits = _rows(stack)
        sandbox = stack.sandbox.url
        faults = requests.post(f"{sandbox}/sandbox/control/faults", json=FAULTS, timeout=10)
        assert faults.status_code == 200, faults.text[:300]
        env = {**stack.env(), "CELERY_BROKER_URL": f"{redis_server}/2"}
        workers = [start_worker(env=env, name="pg1", beat=True), start_worker(env=env, name="pg2")]
        wait_logged_ready(workers)
        db = stack.db()
        db.execute("UPDATE payments_payment SET next_check_at = ?", [datetime.now(UTC)])
        waiting = _wait_states(db, "awaiting_account", LATE_PAYMENTS, seconds=60)
        assert waiting >= LATE_PAYMENTS, "the workers never looked up the late visits"
        for visit in sorted(set(visits["late"])):  # their Accounts appear mid-run
            registered = requests.post(
                f"{sandbox}/sandbox/ehr/encounters/{visit}/register", timeout=30
            )
            assert registered.status_code == 200, registered.text[:300]
        states = _wait_final(db, PAYMENTS + LATE_PAYMENTS, seconds=150)
        rows = db.execute("SELECT posting_id FROM payments_payment").fetchall()
        unclear = db.execute(
            "SELECT COUNT(*) FROM payments_attempt WHERE result IN ('landed', 'not_landed')"
        ).fetchone()[0]
        searches = db.execute(
            "SELECT COUNT(*) FROM audit_auditevent WHERE what LIKE 'Account%'"
        ).fetchone()[0]
        db.close()
        ledger = requests.get(f"{sandbox}/sandbox/control/ledger", timeout=60).json()
    finally:
        for process, _ in workers:
            stop_process(process)
        stack.stop()
    counts = collections.Counter(entry["identifier"] for entry in ledger)
    figure(
        f"postgres drill: {len(rows)} payments, states {dict(states)}, "
        f"unclear answers {unclear}, Account searches {searches}"
    )
    assert states == {"posted": PAYMENTS + LATE_PAYMENTS}, states
    assert all(counts[posting_id] == 1 for (posting_id,) in rows)
    assert unclear > 0  # the faults happened and were resolved from balances
