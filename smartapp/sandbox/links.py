"""Every URL the sandbox hands out, built from the base URL it was seeded for.

Millennium spreads these over hosts (authorization.cerner.com, fhir-ehr…, fhir-myrecord…); the
sandbox keeps Cerner's paths and puts a host segment after `/sandbox/` instead.
"""

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest

from smartapp.sandbox.models import SandboxSettings

TENANT = "ec2458f2-1e24-41c8-b71b-0e701af7583d"
SECOND_TENANT = "0b8a0111-e8e6-4c26-a91c-5069cbc6b1ca"
PROVIDER_HOST = "fhir-ehr"
PATIENT_HOST = "fhir-myrecord"
HOST_PERSONA = {PROVIDER_HOST: "provider", PATIENT_HOST: "patient"}
PERSONA_HOST = {"provider": PROVIDER_HOST, "patient": PATIENT_HOST}
ENV1 = "authorization"
ENV2 = "authorization-env2"
PROFILE = "protocols/oauth2/profiles/smart-v1"


def base_url(request: HttpRequest | None = None) -> str:
    """The seeded base URL; before seeding, whatever host the request came in on."""
    row = SandboxSettings.objects.first()
    if row:
        return row.base_url.rstrip("/")
    if request is None:
        raise LookupError("the sandbox has not been seeded (manage.py sandbox_seed)")
    return request.build_absolute_uri("/").rstrip("/")


def fhir_base(base: str, host: str, tenant: str) -> str:
    return f"{base}/sandbox/{host}/r4/{tenant}"


def auth_root(base: str, env: str = ENV1) -> str:
    return f"{base}/sandbox/{env}"


def issuer(base: str, tenant: str, env: str = ENV1) -> str:
    return f"{auth_root(base, env)}/tenants/{tenant}"


def authorize_url(base: str, tenant: str, persona: str) -> str:
    return f"{issuer(base, tenant)}/{PROFILE}/personas/{persona}/authorize"


def token_url(base: str, tenant: str, host: str, env: str = ENV1) -> str:
    return f"{issuer(base, tenant, env)}/hosts/{host}/{PROFILE}/token"


def revoke_url(base: str, tenant: str) -> str:
    return f"{issuer(base, tenant)}/{PROFILE}/token/revoke"


def manage_url(base: str, tenant: str, persona: str) -> str:
    return f"{issuer(base, tenant)}/personas/{persona}/my-authorizations"


def introspect_url(base: str) -> str:
    return f"{auth_root(base)}/tokeninfo"


def jwks_url(base: str, env: str = ENV1) -> str:
    return f"{auth_root(base, env)}/jwk"


def oidc_issuer(base: str, tenant: str) -> str:
    return f"{issuer(base, tenant)}/oidc/idsps/{tenant}/"


def style_url(base: str) -> str:
    return f"{base}/sandbox/styles/smart-v1.json"


def video_room_url(base: str, appointment_id: str, role: str) -> str:
    """A video visit's virtual meeting room (`role` patient | provider): a sandbox page."""
    return f"{base}/sandbox/video/{appointment_id}/{role}/"


def error_uri(base: str, urn: str, instance: str, **query: str) -> str:
    """Cerner's error_uri: the URN percent-encoded as one path segment, then an instance id."""
    qs = urlencode({k: v for k, v in query.items() if v is not None})
    return f"{auth_root(base)}/errors/{quote(urn, safe='')}/instances/{instance}?{qs}"


def add_query(url: str, params: dict[str, str]) -> str:
    """Appends params to a redirect URI, keeping any query it already has."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))
