"""What every response gets (headers), and the requests refused before Django reads them."""

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import translation
from django.utils.translation import gettext as _

from smartapp.tenants.selectors import frame_ancestors

Handler = Callable[[HttpRequest], HttpResponse]
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
logger = logging.getLogger(__name__)
_refused_framers: set[str] = set()  # logged once per process each


def _framer(request: HttpRequest) -> str:
    """The origin of the page framing this request ("" when not a cross-origin frame load)."""
    if request.headers.get("Sec-Fetch-Dest") not in ("iframe", "frame"):
        return ""
    parts = urlsplit(request.headers.get("Referer", ""))
    origin = f"{parts.scheme}://{parts.netloc}".lower() if parts.netloc else ""
    return "" if origin == f"{request.scheme}://{request.get_host()}".lower() else origin


def _log_refused_framing(request: HttpRequest, allowed: list[str]) -> None:
    framer = _framer(request)
    if framer and framer not in allowed and framer not in _refused_framers:
        _refused_framers.add(framer)
        logger.warning(
            "framing refused: %s is not among the tenants' ehr_origins (CSP frame-ancestors)",
            framer[:200],
        )


class ContentSecurityPolicyMiddleware:
    """No inline script anywhere, so text from the EHR can never run as code in our pages.

    Outermost in MIDDLEWARE, so redirects, a bad Host's 400 and error pages carry it too. A view
    that posts a form to another origin (the card processor) names it in
    `request.csp_form_action`; one that loads a processor's script and frames (Stripe Elements)
    adds their origins per directive in `request.csp_sources`. Pages are never stored by the browser or a proxy: most carry
    patient data, and the Back button after sign-out must show nothing.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        allowed = [*settings.FRAME_ANCESTORS, *frame_ancestors()]
        _log_refused_framing(request, allowed)
        policy = {
            "default-src": ["'self'"],
            "script-src": ["'self'"],
            "style-src": ["'self'"],
            "img-src": ["'self'", "data:"],
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'", *getattr(request, "csp_form_action", [])],
            "frame-ancestors": list(dict.fromkeys(["'self'", *allowed])),
        }
        for directive, sources in getattr(request, "csp_sources", {}).items():
            policy[directive] = list(dict.fromkeys([*policy.get(directive, ["'self'"]), *sources]))
        response.setdefault(
            "Content-Security-Policy",
            "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items()),
        )
        response.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith(settings.STATIC_URL):
            response.setdefault("Cache-Control", "no-store")  # a view may allow caching
        return response


class FormCharsetMiddleware:
    """A request body in a text encoding other than UTF-8 gets a 400 before Django decodes it.

    Django reads form bodies only as "utf-8" (spelt so), and for any other declared charset it
    fails while building its own 400 page (an empty 500 from gunicorn). We answer first.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        params = request.content_params or {}
        charset = params.get("charset", "") if request.method in BODY_METHODS else ""
        if charset and charset.strip().strip('"').lower() != "utf-8":
            # Before LocaleMiddleware: the browser's language is looked up here.
            with translation.override(translation.get_language_from_request(request)):
                text = _(
                    "This request was sent in a text encoding the app does not read. "
                    "Send it as UTF-8."
                )
            return HttpResponseBadRequest(text, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class PartitionedCookiesMiddleware:
    """With SECURE_COOKIES, every cookie we set for cross-site use (`Secure; SameSite=None`: the
    session, CSRF and flash-message cookies) is also `Partitioned` (CHIPS).

    Inside an EHR's frame on another site, a browser blocking third-party cookies keeps only
    partitioned ones, so the launch could not finish without it. Django (5.2) and Python's
    cookie Morsel have no `partitioned` attribute yet; the attribute rides on SameSite's value.
    Sits above the session and CSRF middleware, so it sees the cookies they set.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.SECURE_COOKIES:
            for morsel in response.cookies.values():
                if morsel["secure"] and str(morsel["samesite"]).lower() == "none":
                    morsel["samesite"] = "None; Partitioned"
        return response
