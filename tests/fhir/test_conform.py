"""FHIR JSON is brought into the models' shapes field by field; what cannot be read is left out."""

import html
import logging
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smartapp.clinical.appointment_rows import appointment_row
from smartapp.fhir.presentation import display_name, given_name, instant_from_text, mrn
from smartapp.fhir.resources import parse_resource
from smartapp.lib.html_text import plain_text
from tests.fakehttp import example

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PATIENT_FIELDS = st.sampled_from(
    ["name", "identifier", "telecom", "birthDate", "gender", "link", "id"]
)
APPOINTMENT_FIELDS = st.sampled_from(
    ["participant", "start", "end", "status", "serviceType", "contained", "cancelationReason", "meta", "id"]
)  # fmt: skip


def test_a_name_that_is_one_object_is_read_as_a_list_of_one(caplog):
    data = example("r4_patient_read.json")
    data["name"] = data["name"][0]

    with caplog.at_level(logging.WARNING):
        patient = parse_resource(data)

    assert display_name(patient) == "SMART, JOE" and given_name(patient) == "JOE"
    assert caplog.messages == ["fhir Patient/12724067: unreadable fields name"]


def test_an_item_of_the_wrong_type_is_dropped_alone_and_the_log_names_no_value(caplog):
    data = example("r4_patient_read.json")
    data["name"][0]["given"] = ["JOE", 7, {"x": "SECRET-NAME"}]
    data["identifier"][0]["period"] = "yesterday"

    with caplog.at_level(logging.WARNING):
        patient = parse_resource(data)

    assert patient.name[0].given == ["JOE"] and patient.identifier[0].value == "6931"
    assert patient.identifier[0].period is None and mrn(patient) == "6931"
    assert "name[0].given[1]" in caplog.text and "identifier[0].period" in caplog.text
    assert "SECRET-NAME" not in caplog.text and "yesterday" not in caplog.text


def test_millenniums_string_numbers_become_numbers():
    patient = parse_resource(example("r4_patient_read.json"))

    assert patient.telecom[0].rank == 1  # "rank": "1" in Cerner's example
    account = parse_resource(example("r4_account_read_guarantor_balance.json"))
    money = next(e.valueMoney for e in account.extension if e.valueMoney is not None)
    assert money.value == 1250.0


def test_a_contained_resource_of_an_unknown_type_is_dropped_the_others_kept():
    data = example("r4_appointment_read_video_visit.json")
    data["contained"].append({"resourceType": "NotAType", "id": "x"})
    data["contained"].append({"resourceType": "HumanName", "family": "not a resource"})

    appointment = parse_resource(data)

    assert [c.resource_type for c in appointment.contained] == ["HealthcareService"] * 2


def test_an_unknown_resource_type_parses_to_an_empty_resource():
    assert parse_resource({"resourceType": "Nonsense", "id": "1"}).resource_type == "Resource"
    assert parse_resource(["not", "a", "resource"]).resource_type == "Resource"


def test_a_current_mrn_wins_over_an_old_one_listed_first():
    patient = parse_resource(example("r4_patient_read.json"))
    assert [i.value for i in patient.identifier[:2]] == ["6931", "6978"]
    data = example("r4_patient_read.json")
    data["identifier"] = list(reversed(data["identifier"]))

    assert mrn(parse_resource(data)) == "6931"


def test_old_names_give_way_to_the_official_one_whatever_the_order():
    data = example("r4_patient_read.json")
    data["name"] = list(reversed(data["name"]))

    assert display_name(parse_resource(data)) == "SMART, JOE"


def test_instants_at_the_calendars_ends_are_unreadable_not_errors():
    assert instant_from_text("0001-01-01T00:00:00Z") is None
    assert instant_from_text("9999-12-31T23:59:59+14:00") is None
    assert instant_from_text("2020-01-23", time_required=True) is None
    assert instant_from_text("2020-01-23").isoformat() == "2020-01-23T00:00:00+00:00"


def test_previews_keep_blocks_apart_and_drop_script_and_style():
    body = "<p>Ready.</p><p>View</p><ul><li>A1C 5.4%</li><li>LDL</li></ul><script>x()</script>"

    assert (
        plain_text(body + "<style>p{}</style>A&amp;B<b>old</b>")
        == "Ready. View A1C 5.4% LDL A&Bold"
    )


def _with(data: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    return {**data, field: value}


@settings(max_examples=300, deadline=None)
@given(field=PATIENT_FIELDS, value=JSON)
def test_any_json_in_a_patient_field_parses_and_reads_as_text(field, value):
    patient = parse_resource(_with(example("r4_patient_read.json"), field, value))

    assert isinstance(display_name(patient), str) and isinstance(mrn(patient), str)
    assert all(isinstance(n.given or [], list) for n in patient.name or [])


@settings(max_examples=300, deadline=None)
@given(field=APPOINTMENT_FIELDS, value=JSON)
def test_any_json_in_an_appointment_field_gives_a_row(field, value):
    row = appointment_row(_with(example("r4_appointment_read_video_visit.json"), field, value))

    assert isinstance(row.with_whom, str) and isinstance(row.status_label, str)
    assert row.start is None or row.start.tzinfo is not None


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_previews_without_markup(text):
    preview = plain_text(text)

    assert plain_text(html.escape(preview)) == preview  # plain text, escaped, reads as itself
    assert "  " not in preview and preview == preview.strip()
