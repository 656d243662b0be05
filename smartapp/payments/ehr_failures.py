"""What the posting step records when the EHR fails it: an attempt's fields, staff's words."""

from smartapp.fhir import errors as fhir
from smartapp.tenants.discovery import DiscoveryError
from smartapp.tenants.oauth import TokenEndpointError

SignInFailed = (TokenEndpointError, DiscoveryError)  # the system client could not get a token
EhrFailure = fhir.FhirError | TokenEndpointError | DiscoveryError


def cannot_start_words(error: TokenEndpointError | DiscoveryError) -> str:
    """For staff: why posting cannot start and who fixes it first, the server's own words last."""
    safe = "The payment is safe and posts by itself once this is fixed."
    if isinstance(error, DiscoveryError):
        return f"Cannot start: the EHR's SMART configuration could not be read. {safe} ({error})"
    said = f" The server said: {error.staff_text()}" if error.error else ""
    if error.unreachable:
        return f"Cannot start: the EHR's sign-in server did not answer; retrying. {safe}{said}"
    return (
        "Cannot start: the EHR's sign-in refused the app's system client (invalid_client means "
        "its id, secret or signing key). Ask your integration team to check its registration. "
        f"{safe}{said}"
        if error.error == "invalid_client"
        else "Cannot start: the EHR's sign-in refused the app's system client. Ask your "
        f"integration team to check its registration (id, key, scopes). {safe}{said}"
    )


def attempt_fields(error: EhrFailure) -> dict[str, object]:
    """An attempt's record of a failure: status, the EHR's reference, its words."""
    if isinstance(error, DiscoveryError):
        return {"outcome_text": f"SMART configuration: {error}"[:500]}
    if isinstance(error, TokenEndpointError):
        text = f"token endpoint: {error.staff_text() or 'no answer'}"
        return {
            "http_status": error.status or None,
            "correlation_id": error.correlation[:200],
            "outcome_text": text[:500],
        }
    return {
        "http_status": error.status or None,
        "correlation_id": error.correlation[:200],
        "outcome_text": error.message or str(error),
    }
