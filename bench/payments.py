"""Payments pipeline: 2,000 payments through real Redis and Celery workers against the sandbox.

Figures: payments posted per second, the sandbox's own `POST /Basic` rate alone (same run, same
concurrency as the workers, measured before and after the pipeline and averaged, so a machine that
drifts during the run does not tilt the ratio), their ratio (target ≥ 0.5), ledger duplicates
(must be 0), for payments whose Account appears late the delay from registration to posting (p50,
p95), Account searches per payment (from the audit log), and CPU ms per payment of each process
group beside the sandbox's own per bare POST. Never fails on time: a bounded wait reports
what finished.
"""

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.harness import (
    PYTHON,
    ROOT,
    Database,
    Stack,
    cpu_seconds,
    free_port,
    system_token,
    wait_for_port,
)
from smartapp.demo.processes import celery_worker_command, redis_command
from tests.payments import postgres
from tests.payments.workers import wait_logged_ready

PAYMENTS = 2000
LATE_PAYMENTS = 100
LATE_ENCOUNTERS = 20
WORKERS = 2
CONCURRENCY = 2
CALIBRATION_POSTS = 1500  # each side of the pipeline: long enough to average out noise
REGISTER_AFTER_S = 15.0
GIVE_UP_S = 600.0
LATE_GRACE_S = 180.0  # after the 2,000 are done, how long the late ones may still take
FAR_FUTURE = "2999-01-01 00:00:00.000000"
# Production settings except a fast beat (the drills' 0.5 s): backoff, grace and leases as shipped.
# The enqueue grace (re-send a payment still queued after it) outlasts the run: every payment is
# enqueued at release and nothing is lost, so a shorter grace only re-sends queued payments,
# which a worker then finds already posted ("not claimed").
# Celery reopens the PostgreSQL connection around every task (a new backend each time) unless
# CELERY_DB_REUSE_MAX is set.
WORKER_ENV = {
    "PAYMENT_BEAT_SECONDS": "0.5",
    "PAYMENT_ENQUEUE_GRACE_SECONDS": str(int(GIVE_UP_S)),
    "CELERY_DB_REUSE_MAX": "100",
}
# The sandbox must not register the "late" visits by itself during the run.
SANDBOX_ENV = {"SANDBOX_REGISTRATION_DELAY_SECONDS": "100000"}

# Run with the venv python and the stack's environment: creates the outbox rows (not yet due).
CREATE_ROWS = """
import json, secrets, sys
from datetime import UTC, datetime
import django
django.setup()
from decimal import Decimal
from django.utils import timezone
from smartapp.payments.models import Method, Payment, State
from smartapp.sandbox.models import Account, Encounter
from smartapp.tenants.models import Tenant

ehr_tenant, count, late_count, late_encounters, far = sys.argv[1:6]
count, late_count, late_encounters = int(count), int(late_count), int(late_encounters)
tenant = Tenant.objects.get(slug="sandbox")
with_account = set(
    Account.objects.filter(tenant_id=ehr_tenant, account_type="guarantor-balance")
    .values_list("encounter_fhir_id", flat=True)
)
registered = list(
    Encounter.objects.filter(tenant_id=ehr_tenant, fhir_id__in=with_account)
    .select_related("patient").order_by("fhir_id")
)
late = [
    e for e in Encounter.objects.filter(tenant_id=ehr_tenant, status="planned")
    .select_related("patient").order_by("fhir_id")
    if e.fhir_id not in with_account
][:late_encounters]
far = datetime.fromisoformat(far).replace(tzinfo=UTC)
now = timezone.now()

def row(encounter, prefix):
    return Payment(
        request_key=prefix + secrets.token_urlsafe(16),
        tenant=tenant,
        patient_id=encounter.patient.fhir_id,
        encounter_id=encounter.fhir_id,
        amount=Decimal("1.00"),
        amount_source="desk",
        method=Method.CASH,
        state=State.CAPTURED,
        captured_at=now,
        next_check_at=far,
    )

rows = [row(registered[n % len(registered)], "bench-") for n in range(count)]
rows += [row(late[n % len(late)], "late-") for n in range(late_count)] if late else []
Payment.objects.bulk_create(rows, batch_size=500)
print(json.dumps({
    "registered": [e.fhir_id for e in registered],
    "late": [e.fhir_id for e in late[:late_count]],
}))
"""


def _now_db(db: Database) -> datetime | str:
    """Now as Django stores a UTC datetime (in SQLite: text, comparable as a string)."""
    now = datetime.now(UTC)
    if db.postgres:
        return now
    return now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _parse(at: str | datetime) -> datetime:
    value = at if isinstance(at, datetime) else datetime.fromisoformat(at.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 2)
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


def _redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    data = workdir / "redis"
    data.mkdir()
    process = subprocess.Popen(
        redis_command(port=port, data_dir=data),
        stdout=(workdir / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port, timeout=30)
    return process, f"redis://127.0.0.1:{port}/0"


def _worker(env: dict[str, str], name: str, workdir: Path, *, beat: bool) -> subprocess.Popen:
    command = celery_worker_command(
        concurrency=CONCURRENCY,
        hostname=name,
        beat_schedule=workdir / "beat-schedule" if beat else None,
        standalone=True,
    )
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=(workdir / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=5)


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live descendants."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0.0
    for member in tree:
        try:
            total += cpu_seconds(member)
        except (OSError, ValueError, IndexError):
            continue
    return total


def _cpu(groups: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(_tree_cpu(pid) for pid in pids) for name, pids in groups.items()}


def _basic_body(identifier: str, account: str, alias: str, location: str) -> dict:
    ext = "https://fhir-ehr.cerner.com/r4/StructureDefinition/"
    money = {"value": 1.0, "currency": "USD"}
    extensions = [
        {
            "url": ext + "financial-transaction-type",
            "valueCodeableConcept": {
                "coding": [
                    {
                        "code": "payment",
                        "system": "http://terminology.hl7.org/CodeSystem/payment-type",
                    }
                ]
            },
        },
        {
            "url": ext + "financial-transaction-method",
            "valueCodeableConcept": {
                "coding": [
                    {
                        "code": "CASH",
                        "display": "Cash",
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0570",
                    }
                ],
                "text": "Cash",
            },
        },
        {"url": ext + "financial-transaction-tendered-amount", "valueMoney": money},
        {
            "url": ext + "financial-transaction-allocation",
            "extension": [
                {"url": "target", "valueReference": {"reference": f"Account/{account}"}},
                {"url": "amount", "valueMoney": money},
            ],
        },
        {"url": ext + "financial-transaction-alias", "valueString": alias},
        {"url": ext + "financial-transaction-amount", "valueMoney": money},
    ]
    if location:
        extensions.append({"url": ext + "financial-transaction-location", "valueString": location})
    return {
        "resourceType": "Basic",
        "code": {"coding": [{"code": "FinancialTransaction"}]},
        "identifier": [{"value": identifier, "use": "usual"}],
        "extension": extensions,
    }


def sandbox_basic_rate(
    stack: Stack, encounters: list[str], threads: int, label: str
) -> tuple[float, int]:
    """POST /Basic straight to the sandbox (no app): posts per second with `threads` callers."""
    token = system_token(stack, "system/Basic.write system/FinancialTransaction.write")
    payments = stack.tenants.get("payments", {})
    alias = (payments.get("transaction_aliases") or ["0111"])[0]
    location = payments.get("payment_location", "")
    base = stack.tenants["provider_fhir_base"]
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/fhir+json",
        "Accept": "application/fhir+json",
    }
    counter = iter(range(CALIBRATION_POSTS))
    lock = threading.Lock()
    refused: list[int] = []

    def caller() -> None:
        session = requests.Session()
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            body = _basic_body(
                f"BENCHCAL{label}{n:06d}", f"G{encounters[n % len(encounters)]}", alias, location
            )
            response = session.post(f"{base}/Basic", json=body, headers=headers, timeout=60)
            if response.status_code != 201:
                with lock:
                    refused.append(response.status_code)

    started = time.perf_counter()
    pool = [threading.Thread(target=caller) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if len(refused) == CALIBRATION_POSTS:
        raise RuntimeError(f"every calibration POST /Basic was refused: {Counter(refused)}")
    return (CALIBRATION_POSTS - len(refused)) / elapsed, len(refused)


def _calibrate(
    stack: Stack, encounters: list[str], label: str, ehr: dict[str, list[int]]
) -> tuple[float, int, dict[str, float]]:
    """The sandbox's POST /Basic rate alone, and its (and its database's) CPU ms per POST."""
    before = _cpu(ehr)
    rate, refused = sandbox_basic_rate(stack, encounters, WORKERS * CONCURRENCY, label)
    after = _cpu(ehr)
    return rate, refused, {k: 1000 * (after[k] - before[k]) / CALIBRATION_POSTS for k in ehr}


def _register_later(
    stack: Stack,
    encounters: list[str],
    at: float,
    out: dict[str, datetime],
    failures: list[int],
) -> threading.Thread:
    def run() -> None:
        time.sleep(max(0.0, at - time.monotonic()))
        for encounter in encounters:
            for _ in range(20):  # the sandbox answers 500 "database is locked" under load
                response = requests.post(
                    f"{stack.sandbox.url}/sandbox/ehr/encounters/{encounter}/register",
                    json={},
                    timeout=60,
                )
                if response.status_code == 200:
                    out[encounter] = datetime.now(UTC)  # the Account exists from here on
                    break
                failures.append(response.status_code)
                time.sleep(0.25)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _bulk_final(db: Database) -> bool:
    left = db.execute(
        "SELECT COUNT(*) FROM payments_payment WHERE request_key LIKE 'bench-%' "
        "AND state NOT IN ('posted', 'failed', 'needs_attention')"
    ).fetchone()[0]
    return left == 0


def payment_states(db: Database) -> Counter:
    return Counter(
        dict(db.execute("SELECT state, COUNT(*) FROM payments_payment GROUP BY state").fetchall())
    )


def pipeline() -> list[dict]:
    workdir = Path(tempfile.mkdtemp(prefix="smartapp-bench-payments-"))
    database_url, database, database_dir = postgres.start()  # the production shape
    stack = Stack(workdir=workdir, database_url=database_url)
    processes: list[subprocess.Popen] = []
    try:
        stack.start(latency_ms=0, sandbox_env=SANDBOX_ENV)
        env = stack.env(**SANDBOX_ENV)
        made = subprocess.run(
            [
                PYTHON,
                "-c",
                CREATE_ROWS,
                stack.tenants["ehr_tenant_id"],
                str(PAYMENTS),
                str(LATE_PAYMENTS),
                str(LATE_ENCOUNTERS),
                FAR_FUTURE,
            ],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "smartapp.settings"},
            check=True,
            capture_output=True,
            text=True,
        )
        encounters = json.loads(made.stdout.strip().splitlines()[-1])
        late_encounters = sorted(set(encounters["late"]))

        # The sandbox alone, before anything else runs, at the workers' total concurrency.
        ehr = {"sandbox": [stack.sandbox.process.pid], "database": [database.pid]}
        rate_before, refused, alone_cpu = _calibrate(stack, encounters["registered"], "A", ehr)

        redis, broker = _redis(workdir)
        processes.append(redis)
        worker_env = {**env, **WORKER_ENV, "CELERY_BROKER_URL": broker}
        names = [f"w{n + 1}" for n in range(WORKERS)]
        for n, name in enumerate(names):
            processes.append(_worker(worker_env, name, workdir, beat=n == 0))
        wait_logged_ready(
            [
                (process, workdir / f"{name}.log")
                for name, process in zip(names, processes[1:], strict=True)
            ]
        )

        groups = {
            "workers": [p.pid for p in processes[1:]],
            "sandbox": [stack.sandbox.process.pid],
            "database": [database.pid],
            "redis": [redis.pid],
        }
        cpu_before = _cpu(groups)
        db = stack.db()
        released = datetime.now(UTC)
        start = time.monotonic()
        db.execute("UPDATE payments_payment SET next_check_at = ?", [_now_db(db)])
        registered_at: dict[str, datetime] = {}
        register_failures: list[int] = []
        _register_later(
            stack, late_encounters, start + REGISTER_AFTER_S, registered_at, register_failures
        )
        total = PAYMENTS + (LATE_PAYMENTS if late_encounters else 0)
        progress, bulk_done, cpu_bulk = time.monotonic(), None, None
        while time.monotonic() - start < GIVE_UP_S:
            states = payment_states(db)
            if states["posted"] + states["failed"] + states["needs_attention"] >= total:
                break
            if bulk_done is None and _bulk_final(db):
                bulk_done = time.monotonic()
                cpu_bulk = _cpu(groups)
            if bulk_done is not None and time.monotonic() - bulk_done > LATE_GRACE_S:
                break  # late payments still backing off: report what posted
            if time.monotonic() - progress > 30:
                print(f"  payments: {dict(states)} after {time.monotonic() - start:.0f} s")
                progress = time.monotonic()
            time.sleep(0.5)
        states = payment_states(db)
        cpu_bulk = cpu_bulk or _cpu(groups)
        rows = db.execute(
            "SELECT posting_id, request_key, state, posted_at, encounter_id FROM payments_payment"
        ).fetchall()
        searches = Counter(
            dict(
                db.execute(
                    "SELECT substr(reason, 9, 22), COUNT(*) FROM audit_auditevent "
                    "WHERE what LIKE 'Account%' AND reason LIKE 'payment SA%' GROUP BY 1"
                ).fetchall()
            )
        )
        db.close()
        for process in reversed(processes):
            _stop(process)
        rate_after, refused_after, _ = _calibrate(stack, encounters["registered"], "B", ehr)
    finally:
        for process in reversed(processes):
            _stop(process)
        ledger = []
        if stack.sandbox and stack.sandbox.process.poll() is None:
            ledger = requests.get(f"{stack.sandbox.url}/sandbox/control/ledger", timeout=120).json()
        stack.stop()
        postgres.stop(database, database_dir)

    sandbox_rate = (rate_before + rate_after) / 2
    bulk = [r for r in rows if r[1].startswith("bench-")]
    late = [r for r in rows if r[1].startswith("late-")]
    posted_times = [_parse(r[3]) for r in bulk if r[2] == "posted" and r[3]]
    wall = (max(posted_times) - released).total_seconds() if posted_times else None
    posted_rate = len(posted_times) / wall if wall else 0.0
    counts = Counter(entry["identifier"] for entry in ledger)
    first_at: dict[str, datetime] = {}
    for entry in ledger:
        first_at.setdefault(entry["identifier"], _parse(entry["at"]))
    ours = {r[0] for r in rows}
    duplicates = sum(1 for pid in ours if counts[pid] > 1)
    delays = [
        (first_at[r[0]] - registered_at[r[4]]).total_seconds()
        for r in late
        if r[0] in first_at and r[4] in registered_at
    ]
    late_searches = [searches[r[0]] for r in late]
    # CPU ms per bulk payment, release to the bulk's end (the late ones add a little).
    cpu_ms = {
        name: round(1000 * (cpu_bulk[name] - cpu_before[name]) / max(1, len(posted_times)), 1)
        for name in cpu_before
    }
    return [
        {
            "payments": len(bulk),
            "workers": f"{WORKERS}x{CONCURRENCY}",
            "posted": len(posted_times),
            "wall_s": round(wall, 1) if wall else None,
            "posted_per_s": round(posted_rate, 1),
            "sandbox_basic_per_s": round(sandbox_rate, 1),
            "sandbox_basic_before_after": f"{rate_before:.0f}/{rate_after:.0f}",
            "ratio": round(posted_rate / sandbox_rate, 2) if sandbox_rate else None,
            "duplicates": duplicates,
            "late_payments": len(late),
            "late_posted": sum(1 for r in late if r[2] == "posted"),
            "late_delay_p50_s": _percentile(delays, 50),
            "late_delay_p95_s": _percentile(delays, 95),
            "account_searches_per_payment": round(sum(searches[r[0]] for r in bulk) / len(bulk), 2)
            if bulk
            else None,
            "late_searches_per_payment": round(statistics.mean(late_searches), 2)
            if late_searches
            else None,
            "states": " ".join(f"{k}={v}" for k, v in sorted(states.items())),
            "calibration_refused": refused + refused_after,
            "cpu_ms_sandbox_alone": round(alone_cpu["sandbox"], 1),
            "cpu_ms_database_alone": round(alone_cpu["database"], 1),
            "cpus": os.cpu_count(),
            **{f"cpu_ms_{name}": value for name, value in cpu_ms.items()},
            "register_500s": len(register_failures),
        }
    ]


COLUMNS = [
    "payments",
    "workers",
    "posted",
    "wall_s",
    "posted_per_s",
    "sandbox_basic_per_s",
    "sandbox_basic_before_after",
    "ratio",
    "duplicates",
    "late_payments",
    "late_posted",
    "late_delay_p50_s",
    "late_delay_p95_s",
    "account_searches_per_payment",
    "late_searches_per_payment",
    "states",
    "register_500s",
    "cpus",
    "cpu_ms_workers",
    "cpu_ms_sandbox",
    "cpu_ms_database",
    "cpu_ms_redis",
    "cpu_ms_sandbox_alone",
    "cpu_ms_database_alone",
]

PART = (pipeline, COLUMNS)
