"""St Elsewhere's suite. The kit's fixtures (millennium, millennium_ledger, system_client,
millennium_worker) come from smartapp's pytest plugin; these are the hospital's own."""

import pytest

from smartapp.testing import launch_as_clinician, launch_as_patient


@pytest.fixture
def clinician(client, millennium):
    """The first clinician, launched from the EHR on the first patient's chart."""
    return launch_as_clinician(client)


@pytest.fixture
def nancy(client, millennium):
    """Nancy Smart, signed in to the patient pages."""
    return launch_as_patient(client, patient=millennium.patients.first)
