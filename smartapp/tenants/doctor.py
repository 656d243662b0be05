"""`smart_doctor`: checks a tenant's SMART set-up end to end and says in plain words what is wrong."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests

from smartapp.fhir import errors as fhir
from smartapp.fhir.gateway import AuditContext, FhirGateway
from smartapp.lib.http import session
from smartapp.tenants.discovery import DiscoveryError, SmartConfiguration, smart_configuration
from smartapp.tenants.models import AuthMethod, ClientRegistration, Persona, Tenant
from smartapp.tenants.oauth import TokenEndpointError
from smartapp.tenants.scopes import scope_covers, scope_split, scopes_missing
from smartapp.tenants.system_client import fhir_system_scopes, system_token

OK, WARN, PROBLEM = "ok", "warning", "problem"
WANTS_KEY = (
    "Set auth_method: private_key_jwt for this client in the tenant file, run "
    "manage.py smart_keys create, and register the app's JWKS URL {jwks} for it at the EHR "
    "(Oracle's code console)."
)
WRONG_ENVIRONMENT = (
    "this token was minted by a different authorization server or environment than the FHIR host: "
    "check that the tenant's FHIR base and its discovery point at the same environment"
)


@dataclass(frozen=True)
class Finding:
    level: str
    text: str


@dataclass(frozen=True)
class _Check:
    name: str
    method: str
    url: str
    headers: dict[str, str] | None = None
    data: dict[str, str] | None = None


def _answers(check: _Check) -> str:
    """'' when the endpoint answers like an OAuth/FHIR endpoint, else what went wrong."""
    try:
        response = session().request(
            check.method,
            check.url,
            headers=check.headers,
            data=check.data,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        return f"no answer ({type(error).__name__})"
    if response.status_code == 404 or response.status_code >= 500:
        return f"answered HTTP {response.status_code}"
    return ""


def _endpoint_findings(label: str, config: SmartConfiguration) -> Iterator[Finding]:
    checks = [
        _Check(
            "FHIR metadata",
            "GET",
            f"{config.fhir_base}/metadata",
            headers={"Accept": "application/fhir+json"},
        ),
        _Check("authorize endpoint", "GET", config.authorization_endpoint),
        _Check(
            "token endpoint",
            "POST",
            config.token_endpoint,
            data={"grant_type": "client_credentials"},
        ),
    ]
    if config.jwks_uri:
        checks.append(
            _Check("JWKS", "GET", config.jwks_uri, headers={"Accept": "application/json"})
        )
    for check in checks:
        problem = _answers(check)
        yield (
            Finding(PROBLEM, f"{label}: the {check.name} at {check.url} {problem}.")
            if problem
            else Finding(OK, f"{label}: the {check.name} answers.")
        )
    if "S256" not in config.code_challenge_methods_supported:
        yield Finding(
            WARN, f"{label}: discovery does not advertise PKCE S256 (the app sends it anyway)."
        )


def _client_findings(
    label: str, tenant: Tenant, persona: str, config: SmartConfiguration
) -> Iterator[Finding]:
    client = ClientRegistration.objects.filter(tenant=tenant, persona=persona).first()
    if client is None:
        yield Finding(
            PROBLEM,
            f"{label}: no {persona} client is registered; users of this kind cannot sign in.",
        )
        return
    if not client.redirect_uri:
        yield Finding(PROBLEM, f"{label}: the {persona} client has no redirect URI.")
    yield from _auth_method_findings(label, client, config)
    yield from _feature_findings(label, client)
    unsupported = []
    if config.scopes_supported:  # by meaning: a listed wildcard covers what it stands for
        unsupported = scopes_missing(needed=client.scope_list, granted=config.scopes_supported)
    if unsupported:
        yield Finding(
            WARN, f"{label}: the server does not list these scopes: {' '.join(unsupported)}."
        )


def jwks_url(client: ClientRegistration) -> str:
    """Where the app publishes its public keys (the URL to register at the EHR)."""
    origin = "/".join(client.redirect_uri.split("/")[:3]) if client.redirect_uri else ""
    return f"{origin}/.well-known/jwks.json" if origin else "/.well-known/jwks.json on the app"


def _auth_method_findings(
    label: str, client: ClientRegistration, config: SmartConfiguration
) -> Iterator[Finding]:
    accepted = config.token_endpoint_auth_methods_supported
    method = client.authentication
    if method == AuthMethod.PUBLIC or not accepted or method in accepted:
        return
    yield Finding(
        PROBLEM,
        f"{label}: the {client.persona} client authenticates with {method}, but the server "
        f"accepts only {', '.join(accepted)}."
        + (f" {WANTS_KEY.format(jwks=jwks_url(client))}" if AuthMethod.KEY in accepted else ""),
    )


def _feature_findings(label: str, client: ClientRegistration) -> Iterator[Finding]:
    """What users will not see because the registration lacks its scopes (the pages' own rule)."""
    from smartapp.launch.features import FEATURES

    for feature in FEATURES.get(client.persona, ()):
        missing = scopes_missing(needed=feature.needs, granted=client.scope_list)
        if missing:
            yield Finding(
                WARN,
                f"{label}: {feature.label} will be hidden: the {client.persona} client is not "
                f"registered for {' '.join(missing)}.",
            )


def host_findings(tenant: Tenant, persona: str) -> Iterator[Finding]:
    base = tenant.fhir_base_for(persona)
    label = f"{persona} host {base}"
    if not base:
        yield Finding(PROBLEM, f"{persona} host: no FHIR base is configured.")
        return
    try:
        config = smart_configuration(fhir_base=base, refresh=True)
    except DiscoveryError as error:
        yield Finding(PROBLEM, f"{label}: discovery failed. {error} Check the FHIR base URL.")
        return
    yield Finding(OK, f"{label}: discovery found the sign-in addresses (from {config.source}).")
    yield from _endpoint_findings(label, config)
    yield from _client_findings(label, tenant, persona, config)


def _token_error_text(error: TokenEndpointError, client: ClientRegistration) -> str:
    said = f" The server said: {error.staff_text()}." if error.error else ""
    if error.unreachable:
        return "the token endpoint did not answer; try again later or check the network." + said
    if error.wants_assertion and client.authentication != AuthMethod.KEY:
        return f"the server wants a signed client assertion (private_key_jwt), not a secret. {WANTS_KEY.format(jwks=jwks_url(client))}{said}"
    if error.error == "invalid_client" and client.authentication == AuthMethod.KEY:
        return f"the token endpoint said invalid_client: check the client id, and that the EHR has the app's JWKS URL ({jwks_url(client)}) and its current key (manage.py smart_keys list).{said}"
    if error.error == "invalid_client":
        return f"the token endpoint said invalid_client: the client id or secret is wrong (set the secret again in the admin).{said}"
    if "empty-scopes" in error.error_uri or error.error == "invalid_scope":
        return f"the EHR granted none of the requested scopes: register the system/ scopes for this client at the EHR.{said}"
    return f"the token endpoint refused the request.{said}"


def _fhir_check(tenant: Tenant, access_token: str) -> Finding:
    audit = AuditContext(who="system", tenant=tenant.slug, reason="smart_doctor check")
    gateway = FhirGateway(
        base_url=tenant.provider_fhir_base, token=lambda: access_token, audit_context=audit
    )
    try:
        gateway.search("Patient", {"_id": "smart-doctor-check"})
    except fhir.NotFound:
        pass
    except fhir.Unauthorized as error:
        text = (
            WRONG_ENVIRONMENT
            if error.wrong_environment
            else f"the token was refused ({error.code or 401})"
        )
        return Finding(PROBLEM, f"system client: the FHIR host rejected its token: {text}.")
    except fhir.Forbidden:
        return Finding(
            PROBLEM,
            "system client: the FHIR host refused a Patient search (missing system/Patient.read).",
        )
    except fhir.FhirError as error:
        return Finding(
            PROBLEM, f"system client: a test FHIR call failed ({error.status or error})."
        )
    return Finding(OK, "system client: the FHIR host accepts its token.")


def system_findings(tenant: Tenant) -> Iterator[Finding]:
    client = ClientRegistration.objects.filter(tenant=tenant, persona=Persona.SYSTEM).first()
    if client is None:
        yield Finding(
            PROBLEM,
            "system client: none is registered; background work (bookings, payments) cannot run.",
        )
        return
    try:
        token = system_token(tenant=tenant, force=True)
    except TokenEndpointError as error:
        text = _token_error_text(error, client)
        yield Finding(PROBLEM, f"system client {client.client_id}: {text}")
        return
    except DiscoveryError as error:
        yield Finding(PROBLEM, f"system client: {error}")
        return
    granted = scope_split(token.scope)
    missing = scopes_missing(needed=fhir_system_scopes(client), granted=granted)
    if missing:
        yield Finding(
            PROBLEM,
            f"system client: the EHR granted fewer scopes than needed; missing: {' '.join(missing)}.",
        )
    else:
        yield Finding(OK, f"system client {client.client_id}: got a token with every needed scope.")
    if any(scope_covers(scope, "system/Patient.read") for scope in granted):
        yield _fhir_check(tenant, token.access_token)


# Apps below tenants (payments) add their own checks here, so imports keep pointing one way.
DOCTOR_CHECKS: list[Callable[[Tenant], Iterator[Finding]]] = []


def diagnose(tenant: Tenant) -> list[Finding]:
    """Every finding for the tenant, in the order a person would check them."""
    findings = list(host_findings(tenant, Persona.PROVIDER))
    findings += list(host_findings(tenant, Persona.PATIENT))
    findings += list(system_findings(tenant))
    for check in DOCTOR_CHECKS:
        findings += list(check(tenant))
    return findings
