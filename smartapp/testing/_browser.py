"""Internal: the browser's side of a launch at the sandbox (EHR page, login, consent) via requests."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import requests

TIMEOUT = 20


def csrf_post(browser: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    """GETs a sandbox form page and posts `data` with its CSRF token."""
    page = browser.get(url, timeout=TIMEOUT)
    if page.status_code != 200:
        raise AssertionError(f"{url} answered {page.status_code}: {page.text[:300]}")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    return browser.post(
        page.url,
        data={**data, "csrfmiddlewaretoken": token[1] if token else ""},
        allow_redirects=False,
        headers={"Referer": page.url},
        timeout=TIMEOUT,
    )


def follow_to_callback(browser: requests.Session, url: str) -> str:
    """Follows the authorization server's redirects; returns the app's callback URL (not opened)."""
    for _ in range(10):
        if "/launch/callback" in urlsplit(url).path:
            return url
        response = browser.get(url, allow_redirects=False, timeout=TIMEOUT)
        if response.status_code not in (301, 302, 303):
            if "/launch/callback" in response.url:
                return response.url
            raise AssertionError(
                f"unexpected page at {response.url}: {response.status_code} {response.text[:300]}"
            )
        url = urljoin(response.url, response.headers["Location"])
    raise AssertionError("the authorization server never redirected back to the app")


def local_path(url: str) -> str:
    """`http://host/launch/callback?code=…` → `/launch/callback?code=…` (for Django's client)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def framed_app_url(page_html: str) -> str:
    """The app URL the sandbox EHR page frames."""
    src = re.search(r'<iframe[^>]*src="([^"]+)"', page_html)
    if not src:
        raise AssertionError(f"the EHR page frames no app: {page_html[:300]}")
    return html.unescape(src[1])


def hidden_field(page_html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', page_html)
    if not found:
        raise AssertionError(f"no {name} field on the page: {page_html[:300]}")
    return html.unescape(found[1])
