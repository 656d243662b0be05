"""A patient's journey through nginx with `requests`: sign in at the sandbox, book, pay at the
sandbox's card processor, see the status. Every request carries the journey's own User-Agent,
so each web process's access log tells which of them it answered."""

import html
import re
import secrets
from datetime import date, timedelta
from urllib.parse import urljoin, urlsplit

import requests

CARD_OK = "4242424242424242"


def found(pattern: str, text: str, what: str) -> str:
    match = re.search(pattern, text)
    assert match, f"no {what} in the page:\n{text[:800]}"
    return html.unescape(match[1])


class Patient:
    """One browser: a session cookie jar and a tag in every request's User-Agent."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.tag = f"cluster-journey/{secrets.token_hex(4)}"
        self.browser = requests.Session()
        self.browser.headers["User-Agent"] = self.tag
        self.requests = 0
        self.launch = ""  # /l/<uuid>/

    def get(self, url: str, **kwargs: object) -> requests.Response:
        return self._send("GET", url, **kwargs)

    def _send(self, method: str, url: str, **kwargs: object) -> requests.Response:
        response = self.browser.request(method, urljoin(self.base, url), timeout=60, **kwargs)  # type: ignore[arg-type]
        self.requests += 1 + len(response.history)  # redirects followed are requests too
        assert response.status_code < 400, (
            f"{method} {url}: {response.status_code}\n{response.text[:800]}"
        )
        return response

    def submit(
        self, page: requests.Response, data: dict[str, str], action: str = ""
    ) -> requests.Response:
        """Posts a form of `page` (its CSRF token included), following redirects."""
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        return self._send(
            "POST",
            urljoin(page.url, action) if action else page.url,
            data={**data, "csrfmiddlewaretoken": token[1] if token else ""},
            headers={"Referer": page.url},
        )

    # --- the steps ------------------------------------------------------------------------

    def sign_in(self, *, tenant_slug: str, patient_id: str) -> requests.Response:
        start = self.get("/")
        assert start.status_code == 200, start.text[:500]
        login = self.submit(start, {"tenant": tenant_slug, "persona": "patient"}, action="/signin")
        assert "/sandbox/authorization/" in login.url, login.url
        txn = found(r'name="txn" value="([^"]+)"', login.text, "login transaction")
        consent = self.submit(login, {"txn": txn, "user": patient_id})
        assert "/consent" in consent.url, consent.url
        home = self.submit(consent, {"txn": txn, "decision": "allow"})
        assert home.status_code == 200, home.text[:500]
        self.launch = found(r"(/l/[0-9a-f-]{36}/)", home.url, "launch in the URL")
        return home

    def book(self) -> str:
        """Books the first free slot of the first visit type this week; the appointments page."""
        form = self.get(f"{self.launch}book/")
        service = found(
            r'<select name="service_type"[^>]*>\s*<option value="([^"]+)"', form.text, "visit type"
        )
        today = date.today()
        week = {
            "service_type": service,
            "start": today.isoformat(),
            "end": (today + timedelta(days=6)).isoformat(),
        }
        search = self.get(f"{self.launch}book/", params=week)
        slot = found(r'data-slot="([^"]+)"', search.text, "free slot")
        confirm = self.get(f"{self.launch}book/confirm/", params={"slot": slot})
        key = found(r'name="key" value="([^"]*)"', confirm.text, "booking key")
        booked = self.submit(
            confirm,
            {"key": key, "reason": "Cluster drill check-up"},
            action=f"{self.launch}book/confirm/",
        )
        assert "Booked." in booked.text, booked.text[:800]
        return slot

    def pay(self, encounter_id: str) -> str:
        """Pays the visit's balance by card at the processor; the payment's status URL."""
        page = self.get(f"{self.launch}visits/{encounter_id}/pay/")
        quote = found(r'name="quote" value="([^"]+)"', page.text, "signed quote")
        checkout = self.submit(page, {"quote": quote})
        assert "/sandbox/processor/checkout/" in checkout.url, checkout.url
        card = {
            "number": CARD_OK,
            "expiry": "12/39",
            "cvc": "123",
            "name": "Pat Patient",
            "pay": "1",
        }
        status = self.submit(checkout, card)
        path = urlsplit(status.url).path
        assert re.fullmatch(r"/l/[0-9a-f-]{36}/payments/[0-9a-f-]{36}/", path), status.url
        assert "Paid" in status.text, status.text[:800]
        return path

    def status(self, status_path: str) -> str:
        return self.get(f"{status_path}status/").text
