"""`Millennium`: the seeded sandbox for one test, its personas, knobs and ledger."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests

from smartapp.testing.ledger import Baseline, Ledger
from smartapp.testing.personas import Clinicians, Patients, SeededVisit, Visits

if TYPE_CHECKING:
    from smartapp.tenants.models import Tenant

DEFAULT_SIZE = 8
FAULT_KINDS = (
    "basic_429",
    "basic_5xx",
    "basic_timeout_after_write",
    "account_429",
    "account_5xx",
    "account_timeout",
)
# drop_after_send: the sandbox answers this long after a write; the app gives up sooner.
DROP_SLEEP_SECONDS = 1.5
DROP_READ_TIMEOUT_SECONDS = 0.7


@dataclass(frozen=True)
class KnobCounts:
    """What the knobs did so far in this test."""

    throttled: int  # 429s answered
    expired: int  # tokens refused as expired by expire_tokens()
    tenant_mismatch: int  # calls refused with tenant_mismatch
    # The most answers latency() held at once since it was set: above 1, the calls overlapped.
    most_waiting_at_once: int


class Snapshot:
    """Internal: one size's seeded database, kept in memory and copied back before each test."""

    def __init__(self, size: int, tenants_file: Path) -> None:
        from django.db import connection
        from django.utils import timezone

        self.size, self.tenants_file = size, tenants_file
        self.memory = sqlite3.connect(":memory:", check_same_thread=False)
        connection.ensure_connection()
        connection.connection.backup(self.memory)
        self.seeded_at: datetime = timezone.now()
        self.clinic_day = _clinic_today()
        self.baseline = Baseline.now()

    def restore(self) -> None:
        from django.db import connection
        from django.db.models import F
        from django.utils import timezone

        from smartapp.sandbox.models import Encounter

        connection.ensure_connection()
        self.memory.backup(connection.connection)
        # Registration counts from a visit's creation: keep that clock where a fresh seed would
        # have put it, however long the session has run.
        elapsed = timezone.now() - self.seeded_at
        Encounter.objects.filter(created_at__isnull=False).update(
            created_at=F("created_at") + elapsed
        )


def _clinic_today() -> date:
    from smartapp.sandbox.seed_schedules import CLINIC_TZ

    return datetime.now(ZoneInfo(CLINIC_TZ)).date()


class Seeds:
    """Internal, one per session: a snapshot per seed size, seeded on first use."""

    def __init__(self, base_url: str, folder: Path) -> None:
        self.base_url, self.folder = base_url, folder
        self.snapshots: dict[int, Snapshot] = {}

    def ready(self, size: int) -> Snapshot:
        """The database as seeded at `size` (seeded now the first time, else restored)."""
        from django.db import connection

        if connection.vendor != "sqlite":
            raise RuntimeError("the millennium fixture needs SQLite (a file test database)")
        known = self.snapshots.get(size)
        if known is not None and known.clinic_day == _clinic_today():
            known.restore()
            return known
        if known is not None:  # past the clinics' midnight: the seed's "today" is yesterday
            known.restore()  # reseeded from the seeded state, as the first time
            known.memory.close()
        from django.core.management import call_command

        path = self.folder / f"tenants-{size}.json"
        call_command(
            "sandbox_seed",
            base_url=self.base_url,
            app_url=self.base_url,
            size=size,
            tenants_file=str(path),
            verbosity=0,
        )
        call_command("register_tenants", str(path), verbosity=0)
        self.snapshots[size] = Snapshot(size, path)
        return self.snapshots[size]

    def close(self) -> None:
        for snapshot in self.snapshots.values():
            snapshot.memory.close()


class Millennium:
    """The built-in Millennium sandbox for this test, served by the live server and registered
    as the app's tenant (slug `sandbox`), as seeded (the same data in every test).

    Knobs change how it behaves from now until the test ends (each test starts without them).
    """

    def __init__(self, *, url: str, snapshot: Snapshot, settings: Any) -> None:
        self.url = url.rstrip("/")  # the live server: app and sandbox (`/sandbox/…`)
        self.size = snapshot.size
        self.tenants_file = snapshot.tenants_file
        self.patients = Patients()
        self.clinicians = Clinicians()
        self.visits = Visits()
        self._baseline = snapshot.baseline
        self._settings = settings  # pytest-django's `settings` fixture (restored after the test)

    # -- what it is ------------------------------------------------------------------------

    @property
    def tenant(self) -> Tenant:
        """The app's Tenant row for the sandbox."""
        from smartapp.tenants.models import Tenant

        slug = json.loads(self.tenants_file.read_text())["tenants"][0]["slug"]
        return Tenant.objects.get(slug=slug)

    @property
    def fhir_base(self) -> str:
        """The provider FHIR base (`…/sandbox/fhir-ehr/r4/<tenant>`)."""
        return str(json.loads(self.tenants_file.read_text())["tenants"][0]["provider_fhir_base"])

    def ledger(self) -> Ledger:
        """What Millennium received during this test (read live)."""
        return Ledger(self._baseline)

    def counts(self) -> KnobCounts:
        """How many 429s, expired-token and tenant-mismatch refusals the knobs gave so far, and
        the most answers the latency held at once."""
        counts = self._control("knobs")["counts"]
        return KnobCounts(
            counts["throttled"],
            counts["expired"],
            counts["tenant_mismatch"],
            counts["most_waiting_at_once"],
        )

    # -- knobs -----------------------------------------------------------------------------

    def _control(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.url}/sandbox/control/{name}"
        if payload is None:
            response = requests.get(url, timeout=10)
        else:
            response = requests.post(url, json=payload, timeout=10)
        if response.status_code != 200:
            raise AssertionError(f"sandbox control {name}: {response.status_code} {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    def latency(self, ms: int) -> None:
        """Every FHIR and Messages API answer waits `ms` milliseconds first (0: none)."""
        self._control("knobs", {"latency_ms": ms})

    def faults(
        self,
        rate: float,
        kinds: Iterable[str] = ("basic_5xx", "account_5xx"),
        *,
        times: int | None = None,
    ) -> None:
        """Injected faults on Account reads and `POST /Basic` (FinancialTransaction): each call
        fails with probability `rate` as one of `kinds` (`basic_5xx`, `basic_429`,
        `basic_timeout_after_write`, `account_5xx`, `account_429`, `account_timeout`), at most
        `times` faults in all. `faults(0)` turns them off. Draws are seeded: reproducible."""
        chosen = list(kinds)
        unknown = sorted(set(chosen) - set(FAULT_KINDS))
        if unknown:
            raise ValueError(f"unknown fault kinds: {unknown}; known: {FAULT_KINDS}")
        share = rate / len(chosen) if chosen else 0.0
        payload: dict[str, Any] = dict.fromkeys(chosen, share)
        if times is not None:
            payload["times"] = times
        if any(kind.endswith("timeout") or "timeout_" in kind for kind in chosen):
            self._short_timeouts()
        self._control("faults", payload)

    def registration_delay(self, seconds: float) -> None:
        """A visit gets its guarantor-balance Account this long after it was created
        (seeded visits: after seeding). 0: at once; a large number: only by `register()`."""
        self._control("knobs", {"registration_delay_seconds": seconds})

    def register(self, visit: SeededVisit | str) -> Decimal:
        """Staff's "Register now" on the EHR page: the visit's Account exists from now on.
        Returns its balance."""
        fhir_id = visit if isinstance(visit, str) else visit.fhir_id
        url = f"{self.url}/sandbox/ehr/encounters/{fhir_id}/register"
        response = requests.post(url, json={}, timeout=10)
        if response.status_code != 200:
            raise AssertionError(f"registering {fhir_id}: {response.status_code} {response.text}")
        return Decimal(response.json()["balance"])

    def expire_tokens(self) -> None:
        """Every access token issued so far is refused as expired (`401 … token_expired`),
        however long the app thinks it has left: the app must refresh to carry on.

        Token times are whole seconds: this returns once the clock has moved past the second of
        the call (at most a second), so the app's next token is a new one."""
        through = self._control("knobs", {"expire_tokens": True})["tokens_expired_through"]
        while time.time() < through + 1:
            time.sleep(0.02)

    def rotate_keys(self) -> None:
        """Millennium rotates its access-token signing keys: the next token the app presents
        fails with `401 … unknown_kid`; tokens issued after (a refresh) work."""
        self._control("knobs", {"rotate_keys": True})

    def throttle(self, retry_after: int = 1, *, times: int | None = None) -> None:
        """FHIR and Messages API calls answer `429 Too Many Requests` with `Retry-After:
        retry_after` (the next `times` calls, or every call until `throttle_off()`)."""
        self._control("knobs", {"throttle": {"retry_after": retry_after, "times": times}})

    def throttle_off(self) -> None:
        self._control("knobs", {"throttle": None})

    def drop_after_send(self, *, times: int = 1) -> None:
        """The next `times` FinancialTransaction writes are applied but their answers are lost:
        the sandbox answers only after the app gave up (the app's read timeout in this test's
        process is lowered to 0.7 s, the sandbox answers after 1.5 s). The app must find out
        from the balance whether it posted, and never post twice."""
        self.faults(1.0, ["basic_timeout_after_write"], times=times)

    def tenant_mismatch(self, *, times: int | None = None) -> None:
        """FHIR and Messages API calls are refused with `401 … tenant_mismatch`, as when a token
        reaches another tenant's host (the next `times` calls, or every call)."""
        self._control("knobs", {"tenant_mismatch": {"times": times}})

    def reset(self) -> None:
        """Every knob and fault off (as at the start of a test)."""
        self._control("knobs", {"reset": True})
        self._control("faults", {})

    def _short_timeouts(self) -> None:
        self._settings.SANDBOX_TIMEOUT_SLEEP_SECONDS = DROP_SLEEP_SECONDS
        self._settings.HTTP_READ_TIMEOUT = DROP_READ_TIMEOUT_SECONDS

    def settle(self, timeout: float = 10.0) -> None:
        """Waits until no slow answer the sandbox was told to give is still being given."""
        from smartapp.sandbox import faults

        deadline = time.monotonic() + timeout
        while faults.slow_answers_in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
