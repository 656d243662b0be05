"""Reads for the clinician and patient pages (FHIR through the launch's gateway)."""

import logging
from dataclasses import dataclass
from datetime import date

from django.utils import timezone
from fhirclient.models.resource import Resource

from smartapp.fhir.errors import FhirError
from smartapp.fhir.gateway import FhirGateway
from smartapp.fhir.presentation import (
    age_in_years,
    birth_date,
    display_name,
    gender,
    given_name,
    mrn,
)
from smartapp.fhir.references import BadReference, parse_reference
from smartapp.launch.access import gateway_for
from smartapp.launch.models import Launch

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PatientSummary:
    id: str
    name: str
    given_name: str
    birth_date: date | None
    mrn: str
    gender: str
    # The launch's record was merged into another ("replaced-by"): that one's id, and whether
    # the summary above is the surviving record (False: the EHR would not show it to us).
    merged_into: str = ""
    showing_surviving: bool = False

    @property
    def age(self) -> int | None:
        return age_in_years(self.birth_date, today=timezone.localdate())


def _replaced_by(patient: Resource) -> str:
    """The surviving record's id when this Patient was merged into another, else ""."""
    for link in getattr(patient, "link", None) or []:
        if link.type == "replaced-by" and link.other is not None:
            try:
                ref = parse_reference(link.other.reference or "")
            except BadReference:
                continue
            if ref.resource_type == "Patient" and not ref.base:
                return ref.resource_id
    return ""


def _surviving(gateway: FhirGateway, patient_id: str, launch: Launch) -> Resource | None:
    try:
        patient = gateway.read("Patient", patient_id)
    except FhirError as error:
        logger.info(
            "launch %s: surviving record unreadable status=%s", launch.public_id, error.status
        )
        return None
    return patient if str(patient.id) == patient_id and not _replaced_by(patient) else None


def _summary(
    patient_id: str, patient: Resource, *, merged_into: str = "", showing_surviving: bool = False
) -> PatientSummary:
    return PatientSummary(
        id=patient_id,
        name=display_name(patient),
        given_name=given_name(patient),
        birth_date=birth_date(patient),
        mrn=mrn(patient),
        gender=gender(patient),
        merged_into=merged_into,
        showing_surviving=showing_surviving,
    )


def patient_summary(*, launch: Launch) -> PatientSummary | None:
    """The launch's patient (and only that patient), or None when the launch has no patient.

    A merged record (Millennium answers its old id with an empty, inactive Patient linked
    `replaced-by` to the surviving one) is followed once, to show whom the chart is about.
    """
    if not launch.patient_id:
        return None
    gateway = gateway_for(launch=launch)
    patient = gateway.read("Patient", launch.patient_id)
    if str(patient.id) != launch.patient_id:
        raise FhirError("The EHR answered with another patient.")
    merged_into = _replaced_by(patient)
    if not merged_into or merged_into == launch.patient_id:
        return _summary(launch.patient_id, patient)
    surviving = _surviving(gateway, merged_into, launch)
    if surviving is None:
        return _summary(launch.patient_id, patient, merged_into=merged_into)
    return _summary(launch.patient_id, surviving, merged_into=merged_into, showing_surviving=True)
