"""The authorize endpoint's rules, login and consent state, and code issuance."""

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from smartapp.sandbox import error_bodies, links
from smartapp.sandbox.error_bodies import OAuthError
from smartapp.sandbox.models import (
    Client,
    Grant,
    LaunchContext,
    Patient,
    PendingAuthorization,
    Practitioner,
)
from smartapp.sandbox.oauth import scopes as scope_rules
from smartapp.sandbox.oauth.grants import CODE_LIFETIME, digest

PENDING_LIFETIME = timedelta(minutes=15)
_CHALLENGE = re.compile(r"^[A-Za-z0-9_~.-]{43,128}$")
PARAM_NAMES = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "aud",
    "launch",
    "code_challenge",
    "code_challenge_method",
    "nonce",
)


class PageError(Exception):
    """A refusal shown on the sandbox's own page: the redirect URI cannot be trusted."""


@dataclass
class Request:
    """A validated authorize request."""

    tenant: str
    persona: str
    client: Client
    params: dict[str, str]

    @property
    def redirect_uri(self) -> str:
        return self.params.get("redirect_uri") or self.client.redirect_uri

    @property
    def host(self) -> str:
        return links.PERSONA_HOST[self.persona]


def check_client(*, tenant: str, persona: str, params: dict[str, str]) -> Request:
    """Client and redirect URI problems show a page, never a redirect (RFC 6749 §4.1.2.1)."""
    client = Client.objects.filter(client_id=params.get("client_id", ""), tenant_id=tenant).first()
    if client is None:
        raise PageError("Unknown client_id for this tenant.")
    if not client.redirect_uri:
        raise PageError(
            "This client has no redirect URI registered (system clients cannot authorize)."
        )
    sent = params.get("redirect_uri")
    if sent is not None and sent != client.redirect_uri:
        raise PageError("redirect_uri does not exactly match the registered redirect URI.")
    return Request(tenant=tenant, persona=persona, client=client, params=params)


def _check_scopes(req: Request) -> None:
    requested = scope_rules.split(req.params.get("scope", ""))
    if not requested or any(scope_rules.is_wildcard(s) for s in requested):
        raise OAuthError("invalid_scope", error_bodies.GRANT_INVALID_SCOPE)
    if any(s not in req.client.scope_set for s in requested):
        raise OAuthError("invalid_scope", error_bodies.GRANT_INVALID_SCOPE)


def _check_pkce(params: dict[str, str]) -> None:
    challenge = params.get("code_challenge")
    if challenge is None:
        return  # Millennium still tolerates clients without PKCE
    if params.get("code_challenge_method") != "S256" or not _CHALLENGE.match(challenge):
        raise OAuthError("invalid_request", error_bodies.GRANT_INVALID_REQUEST)


def check_request(req: Request, base: str) -> None:
    """Everything else: refused with an error redirect to the (trusted) redirect URI."""
    if req.client.persona != req.persona:
        raise OAuthError("unauthorized_client", error_bodies.PERSONA_MISMATCH)
    if req.params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", error_bodies.GRANT_UNSUPPORTED_RESPONSE_TYPE)
    expected_aud = links.fhir_base(base, req.host, req.tenant)
    if req.params.get("aud", "").rstrip("/") != expected_aud:
        raise OAuthError("invalid_request", error_bodies.GRANT_INVALID_REQUEST)
    _check_scopes(req)
    _check_pkce(req.params)
    if "launch" in req.params:
        launch_context(req)


def launch_context(req: Request) -> LaunchContext:
    ctx = (
        LaunchContext.objects.select_related("practitioner", "patient", "encounter")
        .filter(launch_id=req.params.get("launch", ""), client=req.client, tenant_id=req.tenant)
        .first()
    )
    if ctx is None or ctx.expires_at <= timezone.now() or req.persona != "provider":
        raise OAuthError("invalid_request", error_bodies.GRANT_INVALID_REQUEST)
    if "launch" not in scope_rules.split(req.params.get("scope", "")):
        raise OAuthError("invalid_scope", error_bodies.GRANT_INVALID_SCOPE)
    return ctx


def error_redirect(req: Request, base: str, err: OAuthError) -> str:
    params = {"state": req.params["state"]} if "state" in req.params else {}
    params |= error_bodies.authorize_error_params(
        base, err, persona=req.persona, client_id=req.client.client_id, tenant=req.tenant
    )
    return links.add_query(req.redirect_uri, params)


def _issue_code(req: Request, **user: str | bool) -> str:
    code = secrets.token_urlsafe(32)
    Grant.objects.create(
        tenant_id=req.tenant,
        client=req.client,
        persona=req.persona,
        host=req.host,
        scope=" ".join(scope_rules.split(req.params["scope"])),
        redirect_uri=req.params.get("redirect_uri", ""),
        nonce=req.params.get("nonce", ""),
        code_challenge=req.params.get("code_challenge", ""),
        code_hash=digest(code),
        code_expires_at=timezone.now() + CODE_LIFETIME,
        **user,
    )
    params = {"code": code}
    if "state" in req.params:
        params["state"] = req.params["state"]
    return links.add_query(req.redirect_uri, params)


def _user_fields(user: Practitioner | Patient) -> dict[str, str]:
    return {
        "user_type": type(user).__name__,
        "user_fhir_id": user.fhir_id,
        "username": user.username,
        "user_name": user.display_name,
    }


def ehr_launch_redirect(req: Request) -> str:
    """EHR launch: PowerChart already knows the user, so no login and no consent."""
    ctx = launch_context(req)
    return _issue_code(
        req,
        **_user_fields(ctx.practitioner),
        patient_fhir_id=ctx.patient.fhir_id,
        encounter_fhir_id=ctx.encounter.fhir_id if ctx.encounter else "",
        need_patient_banner=ctx.need_patient_banner,
    )


def start_pending(req: Request) -> str:
    txn = secrets.token_urlsafe(24)
    PendingAuthorization.objects.create(
        txn=txn,
        params={**req.params, "tenant": req.tenant, "persona": req.persona},
        expires_at=timezone.now() + PENDING_LIFETIME,
    )
    return txn


def load_pending(txn: str, persona: str) -> tuple[PendingAuthorization, Request]:
    pending = PendingAuthorization.objects.filter(txn=txn, expires_at__gt=timezone.now()).first()
    if pending is None or pending.params.get("persona") != persona:
        raise PageError("This sign-in has expired. Start again from the app.")
    params = {k: v for k, v in pending.params.items() if k in PARAM_NAMES}
    req = check_client(tenant=pending.params["tenant"], persona=persona, params=params)
    return pending, req


def _who_may_sign_in(tenant: str, persona: str) -> QuerySet[Any]:
    if persona == "provider":
        return Practitioner.objects.filter(tenant_id=tenant)
    return Patient.objects.filter(tenant_id=tenant).current()  # a combined record has no login


def people(tenant: str, persona: str) -> list[Practitioner] | list[Patient]:
    return list(_who_may_sign_in(tenant, persona).order_by("fhir_id"))


def select_user(pending: PendingAuthorization, req: Request, fhir_id: str) -> bool:
    if not _who_may_sign_in(req.tenant, req.persona).filter(fhir_id=fhir_id).exists():
        return False
    PendingAuthorization.objects.filter(pk=pending.pk).update(user_fhir_id=fhir_id)
    return True


def decide(pending: PendingAuthorization, req: Request, base: str, allow: bool) -> str:
    """The consent answer becomes a redirect: a code, or Cerner's access_denied."""
    PendingAuthorization.objects.filter(pk=pending.pk).delete()
    if not allow or not pending.user_fhir_id:
        return error_redirect(req, base, OAuthError("access_denied", error_bodies.DENIED))
    if req.persona == "provider":
        user = Practitioner.objects.get(tenant_id=req.tenant, fhir_id=pending.user_fhir_id)
        return _issue_code(req, **_user_fields(user))
    patient = Patient.objects.get(tenant_id=req.tenant, fhir_id=pending.user_fhir_id)
    return _issue_code(req, **_user_fields(patient), patient_fhir_id=patient.fhir_id)
