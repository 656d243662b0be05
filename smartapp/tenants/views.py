"""The app's public signing keys (JWKS), for servers that verify our client assertions."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from smartapp.tenants.client_keys import PUBLISHED_AFTER_LAST_USE, published_jwks

# Servers may cache the document; a rotated-in key is published an hour before it signs and a
# rotated-out one stays until its assertions expired, so a few minutes of caching loses nothing.
MAX_AGE = 300
assert MAX_AGE < PUBLISHED_AFTER_LAST_USE.total_seconds()


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """`/.well-known/jwks.json`: the URL to register in Oracle's code console."""
    response = JsonResponse(published_jwks())
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response
