"""No payload shape makes a page fail: thousands of mutants of Cerner's examples, through the code
of every page that reads them (selectors over a real FhirGateway, then the page's template).

A mutant may be refused with a typed error (a read answered with another id is a FhirError, a
message that is not the clinician's is MessageNotFound): pages turn those into a clear message.
Anything else raised is a failure. EHR text must never come out as markup or a script link.
"""

import copy
import re
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone

from smartapp.clinical import appointments, communications, selectors, slots, visits
from smartapp.clinical import messages as portal
from smartapp.clinical.booking import owned_appointment
from smartapp.clinical.names import names_by_reference
from smartapp.fhir.errors import FhirError
from smartapp.fhir.gateway import FhirGateway
from smartapp.launch.error_pages import LaunchError
from smartapp.launch.models import Launch
from smartapp.payments import ehr
from smartapp.payments import quotes as payment_visits
from smartapp.tenants.models import Persona
from tests.examples import cerner_example
from tests.fakehttp import BASE, install, uninstall
from tests.mutants import mutants

ZONE = ZoneInfo("America/Chicago")
# Every example of a type the app reads, with the resource type whose URLs it answers.
READ_EXAMPLES = {
    "Patient": ["r4_patient_read.json", "r4_patient_read_combined.json", "r4_patient_search_bundle.json"],
    "Practitioner": ["r4_practitioner_read.json", "r4_practitioner_search_bundle.json"],
    "Location": ["r4_location_read.json", "r4_location_search_id_bundle.json"],
    "Appointment": [
        "r4_appointment_read.json",
        "r4_appointment_read_video_visit.json",
        "r4_appointment_search_bundle.json",
    ],
    "Slot": ["r4_slot_read.json", "r4_slot_search_include_schedule_bundle.json"],
    "Schedule": ["r4_schedule_read.json", "r4_schedule_search_bundle.json"],
    "Encounter": [
        "r4_encounter_read.json",
        "r4_encounter_read_combined.json",
        "r4_encounter_search_patient_persona_bundle.json",
    ],
    "Account": [
        "r4_account_read_guarantor_balance.json",
        "r4_account_search_encounter_guarantor_balance_bundle.json",
    ],
    "Communication": ["r4_communication_read.json", "r4_communication_search_bundle.json"],
    "Binary": ["r4_binary_read_communication.json"],
}  # fmt: skip
BASELINE = {  # what the other URLs answer while one type is mutated
    "Patient": "r4_patient_read.json",
    "Communication": "r4_communication_read.json",
    "Binary": "r4_binary_read_communication.json",
    "Practitioner": "r4_practitioner_search_bundle.json",
    "Location": "r4_location_search_id_bundle.json",
    "Schedule": "r4_schedule_search_bundle.json",
}
PAGE_TEMPLATES = {
    "patient": "clinical/chart.html",
    "appointments": "clinical/_appointment_lists.html",
    "day": "clinical/my_day.html",
    "slots": "clinical/_slot_days.html",
    "visits": "clinical/_visits_table.html",
    "staff_messages": "clinical/staff_messages.html",
    "staff_message": "clinical/staff_message.html",
    "inbox": "clinical/messages.html",
    "message": "clinical/message.html",
}
EXPECTED = (FhirError, LaunchError)
_COMMUNICATION = "489580643.0.-4.prsnl"
NAMES = Template("{% for name in names %}<li>{{ name }}</li>{% endfor %}")  # as pages show them
SCRIPT_LINK = re.compile(r"""(href|src)\s*=\s*["']?\s*javascript:""", re.I)


def _bundle(doc: Any) -> Any:
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        return doc
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": doc}]}


class MutantEhr:
    """Answers the mutated type's reads with the mutant and its searches with it as a Bundle;
    other types with Cerner's unmutated example."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.mutant: Any = None
        self.baseline = {k: cerner_example(v) for k, v in BASELINE.items()}

    def __call__(self, method: str, url: str, kwargs: dict[str, Any]) -> tuple[int, Any]:
        parts = urlsplit(url).path[len(urlsplit(BASE).path) + 1 :].split("/")
        kind, read = parts[0], len(parts) > 1
        doc = self.mutant if kind == self.kind else self.baseline.get(kind)
        if doc is None:
            return 200, {"resourceType": "Bundle", "type": "searchset"}
        if read and isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
            doc = _first_resource(doc)
        return 200, doc if read else _bundle(doc)


def _launch(persona: str, example: dict[str, Any]) -> Launch:
    return Launch(
        public_id=uuid.uuid4(),
        persona=persona,
        patient_id="12724066",
        user_type="Practitioner",
        user_id="593923",
        need_patient_banner=True,
    )


def _first_resource(bundle: dict[str, Any]) -> Any:
    entries = bundle.get("entry")
    first = entries[0] if isinstance(entries, list) and entries else None
    return first.get("resource") if isinstance(first, dict) else None


def _id_of(doc: Any) -> str:
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        doc = _first_resource(doc)
    return str(doc.get("id")) if isinstance(doc, dict) else ""


def _render(name: str, context: dict[str, Any]) -> str:
    with timezone.override(ZONE):
        return render_to_string(PAGE_TEMPLATES[name], {"zone": ZONE, **context})


def _pages_for(kind: str, gateway: FhirGateway, example: dict[str, Any]) -> list[Callable[[], str]]:
    """The page pieces that read `kind`: each a call returning the rendered HTML."""
    clinician, patient = _launch(Persona.PROVIDER, example), _launch(Persona.PATIENT, example)
    now = timezone.now()
    first_id = _id_of(example)

    def chart(launch: Launch = clinician) -> str:
        launch.patient_id = first_id if kind == "Patient" else launch.patient_id
        summary = selectors.patient_summary(launch=launch)
        return _render("patient", {"launch": launch, "patient": summary})

    def appointment_lists() -> str:
        found = appointments.patient_appointments(launch=patient)
        return _render("appointments", {"launch": patient, "appointments": found})

    def day() -> str:
        agenda = appointments.practitioner_day(launch=clinician, day=now.date(), zone=ZONE)
        return _render("day", {"launch": clinician, "agenda": agenda, "today": now.date()})

    def one_appointment() -> str:
        patient.patient_id = "12724066"
        row = owned_appointment(launch=patient, appointment_id=first_id or "x")
        return _render("appointments", {"launch": patient, "appointments": _lists([row])})

    def free() -> str:
        found = slots.free_slots(
            gateway=gateway,
            service_type="s|c",
            start=now,
            end=now + timedelta(days=2),
            zone=ZONE,
        )
        detail = slots.slot_details(gateway=gateway, slot_id=first_id or "x")
        found.days.append(slots.SlotDay(day=now.date(), slots=[detail] if detail else []))
        return _render("slots", {"launch": patient, "slots": found, "chooser": "link"})

    def visit_list() -> str:
        found = visits.patient_visits(launch=patient)
        return _render("visits", {"launch": patient, "rows": found.page(1).rows, "pay": False})

    def visit_money() -> str:
        status, estimate = payment_visits.owned_encounter_status(
            launch=patient, encounter_id=first_id or "x"
        )
        return f"{status} {estimate}"

    def account() -> str:
        return str(ehr.guarantor_account(gateway=gateway, encounter_id="97953477"))

    def staff_list() -> str:
        found = communications.my_messages(launch=clinician)
        return _render("staff_messages", {"launch": clinician, "rows": found, "messages": found})

    def staff_one() -> str:
        clinician.user_id = "12093978"
        message = communications.my_message(launch=clinician, communication_id=_COMMUNICATION)
        return _render("staff_message", {"launch": clinician, "message": message})

    def names() -> str:
        wanted = {kind: {first_id or "x", "593923"}}
        found = names_by_reference(gateway=gateway, wanted=wanted)
        return NAMES.render(Context({"names": found.values()}))

    return {
        "Patient": [chart, lambda: chart(patient)],
        "Practitioner": [names],
        "Location": [names],
        "Appointment": [appointment_lists, day, one_appointment],
        "Slot": [free],
        "Schedule": [free],
        "Encounter": [visit_list, visit_money],
        "Account": [account],
        "Communication": [staff_list, staff_one],
        "Binary": [staff_one],
    }[kind]


def _lists(rows: list[Any]) -> appointments.PatientAppointments:
    return appointments.PatientAppointments(upcoming=rows, past=rows)


# A Messages API message as Oracle documents it (the sandbox's shape): not FHIR, read as JSON.
PORTAL_MESSAGE = {
    "id": "123456",
    "subject": "Your statement is ready",
    "createDateTime": "2026-11-20T15:04:05Z",
    "status": "UNREAD",
    "priority": "NORMAL",
    "notificationType": "MESSAGE",
    "sender": {"id": "4122622", "type": "PERSONNEL", "name": "Cerner Test, Physician"},
    "recipients": [{"id": "12724066", "type": "PERSON", "name": "Smart, Nancy"}],
    "hasAttachments": False,
    "preview": "Your statement is ready. View statement",
    "patientId": "12724066",
    "content": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Ready.</p><p>View statement</p></div>',
    "previousMessageId": None,
}


class OneMessageApi:
    """The Messages API door's reads, answering with one mutant."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def inbox(self, *, since: object) -> list[Any]:
        return [self.data]

    def message(self, *, message_id: str) -> Any:
        return self.data


def test_no_mutant_of_a_portal_message_breaks_the_inbox_or_the_message_page(monkeypatch, figure):
    launch, ran, failures = _launch(Persona.PATIENT, {}), 0, []
    for change, mutant in [("as documented", PORTAL_MESSAGE), *mutants(PORTAL_MESSAGE)]:
        ran += 1
        api = OneMessageApi(copy.deepcopy(mutant))  # mutants share their unchanged parts
        monkeypatch.setattr(portal, "messages_api_for", lambda launch, api=api: api)
        try:
            rows = portal.inbox(launch=launch)
            html = _render("inbox", {"launch": launch, "rows": rows, "folder": "inbox"})
            message = portal.owned_message(launch=launch, message_id="123456", api=api)
            html += _render("message", {"launch": launch, "message": message})
        except EXPECTED:
            continue
        except Exception as error:  # noqa: BLE001
            failures.append(f"{change}: {error!r}")
            continue
        if "<script>alert" in html or SCRIPT_LINK.search(html):
            failures.append(f"{change}: unescaped text")
    figure(f"portal message mutants: {ran}, {len(failures)} exceptions")
    assert failures == [], "\n".join(failures)
    assert ran > 80


@pytest.fixture
def mutant_gateways(monkeypatch):
    """A real FhirGateway over a scripted EHR, given to every selector the pages call."""

    def install_for(kind: str) -> tuple[MutantEhr, FhirGateway]:
        ehr_fake = MutantEhr(kind)
        fake = install(ehr_fake)
        monkeypatch.setattr("smartapp.fhir.gateway.session", lambda: fake)  # parallel threads too
        gateway = FhirGateway(base_url=BASE, token=lambda: "t")
        for module in (selectors, appointments, visits, communications, payment_visits):
            monkeypatch.setattr(module, "gateway_for", lambda launch: gateway, raising=False)
        monkeypatch.setattr("smartapp.clinical.booking.gateway_for", lambda launch: gateway)
        return ehr_fake, gateway

    yield install_for
    uninstall()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", READ_EXAMPLES)  # one test per type: they spread over the workers
def test_no_mutant_of_cerners_examples_breaks_a_page(kind, mutant_gateways, figure):
    began, ran, typed = time.monotonic(), 0, 0
    failures: list[str] = []
    fake, gateway = mutant_gateways(kind)
    for name in READ_EXAMPLES[kind]:
        example = cerner_example(name)
        pages = _pages_for(kind, gateway, example)
        for change, mutant in [("as published", example), *mutants(example)]:
            fake.mutant = mutant
            cache.clear()  # names of staff and places are cached: read every mutant's
            for page in pages:
                ran += 1
                try:
                    html = page()
                except EXPECTED:
                    typed += 1
                    continue
                except Exception as error:  # noqa: BLE001 - the test counts every kind
                    failures.append(f"{name} {change} {page.__name__}: {error!r}")
                    continue
                if SCRIPT_LINK.search(html) or "<script>alert" in html:
                    failures.append(f"{name} {change} {page.__name__}: unescaped EHR text")
    took = time.monotonic() - began
    figure(f"payload mutants of {kind}: {ran} page renders, {typed} typed refusals, "
          f"{len(failures)} exceptions, {took:.1f} s")  # fmt: skip
    assert failures == [], "\n".join(failures[:40])
    assert ran >= 20 * len(READ_EXAMPLES[kind])  # every field of every example, changed
