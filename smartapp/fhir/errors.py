"""Typed FHIR errors, parsed from OperationOutcome or Cerner's JSON `{code, message}` bodies."""

import re
from typing import Any

import requests

from smartapp.lib.http import correlation_id


class FhirError(Exception):
    """The FHIR server refused or failed a request."""

    def __init__(
        self, message: str = "", *, status: int = 0, code: str = "", correlation: str = ""
    ) -> None:
        super().__init__(message or f"FHIR request failed ({status})")
        self.message = message
        self.status = status
        self.code = code
        self.correlation = correlation


class NotFound(FhirError):
    pass


class Unauthorized(FhirError):
    """401: the token is missing, expired, revoked or from another environment."""

    @property
    def wrong_environment(self) -> bool:
        return "unknown_kid" in self.code or "signature-verification-failed" in self.code


TokenExpired = Unauthorized


class Forbidden(FhirError):
    """403: usually a scope the token lacks (insufficient_scope)."""


class RateLimited(FhirError):
    """429: slow down; `retry_after` is the server's Retry-After in seconds (0 when absent)."""

    retry_after: float = 0.0


class Conflict(FhirError):
    """409: the resource changed since it was read (wrong version), or the write clashes (slot taken)."""


class PreconditionFailed(FhirError):
    """412: a write without (or with a malformed) If-Match."""


class Unprocessable(FhirError):
    """422: a business rule refused the write (e.g. a transition the EHR does not allow)."""


class Locked(FhirError):
    """423: someone else is changing the resource right now."""


class Timeout(FhirError):
    pass


class Unreachable(FhirError):
    pass


_CERNER_CODE = re.compile(r'(\w+)="([^"]*)"')


def _outcome_text(outcome: dict[str, Any]) -> tuple[str, str]:
    for issue in outcome.get("issue") or []:
        text = (issue.get("details") or {}).get("text") or issue.get("diagnostics") or ""
        return str(issue.get("code") or ""), str(text)
    return "", ""


def _cerner_text(body: dict[str, Any]) -> tuple[str, str]:
    message = str(body.get("message") or "")
    fields = dict(_CERNER_CODE.findall(message))
    code = " ".join(v for k, v in fields.items() if k in {"code", "error", "subcode"})
    return code, message


def _parse_body(response: requests.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    if body.get("resourceType") == "OperationOutcome":
        return _outcome_text(body)
    if "message" in body:
        return _cerner_text(body)
    return str(body.get("error") or ""), str(body.get("error_description") or "")


_BY_STATUS: dict[int, type[FhirError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: NotFound,
    412: PreconditionFailed,
    422: Unprocessable,
    423: Locked,
    429: RateLimited,
}


def error_from_response(response: requests.Response) -> FhirError:
    """The typed error for a non-2xx FHIR response."""
    code, message = _parse_body(response)
    if response.status_code == 401 and not code:
        code = response.headers.get("WWW-Authenticate", "")
    cls = _BY_STATUS.get(response.status_code, FhirError)
    error = cls(
        message, status=response.status_code, code=code, correlation=correlation_id(response)
    )
    if isinstance(error, RateLimited):
        error.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    return error


def retry_after_seconds(value: str | None) -> float:
    """Retry-After in seconds (delta-seconds only; an HTTP date or junk counts as absent)."""
    try:
        return max(0.0, min(float(value or 0), 3600.0))
    except ValueError:
        return 0.0
