"""`SANDBOX_LATENCY_MS` (setting or environment): a pause before every FHIR and Messages API answer,
so benchmarks can measure pages against a network like a hospital's. The `latency_ms` knob
(`POST /sandbox/control/knobs`), when set, wins over both."""

import os
import time

from django.conf import settings

from smartapp.sandbox.in_flight import InFlight

_held = InFlight()  # answers the latency is holding


def most_waiting_at_once() -> int:
    """The most answers held by the latency at one time, in this process: above 1, the app's
    calls overlapped (how a test sees that a page's reads run in parallel, without a clock)."""
    return _held.most


def forget_most_waiting() -> None:
    _held.forget_most()


def pause(knob_ms: int | None = None) -> None:
    raw: object = knob_ms
    if raw is None:
        raw = getattr(settings, "SANDBOX_LATENCY_MS", None) or os.environ.get("SANDBOX_LATENCY_MS")
    try:
        delay = int(str(raw or 0))
    except ValueError:
        delay = 0
    if delay > 0:
        with _held.inside():
            time.sleep(delay / 1000)
