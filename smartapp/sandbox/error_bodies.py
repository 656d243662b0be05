"""Millennium's error bodies: token endpoint JSON, authorize redirects, resource-server 401/403."""

import uuid
from typing import Any

from django.http import JsonResponse

from smartapp.sandbox import links

URN = "urn:cerner:error:authorization-server:oauth2"
CODE_INVALID = f"{URN}:token:code-invalid-or-expired"
BAD_AUTH_HEADER = f"{URN}:token:invalid-authorization-header"
INVALID_TENANT = f"{URN}:token:invalid-tenant"
EMPTY_SCOPES = f"{URN}:token:empty-scopes"
UNSUPPORTED_GRANT = f"{URN}:token:unsupported-grant-type"
UNAUTHORIZED_CLIENT = f"{URN}:token:unauthorized-client"
INVALID_REQUEST = f"{URN}:token:invalid-request"
DENIED = f"{URN}:grant:denied-by-server"
PERSONA_MISMATCH = f"{URN}:grant:client-persona-mismatch"
# Not seen in any source: named in Cerner's pattern so each refusal can be told apart.
GRANT_INVALID_REQUEST = f"{URN}:grant:invalid-request"
GRANT_INVALID_SCOPE = f"{URN}:grant:invalid-scope"
GRANT_UNSUPPORTED_RESPONSE_TYPE = f"{URN}:grant:unsupported-response-type"

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "OPTIONS, POST"}


class OAuthError(Exception):
    """A refusal with its OAuth error code, Cerner URN and HTTP status."""

    def __init__(self, error: str, urn: str, status: int = 400) -> None:
        super().__init__(error)
        self.error, self.urn, self.status = error, urn, status


def token_error(base: str, err: OAuthError, *, client_id: str, tenant: str) -> JsonResponse:
    instance = str(uuid.uuid4())
    body = {
        "error": err.error,
        "error_uri": links.error_uri(
            base, err.urn, instance, client=client_id or "unknown", tenant=tenant
        ),
    }
    response = JsonResponse(body, status=err.status)
    for name, value in {**NO_STORE, **CORS, "Cerner-Correlation-Id": instance}.items():
        response[name] = value
    if err.status == 401:
        response["WWW-Authenticate"] = 'Basic realm="smart-v1"'
    return response


def authorize_error_params(
    base: str, err: OAuthError, *, persona: str, client_id: str, tenant: str
) -> dict[str, str]:
    uri = links.error_uri(
        base, err.urn, str(uuid.uuid4()), persona=persona, client=client_id, tenant=tenant
    )
    return {"error": err.error, "error_uri": uri}


def _resource_message(code: str, error: str, subcode: str) -> str:
    return (
        f'code="urn:cerner:error:oauth2:resource-access:{code}",error="{error}",subcode="{subcode}"'
    )


def resource_error(status: int, code: str, error: str, subcode: str) -> JsonResponse:
    body: dict[str, Any] = {"code": status, "message": _resource_message(code, error, subcode)}
    response = JsonResponse(body, status=status)
    if status == 401:
        response["WWW-Authenticate"] = f'Bearer realm="fhir", error="{error}"'
    return response


def missing_token() -> JsonResponse:
    # RFC 6750 §3.1: no error code when the request carried no credentials at all.
    response = JsonResponse({"code": 401, "message": "Authorization header is missing"}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response


def unknown_kid() -> JsonResponse:
    return resource_error(401, "signature-verification-failed", "invalid_token", "unknown_kid")


def bad_signature() -> JsonResponse:
    return resource_error(
        401, "signature-verification-failed", "invalid_token", "invalid_signature"
    )


def expired_token() -> JsonResponse:
    return resource_error(401, "expired-token", "invalid_token", "token_expired")


def revoked_token() -> JsonResponse:
    return resource_error(401, "revoked-token", "invalid_token", "token_revoked")


def wrong_tenant() -> JsonResponse:
    return resource_error(401, "invalid-tenant", "invalid_token", "tenant_mismatch")


def insufficient_scope() -> JsonResponse:
    return resource_error(
        403, "insufficient-scopes", "insufficient_scope", "no_scope_for_resource_path"
    )
