"""The cluster drill: the production shape from real parts (tests/cluster/cluster.py) under faults.

A patient's journey through nginx lands on both web processes and carries on when one dies;
200 payments post exactly once while a worker is killed mid-POST, Redis is killed and restarted
and beat is restarted; the metrics scraped through nginx show them posted.
"""

import collections
import json
import re
import signal
import subprocess
import time
from datetime import UTC, datetime

import pytest
import redis
import requests
from celery import Celery

from bench.harness import PYTHON, ROOT
from bench.payments import CREATE_ROWS, FAR_FUTURE
from tests.cluster.cluster import BEAT, WEB, WORKERS, Cluster, Process
from tests.cluster.journey import Patient
from tests.monitoring.scrapes import ehr_calls

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("cluster")]

PAYMENTS, LATE_PAYMENTS, LATE_VISITS = 170, 30, 3  # 200 in all; 30 wait for their Account
FAULTS = {  # the sandbox answers some posts unclearly (as the PostgreSQL drill does)
    "basic_5xx": 0.08,
    "basic_timeout_after_write": 0.08,
    "basic_429": 0.05,
    "account_5xx": 0.05,
    "account_timeout": 0.03,
}
FINAL = ("posted", "failed", "needs_attention")
OURS = "(request_key LIKE 'bench-%' OR request_key LIKE 'late-%')"  # CREATE_ROWS' prefixes
FIRST_WAVE = 100  # of the 170 on registered visits; the other 70 become due before Redis dies
STATES_SQL = f"SELECT state, COUNT(*) FROM payments_payment WHERE {OURS} GROUP BY state"  # noqa: S608
IDS_SQL = f"SELECT id FROM payments_payment WHERE {OURS}"  # noqa: S608
RELEASE_SQL = "UPDATE payments_payment SET next_check_at = ? WHERE id = ANY(?) RETURNING id"
POSTING_IDS_SQL = f"SELECT posting_id FROM payments_payment WHERE {OURS}"  # noqa: S608
CLAIMED_SQL = f"SELECT COUNT(*) FROM payments_payment WHERE {OURS} AND claimed_until > ?"  # noqa: S608


def _served(cluster: Cluster, name: str, tag: str, offset: int = 0) -> int:
    """Requests of the journey in a web process's own gunicorn access log (since `offset`)."""
    return sum(line.endswith(f'"{tag}"') for line in cluster.processes[name].access_lines(offset))


def _all_served(cluster: Cluster, tag: str, offsets: dict, count: int) -> dict[str, int] | None:
    """Each web process's count of the journey's requests, once they add up to `count`."""
    served = {name: _served(cluster, name, tag, offsets[name]) for name in WEB}
    return served if sum(served.values()) >= count else None


def _payable_visit(cluster: Cluster) -> tuple[str, str]:
    """A registered visit with a balance, and its patient (not a merged record)."""
    rows = cluster.query(
        "SELECT e.fhir_id, p.fhir_id FROM sandbox_account a"
        " JOIN sandbox_encounter e ON e.tenant_id = a.tenant_id AND e.fhir_id = a.encounter_fhir_id"
        " JOIN sandbox_patient p ON p.id = e.patient_id"
        " WHERE a.tenant_id = ? AND a.account_type = 'guarantor-balance' AND a.balance > 5"
        " AND p.replaced_by = '' ORDER BY e.fhir_id LIMIT 1",
        [cluster.tenant["ehr_tenant_id"]],
    )
    assert rows, "the seed has no registered visit with a balance"
    return rows[0][0], rows[0][1]


def _fetches(cluster: Cluster, path: str) -> int:
    """How many times anything fetched `path` through nginx (the app reaches the EHR there)."""
    return sum(f'"GET {path} ' in line for line in cluster.nginx_access())


@pytest.mark.timeout(150, func_only=True)  # the shared cluster starts in setup
def test_a_patients_journey_through_nginx_lands_on_both_web_processes_and_survives_one_killed(
    cluster, figure
):
    encounter_id, patient_id = _payable_visit(cluster)
    patient = Patient(cluster.url)
    patient.sign_in(tenant_slug=cluster.tenant["slug"], patient_id=patient_id)
    patient.book()
    asked = patient.requests
    start = dict.fromkeys(WEB, 0)
    # gunicorn logs a request just after answering it: wait for the journey's lines.
    before = cluster.wait_until(
        lambda: _all_served(cluster, patient.tag, start, asked), 10, "the journey's access lines"
    )
    assert all(before.values()), f"the journey's requests so far landed on {before}"
    session = patient.browser.cookies.get("sessionid")

    victim, survivor = cluster.processes[WEB[0]], cluster.processes[WEB[1]]
    offsets = {name: cluster.processes[name].log_size() for name in WEB}
    nginx_seen = len(cluster.nginx_access())
    victim.kill(signal.SIGKILL)  # mid-journey: signed in and booked, not yet paid
    killed = time.monotonic()
    status_path = patient.pay(encounter_id)
    paid = time.monotonic()
    posted = cluster.wait_until(
        lambda: "Posted" in (part := patient.status(status_path)) and part,
        60,
        "the journey's payment shown posted",
    )
    after_kill = patient.requests - asked
    after = cluster.wait_until(
        lambda: _all_served(cluster, patient.tag, offsets, after_kill),
        10,
        "the journey's access lines after the kill",
    )
    failovers = [
        line
        for line in cluster.nginx_access()[nginx_seen:]
        if f"upstream=127.0.0.1:{cluster.web_ports[WEB[0]]}, " in line
    ]
    # Shared state: the session is a database row, discovery and the sign-in server's keys
    # are cached in Redis (CACHE_URL), so each was fetched once for all six gunicorn workers.
    patient_base = cluster.tenant["patient_fhir_base"].removeprefix(cluster.url)
    discovery = _fetches(cluster, f"{patient_base}/.well-known/smart-configuration")
    jwks = _fetches(cluster, "/sandbox/authorization/jwk")
    cached = redis.Redis.from_url(cluster.env["CACHE_URL"]).keys("*smart-config:*")
    stored = cluster.query("SELECT COUNT(*) FROM django_session WHERE session_key = ?", [session])
    journey = (
        f"journey: {asked} requests before the kill on {before}, {after_kill} after it all on "
        f"{WEB[1]} ({after}), same session cookie; paid {paid - killed:.1f} s after the kill, "
        f"posted {time.monotonic() - paid:.1f} s after paying; nginx passed {len(failovers)} "
        f"request(s) meant for the dead {WEB[0]} on to {WEB[1]}; the patient FHIR base's "
        f"discovery fetched {discovery} time(s) and the JWKS {jwks} for both processes"
    )
    up = (
        f"up: nginx, 2 web, 2 workers, beat, Redis and PostgreSQL in "
        f"{cluster.started_seconds:.1f} s (migrations {cluster.migrate_seconds:.1f} s)"
    )
    for line in (up, journey):
        figure(line)
        print(f"\ncluster {line}")
    assert after == {WEB[0]: 0, WEB[1]: after_kill}, after
    assert "Posted" in posted and survivor.alive
    assert patient.browser.cookies.get("sessionid") == session and stored == [(1,)]
    assert failovers, "nginx never passed a request meant for the killed process to the other"
    assert discovery == 1 and jwks == 1 and cached, (discovery, jwks, cached)
    cluster.restart(WEB[0])  # back for what follows (a supervisor would restart it)


def _states(cluster: Cluster, *, everyone: bool = False) -> collections.Counter:
    """The drill's payments by state (`everyone`: every payment, the journey's too)."""
    sql = "SELECT state, COUNT(*) FROM payments_payment GROUP BY state" if everyone else STATES_SQL
    return collections.Counter(dict(cluster.query(sql)))


def _final_states(cluster: Cluster, total: int) -> collections.Counter | None:
    states = _states(cluster)
    return states if sum(states[state] for state in FINAL) >= total else None


def _create_rows(cluster: Cluster) -> dict:
    made = subprocess.run(
        [PYTHON, "-c", CREATE_ROWS, cluster.tenant["ehr_tenant_id"], str(PAYMENTS)]
        + [str(LATE_PAYMENTS), str(LATE_VISITS), FAR_FUTURE],
        cwd=ROOT,
        env={**cluster.env, "DJANGO_SETTINGS_MODULE": "smartapp.settings"},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(made.stdout.strip().splitlines()[-1])


def _posting_now(cluster: Cluster, control: Celery) -> tuple[str, list[int]] | None:
    """A worker with a POST in flight: its name and the payments of its active tasks."""
    active = control.control.inspect(timeout=1.0, limit=len(WORKERS)).active() or {}
    for hostname, tasks in active.items():
        ids = [int(i) for task in tasks for i in _payment_ids(task.get("args") or [])]
        sending = (
            ids
            and cluster.query(
                "SELECT COUNT(*) FROM payments_attempt WHERE kind = 'post' AND result = 'sending'"
                " AND payment_id = ANY(?)",
                [ids],
            )[0][0]
        )
        if sending:
            return hostname.split("@", 1)[0], ids
    return None


def _payment_ids(args: list) -> list:
    first = args[0] if args else []
    return first if isinstance(first, list) else [first]


def _in_state(cluster: Cluster, ids: list[int], state: str) -> list[int]:
    rows = cluster.query(
        "SELECT id FROM payments_payment WHERE state = ? AND id = ANY(?)", [state, ids]
    )
    return [row[0] for row in rows]


def _after_redis(worker: Process, offset: int) -> str | None:
    """What a worker did since Redis died: connected again and took a task ("consuming"), or
    exited ("died"); None while neither."""
    text = worker.log_text(offset)
    at = text.find("Connected to redis://")
    if at >= 0 and " received" in text[at:]:
        return "consuming"
    return None if worker.alive else "died"


def _last_words(log: str) -> str:
    """The error a process logged before it exited (JSON or plain lines)."""
    for line in reversed(log.splitlines()):
        if "CRITICAL" in line or "Unrecoverable" in line:
            try:
                return str(json.loads(line).get("message", line))[:200]
            except ValueError:
                return line[:200]
    return log.strip().splitlines()[-1][:200] if log.strip() else "(nothing logged)"


@pytest.mark.timeout(240, func_only=True)
def test_200_payments_post_exactly_once_through_a_killed_worker_a_restarted_redis_and_beat(
    cluster, figure
):
    for name in WEB:  # the journey test leaves both serving; make sure on any order
        if not cluster.processes[name].alive:
            cluster.restart(name)
    visits = _create_rows(cluster)
    ours = [row[0] for row in cluster.query(f"{IDS_SQL} ORDER BY id")]
    bench = [row[0] for row in cluster.query(f"{IDS_SQL} AND request_key LIKE 'bench-%'")]
    later = sorted(bench)[FIRST_WAVE:]  # due once Redis is about to die
    cluster.sandbox("POST", "control/faults", json=FAULTS)
    control = Celery(broker=cluster.env["REDIS_URL"])
    broker = redis.Redis.from_url(cluster.env["REDIS_URL"])
    figures: list[str] = []

    def note(text: str) -> None:
        figures.append(text)
        print(f"\ncluster drill: {text}")

    def posted(ids: list[int]) -> int:
        return len(_in_state(cluster, ids, "posted"))

    first = [i for i in ours if i not in set(later)]
    cluster.query(RELEASE_SQL, [datetime.now(UTC), first])
    released = time.monotonic()

    # 1. A worker killed with a POST in flight; its supervisor starts it again.
    victim, ids = cluster.wait_until(
        lambda: _posting_now(cluster, control), 60, "a worker with a POST in flight", every=0.05
    )
    cluster.processes[victim].kill(signal.SIGKILL)
    killed = time.monotonic()
    stranded = _in_state(cluster, ids, "posting")
    posted_then = posted(ours)
    restarted = cluster.restart(victim)

    # 2. A worker asked to stop (SIGTERM to its main process, as `docker stop` sends) with a
    # POST in flight: it finishes what it was posting or leaves it for the next worker.
    stopping, given = cluster.wait_until(
        lambda: _posting_now(cluster, control), 60, "a worker with a POST in flight", every=0.05
    )
    took = cluster.processes[stopping].stop()
    left = _in_state(cluster, given, "posting")
    cluster.restart(stopping)
    cluster.wait_until(
        lambda: posted(stranded) == len(stranded),
        60,
        f"the payments {victim} left mid-POST posted by the workers",
    )
    note(
        f"{victim} SIGKILLed mid-POST {killed - released:.1f} s into the run ({posted_then} "
        f"posted) with {len(stranded)} payment(s) in posting; restarted in {restarted:.1f} s; "
        f"they were posted {time.monotonic() - killed:.1f} s after the kill (claim lease 8 s)"
    )
    assert stranded, "the killed worker had no payment in posting"
    cluster.wait_until(
        lambda: posted(given) == len(given),
        60,
        f"the payments {stopping} was stepping when asked to stop, posted",
    )
    note(
        f"{stopping} asked to stop (SIGTERM) mid-POST: exited in {took:.1f} s leaving "
        f"{len(left)} of its task's {len(given)} payments in posting; all of them posted"
    )

    # 3. Redis killed while the second wave is queued and posting, started again on the same
    # port and append-only dir.
    cluster.query(RELEASE_SQL, [datetime.now(UTC), later])
    cluster.wait_until(lambda: posted(later) >= 10, 60, "the second wave posting")
    broker.set("cluster-drill:kept", "1")
    queued = broker.llen("celery")
    offsets = {name: cluster.processes[name].log_size() for name in WORKERS}
    posted_at_kill = posted(ours)
    cluster.processes["redis"].kill(signal.SIGKILL)
    redis_killed = time.monotonic()
    cluster.restart_redis()
    back = time.monotonic() - redis_killed
    kept = broker.get("cluster-drill:kept") == b"1"
    requeued = broker.llen("celery")
    cluster.wait_until(lambda: cluster.ready(cluster.url), 30, "nginx's /readyz 200 again")
    ready_again = time.monotonic() - redis_killed
    consuming: dict[str, float] = {}
    died: dict[str, str] = {}
    for name in WORKERS:
        process = cluster.processes[name]
        outcome = cluster.wait_until(
            lambda p=process, n=name: _after_redis(p, offsets[n]),
            60,
            f"{name} taking tasks from the restarted Redis",
        )
        if outcome == "died":  # compose's `restart: unless-stopped` starts it again
            died[name] = _last_words(process.log_text(offsets[name]))
            cluster.restart(name)
        consuming[name] = round(time.monotonic() - redis_killed, 1)
    note(
        f"Redis SIGKILLed with {posted_at_kill} posted and {queued} tasks queued, answering "
        f"again in {back:.1f} s with {requeued} queued (append-only data kept: {kept}); /readyz "
        f"through nginx 200 again after {ready_again:.1f} s; workers taking tasks again after "
        f"{consuming} s"
        + (f"; died on the lost connection, restarted as compose would: {died}" if died else "")
    )
    assert kept, "Redis lost what it had written to its append-only file"

    # 4. Beat restarted (SIGKILL, then started again with the same schedule file).
    cluster.wait_until(lambda: posted(later) >= len(later) // 2, 60, "half the second wave posted")
    if not cluster.processes[BEAT].alive:  # the restart policy again
        note(f"beat had died: {_last_words(cluster.processes[BEAT].log_text())}; restarted")
        cluster.restart(BEAT)
    offset = cluster.processes[BEAT].log_size()
    posted_at_kill = posted(ours)
    cluster.processes[BEAT].kill(signal.SIGKILL)
    beat_killed = time.monotonic()
    cluster.restart(BEAT)
    cluster.wait_logged(BEAT, "Sending due task payments-enqueue-due", offset=offset)
    beat_back = time.monotonic() - beat_killed
    cluster.wait_until(lambda: posted(later) == len(later), 60, "the second wave posted")
    note(
        f"beat SIGKILLed with {posted_at_kill} posted and started again: its first due task "
        f"sent {beat_back:.1f} s after the kill; the second wave all posted "
        f"{time.monotonic() - redis_killed:.1f} s after Redis died"
    )

    # 5. The late visits' Accounts appear; everything ends posted.
    cluster.wait_until(
        lambda: _states(cluster)["awaiting_account"] >= LATE_PAYMENTS,
        60,
        "the late visits' payments waiting for their Account",
    )
    for visit in sorted(set(visits["late"])):
        registered = cluster.sandbox("POST", f"ehr/encounters/{visit}/register")
        assert registered.json()["registered"], registered.text
    registered_at = time.monotonic()
    total = PAYMENTS + LATE_PAYMENTS
    states = cluster.wait_until(
        lambda: _final_states(cluster, total), 120, "every payment final", every=0.5
    )
    done = time.monotonic()
    cluster.sandbox("POST", "control/faults", json={})
    rows = [row[0] for row in cluster.query(POSTING_IDS_SQL)]
    unclear = cluster.query(
        "SELECT COUNT(*) FROM payments_attempt WHERE result IN ('landed', 'not_landed')"
    )[0][0]
    claimed = cluster.query(CLAIMED_SQL, [datetime.now(UTC)])[0][0]
    ledger = cluster.sandbox("GET", "control/ledger").json()
    counts = collections.Counter(entry["identifier"] for entry in ledger)
    note(
        f"{total} payments: states {dict(states)}; the late ones posted {done - registered_at:.1f} s "
        f"after their Accounts appeared; all final {done - released:.1f} s after release; "
        f"unclear answers resolved from balances {unclear}; ledger entries for them "
        f"{sum(counts[p] for p in rows)}"
    )
    for line in figures:
        figure(line)
    assert states == {"posted": total}, states
    assert len(rows) == total and all(counts[p] == 1 for p in rows), {
        p: counts[p] for p in rows if counts[p] != 1
    }
    assert unclear > 0  # the faults happened, and were resolved from the balances
    assert claimed == 0, "payments still claimed after the run"

    # 6. The metrics, scraped through nginx, show them posted (from the database at scrape time).
    refused, scraped = cluster.scrape(token="wrong"), cluster.scrape()
    assert refused.status_code in (401, 403) and scraped.status_code == 200, (refused, scraped)
    text = scraped.text
    posted_in_db = _states(cluster, everyone=True)["posted"]
    shown = _metric(text, 'smartapp_payments{state="posted"}')
    timed = _metric(text, "smartapp_payment_capture_to_posted_seconds_count")
    figure(
        f"metrics through nginx: {shown:.0f} payments posted, {timed:.0f} capture-to-posted times"
    )
    assert shown == posted_in_db >= total and timed == posted_in_db, (shown, timed, posted_in_db)

    # 7. Each worker's own port shows the posts its pool made since it (re)started.
    posts = {name: _posts_accepted(cluster.scrape_worker(name)) for name in WORKERS}
    figure(
        f"workers' own metrics: FinancialTransaction posts answered 201 since each start {posts}"
    )
    assert 1 <= sum(posts.values()) <= posted_in_db, posts  # a restarted worker's count restarts

    # 8. LOG_FORMAT=json, compose's commands (--quiet): the workers' and beat's logs are JSON
    # lines, with no startup banner among them.
    for name in (*WORKERS, BEAT):
        text = cluster.processes[name].log_text()
        logged = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert "[config]" not in text and ".> transport:" not in text, (name, text[:1500])
        assert len(logged) >= 5 and all("message" in line for line in logged), name


def _posts_accepted(scraped: requests.Response) -> float:
    assert scraped.status_code == 200, scraped.text[:500]
    return ehr_calls(scraped.text).get(("fhir", "Basic", "POST", "201"), 0.0)


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} is not in the metrics:\n{text[:2000]}"
    return float(match[1])
