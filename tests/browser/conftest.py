"""Playwright driving Debian's Chromium (/usr/bin/chromium); it cannot download its own browser here."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the README's test command installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)  # expect() keeps its own 5 s otherwise
    yield page
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def patient_signs_in(page: Page, live_server, tenant, patient_id: str) -> str:
    """A patient signs in standalone at the sandbox and allows access; their launch's path."""
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/")
    page.select_option("#id_tenant", tenant.slug)
    page.click("#sign-in-patient")
    page.select_option("select[name=user]", patient_id)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    expect(page.locator("#welcome")).to_be_visible()
    return page.url.split("/home/")[0]


SERIOUS = ("serious", "critical")


def shots_without_violations(page: Page, name: str) -> None:
    """Screenshots at the EHR side panel's width and a phone's, each with no axe-core violation
    of any impact (stricter than the serious/critical check on every page)."""
    for width in (800, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}_{width}.png"), full_page=True)
        result = Axe().run(page)
        assert result.violations_count == 0, result.generate_report()


class AxeEveryPage:
    """axe-core on every app page a browser test reaches by `goto` or a click that navigates:
    any serious or critical violation fails the test at its end, with the page and the rule."""

    def __init__(self) -> None:
        self.checked: dict[int, str] = {}  # page → the URL last checked
        self.found: list[str] = []
        self.pages = 0

    def after(self, page: Page) -> None:
        from urllib.parse import urlsplit

        url = page.url
        path = urlsplit(url).path
        if self.checked.get(id(page)) == url or path.startswith("/sandbox/") or "://" not in url:
            return
        self.checked[id(page)] = url
        page.wait_for_load_state()
        self.pages += 1
        for violation in Axe().run(page).response["violations"]:
            if violation.get("impact") in SERIOUS:
                self.found.append(f"{path}: {violation['id']} ({violation['impact']})")


@pytest.fixture(autouse=True)
def axe_every_page(monkeypatch: pytest.MonkeyPatch, record_property) -> Iterator[AxeEveryPage]:
    from playwright.sync_api import Locator

    axe = AxeEveryPage()

    def checked(method: str, owner: type, page_of) -> None:
        original = getattr(owner, method)

        def run(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            try:
                axe.after(page_of(self))
            except Exception as error:  # a page closed or navigating again: the next action checks
                if "closed" not in str(error) and "navigat" not in str(error).lower():
                    raise
            return result

        monkeypatch.setattr(owner, method, run)

    checked("goto", Page, lambda page: page)
    checked("click", Page, lambda page: page)
    checked("click", Locator, lambda locator: locator.page)
    yield axe
    record_property("figure", f"axe: {axe.pages} page(s) checked")
    assert axe.found == [], "axe-core serious/critical violations:\n" + "\n".join(axe.found)


def pay_with_test_card(page, *, name: str = "Pat Patient") -> None:
    """Fills the sandbox processor's hosted card page (the processor's, so English) and pays."""
    page.fill("input[name=number]", "4242 4242 4242 4242")
    page.fill("input[name=expiry]", "12/39")
    page.fill("input[name=cvc]", "123")
    page.fill("input[name=name]", name)
    page.get_by_role("button", name="Pay $").click()
