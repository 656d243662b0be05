"""Runs the benchmarks and prints their figures; never fails on time.

    .venv/bin/python -m bench.run [pages] [cpu] [launch] [payments]

With no argument every part runs. Results also go to bench/results/<time>.json and latest.json.
"""

import json
import sys
import time
from pathlib import Path

from bench import pages

RESULTS = Path(__file__).resolve().parent / "results"


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    line = "  ".join(c.ljust(widths[c]) for c in columns)
    body = ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join([line, "-" * len(line), *body])


PARTS = {
    "pages": (
        lambda: pages.pages_against_latency(latency_ms=100),
        ["page", "fhir_calls", "wall_ms", "floor_ms", "ratio", "naive_calls", "naive_ms"],
    ),
    "cpu": (pages.app_cpu_per_page, ["page", "appointments", "app_cpu_ms"]),
    "launch": (
        lambda: pages.launch_round_trips(latency_ms=100),
        ["launch", "status", "browser_round_trips", "server_calls", "ms"],
    ),
}


def _payments_part():
    from bench import payments

    return payments.PART


def main(argv: list[str]) -> None:
    names = argv or [*PARTS, "payments"]
    at = time.strftime("%Y-%m-%dT%H:%M:%S")
    results: dict[str, object] = {"at": at}
    for name in names:
        run, columns = _payments_part() if name == "payments" else PARTS[name]
        started = time.perf_counter()
        rows = run()
        results[name] = rows
        print(f"\n## {name}  ({time.perf_counter() - started:.0f} s)")
        print(_table(rows if isinstance(rows, list) else [rows], columns))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{at.replace(':', '')}.json").write_text(json.dumps(results, indent=2))
    # latest.json keeps every part's newest figures, so running one part updates only its own.
    latest_path = RESULTS / "latest.json"
    latest = json.loads(latest_path.read_text()) if latest_path.exists() else {}
    latest.update({name: {"at": at, "rows": results[name]} for name in names})
    latest_path.write_text(json.dumps(latest, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
