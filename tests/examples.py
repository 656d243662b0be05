"""Cerner's published example payloads, carried in the repository (tests/data/cerner/)."""

import json
from pathlib import Path
from typing import Any

CERNER_EXAMPLES_DIR = Path(__file__).resolve().parent / "data" / "cerner"


def cerner_example(name: str) -> Any:
    """One example payload, parsed; a missing file raises, so the test fails rather than skips."""
    return json.loads((CERNER_EXAMPLES_DIR / name).read_text())


def cerner_example_names(prefix: str = "") -> list[str]:
    """The example files whose names start with `prefix`, sorted."""
    names = sorted(p.name for p in CERNER_EXAMPLES_DIR.glob(f"{prefix}*.json"))
    if not names:
        raise FileNotFoundError(f"no Cerner examples named {prefix}* in {CERNER_EXAMPLES_DIR}")
    return names
