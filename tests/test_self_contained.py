"""The repository carries its own data: no code or test names a path outside the checkout."""

import re
from pathlib import Path

from tests.examples import CERNER_EXAMPLES_DIR, cerner_example_names

CHECKOUT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"""(\.\./shared|/shared/cerner|["'`]/work/)""")


def _source_files():
    for folder in ("smartapp", "tests", "bench", ".ci"):
        for path in (CHECKOUT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".md", ".sh", ".json", ""}:
                if CERNER_EXAMPLES_DIR not in path.parents:
                    yield path


def test_no_source_names_a_path_outside_the_checkout():
    offenders = [
        f"{path.relative_to(CHECKOUT)}:{number}"
        for path in _source_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line) and path != Path(__file__).resolve()
    ]
    assert offenders == []


def test_the_cerner_examples_live_in_the_checkout():
    assert CHECKOUT in CERNER_EXAMPLES_DIR.parents
    assert len(cerner_example_names("r4_")) >= 76
    assert len(cerner_example_names("auth_")) >= 7
