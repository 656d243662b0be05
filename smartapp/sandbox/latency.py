"""`SANDBOX_LATENCY_MS` (setting or environment): a pause before every FHIR and Messages API answer,
so benchmarks can measure pages against a network like a hospital's."""

import os
import time

from django.conf import settings


def pause() -> None:
    raw = getattr(settings, "SANDBOX_LATENCY_MS", None) or os.environ.get("SANDBOX_LATENCY_MS")
    try:
        delay = int(raw or 0)
    except ValueError:
        delay = 0
    if delay > 0:
        time.sleep(delay / 1000)
