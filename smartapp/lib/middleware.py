"""Response headers every page gets."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """No inline script anywhere, so text from the EHR can never run as code in our pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        ancestors = " ".join(settings.FRAME_ANCESTORS)
        response.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"object-src 'none'; base-uri 'self'; frame-ancestors {ancestors}",
        )
        response.setdefault("Referrer-Policy", "same-origin")
        return response
