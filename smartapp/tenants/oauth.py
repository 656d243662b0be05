"""The token endpoint client: every grant the app makes goes through `token_request`."""

import logging
from typing import Any

import requests
from requests.auth import HTTPBasicAuth

from smartapp.lib.http import correlation_id, session
from smartapp.tenants.models import AuthMethod, ClientRegistration

logger = logging.getLogger(__name__)


class TokenEndpointError(Exception):
    """The token endpoint refused the request (an OAuth error) or could not be reached."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 0,
        error_uri: str = "",
        description: str = "",
        correlation: str = "",
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.error_uri = error_uri
        self.description = description
        self.correlation = correlation

    @property
    def unreachable(self) -> bool:
        return self.status == 0 or self.status >= 500

    @property
    def wants_assertion(self) -> bool:
        """The server says it wants a signed client assertion (private_key_jwt)."""
        said = f"{self.error} {self.description} {self.error_uri}".lower()
        return "client_assertion" in said or "client-assertion" in said

    def staff_text(self) -> str:
        parts = [self.error, self.description, self.error_uri]
        return " ".join(part for part in parts if part)


def client_auth(
    registration: ClientRegistration, form: dict[str, str], *, audience: str
) -> tuple[HTTPBasicAuth | None, dict[str, str]]:
    """How the client proves who it is: HTTP Basic with its secret, a signed assertion whose
    audience is the token endpoint (private_key_jwt), or its bare client_id (public)."""
    method = registration.authentication
    if method == AuthMethod.SECRET:
        return HTTPBasicAuth(registration.client_id, registration.client_secret), form
    if method == AuthMethod.KEY:
        from smartapp.tenants.client_keys import client_assertion

        signed = client_assertion(client_id=registration.client_id, audience=audience)
        return None, {**form, "client_id": registration.client_id, **signed.form()}
    return None, {**form, "client_id": registration.client_id}


def _error_from(response: requests.Response) -> TokenEndpointError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    return TokenEndpointError(
        str(body.get("error") or f"http_{response.status_code}"),
        status=response.status_code,
        error_uri=str(body.get("error_uri") or ""),
        description=str(body.get("error_description") or ""),
        correlation=correlation_id(response),
    )


def token_request(
    *, token_endpoint: str, registration: ClientRegistration, form: dict[str, str]
) -> dict[str, Any]:
    """POSTs a grant to the token endpoint; returns the JSON token response or raises."""
    auth, body = client_auth(registration, form, audience=token_endpoint)
    try:
        response = session().post(
            token_endpoint, data=body, auth=auth, headers={"Accept": "application/json"}
        )
    except requests.RequestException as error:
        logger.warning(
            "token endpoint unreachable grant=%s: %s", form.get("grant_type"), type(error).__name__
        )
        raise TokenEndpointError("unreachable") from None
    if response.status_code != 200:
        refused = _error_from(response)
        logger.warning(
            "token endpoint refused grant=%s status=%s error=%s correlation=%s",
            form.get("grant_type"),
            refused.status,
            refused.error,
            refused.correlation,
        )
        raise refused
    try:
        data = response.json()
    except ValueError:
        raise TokenEndpointError("invalid_response", status=response.status_code) from None
    if not isinstance(data, dict) or not data.get("access_token"):
        raise TokenEndpointError("invalid_response", status=response.status_code)
    return data
