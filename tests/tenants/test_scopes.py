"""SMART scopes compare by meaning: v1 and v2 grammar, wildcards, granular limits."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartapp.tenants.scopes import scope_covers, scope_parse, scopes_missing

COVERED = [
    ("patient/*.read", "patient/Appointment.read"),
    ("patient/*.cruds", "patient/Appointment.rs"),
    ("patient/Appointment.read", "patient/Appointment.rs"),  # v1 read ≈ v2 rs
    ("patient/Appointment.rs", "patient/Appointment.read"),
    ("user/*.*", "user/Appointment.write"),
    ("user/*.*", "user/Slot.read"),
    ("system/Patient.*", "system/Patient.r"),
    ("system/Basic.write", "system/Basic.c"),
    ("patient/Observation.rs", "patient/Observation.rs?category=vital-signs"),
    ("openid", "openid"),
]
NOT_COVERED = [
    ("patient/*.read", "user/Appointment.read"),  # another context
    ("user/*.read", "user/Appointment.write"),
    ("patient/Appointment.r", "patient/Appointment.rs"),  # read without search
    ("patient/Slot.read", "patient/Appointment.read"),
    ("patient/Observation.rs?category=vital-signs", "patient/Observation.rs"),  # limited
    ("launch", "launch/patient"),
    ("patient/*.", "patient/Appointment.read"),  # malformed: no permissions
]


@pytest.mark.parametrize(("granted", "needed"), COVERED)
def test_a_scope_covers_what_it_means(granted, needed):
    assert scope_covers(granted, needed)


@pytest.mark.parametrize(("granted", "needed"), NOT_COVERED)
def test_a_scope_covers_nothing_more(granted, needed):
    assert not scope_covers(granted, needed)


def test_a_server_listing_only_wildcards_misses_nothing():
    needed = ["patient/Appointment.read", "patient/Slot.rs", "openid", "fhirUser"]
    assert scopes_missing(needed=needed, granted=["patient/*.cruds", "openid", "fhirUser"]) == []
    assert scopes_missing(needed=needed, granted=["user/*.*", "openid"]) == [
        "patient/Appointment.read",
        "patient/Slot.rs",
        "fhirUser",
    ]


resources = st.sampled_from(["Appointment", "Slot", "Patient", "*"])
permissions = st.sampled_from(["read", "write", "*", "c", "rs", "cud", "cruds", "s", "ru"])
contexts = st.sampled_from(["patient", "user", "system"])
scopes = st.builds(lambda c, r, p: f"{c}/{r}.{p}", contexts, resources, permissions)


@given(scopes)
def test_every_scope_covers_itself_and_the_full_wildcard_covers_its_context(scope):
    meaning = scope_parse(scope)
    assert meaning is not None and scope_covers(scope, scope)
    assert scope_covers(f"{meaning.context}/*.*", scope)


@given(scopes, scopes, scopes)
def test_covering_is_transitive(a, b, c):
    if scope_covers(a, b) and scope_covers(b, c):
        assert scope_covers(a, c)


@given(st.text(max_size=60))
def test_any_text_is_a_scope_or_not_and_never_an_error(text):
    meaning = scope_parse(text)
    assert meaning is None or meaning.permissions <= set("cruds")
