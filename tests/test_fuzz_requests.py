"""Nothing a browser sends makes smartapp answer 5xx: every URL pattern of the app, with hostile
path values, parameters, methods and bodies, as a patient, a clinician and anonymously.

The EHR behind the app is scripted (tests/fakehttp.py) with Cerner's example payloads, so pages
get past their EHR calls and reach their input parsing. The test counts its requests, and fails
on any 5xx and on any traceback logged while they ran.
"""

import logging
import uuid
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartapp.launch.models import Launch
from tests.fakehttp import (
    AUTH,
    PATIENT_BASE,
    authorize_params,
    example,
    fake_in_every_thread,
    fake_launch,
    install,
)

pytestmark = pytest.mark.django_db(transaction=True)
MESSAGES = "https://api.example.org/t1"
SKIP_PREFIXES = ("admin/", "sandbox/", "static/")
CONVERTER_SAMPLES = {"uuid": [str(uuid.uuid4())]}
HOSTILE = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(
        [
            "", " ", "A" * 5000, "\x00", "\x1b[2J", "../../etc/passwd", "%2e%2e%2f", "..\\..\\",
            "<script>alert(1)</script>", "' OR 1=1 --", "\u202e", "١٠", "１０", "𝟏𝟎",
            "9" * 400, "-1", "0", "1e400", "NaN", "Infinity", "-0.00", "1,0,0,0", "$", "+5",
            "9999-12-31", "0000-00-00", "0999-12-31", "2026-02-30", "yesterday", "true",
            '{"a": [1]}', "[]", "null", "https://evil.example/", "javascript:alert(1)",
            "http://127.0.0.1:abc/x", "http://[::1/x", "a" * 65, "Patient/1", "#frag",
        ]
    ),
)  # fmt: skip
FIELDS = [
    "date", "start", "end", "page", "slot", "service_type", "clinician", "location", "key",
    "reason", "version", "quote", "amount", "tendered", "method", "encounter", "check_number",
    "card_brand", "card_last4", "card_expiry", "credit", "recipient", "subject", "body", "note",
    "outcome", "state", "older_than", "tenant", "persona", "iss", "launch", "code", "error",
    "session_id", "booked", "folder", "csrfmiddlewaretoken",
]  # fmt: skip
METHODS = ["GET"] * 4 + ["POST"] * 4 + ["HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"]
BODY_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=nonsense",
    "multipart/form-data; boundary=zzz",
    "application/json",
    "text/plain",
    "",
]


def _patterns(resolvers: list[Any], prefix: str = "") -> list[str]:
    """Every route of the app as a template with `<converter:name>` parts (sandbox, admin out)."""
    found = []
    for item in resolvers:
        route = prefix + str(item.pattern)
        if route.startswith(SKIP_PREFIXES):
            continue
        if isinstance(item, URLResolver):
            found += _patterns(item.url_patterns, route)
        elif isinstance(item, URLPattern):
            found.append(route)
    return sorted(set(found))


# Signing out would end a persona's session for the rest of the run (tested on its own).
ROUTES = [r for r in _patterns(get_resolver().url_patterns) if not r.endswith("sign-out/")]


def _path(route: str, launch_id: str, values: list[str]) -> str:
    parts, rest = [], route
    while "<" in rest:
        head, _, tail = rest.partition("<")
        spec, _, rest = tail.partition(">")
        kind, _, name = spec.rpartition(":")
        parts.append(head)
        if kind == "uuid":
            parts.append(launch_id if name == "public_id" else str(uuid.uuid4()))
        else:
            parts.append(quote(values.pop() if values else "x", safe=""))
    return "/" + "".join(parts) + rest


def _scripted_ehr(fake_ehr) -> None:
    """Cerner's examples for the searches and reads the pages make."""
    for kind, name in {
        "Appointment": "r4_appointment_search_bundle.json",
        "Encounter": "r4_encounter_search_bundle.json",
        "Slot": "r4_slot_search_include_schedule_bundle.json",
        "Location": "r4_location_search_id_bundle.json",
        "Practitioner": "r4_practitioner_search_bundle.json",
        "Communication": "r4_communication_search_bundle.json",
        "Account": "r4_account_search_encounter_guarantor_balance_bundle.json",
    }.items():
        fake_ehr.fhir[kind] = (200, example(name))
    fake_ehr.fhir["Patient/12724066"] = (200, example("r4_patient_read.json") | {"id": "12724066"})
    fake_ehr.fhir["Encounter/97939518"] = (200, example("r4_encounter_read.json"))


@pytest.fixture
def personas(fake_ehr, fake_tenant, monkeypatch):
    """Three browsers: a clinician from the EHR, a patient signed in standalone, and a stranger."""

    def answer(method: str, url: str, kwargs: dict[str, Any]) -> tuple[int, Any]:
        if url.startswith(MESSAGES):
            return (200, []) if url.endswith(("inboxItems", "sentItems")) else (404, {})
        return fake_ehr(method, url, kwargs)

    fake = install(answer)
    fake_ehr.session = fake
    fake_in_every_thread(monkeypatch, fake)
    fake_tenant.messages_api_base = MESSAGES
    fake_tenant.messages_token_endpoint = f"{AUTH}/hosts/fhir/token"
    fake_tenant.save()
    _scripted_ehr(fake_ehr)
    clinician = Client(raise_request_exception=False)
    assert fake_launch(clinician, fake_ehr).status_code == 302
    patient = Client(raise_request_exception=False)
    fake_ehr.client_id = "patient-client"
    fake_ehr.claims_override = {"fhirUser": f"{PATIENT_BASE}/Patient/12724066"}
    fake_ehr.token_fields = {"patient": "12724066", "encounter": "97939518"}
    started = patient.post("/signin", {"tenant": "fake", "persona": "patient"})
    params = authorize_params(started["Location"])
    fake_ehr.nonce = params["nonce"]
    assert (
        patient.get("/launch/callback", {"code": "c", "state": params["state"]}).status_code == 302
    )
    launches = {launch.persona: str(launch.public_id) for launch in Launch.objects.all()}
    return {
        "clinician": (clinician, launches["provider"]),
        "patient": (patient, launches["patient"]),
        "anonymous": (Client(raise_request_exception=False), str(uuid.uuid4())),
    }


REQUEST = st.fixed_dictionaries(
    {
        "who": st.sampled_from(["clinician", "patient", "anonymous"]),
        "route": st.sampled_from(ROUTES),
        "method": st.sampled_from(METHODS),
        "allowed_method": st.integers(0, 9),  # mostly a method the route answers
        "path_values": st.lists(HOSTILE, min_size=3, max_size=3),
        "params": st.dictionaries(st.sampled_from(FIELDS), st.lists(HOSTILE, min_size=1, max_size=2), max_size=5),
        "content_type": st.sampled_from(BODY_TYPES),
        "raw_body": st.one_of(st.none(), st.binary(max_size=200)),
    }
)  # fmt: skip


def _send(client: Client, path: str, request: dict[str, Any]) -> Any:
    method, params = request["method"], request["params"]
    if method in ("GET", "HEAD", "OPTIONS"):
        return client.generic(method, path + "?" + "&".join(
            f"{quote(k)}={quote(v)}" for k, values in params.items() for v in values
        ))  # fmt: skip
    if request["raw_body"] is not None or not request["content_type"].startswith("application/x-"):
        body = request["raw_body"] or "&".join(f"{k}={v[0]}" for k, v in params.items()).encode()
        return client.generic(method, path, body, content_type=request["content_type"])
    flat = {k: v for k, v in params.items()}
    encoded = "&".join(f"{quote(k)}={quote(v)}" for k, values in flat.items() for v in values)
    return client.generic(method, path, encoded.encode(), content_type=request["content_type"])


@pytest.fixture
def broker_up(redis_server, settings):  # noqa: F811 - pytest-django's settings, not hypothesis's
    """/readyz answers 503 when the broker is down, rightly: here it is up, so 5xx means a bug."""
    settings.CELERY_BROKER_URL = f"{redis_server}/0"


def test_no_hostile_request_gets_a_5xx_or_a_traceback(personas, broker_up, caplog, figure):
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    allowed: dict[str, list[str]] = {}  # learnt from 405s' Allow header

    @settings(
        max_examples=2500,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=REQUEST)
    def one(request: dict[str, Any]) -> None:
        client, launch_id = personas[request["who"]]
        path = _path(request["route"], launch_id, list(request["path_values"]))
        methods = allowed.get(request["route"])
        if methods and request["allowed_method"] < 8:
            request = {**request, "method": methods[request["allowed_method"] % len(methods)]}
        response = _send(client, path, request)
        if response.status_code == 405 and response.has_header("Allow"):
            allowed[request["route"]] = [m.strip() for m in response["Allow"].split(",")]
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(
                f"{request['who']} {request['method']} {path[:120]} -> {response.status_code}"
            )

    with caplog.at_level(logging.WARNING):
        one()
    tracebacks = [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
    figure(
        f"\nfuzz: {sum(statuses.values())} requests over {len(ROUTES)} routes, statuses {dict(sorted(statuses.items()))}"
    )
    assert failures == [], "\n".join(failures[:30])
    assert tracebacks == [], "\n".join(r.getMessage() for r in tracebacks[:10])
    assert sum(statuses.values()) >= 2500
