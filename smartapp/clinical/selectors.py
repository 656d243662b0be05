"""Reads for the clinician and patient pages (FHIR through the launch's gateway)."""

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from smartapp.fhir.errors import FhirError
from smartapp.fhir.presentation import (
    age_in_years,
    birth_date,
    display_name,
    gender,
    given_name,
    mrn,
)
from smartapp.launch.access import gateway_for
from smartapp.launch.models import Launch


@dataclass(frozen=True)
class PatientSummary:
    id: str
    name: str
    given_name: str
    birth_date: date | None
    mrn: str
    gender: str

    @property
    def age(self) -> int | None:
        return age_in_years(self.birth_date, today=timezone.localdate())


def patient_summary(*, launch: Launch) -> PatientSummary | None:
    """The launch's patient (and only that patient), or None when the launch has no patient."""
    if not launch.patient_id:
        return None
    patient = gateway_for(launch=launch).read("Patient", launch.patient_id)
    if str(patient.id) != launch.patient_id:
        raise FhirError("The EHR answered with another patient.")
    return PatientSummary(
        id=launch.patient_id,
        name=display_name(patient),
        given_name=given_name(patient),
        birth_date=birth_date(patient),
        mrn=mrn(patient),
        gender=gender(patient),
    )
