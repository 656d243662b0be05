"""Visits from Cerner's documented Encounter shapes, without a server (fhirclient models)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from smartapp.audit.models import AuditEvent
from smartapp.clinical.visits import PAGE_SIZE, Visit, VisitList, fill_visit_names, visit_from
from smartapp.fhir.gateway import AuditContext, FhirGateway
from smartapp.fhir.resources import parse_resource
from tests.fakehttp import BASE, example, install, uninstall


def _encounter(**changes):
    data = example("r4_encounter_read.json")
    data.update(changes)
    return parse_resource(data)


def test_a_visit_reads_type_status_period_place_attending_and_money():
    visit = visit_from(_encounter())

    assert visit.encounter_id == visit.id == "97939518"
    assert (visit.status, visit.status_label) == ("finished", "Finished")
    assert visit.period_start == datetime(2019, 12, 26, 15, 38, 2, tzinfo=UTC)
    assert visit.period_end == datetime(2020, 1, 7, 6, 0, tzinfo=UTC)
    assert visit.type == "Inpatient" and visit.reason == "Illness"
    assert visit.location == "Model Hospital, MX Hospital, NU05, 102, A"
    assert visit.attending == "Cerner Test, Physician - Hospitalist Cerner"
    assert visit.estimated_responsibility == Decimal("0.00") and visit.currency == "USD"
    assert visit.patient_id == "12724066" and visit.refs == {}


def test_a_visit_without_the_money_extension_has_none():
    visit = visit_from(_encounter(extension=[]))

    assert visit.estimated_responsibility is None


def test_references_without_a_display_are_named_by_one_search_per_type(monkeypatch):
    data = example("r4_encounter_read.json")
    for participant in data["participant"]:
        participant["individual"].pop("display")
    data["location"][0]["location"].pop("display")
    visits = [visit_from(parse_resource(data)), visit_from(parse_resource(data))]
    practitioners = example("r4_practitioner_search_bundle.json")
    locations = example("r4_location_search_id_bundle.json")
    practitioners["entry"][0]["resource"]["id"] = "4122622"
    locations["entry"][0]["resource"]["id"] = "32545019"
    fake = install(
        lambda m, u, k: (200, practitioners if u.endswith("/Practitioner") else locations)
    )
    monkeypatch.setattr("smartapp.fhir.gateway.session", lambda: fake)  # parallel threads too
    gateway = FhirGateway(base_url=BASE, token=lambda: "t")
    try:
        fill_visit_names(gateway=gateway, visits=visits)
    finally:
        uninstall()

    assert len(fake.calls) == 2
    assert {c[2]["query"]["_id"] for c in fake.calls} == {"4122622", "32545019"}
    assert visits[0].attending and visits[0].location and visits[1].attending


def _visit(days: int, status: str = "finished") -> Visit:
    start = datetime.now(UTC) + timedelta(days=days)
    return Visit(encounter_id=str(days), status=status, period_start=start, period_end=None)


def test_upcoming_is_soonest_first_and_past_newest_first():
    visits = VisitList(
        visits=[
            _visit(9, "planned"),
            _visit(2, "planned"),
            _visit(-1),
            _visit(-30),
            _visit(5, "cancelled"),
        ],
        complete=True,
    )

    assert [v.encounter_id for v in visits.upcoming] == ["2", "9"]
    assert [v.encounter_id for v in visits.past] == ["-1", "-30", "5"]


def test_pages_hold_page_size_rows_and_clamp_to_the_last():
    visits = VisitList(visits=[_visit(-d) for d in range(PAGE_SIZE * 2 + 1)], complete=True)

    first, last, beyond = visits.page(1), visits.page(3), visits.page(9)

    assert len(first.rows) == PAGE_SIZE and (first.previous, first.next) == (None, 2)
    assert len(last.rows) == 1 and last.next is None and last.previous == 2
    assert beyond.number == 3 and visits.page(1).pages == 3


@pytest.mark.django_db
def test_the_encounter_search_follows_next_links_and_is_audited_per_page():
    page2 = example("r4_encounter_search_bundle.json")
    page1 = example("r4_encounter_search_patient_persona_bundle.json")
    page1["link"][1]["url"] = (
        f"{BASE}/Encounter?patient=12724066&-pageContext=x&-pageDirection=NEXT"
    )
    pages = iter([(200, page1), (200, page2)])
    install(lambda m, u, k: next(pages))
    gateway = FhirGateway(
        base_url=BASE, token=lambda: "t", audit_context=AuditContext(who="w", tenant="t")
    )
    try:
        result = gateway.search(
            "Encounter", {"patient": "12724066", "_count": 100}, all_pages=True, max_pages=10
        )
    finally:
        uninstall()

    visits = [visit_from(e) for e in result.resources]
    assert len(visits) == len({v.encounter_id for v in visits}) >= 6
    assert AuditEvent.objects.count() == 2
