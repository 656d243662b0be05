"""The FHIR gateway, typed errors, parsing of Cerner's payloads and presentation helpers."""

import json
from datetime import date

import pytest
from fhirclient.models.patient import Patient

from smartapp.audit.models import AuditEvent
from smartapp.fhir import errors
from smartapp.fhir.gateway import AuditContext, FhirGateway, fetch_parallel
from smartapp.fhir.presentation import birth_date, display_name, mrn
from smartapp.fhir.references import BadReference, parse_reference
from smartapp.fhir.resources import parse_resource
from tests.fakehttp import BASE, example, install, response, uninstall

EXAMPLES = [
    "r4_patient_read.json",
    "r4_patient_search_bundle.json",
    "r4_practitioner_read.json",
    "r4_practitioner_search_bundle.json",
    "r4_patient_read_combined.json",
]


@pytest.mark.parametrize("name", EXAMPLES)
def test_it_parses_every_cerner_example(name):
    data = example(name)

    resource = parse_resource(data)

    assert resource.resource_type == data["resourceType"] and resource.id == data.get("id")


def test_cerners_string_contact_rank_trips_strict_parsing_and_is_handled():
    data = example("r4_patient_read.json")
    with pytest.raises(Exception, match="rank"):
        Patient(data, strict=True)

    patient = parse_resource(data)

    assert patient.telecom and all(
        isinstance(t.rank, int) for t in patient.telecom if t.rank is not None
    )


def test_an_unknown_quirk_falls_back_to_a_lenient_parse():
    data = example("r4_patient_read.json")
    data["gender"] = 7

    patient = parse_resource(data)

    assert patient.id == "12724067" and patient.gender is None and patient.name


def test_presentation_helpers_read_the_cerner_patient():
    patient = parse_resource(example("r4_patient_read.json"))

    assert display_name(patient) == "SMART, JOE"
    assert mrn(patient) == example("r4_patient_read.json")["identifier"][0]["value"]
    assert birth_date(patient) == date(1976, 4, 29)


def test_mrn_is_the_identifier_typed_mrn():
    patient = parse_resource(
        {
            "resourceType": "Patient",
            "id": "1",
            "identifier": [
                {"type": {"coding": [{"code": "NPI"}]}, "value": "n"},
                {"type": {"coding": [{"code": "MRN"}]}, "value": "m-1"},
            ],
        }
    )

    assert mrn(patient) == "m-1"


def test_practitioner_display_name():
    assert (
        display_name(parse_resource(example("r4_practitioner_read.json")))
        == "Cerner Test, Physician - Hospitalist Cerner"
    )


@pytest.mark.parametrize(
    "value,expected",
    [
        (f"{BASE}/Practitioner/4122622", ("Practitioner", "4122622", BASE)),
        ("Patient/12724067", ("Patient", "12724067", "")),
        (
            "https://fhir-ehr-code.cerner.com/dstu2/t/Practitioner/1",
            ("Practitioner", "1", "https://fhir-ehr-code.cerner.com/dstu2/t"),
        ),
    ],
)
def test_it_parses_fhir_user_references(value, expected):
    ref = parse_reference(value)
    assert (ref.resource_type, ref.resource_id, ref.base) == expected


@pytest.mark.parametrize(
    "value",
    ["", "Practitioner", "/Practitioner/1/x", "practitioner/1", "Patient/1?x=y", "urn:uuid:1"],
)
def test_it_refuses_malformed_references(value):
    with pytest.raises(BadReference):
        parse_reference(value)


@pytest.mark.parametrize(
    "status,body,cls,code",
    [
        (404, example("r4_operationoutcome_not_found.json"), errors.NotFound, "not-found"),
        (500, example("r4_operationoutcome_500_required.json"), errors.FhirError, "required"),
        (
            403,
            {
                "code": 403,
                "message": 'code="urn:cerner:error:oauth2:resource-access:insufficient-scopes",error="insufficient_scope",subcode="no_scope_for_resource_path"',
            },
            errors.Forbidden,
            "insufficient_scope",
        ),
        (
            401,
            {
                "code": 401,
                "message": 'code="urn:cerner:error:oauth2:resource-access:signature-verification-failed",error="invalid_token",subcode="unknown_kid"',
            },
            errors.Unauthorized,
            "unknown_kid",
        ),
        (429, None, errors.RateLimited, ""),
    ],
)
def test_it_turns_error_bodies_into_typed_errors(status, body, cls, code):
    error = errors.error_from_response(response(status, body, {"X-Request-Id": "corr-1"}))

    assert type(error) is cls and code in error.code and error.correlation == "corr-1"


def test_unknown_kid_means_another_environment():
    body = {
        "code": 401,
        "message": 'code="x:signature-verification-failed",error="invalid_token",subcode="unknown_kid"',
    }
    assert errors.error_from_response(response(401, body)).wrong_environment


@pytest.fixture
def fhir_server():
    pages = {}
    install(
        lambda method, url, kwargs: pages.get(
            (url, json.dumps(kwargs.get("query"), sort_keys=True)), (404, None)
        )
    )
    yield pages
    uninstall()


def bundle(ids, next_url=None):
    links = [{"relation": "next", "url": next_url}] if next_url else []
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": {"resourceType": "Patient", "id": i}} for i in ids],
    }


@pytest.mark.django_db
def test_search_follows_next_links_on_the_same_origin_and_dedupes(fhir_server):
    fhir_server[(f"{BASE}/Patient", '{"family": "SMART"}')] = (
        200,
        bundle(["1", "2"], f"{BASE}/Patient?-pageContext=a"),
    )
    fhir_server[(f"{BASE}/Patient", '{"-pageContext": "a"}')] = (
        200,
        bundle(["2", "3"], "https://evil.example.net/Patient?p=2"),
    )
    audit = AuditContext(who="Practitioner/1", tenant="fake")
    gateway = FhirGateway(base_url=BASE, token=lambda: "tok", audit_context=audit)

    first = gateway.search("Patient", {"family": "SMART"})
    everything = gateway.search("Patient", {"family": "SMART"}, all_pages=True)

    assert [p.id for p in first.resources] == ["1", "2"] and first.next_url
    assert [p.id for p in everything.resources] == ["1", "2", "3"] and everything.next_url is None
    assert AuditEvent.objects.filter(action="search", what="Patient?family").count() == 2
    assert not AuditEvent.objects.filter(what__contains="SMART").exists()


@pytest.mark.django_db
def test_search_json_pages_dedupes_and_audits_like_search_without_models(fhir_server):
    fhir_server[(f"{BASE}/Patient", '{"family": "SMART"}')] = (
        200,
        bundle(["1", "2"], f"{BASE}/Patient?-pageContext=a"),
    )
    fhir_server[(f"{BASE}/Patient", '{"-pageContext": "a"}')] = (200, bundle(["2", "3"]))
    audit = AuditContext(who="Practitioner/1", tenant="fake")
    gateway = FhirGateway(base_url=BASE, token=lambda: "tok", audit_context=audit)

    result = gateway.search_json("Patient", {"family": "SMART"}, all_pages=True)

    assert [p["id"] for p in result.resources] == ["1", "2", "3"] and result.next_url is None
    assert all(isinstance(p, dict) for p in result.resources)
    assert AuditEvent.objects.filter(action="search").count() == 2


@pytest.mark.django_db
def test_read_audits_and_raises_typed_errors_without_logging_the_token(fhir_server, caplog):
    caplog.set_level("DEBUG")
    fhir_server[(f"{BASE}/Patient/1", "{}")] = (200, {"resourceType": "Patient", "id": "1"})
    gateway = FhirGateway(
        base_url=BASE,
        token=lambda: "secret-token",
        audit_context=AuditContext(who="system", tenant="fake"),
    )

    assert gateway.read("Patient", "1").id == "1"
    with pytest.raises(errors.NotFound):
        gateway.read("Patient", "2")

    events = list(AuditEvent.objects.order_by("id").values_list("what", "status", "patient_id"))
    assert events == [("Patient/1", 200, "1"), ("Patient/2", 404, "2")]
    assert "secret-token" not in caplog.text


@pytest.mark.django_db
def test_read_refuses_a_different_resource_than_asked(fhir_server):
    fhir_server[(f"{BASE}/Patient/1", "{}")] = (200, {"resourceType": "Patient", "id": "9"})

    with pytest.raises(errors.FhirError):
        FhirGateway(base_url=BASE, token=lambda: "t").read("Patient", "1")


def test_fetch_parallel_runs_calls_and_returns_results_by_name():
    assert fetch_parallel({"a": lambda: 1, "b": lambda: 2}) == {"a": 1, "b": 2}


def test_age_counts_whole_years_and_waits_for_the_birthday():
    from datetime import date

    from smartapp.fhir.presentation import age_in_years

    assert age_in_years(date(1976, 4, 29), today=date(2026, 4, 28)) == 49
    assert age_in_years(date(1976, 4, 29), today=date(2026, 4, 29)) == 50
    assert age_in_years(None, today=date(2026, 1, 1)) is None
