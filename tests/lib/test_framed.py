"""Inside an EHR frame on another site: CHIPS cookies, frame-ancestors from the tenant file, and
a refused framing logged once with the framing origin."""

import copy
import json
import logging

import pytest
from django.core.management import call_command

from smartapp.tenants.services import TenantFileError, tenant_register
from tests.fakehttp import fake_ehr  # noqa: F401
from tests.tenants.test_tenants import TENANT_FILE

pytestmark = pytest.mark.django_db
PORTAL = "https://portal.example.org"
POWERCHART = "https://powerchart.example.org:8443"


def _entry(**fields) -> dict:
    return copy.deepcopy(TENANT_FILE["tenants"][0]) | fields


def _frame_ancestors(response) -> list[str]:
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    return policy["frame-ancestors"].split()


def test_the_tenant_files_ehr_origins_are_the_frame_ancestors(client, tmp_path):
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps({"tenants": [_entry(ehr_origins=[PORTAL, POWERCHART + "/"])]}))
    call_command("register_tenants", str(path))

    assert _frame_ancestors(client.get("/")) == ["'self'", PORTAL, POWERCHART]


@pytest.mark.parametrize(
    "origin",
    ["http://portal.example.org", "https://portal.example.org/app", "portal.example.org",
     "https://x:abc", "*", "https://portal.example.org?x=1"],
)  # fmt: skip
def test_an_ehr_origin_must_be_an_https_origin(origin):
    with pytest.raises(TenantFileError, match="ehr_origins"):
        tenant_register(entry=_entry(ehr_origins=[origin]))


def test_a_framing_from_an_origin_not_listed_is_logged_once_with_that_origin(client, caplog):
    tenant_register(entry=_entry(ehr_origins=[PORTAL]))
    framed = {"HTTP_SEC_FETCH_DEST": "iframe", "HTTP_SEC_FETCH_SITE": "cross-site"}

    with caplog.at_level(logging.WARNING, logger="smartapp.lib.middleware"):
        client.get("/", HTTP_REFERER="https://evil.example.net/page?x=1", **framed)
        client.get("/", HTTP_REFERER="https://evil.example.net/other", **framed)
        client.get("/", HTTP_REFERER=f"{PORTAL}/chart", **framed)

    refused = [r.getMessage() for r in caplog.records if "framing refused" in r.getMessage()]
    assert refused == [
        "framing refused: https://evil.example.net is not among the tenants' ehr_origins "
        "(CSP frame-ancestors)"
    ]


@pytest.mark.usefixtures("fake_ehr")
def test_with_secure_cookies_the_session_and_csrf_cookies_are_partitioned(client, settings):
    settings.SECURE_COOKIES = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    tenant_register(entry=_entry())

    start = client.get("/")  # the sign-in form sets the CSRF cookie
    signed = client.post("/signin", {"tenant": "sandbox", "persona": "patient"})

    csrf = start.cookies[settings.CSRF_COOKIE_NAME].output()
    assert "Secure" in csrf and "SameSite=None; Partitioned" in csrf
    session = signed.cookies[settings.SESSION_COOKIE_NAME].output()
    assert "Secure" in session and "HttpOnly" in session and "SameSite=None; Partitioned" in session


def test_without_secure_cookies_nothing_is_partitioned(client):
    tenant_register(entry=_entry())

    start = client.get("/")

    assert "Partitioned" not in start.cookies["csrftoken"].output()
