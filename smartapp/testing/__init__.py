"""smartapp's test kit: pytest fixtures and helpers for a hospital's own Django test-client
suites against the built-in Millennium sandbox (README, "Write your own tests").

What is in `__all__` is the kit and stays stable; every other name here is internal. The pytest
plugin (`smartapp.testing.plugin`, entry point `pytest11: smartapp`) provides the fixtures
`millennium`, `millennium_ledger`, `system_client` and `millennium_worker`, the marker
`@pytest.mark.millennium(size=N)` and the option `--millennium-size`.
"""

from smartapp.testing.assertions import assert_audited, wait_for_state
from smartapp.testing.launches import (
    Launched,
    LaunchRefused,
    launch_as_clinician,
    launch_as_patient,
)
from smartapp.testing.ledger import (
    AppointmentChange,
    FinancialTransaction,
    Ledger,
    MessageSent,
    assert_posted_once,
)
from smartapp.testing.millennium import KnobCounts, Millennium
from smartapp.testing.personas import SeededClinician, SeededPatient, SeededVisit
from smartapp.testing.system import SystemClient

__all__ = [
    "AppointmentChange",
    "FinancialTransaction",
    "KnobCounts",
    "LaunchRefused",
    "Launched",
    "Ledger",
    "MessageSent",
    "Millennium",
    "SeededClinician",
    "SeededPatient",
    "SeededVisit",
    "SystemClient",
    "assert_audited",
    "assert_posted_once",
    "launch_as_clinician",
    "launch_as_patient",
    "wait_for_state",
]
