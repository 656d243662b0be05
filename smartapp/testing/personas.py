"""Named people and visits from the seed, so tests never hard-code ids."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smartapp.sandbox.models import Encounter, Patient, PatientQuerySet, Practitioner

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"  # the sandbox's main tenant
VIDEO_VISIT = "2582093771"  # code set 14249


@dataclass(frozen=True)
class SeededPatient:
    """A patient of the seed: `fhir_id` is their Millennium Patient id."""

    fhir_id: str
    name: str
    username: str
    merged_into: str = ""  # a combined record: the surviving patient's id

    @classmethod
    def of(cls, row: Patient) -> SeededPatient:
        return cls(row.fhir_id, row.display_name, row.username, row.replaced_by)


@dataclass(frozen=True)
class SeededClinician:
    """A clinician (Practitioner) of the seed."""

    fhir_id: str
    name: str
    username: str

    @classmethod
    def of(cls, row: Practitioner) -> SeededClinician:
        return cls(row.fhir_id, row.display_name, row.username)


@dataclass(frozen=True)
class SeededVisit:
    """An Encounter of the seed and its patient."""

    fhir_id: str
    patient: SeededPatient
    status: str

    @classmethod
    def of(cls, row: Encounter) -> SeededVisit:
        return cls(row.fhir_id, SeededPatient.of(row.patient), row.status)


def _patients() -> PatientQuerySet[Patient]:
    from smartapp.sandbox.models import Patient

    return Patient.objects.filter(tenant_id=TENANT)


class Patients:
    """`millennium.patients`: the seeded patients by what they are useful for."""

    @property
    def first(self) -> SeededPatient:
        """Nancy Smart (`12724066`): visits, appointments, messages, an old MRN."""
        return SeededPatient.of(_patients().current().order_by("fhir_id")[0])

    @property
    def second(self) -> SeededPatient:
        """Another patient (O'Brien, Siobhan): whose data the first must never see."""
        return SeededPatient.of(_patients().current().order_by("fhir_id")[1])

    @property
    def with_video_visit(self) -> SeededPatient:
        """A patient with an upcoming booked Video Visit (its meeting rooms contained)."""
        from django.utils import timezone

        from smartapp.sandbox.models import Appointment

        booked = (
            Appointment.objects.filter(
                tenant_id=TENANT,
                service_code=VIDEO_VISIT,
                status="booked",
                start__gt=timezone.now(),
            )
            .order_by("start", "fhir_id")
            .values_list("patient_fhir_id", flat=True)
        )
        for patient_id in booked:
            row = _patients().current().filter(fhir_id=patient_id).first()
            if row is not None:
                return SeededPatient.of(row)
        raise LookupError("the seed has no upcoming video visit (seed a larger size)")

    @property
    def merged(self) -> SeededPatient:
        """The combined record: readable by id, found by no search, `merged_into` its survivor."""
        return SeededPatient.of(_patients().exclude(replaced_by="").order_by("fhir_id")[0])

    def all(self) -> list[SeededPatient]:
        """Every current (not merged) patient, by id."""
        return [SeededPatient.of(row) for row in _patients().current().order_by("fhir_id")]

    def get(self, fhir_id: str) -> SeededPatient:
        return SeededPatient.of(_patients().get(fhir_id=fhir_id))


class Clinicians:
    """`millennium.clinicians`: the seeded Practitioners."""

    @property
    def first(self) -> SeededClinician:
        """ "Cerner Test" (`4122622`): today's appointments on My day."""
        return self.all()[0]

    def all(self) -> list[SeededClinician]:
        from smartapp.sandbox.models import Practitioner

        rows = Practitioner.objects.filter(tenant_id=TENANT).order_by("fhir_id")
        return [SeededClinician.of(row) for row in rows]


class Visits:
    """`millennium.visits`: Encounters by their billing state."""

    def registered(self, *, min_balance: Decimal = Decimal("5")) -> list[SeededVisit]:
        """Visits with a guarantor-balance Account now (a payment on them can post at once)."""
        from smartapp.sandbox.models import Account, Encounter

        ids = Account.objects.filter(
            tenant_id=TENANT, account_type="guarantor-balance", balance__gt=min_balance
        ).values_list("encounter_fhir_id", flat=True)
        rows = Encounter.objects.filter(tenant_id=TENANT, fhir_id__in=list(ids))
        return [SeededVisit.of(row) for row in rows.select_related("patient").order_by("fhir_id")]

    def unregistered(self) -> SeededVisit:
        """A planned visit with no Account yet: a payment on it waits for registration."""
        from smartapp.sandbox import registration
        from smartapp.sandbox.models import Encounter

        rows = Encounter.objects.filter(tenant_id=TENANT, status="planned")
        for row in rows.select_related("patient").order_by("fhir_id"):
            if registration.account_for(row) is None:
                return SeededVisit.of(row)
        raise LookupError("the seed has no unregistered visit")

    def of(self, patient: SeededPatient | str) -> list[SeededVisit]:
        """A patient's visits, by id."""
        from smartapp.sandbox.models import Encounter

        patient_id = patient if isinstance(patient, str) else patient.fhir_id
        rows = Encounter.objects.filter(tenant_id=TENANT, patient__fhir_id=patient_id)
        return [SeededVisit.of(row) for row in rows.select_related("patient").order_by("fhir_id")]

    def balance(self, visit: SeededVisit | str) -> Decimal | None:
        """The visit's guarantor balance at Millennium now (None: no Account yet)."""
        from smartapp.sandbox.models import Account

        fhir_id = visit if isinstance(visit, str) else visit.fhir_id
        row = Account.objects.filter(
            tenant_id=TENANT, account_type="guarantor-balance", encounter_fhir_id=fhir_id
        ).first()
        return None if row is None else row.balance
