"""A fake SMART server behind the app's outbound HTTP session, for tests that need no sandbox.

`FakeEhr` answers discovery, JWKS, the token endpoint and a few FHIR reads, and records every
request so tests can assert what the app did (or did not) contact.
"""

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from smartapp.lib import http
from tests.examples import cerner_example

BASE = "https://fhir.example.org/r4/t1"
PATIENT_BASE = "https://myrecord.example.org/r4/t1"
AUTH = "https://auth.example.org/tenants/t1"
# A status and body, optionally headers; or an exception to raise as the session would.
Handler = Callable[
    [str, str, dict[str, Any]],
    tuple[int, Any] | tuple[int, Any, dict[str, str]] | Exception,
]


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = b"" if body is None else json.dumps(body).encode()
    r.headers.update(headers or {})
    r.headers.setdefault("Content-Type", "application/json")
    return r


class FakeSession:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        query.update(kwargs.get("params") or {})
        kwargs["query"] = query
        bare = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self.calls.append((method.upper(), bare, kwargs))
        result = self.handler(method.upper(), bare, kwargs)
        if isinstance(result, Exception):
            raise result
        status, body = result[0], result[1]
        headers = result[2] if len(result) > 2 else {}
        return response(status, body, headers)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc for _, url, _ in self.calls}


def install(handler: Handler) -> FakeSession:
    fake = FakeSession(handler)
    http._local.session = fake
    return fake


# The modules that call the app's outbound session; each imported `session` by name.
SESSION_USERS = ("fhir.gateway", "fhir.messages_api", "tenants.oauth", "tenants.discovery")


def fake_in_every_thread(monkeypatch: Any, fake: FakeSession) -> None:
    """`install` is per thread; a page's parallel reads run in threads: give them the fake too."""
    for module in SESSION_USERS:
        monkeypatch.setattr(f"smartapp.{module}.session", lambda: fake)


def answer_lost_once(method_wanted: str, path_part: str, lost: list[int]) -> Handler:
    """Forwards every request to the real server; the first `method_wanted` to a URL holding
    `path_part` is applied there and its answer lost (its status is appended to `lost`)."""
    ours = ("query", "params", "timeout", "what")  # the app session's own keywords

    def forward(method: str, url: str, kwargs: dict[str, Any]) -> Any:
        sent = {k: v for k, v in kwargs.items() if k not in ours}
        real = requests.request(method, url, params=kwargs["query"], timeout=10, **sent)
        if method == method_wanted and path_part in url and not lost:
            lost.append(real.status_code)
            return requests.ReadTimeout("read timed out (answer lost after the write)")
        return real.status_code, real.json() if real.content else None, dict(real.headers)

    return forward


def uninstall() -> None:
    if hasattr(http._local, "session"):
        del http._local.session


class FakeEhr:
    """A conformant SMART server with knobs for the failures tests need."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
        self.issuer = AUTH
        self.id_token_iss = f"{AUTH}/oidc/idsps/t1/"
        self.client_id = "provider-client"
        self.token_fields: dict[str, Any] = {
            "patient": "12724067",
            "encounter": "97953492",
            "need_patient_banner": True,
        }
        self.token_error: tuple[int, dict[str, Any]] | None = None
        self.refresh_error: tuple[int, dict[str, Any]] | None = None
        self.claims_override: dict[str, Any] = {}
        self.sign_key: RSAKey | None = None
        self.nonce = ""
        self.refresh_count = 0
        self.expires_in = 570
        self.fhir: dict[str, tuple[int, Any]] = {}
        # Wildcards, as many servers grant: every feature of either persona is granted.
        self.granted_scope = "launch openid fhirUser online_access user/*.read patient/*.read"

    def smart_configuration(self, persona: str = "provider") -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{AUTH}/personas/{persona}/authorize",
            "token_endpoint": f"{AUTH}/hosts/fhir/token",
            "jwks_uri": "https://auth.example.org/jwk",
            "code_challenge_methods_supported": ["S256"],
            "capabilities": ["launch-ehr", "launch-standalone"],
        }

    def id_token(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.id_token_iss,
            "sub": "portal",
            "aud": self.client_id,
            "exp": now + 600,
            "iat": now,
            "nonce": self.nonce,
            "name": "Portal, Portal",
            "fhirUser": f"{BASE}/Practitioner/4122622",
        }
        claims.update(self.claims_override)
        key = self.sign_key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def _token(self, form: dict[str, Any]) -> tuple[int, Any]:
        grant = form.get("grant_type")
        if grant == "refresh_token":
            self.refresh_count += 1
            if self.refresh_error:
                return self.refresh_error
            return 200, {
                "access_token": f"refreshed-{self.refresh_count}",
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "scope": self.granted_scope,
            }
        if self.token_error:
            return self.token_error
        body = {
            "access_token": "at-secret-1",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.granted_scope,
            "refresh_token": "rt-secret-1",
            "id_token": self.id_token(),
        }
        body.update(self.token_fields)
        return 200, body

    def __call__(self, method: str, url: str, kwargs: dict[str, Any]) -> tuple[int, Any]:
        for base, persona in ((BASE, "provider"), (PATIENT_BASE, "patient")):
            if url == f"{base}/.well-known/smart-configuration":
                return 200, self.smart_configuration(persona)
        if url == "https://auth.example.org/jwk":
            return 200, {"keys": [self.key.as_dict(private=False)]}
        if url == f"{AUTH}/hosts/fhir/token":
            return self._token(kwargs.get("data") or {})
        for base in (BASE, PATIENT_BASE):
            if url.startswith(base + "/"):
                return self.fhir.get(
                    url[len(base) + 1 :],
                    (
                        404,
                        {
                            "resourceType": "OperationOutcome",
                            "issue": [{"severity": "error", "code": "not-found"}],
                        },
                    ),
                )
        return 404, {"error": "no such fake route"}


# Fixtures (imported by the conftest of each test package that uses the fake server).
import pytest  # noqa: E402


@pytest.fixture
def fake_ehr():
    ehr = FakeEhr()
    fake = install(ehr)
    ehr.session = fake
    yield ehr
    uninstall()


@pytest.fixture
def fake_tenant(db):
    from smartapp.tenants.models import ClientRegistration, Tenant

    tenant = Tenant.objects.create(
        slug="fake",
        name="Fake General Hospital",
        ehr_tenant_id="t1",
        provider_fhir_base=BASE,
        patient_fhir_base=PATIENT_BASE,
    )
    ClientRegistration.objects.create(
        tenant=tenant,
        persona="provider",
        client_id="provider-client",
        client_secret="provider-secret",
        redirect_uri="http://testserver/launch/callback",
        scopes="launch openid fhirUser online_access user/Patient.read user/Practitioner.read",
    )
    ClientRegistration.objects.create(
        tenant=tenant,
        persona="patient",
        client_id="patient-client",
        client_secret="",
        redirect_uri="http://testserver/launch/callback",
        scopes="launch/patient openid fhirUser offline_access patient/Patient.read",
    )
    ClientRegistration.objects.create(
        tenant=tenant,
        persona="system",
        client_id="system-client",
        client_secret="system-secret",
        scopes="system/Patient.read system/Practitioner.read",
    )
    return tenant


def example(name: str) -> dict[str, Any]:
    return cerner_example(name)


def authorize_params(location: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}


def fake_launch(client: Any, ehr: FakeEhr, *, iss: str = BASE, launch: str = "launch-123") -> Any:
    """Drives an EHR launch against the fake server; returns the callback response."""
    ehr.fhir.setdefault("Practitioner/4122622", (200, example("r4_practitioner_read.json")))
    ehr.fhir.setdefault("Patient/12724067", (200, example("r4_patient_read.json")))
    started = client.get("/launch", {"iss": iss, "launch": launch})
    assert started.status_code == 302, started.content
    params = authorize_params(started["Location"])
    ehr.nonce = params["nonce"]
    return client.get("/launch/callback", {"code": "code-1", "state": params["state"]})


def fake_patient_sign_in(
    client: Any, ehr: FakeEhr, *, user: str = f"{PATIENT_BASE}/Patient/12724067"
) -> Any:
    """Drives a standalone patient sign-in against the fake server; returns the callback response."""
    ehr.client_id = "patient-client"
    ehr.claims_override = {"fhirUser": user}
    ehr.fhir.setdefault("Patient/12724067", (200, example("r4_patient_read.json")))
    started = client.post("/signin", {"tenant": "fake", "persona": "patient"})
    params = authorize_params(started["Location"])
    ehr.nonce = params["nonce"]
    return client.get("/launch/callback", {"code": "c", "state": params["state"]})
