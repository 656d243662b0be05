"""Plain-words views of FHIR resources for templates (no HTML here: templates escape)."""

from datetime import date

from fhirclient.models.humanname import HumanName
from fhirclient.models.identifier import Identifier
from fhirclient.models.resource import Resource


def _name_text(name: HumanName) -> str:
    if name.text:
        return name.text
    given = " ".join(name.given or [])
    return " ".join(part for part in (given, name.family or "") if part)


def _best_name(names: list[HumanName] | None) -> HumanName | None:
    if not names:
        return None
    for use in ("official", "usual"):
        for name in names:
            if name.use == use and not (name.period and name.period.end):
                return name
    return names[0]


def display_name(resource: Resource | None) -> str:
    """The name to show for a Patient, Practitioner or RelatedPerson ("" when none)."""
    name = _best_name(getattr(resource, "name", None))
    return _name_text(name) if name else ""


def given_name(resource: Resource | None) -> str:
    """The first given name, for greetings ("" when none is recorded)."""
    name = _best_name(getattr(resource, "name", None))
    return (name.given or [""])[0] if name else ""


V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _is_mrn(identifier: Identifier) -> bool:
    # Millennium codes MRN in its codeSet/4 ("10", display "MRN") plus v2-0203 "MR"; others use "MRN".
    if not identifier.type:
        return False
    for coding in identifier.type.coding or []:
        code = (coding.code or "").upper()
        if (
            code == "MRN"
            or (coding.system == V2_0203 and code == "MR")
            or (coding.display or "").upper() == "MRN"
        ):
            return True
    return (identifier.type.text or "").upper() == "MRN"


def mrn(patient: Resource | None) -> str:
    """The patient's medical record number: the first current identifier typed MRN (or v2-0203 MR)."""
    identifiers = getattr(patient, "identifier", None) or []
    current = [i for i in identifiers if _is_mrn(i) and i.value and not (i.period and i.period.end)]
    return current[0].value if current else ""


def birth_date(patient: Resource | None) -> date | None:
    value = getattr(patient, "birthDate", None)
    return value.date if value is not None else None


def age_in_years(born: date | None, *, today: date) -> int | None:
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def gender(patient: Resource | None) -> str:
    return str(getattr(patient, "gender", "") or "")
