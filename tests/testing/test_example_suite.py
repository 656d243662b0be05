"""The example hospital suite (examples/hospital_suite) passes when run as a hospital runs its own:
`python -m pytest` in that folder, the kit loaded by its entry point, nothing from tests/."""

import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[2] / "examples" / "hospital_suite"


@pytest.mark.timeout(280)
def test_the_example_hospital_suite_passes_from_its_own_folder():
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=SUITE,
        capture_output=True,
        text=True,
        timeout=270,
    )
    summary = ran.stdout.strip().splitlines()[-1] if ran.stdout.strip() else ran.stderr[-2000:]
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    assert int(summary.split(" passed")[0].split()[-1]) >= 10, summary
