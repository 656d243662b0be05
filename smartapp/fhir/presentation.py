"""Plain-words views of FHIR resources for templates (no HTML here: templates escape).

Models come from `parse_resource`, whose fields hold the types they declare; what a payload did
not give (or gave in a shape we could not read) is "" or None here, and templates say
"not recorded".
"""

from datetime import UTC, date, datetime

from django.utils import timezone
from fhirclient.models.fhirdatetime import FHIRDateTime
from fhirclient.models.humanname import HumanName
from fhirclient.models.identifier import Identifier
from fhirclient.models.period import Period
from fhirclient.models.resource import Resource

# Names and identifiers of these uses are not the ones to show while another is current.
NOT_CURRENT_USES = {"old", "anonymous", "temp"}


def is_current(period: Period | None, *, now: datetime | None = None) -> bool:
    """True unless the period has ended (an end we cannot read counts as not ended)."""
    end = instant(getattr(period, "end", None))
    return end is None or end > (now or timezone.now())


def _name_text(name: HumanName) -> str:
    text: str | None = name.text
    if text:
        return text
    given = " ".join(name.given or [])
    return " ".join(part for part in (given, name.family or "") if part)


def _best_name(names: list[HumanName] | None) -> HumanName | None:
    readable = [n for n in names or [] if _name_text(n)]
    current = [n for n in readable if n.use not in NOT_CURRENT_USES and is_current(n.period)]
    for use in ("official", "usual"):
        for name in current:
            if name.use == use:
                return name
    return (current or readable or [None])[0]


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
    """The medical record number to show: a current MRN, the `usual` one first.

    Millennium lists old MRNs too, as `usual` identifiers whose period has ended, sometimes
    before the current one.
    """
    identifiers = getattr(patient, "identifier", None) or []
    current = [
        i
        for i in identifiers
        if _is_mrn(i) and i.value and i.use not in NOT_CURRENT_USES and is_current(i.period)
    ]
    for use in ("usual", "official"):
        for identifier in current:
            if identifier.use == use:
                return str(identifier.value)
    return str(current[0].value) if current else ""


def birth_date(patient: Resource | None) -> date | None:
    value = getattr(patient, "birthDate", None)
    return value.date if value is not None else None


def age_in_years(born: date | None, *, today: date) -> int | None:
    if born is None or born > today:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def gender(patient: Resource | None) -> str:
    return str(getattr(patient, "gender", "") or "")


def instant(value: object) -> datetime | None:
    """A FHIR date, dateTime or instant model as an aware datetime (None when absent).

    A date without a time (Millennium's dateTime fields allow it) is that day's start in UTC;
    `day_only` tells a page to show the day alone. Years at the very ends of the calendar are
    unreadable: no time zone could show them.
    """
    moment = getattr(value, "datetime", None)
    if not isinstance(moment, datetime):
        found = getattr(value, "date", None)
        if not isinstance(found, date):
            return None
        moment = datetime(found.year, found.month, found.day)
    if not 1 < moment.year < 9999:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def instant_from_text(value: object, *, time_required: bool = False) -> datetime | None:
    """`instant` for a FHIR date, dateTime or instant still in its JSON string (an instant,
    `time_required`, must have its time)."""
    if not isinstance(value, str) or (time_required and "T" not in value):
        return None
    try:
        return instant(FHIRDateTime(value))
    except (TypeError, ValueError, OverflowError):
        return None


def day_only(value: object) -> date | None:
    """The day of a FHIR date or dateTime given without a time (else None)."""
    text = getattr(value, "origval", None)
    found = getattr(value, "date", None)
    if not isinstance(text, str) or "T" in text or not isinstance(found, date):
        return None
    return found.date() if isinstance(found, datetime) else found
