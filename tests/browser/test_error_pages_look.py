"""The pages a patient lands on when something is wrong, looked at in both languages: a page
that does not exist, a launch link without its EHR."""

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import shots_without_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES: dict[str, tuple[str, dict[str, str]]] = {
    "not_found": ("/no/such/page/", {"en": "Page not found", "es": "Página no encontrada"}),
    "launch_without_iss": (
        "/launch?launch=abc",
        {"en": "This launch link is incomplete", "es": "Este enlace de inicio está incompleto"},
    ),
}


@pytest.mark.parametrize("language", ["en", "es"])
def test_error_pages_read_well_in_both_languages(browser: Browser, live_server, tenant, language):
    context = browser.new_context(locale="es-ES" if language == "es" else "en-US")
    page = context.new_page()
    try:
        for name, (path, headings) in PAGES.items():
            page.goto(f"{live_server.url}{path}")
            expect(page.locator("html")).to_have_attribute("lang", language)
            expect(page.locator("h1")).to_have_text(headings[language])
            shots_without_violations(page, f"error_{name}_{language}")
    finally:
        context.close()
