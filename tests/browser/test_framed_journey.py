"""The app framed by an EHR on another site, with third-party cookies blocked (Chromium).

The sandbox EHR page is the top-level page, on the live server's http://localhost next to its
authorization server (as PowerChart and authorization.cerner.com); the app it frames is served by
the same process over HTTPS on 127.0.0.1 with a throwaway certificate: another site. The Chromium
profile blocks third-party cookies by its preference (pinned, not left to the build's default).

Proves: with SECURE_COOKIES the session and CSRF cookies are `Secure; SameSite=None;
Partitioned` and kept for the EHR's site only; the app's CSP frame-ancestors names the tenant
file's `ehr_origins`; inside the frame a clinician completes the EHR launch (patient chart), books
a free slot and records a payment taken at the desk. The control: without `Partitioned` the same
framed launch fails when third-party cookies are blocked (the callback cannot find the sign-in's
state) and succeeds when they are allowed, so the blocking is real and `Partitioned` is what gets
past it. Last, the confirmations ("Booked.", "Recorded.") must reach the clinician in the frame.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.http import HttpRequest, HttpResponse
from playwright.sync_api import Browser, FrameLocator, Page, Response, expect

from smartapp.launch.models import Launch
from smartapp.lib.middleware import PartitionedCookiesMiddleware
from smartapp.payments.models import Method, Payment, State
from smartapp.sandbox.models import Appointment, Client, Patient, Practitioner
from smartapp.tenants.selectors import frame_ancestors_forget
from smartapp.testing._worker import use_broker as celery_use_broker
from tests.browser.conftest import SCREENSHOTS
from tests.browser.framing import (
    ALLOW_THIRD_PARTY,
    BLOCK_THIRD_PARTY,
    chromium_profile,
    https_app,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"
CLINIC_TZ = "America/Chicago"
STATE_LOST = "This sign-in link is no longer valid"


@dataclass
class Framing:
    ehr: str  # the EHR page's origin (top level)
    app: str  # the framed app's origin
    client_id: str  # the sandbox's clinician app, registered for the app's origin
    tmp: Path


@pytest.fixture
def framing(
    settings, live_server, tenant, sandbox_tenants_file: Path, tmp_path: Path, redis_server: str
) -> Iterator[Framing]:
    """Production's cookie settings; the app on its own site; the tenant lets the EHR frame it;
    a real Redis to queue the desk payment's posting on (no worker takes it here)."""

    celery_use_broker(f"{redis_server}/0")
    settings.SECURE_COOKIES = settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    with https_app(tmp_path) as app:
        client_id = _register_app_origin(sandbox_tenants_file, live_server.url, app, tmp_path)
        yield Framing(ehr=live_server.url, app=app, client_id=client_id, tmp=tmp_path)
    frame_ancestors_forget()


def _register_app_origin(tenants_file: Path, ehr: str, app: str, tmp: Path) -> str:
    """What seeding the sandbox and the tenant file with `--app-url <app>` would have written,
    plus `ehr_origins`; returns the clinician app's client id."""
    for client in Client.objects.filter(tenant_id=TENANT, persona="provider"):
        client.launch_url = client.launch_url.replace(ehr, app)
        client.redirect_uri = client.redirect_uri.replace(ehr, app)
        client.save(update_fields=["launch_url", "redirect_uri"])
    document = json.loads(tenants_file.read_text())
    entry = document["tenants"][0]
    entry["ehr_origins"] = [ehr]
    provider = next(c for c in entry["clients"] if c["persona"] == "provider")
    provider["redirect_uri"] = provider["redirect_uri"].replace(ehr, app)
    (tmp / "tenants.json").write_text(json.dumps(document))
    call_command("register_tenants", str(tmp / "tenants.json"))
    return provider["client_id"]


@contextmanager
def _profile(browser: Browser, framing: Framing, mode: int, name: str) -> Iterator[Page]:
    """A fresh Chromium profile; its one page (a second new_page can hang here)."""
    options = {"viewport": {"width": 1200, "height": 1000}, "timezone_id": CLINIC_TZ}
    with chromium_profile(browser, framing.tmp / name, cookie_controls_mode=mode, **options) as ctx:
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"framed_{name}.png"), full_page=True)


def _app_responses(page: Page, framing: Framing) -> list[Response]:
    seen: list[Response] = []
    page.on("response", lambda r: seen.append(r) if r.url.startswith(framing.app) else None)
    return seen


def _launch(page: Page, framing: Framing) -> FrameLocator:
    """The clinician presses Launch on the sandbox EHR page (the top-level page)."""
    patient, clinician = _first(Patient), _first(Practitioner)
    page.goto(f"{framing.ehr}/sandbox/ehr/")
    page.select_option("#id_client", framing.client_id)
    page.select_option("#id_practitioner", clinician.fhir_id)
    page.select_option("#id_patient", patient.fhir_id)
    page.get_by_role("button", name="Launch").click()
    return page.frame_locator("#app-frame")


def _first(model):
    return model.objects.filter(tenant_id=TENANT).order_by("fhir_id").first()


def _app_frame_url(page: Page, framing: Framing) -> str:
    return next(f.url for f in page.frames if f.url.startswith(framing.app))


def _set_cookie_lines(responses: list[Response], name: str) -> list[str]:
    """The Set-Cookie lines for cookie `name`, as the browser received them from the app."""
    lines = [line for r in responses for line in (r.header_value("set-cookie") or "").split("\n")]
    return [line for line in lines if line.startswith(f"{name}=")]


def _assert_framed_across_sites(page: Page, framing: Framing) -> None:
    assert page.url.startswith("http://localhost:"), page.url
    assert _app_frame_url(page, framing).startswith("https://127.0.0.1:")


def _assert_partitioned(responses: list[Response], name: str) -> None:
    lines = _set_cookie_lines(responses, name)
    assert lines, f"the app set no {name} cookie"
    for line in lines:
        assert "Secure" in line and "SameSite=None" in line and "Partitioned" in line, line


def _assert_partitioned_and_allowed_to_frame(page: Page, framing: Framing, responses) -> None:
    _assert_partitioned(responses, settings.SESSION_COOKIE_NAME)
    jar = page.context.cookies(framing.app)
    keys = [c.get("partitionKey") for c in jar if c["name"] == settings.SESSION_COOKIE_NAME]
    assert keys == ["http://localhost"], jar  # kept for this top-level site only
    chart = next(r for r in responses if "/chart/" in r.url and r.request.is_navigation_request())
    policy = chart.header_value("content-security-policy") or ""
    assert f"frame-ancestors 'self' {framing.ehr}" in policy, policy


def _book(app: FrameLocator) -> None:
    """The clinician books a free slot for the patient; the list shows it booked."""
    app.locator("#nav-appointments").click()
    app.locator("#book-link").click()
    app.locator("#search-slots").click()
    first = app.locator("#first-available a.slot").first
    slot_id = first.get_attribute("data-slot")
    first.click()
    app.locator("#id_reason").fill("Booked from the EHR's frame")
    app.locator("#confirm-booking").click()
    expect(app.locator("#upcoming")).to_contain_text("Booked from the EHR's frame")
    appointment = Appointment.objects.get(tenant_id=TENANT, slot__fhir_id=slot_id, status="booked")
    expect(app.locator(f"#appointment-{appointment.fhir_id}")).to_contain_text("Booked")


def _record_desk_payment(app: FrameLocator) -> None:
    """The clinician records cash taken at the desk for the launch's visit; its status shows."""
    app.locator("#nav-payments").click()
    app.locator("#record-desk-payment").click()
    expect(app.locator("h1")).to_have_text("Record a payment taken in person")
    app.locator("#id_method").select_option("cash")
    app.locator("#id_amount").fill("2.00")
    app.locator("#id_tendered").fill("5.00")
    app.locator("#desk-submit").click()
    expect(app.locator("#payment-status")).to_have_attribute("data-state", State.CAPTURED)
    expect(app.locator("#payment-amount")).to_contain_text("$2.00")
    payment = Payment.objects.get()
    assert payment.method == Method.CASH and payment.taken_by.startswith("Practitioner/")


def test_framed_by_an_ehr_on_another_site_a_clinician_launches_books_and_records_a_payment(
    browser: Browser, framing: Framing
):
    with _profile(browser, framing, BLOCK_THIRD_PARTY, "partitioned") as page:
        responses = _app_responses(page, framing)
        app = _launch(page, framing)
        expect(app.locator("#patient-name")).to_have_text(_first(Patient).display_name)
        _assert_framed_across_sites(page, framing)
        _assert_partitioned_and_allowed_to_frame(page, framing, responses)
        _book(app)
        _record_desk_payment(app)
        _assert_partitioned(responses, settings.CSRF_COOKIE_NAME)  # the forms posted with it


@pytest.mark.parametrize(
    ("cookie_controls_mode", "launches"),
    [(BLOCK_THIRD_PARTY, False), (ALLOW_THIRD_PARTY, True)],
    ids=["third-party-cookies-blocked", "third-party-cookies-allowed"],
)
def test_without_partitioned_the_framed_launch_needs_third_party_cookies(
    browser: Browser, framing: Framing, monkeypatch, cookie_controls_mode: int, launches: bool
):
    monkeypatch.setattr(PartitionedCookiesMiddleware, "__call__", _without_partitioned)
    name = f"unpartitioned_{cookie_controls_mode}"
    with _profile(browser, framing, cookie_controls_mode, name) as page:
        responses = _app_responses(page, framing)
        app = _launch(page, framing)
        if launches:
            expect(app.locator("#patient-name")).to_have_text(_first(Patient).display_name)
        else:
            expect(app.locator("#error-title")).to_have_text(STATE_LOST)
        _assert_framed_across_sites(page, framing)
        lines = _set_cookie_lines(responses, settings.SESSION_COOKIE_NAME)
        assert lines and all("Secure" in ln and "Partitioned" not in ln for ln in lines), lines
    assert Launch.objects.filter(persona="provider").exists() is launches


def test_in_the_frame_the_clinician_sees_what_was_done(browser: Browser, framing: Framing):
    """The confirmations ("Booked.", "Recorded.") ride on Django's messages cookie: it too must
    be partitioned (or kept in the session), or a browser blocking third-party cookies drops it."""
    with _profile(browser, framing, BLOCK_THIRD_PARTY, "confirmations") as page:
        responses = _app_responses(page, framing)
        app = _launch(page, framing)
        expect(app.locator("#patient-name")).to_have_text(_first(Patient).display_name)
        _book(app)
        unpartitioned = [
            ln for ln in _set_cookie_lines(responses, "messages") if "Partitioned" not in ln
        ]
        assert not unpartitioned, f"blocked as a third-party cookie: {unpartitioned}"
        expect(app.locator(".messages")).to_contain_text("Booked.")
        _record_desk_payment(app)
        expect(app.locator(".messages")).to_contain_text("Recorded. $2.00")


def _without_partitioned(self: PartitionedCookiesMiddleware, request: HttpRequest) -> HttpResponse:
    return self.get_response(request)
