"""Pages against injected EHR latency, app CPU per page, and the launch's round trips."""

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from bench.harness import (
    OutboundLog,
    Stack,
    clinician_session,
    cpu_seconds,
    ehr_launch_url,
    follow,
    messages_token,
    patient_session,
    system_token,
)

RUNS = 5
# (name, persona, path below /l/<launch>/)
PAGES = [
    ("patient chart", "clinician", "chart/"),
    ("chart appointments", "clinician", "chart/appointments/"),
    ("my day (40 appts)", "clinician", "my-day/"),
    ("patient home", "patient", "home/"),
    ("my appointments", "patient", "appointments/"),
    ("free slots, a week", "patient", "book/?service_type={code}&start={today}&end={week_end}"),
]
OPTIONAL_PAGES = [  # pages of later issues, measured when the app has them
    ("visits", "patient", "visits/"),
    ("messages", "patient", "messages/"),
]


def _is_fhir(path: str) -> bool:
    return "/r4/" in path or "/message/" in path


def _measure(browser: requests.Session, url: str, log: OutboundLog) -> dict:
    walls, calls, floors = [], [], []
    browser.get(url)  # warm: tokens, discovery, connection pools
    log.since_last()
    for _ in range(RUNS):
        started = time.perf_counter()
        response = browser.get(url)
        walls.append((time.perf_counter() - started) * 1000)
        outbound = [c for c in log.since_last() if _is_fhir(c[1])]
        calls.append(len(outbound))
        floors.append(max((ms for *_, ms in outbound), default=0.0))
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    wall, floor = statistics.median(walls), statistics.median(floors)
    return {
        "fhir_calls": max(calls),
        "wall_ms": round(wall, 1),
        "floor_ms": round(floor, 1),
        "ratio": round(wall / floor, 2) if floor else None,
    }


def pages_against_latency(*, latency_ms: int = 100) -> list[dict]:
    stack = Stack().start(latency_ms=latency_ms, day_appointments=40)
    try:
        sessions = {"clinician": clinician_session(stack), "patient": patient_session(stack)}
        service_type = stack.tenants["service_types"][0]
        token = system_token(
            stack,
            "system/Appointment.read system/Patient.read system/Practitioner.read "
            "system/Location.read system/Slot.read system/Schedule.read system/Encounter.read",
        )
        naive = Naive(stack, token)
        log = OutboundLog(stack.app)
        rows = []
        for name, persona, path in PAGES + OPTIONAL_PAGES:
            browser, prefix = sessions[persona]
            today = datetime.now(ZoneInfo(stack.tenants["time_zone"])).date()
            url = (
                stack.app.url
                + prefix
                + path.format(
                    code=service_type["code"], today=today, week_end=today + timedelta(days=6)
                )
            )
            if (name, persona, path) in OPTIONAL_PAGES and browser.get(url).status_code == 404:
                continue
            row = {"page": name, **_measure(browser, url, log)}
            naive_run = naive.for_page(name)
            if naive_run:
                row["naive_calls"], row["naive_ms"] = naive_run
            rows.append(row)
        return rows
    finally:
        stack.stop()


class Naive:
    """The same data fetched the naive way: one call after another, one per referenced row."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.base = stack.tenants["provider_fhir_base"]
        self.http = requests.Session()
        self.http.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
        )
        self.practitioner = stack.first("practitioner")
        self.patient = stack.first("patient")
        self.service_type = stack.tenants["service_types"][0]
        self.messages_base = stack.tenants["messages_api_base"]
        self.messages_token = messages_token(stack)
        self.calls = 0

    def get(self, url: str, params: dict | None = None) -> dict:
        self.calls += 1
        return self.http.get(
            url if url.startswith("http") else f"{self.base}/{url}", params=params
        ).json()

    def search_all(self, resource: str, params: dict) -> list[dict]:
        bundle = self.get(resource, {**params, "_count": 10})
        entries = list(bundle.get("entry", []))
        while nxt := next(
            (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
        ):
            bundle = self.get(nxt)
            entries += bundle.get("entry", [])
        return [
            e["resource"] for e in entries if e.get("search", {}).get("mode", "match") == "match"
        ]

    def each_reference(self, resources: list[dict], types: tuple[str, ...]) -> None:
        seen = set()
        for resource in resources:
            for participant in resource.get("participant", []):
                ref = participant.get("actor", {}).get("reference", "")
                if ref.split("/")[0] in types and ref not in seen:
                    seen.add(ref)
                    self.get(ref)

    def for_page(self, name: str) -> tuple[int, float] | None:
        runs: dict[str, Callable[[], object]] = {
            "my day (40 appts)": self.my_day,
            "chart appointments": self.chart_appointments,
            "patient chart": self.first_screen,
            "patient home": self.first_screen,
            "my appointments": self.my_appointments,
            "free slots, a week": self.free_slots,
            "visits": self.visits,
            "messages": self.messages,
        }
        if name not in runs:
            return None
        self.calls, started = 0, time.perf_counter()
        runs[name]()
        return self.calls, round((time.perf_counter() - started) * 1000, 1)

    def _window(self, days: int) -> list[tuple[str, datetime]]:
        now = datetime.now(UTC).replace(microsecond=0)
        return [("ge", now - timedelta(days=1)), ("lt", now + timedelta(days=days))]

    def my_day(self) -> None:
        now = datetime.now(UTC)
        start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=12)
        rows = self.search_all(
            "Appointment",
            {
                "practitioner": self.practitioner,
                "date": [
                    f"ge{start:%Y-%m-%dT%H:%M:%SZ}",
                    f"lt{start + timedelta(days=2):%Y-%m-%dT%H:%M:%SZ}",
                ],
            },
        )
        self.each_reference(rows, ("Patient", "Location"))

    def first_screen(self) -> None:
        """The chart's or home's parts one after another: patient, appointments, visits, messages."""
        self.get(f"Patient/{self.patient}")
        self.my_appointments()
        self.visits()
        self.messages()

    def chart_appointments(self) -> None:
        self.get(f"Patient/{self.patient}")
        self.my_appointments()

    def my_appointments(self) -> None:
        now = datetime.now(UTC)
        rows = self.search_all(
            "Appointment",
            {
                "patient": self.patient,
                "date": [
                    f"ge{now - timedelta(days=365):%Y-%m-%dT%H:%M:%SZ}",
                    f"lt{now + timedelta(days=365):%Y-%m-%dT%H:%M:%SZ}",
                ],
            },
        )
        self.each_reference(rows, ("Practitioner", "Location"))

    def visits(self) -> None:
        rows = self.search_all("Encounter", {"patient": self.patient})
        for encounter in rows:
            for ref in (
                [encounter.get("serviceProvider", {}).get("reference")]
                + [
                    loc.get("location", {}).get("reference")
                    for loc in encounter.get("location", [])
                ]
                + [
                    p.get("individual", {}).get("reference")
                    for p in encounter.get("participant", [])
                ]
            ):
                if ref:
                    self.get(ref)

    def messages(self) -> None:
        base = self.messages_base + "/message/20241001/patientMessages"
        headers = {"Authorization": f"Bearer {self.messages_token}", "Accept": "application/json"}
        self.calls += 1
        inbox = self.http.get(
            f"{base}/inboxItems", params={"patientId": self.patient}, headers=headers
        ).json()
        for item in inbox.get("items", []):
            self.calls += 1
            self.http.get(
                f"{base}/{item['id']}", params={"patientId": self.patient}, headers=headers
            )

    def free_slots(self) -> None:
        now = datetime.now(UTC)
        slots = self.search_all(
            "Slot",
            {
                "service-type": f"{self.service_type['system']}|{self.service_type['code']}",
                "start": [
                    f"ge{now:%Y-%m-%dT%H:%M:%SZ}",
                    f"lt{now + timedelta(days=7):%Y-%m-%dT%H:%M:%SZ}",
                ],
            },
        )
        schedules = {s["schedule"]["reference"] for s in slots}
        for schedule in sorted(schedules):
            self.get(schedule)
        locations = {
            e.get("valueReference", {}).get("reference")
            for s in slots
            for e in s.get("extension", [])
        }
        for location in sorted(filter(None, locations)):
            self.get(location)


def app_cpu_per_page(
    *, sizes: tuple[int, ...] = (10, 100, 1000), requests_per_size: int = 10
) -> list[dict]:
    """Server CPU per page with no injected latency and warm caches, as the data grows."""
    rows = []
    for size in sizes:
        stack = Stack().start(latency_ms=0, day_appointments=size, app_workers=1)
        try:
            browser, prefix = clinician_session(stack)
            worker = stack.app.worker_pids()[0]
            for name, path in (
                ("my day", "my-day/"),
                ("chart appointments", "chart/appointments/"),
            ):
                url = stack.app.url + prefix + path
                for _ in range(2):
                    browser.get(url)
                before = cpu_seconds(worker)
                for _ in range(requests_per_size):
                    assert browser.get(url).status_code == 200
                cpu_ms = (cpu_seconds(worker) - before) * 1000 / requests_per_size
                rows.append({"page": name, "appointments": size, "app_cpu_ms": round(cpu_ms, 1)})
        finally:
            stack.stop()
    return rows


def launch_round_trips(*, latency_ms: int = 100) -> list[dict]:
    """From /launch to the first page: browser round trips, server calls and time; cold then warm.

    One app process: without CACHE_URL each process has its own discovery cache, and a deployment
    with several shares one in Redis (as the demo does), so either way the second launch is warm.
    """
    stack = Stack().start(latency_ms=latency_ms, day_appointments=10, app_workers=1)
    try:
        log = OutboundLog(stack.app)
        rows = []
        for label in ("cold (first launch after start)", "warm (discovery cached)"):
            url = ehr_launch_url(stack)
            log.since_last()
            started = time.perf_counter()
            page, trips = follow(requests.Session(), url)
            elapsed = (time.perf_counter() - started) * 1000
            calls = log.since_last()
            rows.append(
                {
                    "launch": label,
                    "status": page.status_code,
                    "browser_round_trips": trips,
                    "server_calls": len(calls),
                    "calls": [f"{m} {p.split('/sandbox/')[-1][:70]}" for m, p, _ in calls],
                    "ms": round(elapsed, 1),
                }
            )
        return rows
    finally:
        stack.stop()
