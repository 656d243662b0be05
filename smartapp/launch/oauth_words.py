"""What an authorization server's refusal means, in words for the user and verbatim for staff.

Each OAuth error (RFC 6749 §5.2, RFC 7523) has its own cause: `invalid_client` is the app's
registration (its id, secret or key), never "the sign-in code may have expired".
"""

from smartapp.launch import error_pages
from smartapp.tenants.oauth import TokenEndpointError

TEAM = "This is for the hospital's integration team to fix: please tell them."
WORDS: dict[str, tuple[int, str, str]] = {
    "invalid_client": (
        502,
        "The EHR refused this app's registration",
        "The EHR did not accept the app's own credentials (its client id, secret or signing key). "
        + TEAM,
    ),
    "unauthorized_client": (
        502,
        "The EHR does not allow this app this kind of sign-in",
        "The app is registered at the EHR, but not for this kind of access. " + TEAM,
    ),
    "invalid_scope": (
        502,
        "The EHR would not grant the app's access",
        "The EHR refused the permissions (scopes) the app is registered for. " + TEAM,
    ),
    "invalid_grant": (
        400,
        "The sign-in could not be completed",
        "The EHR did not accept the sign-in code (it expired or was already used). "
        "Please start again.",
    ),
    "access_denied": (
        403,
        "Access was not granted",
        "The EHR did not allow this access.",
    ),
    "invalid_request": (
        502,
        "The EHR refused the app's sign-in request",
        "The EHR said the app's request was incomplete or malformed. " + TEAM,
    ),
    "temporarily_unavailable": (
        503,
        "The EHR's sign-in service is busy",
        "The EHR's sign-in service cannot answer right now. Please try again in a minute.",
    ),
    "messages_api_not_configured": (
        503,
        "Messages are not available",
        "Messaging is not set up for this organisation yet. Please call the clinic.",
    ),
}
UNREACHABLE = (
    502,
    "The EHR's sign-in service is not answering",
    "The app could not reach the EHR's sign-in service. Please try again in a minute.",
)
WANTS_ASSERTION = (
    "The EHR wants this app to authenticate with a signed assertion (private_key_jwt), "
    "not a secret. " + TEAM
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
