"""What an authorization server's refusal means, in words for the user and verbatim for staff.

Each OAuth error (RFC 6749 §5.2, RFC 7523) has its own cause: `invalid_client` is the app's
registration (its id, secret or key), never "the sign-in code may have expired".
"""

from typing import TYPE_CHECKING

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from smartapp.launch import error_pages
from smartapp.tenants.oauth import TokenEndpointError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

TEAM = _("This is for the hospital's integration team to fix: please tell them.")


def _for_team(text: "StrOrPromise") -> "StrOrPromise":
    """The explanation, then who fixes it (both translated when shown)."""
    return format_lazy("{} {}", text, TEAM)


WORDS: dict[str, tuple[int, "StrOrPromise", "StrOrPromise"]] = {
    "invalid_client": (
        502,
        _("The EHR refused this app's registration"),
        _for_team(
            _(
                "The EHR did not accept the app's own credentials "
                "(its client id, secret or signing key)."
            )
        ),
    ),
    "unauthorized_client": (
        502,
        _("The EHR does not allow this app this kind of sign-in"),
        _for_team(_("The app is registered at the EHR, but not for this kind of access.")),
    ),
    "invalid_scope": (
        502,
        _("The EHR would not grant the app's access"),
        _for_team(_("The EHR refused the permissions (scopes) the app is registered for.")),
    ),
    "invalid_grant": (
        400,
        _("The sign-in could not be completed"),
        _(
            "The EHR did not accept the sign-in code (it expired or was already used). "
            "Please start again."
        ),
    ),
    "access_denied": (
        403,
        _("Access was not granted"),
        _("The EHR did not allow this access."),
    ),
    "invalid_request": (
        502,
        _("The EHR refused the app's sign-in request"),
        _for_team(_("The EHR said the app's request was incomplete or malformed.")),
    ),
    "temporarily_unavailable": (
        503,
        _("The EHR's sign-in service is busy"),
        _("The EHR's sign-in service cannot answer right now. Please try again in a minute."),
    ),
    "messages_api_not_configured": (
        503,
        _("Messages are not available"),
        _("Messaging is not set up for this organisation yet. Please call the clinic."),
    ),
}
UNREACHABLE: tuple[int, "StrOrPromise", "StrOrPromise"] = (
    502,
    _("The EHR's sign-in service is not answering"),
    _("The app could not reach the EHR's sign-in service. Please try again in a minute."),
)
WANTS_ASSERTION = _for_team(
    _(
        "The EHR wants this app to authenticate with a signed assertion (private_key_jwt), "
        "not a secret."
    )
)


def token_error_page(
    error: TokenEndpointError, *, way_forward: str = ""
) -> error_pages.LaunchError:
    """The page for a refusal (or silence) of the token endpoint."""
    status, title, explanation = (
        UNREACHABLE if error.unreachable else WORDS.get(error.error, WORDS["invalid_request"])
    )
    if error.wants_assertion:
        explanation = WANTS_ASSERTION
    page = error_pages.LaunchError(
        explanation,
        staff_detail=error.staff_text(),
        way_forward=way_forward or (error_pages.EITHER if status < 500 else ""),
        log=f"token endpoint: {error.staff_text()[:300] if error.error else 'unreachable'}",
        reference=error.correlation,
    )
    page.status, page.title = status, title
    if status >= 500:
        page.way_forward = ""  # trying again as the user changes nothing: say who fixes it
    return page
