"""What every response gets (headers), and the requests refused before Django reads them."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

Handler = Callable[[HttpRequest], HttpResponse]
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ContentSecurityPolicyMiddleware:
    """No inline script anywhere, so text from the EHR can never run as code in our pages.

    Outermost in MIDDLEWARE, so redirects, a bad Host's 400 and error pages carry it too. A view
    that posts a form to another origin (the card processor) names it in
    `request.csp_form_action`. Pages are never stored by the browser or a proxy: most carry
    patient data, and the Back button after sign-out must show nothing.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        ancestors = " ".join(settings.FRAME_ANCESTORS)
        forms = " ".join(["'self'", *getattr(request, "csp_form_action", [])])
        response.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"object-src 'none'; base-uri 'self'; form-action {forms}; "
            f"frame-ancestors {ancestors}",
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
            return HttpResponseBadRequest(
                "This request was sent in a text encoding the app does not read. Send it as UTF-8.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
