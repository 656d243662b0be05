"""The first screen of each persona, each from one round of parallel calls.

The clinician's chart page answers "what is going on with this patient today"; the patient's home
answers "when is my next visit, what do I owe, is there news". Every part is one EHR call (or none:
payments are our own rows), the parts run at once, and a part whose call fails says so in one
line with the EHR's reference while the others show. Only a session the EHR no longer accepts
ends the page.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from smartapp.clinical import messages as portal
from smartapp.clinical.appointment_rows import AppointmentRow
from smartapp.clinical.appointments import appointment_search, fill_missing_names
from smartapp.clinical.messages import PortalMessage
from smartapp.clinical.selectors import PatientSummary, patient_summary
from smartapp.clinical.timezones import day_bounds, today_in
from smartapp.clinical.visits import Visit, patient_visits
from smartapp.fhir import errors as fhir
from smartapp.fhir.gateway import fetch_parallel
from smartapp.launch import error_pages
from smartapp.launch.access import gateway_for
from smartapp.launch.edge import as_launch_error
from smartapp.launch.models import Launch
from smartapp.tenants.discovery import DiscoveryError
from smartapp.tenants.oauth import TokenEndpointError

SHOWN = 3  # rows a part shows before its "all" link
AHEAD = timedelta(days=180)
RECENT = timedelta(days=365)
MESSAGES_RECENT = timedelta(days=30)
PART_ERRORS = (fhir.FhirError, TokenEndpointError, DiscoveryError, error_pages.LaunchError)


@dataclass(frozen=True)
class PartProblem:
    """Why a part is missing, in the words the full error page would use."""

    text: str
    reference: str
    error: Exception


@dataclass
class Parts:
    values: dict[str, Any]
    problems: dict[str, PartProblem | None]  # every part named: None when it came


class _Failed:
    def __init__(self, error: Exception) -> None:
        self.error = error


def _guarded(call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        try:
            return call()
        except fhir.Unauthorized:  # the session is over: the whole page says so
            raise
        except PART_ERRORS as error:
            if isinstance(error, error_pages.LaunchError) and error.status == 401:
                raise  # the sign-in ended (a refused refresh, a timed-out session)
            return _Failed(error)

    return run


def parts_parallel(calls: dict[str, Callable[[], Any]]) -> Parts:
    """Runs the parts at once; a part that fails becomes a problem, the others stay."""
    results = fetch_parallel({name: _guarded(call) for name, call in calls.items()})
    parts = Parts(values={}, problems={})
    for name, value in results.items():
        if isinstance(value, _Failed):
            page = as_launch_error(value.error)
            parts.problems[name] = PartProblem(str(page.explanation), page.reference, value.error)
            parts.values[name] = None
        else:
            parts.values[name] = value
            parts.problems[name] = None
    return parts


def _appointments_ahead(launch: Launch) -> list[AppointmentRow]:
    """The patient's appointments from the start of today, for half a year, soonest first."""
    gateway = gateway_for(launch=launch)
    zone = launch.tenant.zone
    today, _ = day_bounds(day=today_in(zone), zone=zone)
    rows = appointment_search(
        gateway=gateway, by="patient", value=launch.patient_id, start=today, end=today + AHEAD
    )
    rows = [r for r in rows if r.patient_id in ("", launch.patient_id) and r.is_active]
    fill_missing_names(gateway=gateway, rows=rows)
    return rows


@dataclass
class Owed:
    """A visit with an amount the hospital estimates, less what was paid here already."""

    visit: Visit
    estimate: Decimal
    paid_here: Decimal

    @property
    def left(self) -> Decimal:
        return max(self.estimate - self.paid_here, Decimal("0.00"))


@dataclass
class PaymentLine:
    payment: Any  # payments.models.Payment (the payments app is optional)
    words: Any  # payments.words.Words


@dataclass
class Money:
    owed: list[Owed] = field(default_factory=list)
    in_flight: list[PaymentLine] = field(default_factory=list)
    recent: list[PaymentLine] = field(default_factory=list)


def _paid_here(launch: Launch) -> dict[str, Decimal]:
    """Per visit, what patients paid through the app (captured or further, refunds taken off)."""
    from smartapp.payments.models import Payment, State

    paid: dict[str, Decimal] = {}
    rows = Payment.objects.filter(tenant=launch.tenant, patient_id=launch.patient_id).exclude(
        state__in=(State.NEW, State.CANCELLED, State.REFUNDED)
    )
    for row in rows.only("encounter_id", "amount", "reverses"):
        paid[row.encounter_id] = paid.get(row.encounter_id, Decimal("0")) - row.balance_effect
    return paid


def money_for(*, launch: Launch, visits: list[Visit] | None) -> Money:
    """What is owed on recent visits (the EHR's estimate, less our payments) and our payments:
    no EHR call (Accounts are read on the pay page itself, with the system client)."""
    from django.apps import apps

    if not apps.is_installed("smartapp.payments"):
        return Money()
    from smartapp.payments.models import FINAL_STATES, State
    from smartapp.payments.selectors import payments_for_launch
    from smartapp.payments.words import payment_words

    since = timezone.now() - RECENT
    paid = _paid_here(launch)
    owed = [
        Owed(v, v.estimated_responsibility, paid.get(v.encounter_id, Decimal("0")))
        for v in visits or []
        if v.estimated_responsibility
        and v.status not in ("cancelled", "entered-in-error")
        and (v.period_start is None or v.period_start >= since)
    ]
    payments = list(payments_for_launch(launch=launch).exclude(state=State.CANCELLED)[:20])
    lines = [PaymentLine(p, payment_words(p)) for p in payments]
    return Money(
        owed=[o for o in owed if o.left > 0][:SHOWN],
        in_flight=[line for line in lines if line.payment.state not in FINAL_STATES][:SHOWN],
        recent=[line for line in lines if line.payment.captured_at][:SHOWN],
    )


@dataclass
class ChartScreen:
    patient: PatientSummary | None
    today_visit: Visit | None
    today: list[AppointmentRow]
    upcoming: list[AppointmentRow]
    money: Money
    messages: list[PortalMessage]
    problems: dict[str, PartProblem | None]


def _today_visit(launch: Launch, visits: list[Visit] | None, today: date) -> Visit | None:
    """The launch's encounter, else a visit of the patient that starts today."""
    zone = launch.tenant.zone
    for visit in visits or []:
        if launch.encounter_id and visit.encounter_id == launch.encounter_id:
            return visit
    for visit in visits or []:
        start = visit.period_start
        if start is not None and start.astimezone(zone).date() == today:
            return visit
    return None


def _from_patient(launch: Launch) -> list[PortalMessage]:
    since = timezone.now() - MESSAGES_RECENT
    return [m for m in portal.sent_items(launch=launch) if m.created and m.created >= since]


def _granted(launch: Launch, calls: dict[str, Callable[[], Any]]) -> dict[str, Callable[[], Any]]:
    """The calls of features whose scopes the EHR granted (the others' parts are hidden)."""
    from smartapp.launch.features import features_unavailable

    hidden = {u.feature.tab for u in features_unavailable(launch=launch)}
    return {name: call for name, call in calls.items() if name not in hidden}


def _parts(
    launch: Launch, calls: dict[str, Callable[[], Any]], *, wanted: dict[str, bool]
) -> Parts:
    """`wanted`: parts this tenant has at all (no Messages API: no messages part)."""
    asked = {name: call for name, call in calls.items() if wanted.get(name, True)}
    parts = parts_parallel(_granted(launch, asked))
    for name in calls:
        parts.values.setdefault(name, None)
        parts.problems.setdefault(name, None)
    return parts


def chart_screen(*, launch: Launch) -> ChartScreen:
    """The clinician's first screen: four parallel calls (patient, appointments, visits, the
    patient's messages)."""
    parts = _parts(
        launch,
        {
            "patient": lambda: patient_summary(launch=launch),
            "appointments": lambda: _appointments_ahead(launch),
            "visits": lambda: patient_visits(launch=launch).visits,
            "messages": lambda: _from_patient(launch),
        },
        wanted={"messages": bool(launch.tenant.messages_api_base)},
    )
    values, zone = parts.values, launch.tenant.zone
    today = today_in(zone)
    rows: list[AppointmentRow] = values["appointments"] or []
    todays = [r for r in rows if r.start and r.start.astimezone(zone).date() == today]
    unread = parts.problems["patient"]
    if unread is not None:  # the banner is the page: without it there is no chart
        raise unread.error
    return ChartScreen(
        patient=values["patient"],
        today_visit=_today_visit(launch, values["visits"], today),
        today=todays,
        upcoming=[r for r in rows if r not in todays and r.is_future][:SHOWN],
        money=money_for(launch=launch, visits=values["visits"]),
        messages=(values["messages"] or [])[:SHOWN],
        problems=parts.problems,
    )


@dataclass
class HomeScreen:
    patient: PatientSummary | None
    next_appointment: AppointmentRow | None
    later: list[AppointmentRow]
    money: Money
    unread: list[PortalMessage]
    unread_count: int
    problems: dict[str, PartProblem | None]


def home_screen(*, launch: Launch) -> HomeScreen:
    """The patient's first screen: four parallel calls (patient, appointments, visits, inbox)."""
    parts = _parts(
        launch,
        {
            "patient": lambda: patient_summary(launch=launch),
            "appointments": lambda: _appointments_ahead(launch),
            "visits": lambda: patient_visits(launch=launch).visits,
            "inbox": lambda: portal.inbox(launch=launch),
        },
        wanted={"inbox": bool(launch.tenant.messages_api_base)},
    )
    values = parts.values
    ahead = [r for r in values["appointments"] or [] if not r.is_over]
    unread = [m for m in values["inbox"] or [] if m.unread]
    return HomeScreen(
        patient=values["patient"],
        next_appointment=ahead[0] if ahead else None,
        later=ahead[1 : 1 + SHOWN],
        money=money_for(launch=launch, visits=values["visits"]),
        unread=unread[:SHOWN],
        unread_count=len(unread),
        problems=parts.problems,
    )
