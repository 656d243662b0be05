"""A patient pays for a visit not registered yet; staff register it; the page turns to Posted (Chromium)."""

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from smartapp.demo.processes import stop_process
from smartapp.payments.models import Payment, State
from tests.browser.conftest import SCREENSHOTS, patient_signs_in
from tests.celery_broker import celery_use_broker
from tests.payments.conftest import ledger, register_now, unregistered_encounter
from tests.payments.workers import start_worker, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"payment_{name}.png"), full_page=True)


@pytest.fixture
def payment_worker(redis_server, live_server, settings):
    from smartapp.celery import app

    broker = f"{redis_server}/0"
    celery_use_broker(broker)
    import redis

    redis.Redis.from_url(broker).flushdb()
    env = {
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "CELERY_BROKER_URL": broker,
    }
    process, log = start_worker(env=env, name="pay", beat=True)
    try:
        wait_ready(app, ["pay"], [process], [log])
        yield process
    finally:
        stop_process(process)


def test_a_patient_pays_waits_for_registration_and_sees_it_posted_live(
    page: Page, live_server, tenant, payment_worker, settings
):
    settings.SANDBOX_REGISTRATION_DELAY_SECONDS = 100_000
    encounter = unregistered_encounter()
    launch_path = patient_signs_in(page, live_server, tenant, encounter.patient.fhir_id)

    page.goto(f"{launch_path}/visits/{encounter.fhir_id}/pay/")
    if page.locator("#id_amount").count():
        page.fill("#id_amount", "15.00")
    _shot(page, "1_pay")
    page.click("#pay-submit")
    expect(page.locator("input[name=number]")).to_be_visible()  # the processor's hosted page
    page.fill("input[name=number]", "4242 4242 4242 4242")
    page.fill("input[name=expiry]", "12/39")
    page.fill("input[name=cvc]", "123")
    page.fill("input[name=name]", "Pat Patient")
    page.get_by_role("button", name="Pay $").click()

    status = page.locator("#payment-status")
    expect(status).to_have_attribute("data-state", "awaiting_account", timeout=20_000)
    expect(page.locator("#payment-headline")).to_contain_text("Waiting for registration")
    _shot(page, "2_waiting_for_registration")
    patient_page_url = page.url

    # Meanwhile the hospital registers the visit (the sandbox EHR page's "Register now" button,
    # posted as its form does: a second page in the browser can hang Chromium's new-page call).
    register_now(live_server, encounter)

    expect(status).to_have_attribute("data-state", "posted", timeout=30_000)
    expect(page.locator("#payment-headline")).to_have_text("Posted")
    assert page.url == patient_page_url  # no reload: htmx swapped the status part
    _shot(page, "3_posted")
    payment = Payment.objects.get()
    assert payment.state == State.POSTED
    assert len(ledger(live_server, payment.posting_id)) == 1
