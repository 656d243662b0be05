"""Visits: the launch patient's Encounters, newest first, for clinicians and patients.

Millennium sorts an Encounter search by period start, oldest first, and offers only `link[next]`
(no reverse order, no page URLs we may build). So the newest visits are on the *last* page. We
fetch every page (`_count=100`, at most `MAX_FETCH_PAGES` pages, so 1000 visits), sort newest
first here and show `PAGE_SIZE` rows per app page (`?page=N`). A patient with up to 100 visits
costs one search; names cost at most one `Practitioner?_id=…` and one `Location?_id=…` search
(in parallel), and only for references that came without a display.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from fhirclient.models.resource import Resource

from smartapp.clinical.appointment_rows import EXT
from smartapp.clinical.names import names_by_reference, references_wanted
from smartapp.fhir.gateway import FhirGateway
from smartapp.fhir.presentation import day_only, instant, is_current
from smartapp.fhir.references import BadReference, fhir_id, parse_reference
from smartapp.launch.access import gateway_for
from smartapp.launch.models import Launch

FETCH_COUNT = 100
MAX_FETCH_PAGES = 10
PAGE_SIZE = 20
RESPONSIBILITY = EXT + "estimated-financial-responsibility-amount"
ATTENDING_CODES = {"ATND", "1119"}  # v3 ParticipationType, Millennium code set 333
STATUS_LABELS = {
    "planned": _("Planned"),
    "arrived": _("Arrived"),
    "triaged": _("Triaged"),
    "in-progress": _("In progress"),
    "onleave": _("On leave"),
    "finished": _("Finished"),
    "cancelled": _("Cancelled"),
    "entered-in-error": _("Entered in error"),
    "unknown": _("Unknown"),
}


@dataclass
class Visit:
    """One Encounter in plain words (the payments include reads encounter_id, status, period, money)."""

    encounter_id: str
    status: str
    period_start: datetime | None
    period_end: datetime | None
    start_day: date | None = None  # the EHR gave a day without a time: show the day only
    end_day: date | None = None
    type: str = ""
    encounter_class: str = ""
    reason: str = ""
    location: str = ""
    attending: str = ""
    estimated_responsibility: Decimal | None = None
    currency: str = ""
    patient_id: str = ""
    refs: dict[str, list[str]] = field(default_factory=dict)  # type → ids lacking a display

    @property
    def id(self) -> str:
        return self.encounter_id

    @property
    def start(self) -> datetime | None:
        return self.period_start

    @property
    def end(self) -> datetime | None:
        return self.period_end

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status.capitalize() or _("Unknown")))

    @property
    def is_upcoming(self) -> bool:
        if self.status in {"cancelled", "entered-in-error", "finished"}:
            return False
        if self.period_start is None:
            return self.status == "planned"
        return self.period_start > timezone.now()


def _text(concept: Resource | None) -> str:
    if concept is None:
        return ""
    return str(
        concept.text or next((c.display for c in concept.coding or [] if c.display), "") or ""
    )


def _money(encounter: Resource) -> tuple[Decimal | None, str]:
    for ext in encounter.extension or []:
        if ext.url == RESPONSIBILITY and ext.valueMoney is not None:
            try:
                value = Decimal(str(ext.valueMoney.value)).quantize(Decimal("0.01"))
            except (InvalidOperation, TypeError, ValueError):
                return None, ""
            return value, str(ext.valueMoney.currency or "")
    return None, ""


def _ref(reference: Resource | None, kind: str) -> str:
    try:
        ref = parse_reference(getattr(reference, "reference", "") or "")
    except BadReference:
        return ""
    return ref.resource_id if ref.resource_type == kind else ""


def _is_attending(participant: Resource) -> bool:
    codes = {c.code for t in participant.type or [] for c in t.coding or []}
    return bool(codes & ATTENDING_CODES)


def _current_attending(encounter: Resource) -> Resource | None:
    """The attending now: of those whose period has not ended (else of all), the latest to start;
    Millennium keeps earlier attendings in the list, with an ended period."""
    attendings = [
        p for p in encounter.participant or [] if p.individual is not None and _is_attending(p)
    ]
    current = [p for p in attendings if is_current(p.period)]
    return max(current or attendings, key=_started, default=None)


def _started(participant: Resource) -> float:
    start = instant(getattr(participant.period, "start", None))
    return start.timestamp() if start else float("-inf")


def _attending(visit: Visit, encounter: Resource) -> None:
    chosen = _current_attending(encounter)
    if chosen is None:
        return
    visit.attending = str(chosen.individual.display or "")
    practitioner = _ref(chosen.individual, "Practitioner")
    if not visit.attending and practitioner:
        visit.refs.setdefault("Practitioner", []).append(practitioner)


def _location(visit: Visit, encounter: Resource) -> None:
    places = [entry.location for entry in encounter.location or [] if entry.location is not None]
    if not places:
        return
    visit.location = str(places[0].display or "")
    location = _ref(places[0], "Location")
    if not visit.location and location:
        visit.refs.setdefault("Location", []).append(location)


def visit_from(encounter: Resource) -> Visit:
    """The plain-words view of one Encounter (names from reference displays when present)."""
    period = encounter.period
    money, currency = _money(encounter)
    reasons = encounter.reasonCode or []
    visit = Visit(
        encounter_id=fhir_id(encounter.id),
        status=str(encounter.status or ""),
        period_start=instant(getattr(period, "start", None)),
        period_end=instant(getattr(period, "end", None)),
        start_day=day_only(getattr(period, "start", None)),
        end_day=day_only(getattr(period, "end", None)),
        type=_text((encounter.type or [None])[0]),
        encounter_class=str(getattr(encounter.class_fhir, "display", "") or ""),
        reason=_text(reasons[0]) if reasons else "",
        estimated_responsibility=money,
        currency=currency,
        patient_id=_ref(encounter.subject, "Patient"),
    )
    _attending(visit, encounter)
    _location(visit, encounter)
    return visit


def fill_visit_names(*, gateway: FhirGateway, visits: list[Visit]) -> None:
    """Names for references without a display: one `_id=a,b,c` search per type, in parallel."""
    wanted = references_wanted(visits)
    if not wanted:
        return
    names = names_by_reference(gateway=gateway, wanted=wanted)
    for visit in visits:
        for practitioner in visit.refs.get("Practitioner", []):
            visit.attending = names.get(("Practitioner", practitioner), "")
        for location in visit.refs.get("Location", []):
            visit.location = names.get(("Location", location), "")


def _newest_first(visit: Visit) -> tuple[bool, float]:
    start = visit.period_start
    return (start is None, -start.timestamp() if start else 0.0)


@dataclass
class VisitList:
    visits: list[Visit]  # every visit fetched, newest first
    complete: bool  # False when the patient has more than MAX_FETCH_PAGES pages at the EHR

    def page(self, number: int) -> "VisitPage":
        pages = max(1, -(-len(self.visits) // PAGE_SIZE))
        number = min(max(number, 1), pages)
        rows = self.visits[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
        return VisitPage(rows=rows, number=number, pages=pages, total=len(self.visits))

    @property
    def upcoming(self) -> list[Visit]:
        return sorted(
            (v for v in self.visits if v.is_upcoming),
            key=lambda v: (v.period_start is None, v.period_start or timezone.now()),
        )

    @property
    def past(self) -> list[Visit]:
        return [v for v in self.visits if not v.is_upcoming]


@dataclass
class VisitPage:
    rows: list[Visit]
    number: int
    pages: int
    total: int

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None


def patient_visits(*, launch: Launch) -> VisitList:
    """The launch patient's Encounters (every page, up to 1000), newest first, names filled."""
    gateway = gateway_for(launch=launch)
    result = gateway.search(
        "Encounter",
        {"patient": launch.patient_id, "_count": FETCH_COUNT},
        all_pages=True,
        max_pages=MAX_FETCH_PAGES,
    )
    visits = [visit_from(e) for e in result.resources if e.resource_type == "Encounter"]
    # A search by patient must only ever show that patient's visits.
    visits = [v for v in visits if v.patient_id in ("", launch.patient_id)]
    visits.sort(key=_newest_first)
    fill_visit_names(gateway=gateway, visits=visits)
    return VisitList(visits=visits, complete=not result.next_url)
