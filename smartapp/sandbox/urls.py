"""Sandbox URLs: Cerner's paths after a host segment (see README.md)."""

from django.urls import path, register_converter

from smartapp.sandbox.views import auth, ehr, fhir


class _Choice:
    values: tuple[str, ...] = ()

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class FhirHost(_Choice):
    regex = "fhir-ehr|fhir-myrecord"


class AuthEnv(_Choice):
    regex = "authorization|authorization-env2"


class Persona(_Choice):
    regex = "provider|patient"


register_converter(FhirHost, "fhirhost")
register_converter(AuthEnv, "authenv")
register_converter(Persona, "persona")

app_name = "sandbox"
TENANT = "<str:tenant>"
SMART = f"tenants/{TENANT}/protocols/oauth2/profiles/smart-v1"
FHIR = f"<fhirhost:host>/r4/{TENANT}"

urlpatterns = [
    # Authorization server (environment 1) and its second-environment twin.
    path(
        f"authorization/{SMART}/personas/<persona:persona>/authorize",
        auth.authorize,
        name="authorize",
    ),
    path(f"authorization/{SMART}/personas/<persona:persona>/login", auth.login, name="login"),
    path(f"authorization/{SMART}/personas/<persona:persona>/consent", auth.consent, name="consent"),
    path(f"authorization/{SMART}/token/revoke", auth.revoke, name="revoke"),
    path(
        f"<authenv:env>/tenants/{TENANT}/hosts/<fhirhost:host>/protocols/oauth2/profiles/smart-v1/token",
        auth.token,
        name="token",
    ),
    path("<authenv:env>/jwk", auth.jwks, name="jwks"),
    path("authorization/tokeninfo", auth.tokeninfo, name="tokeninfo"),
    path(
        f"authorization/tenants/{TENANT}/personas/<persona:persona>/my-authorizations",
        auth.my_authorizations,
        name="my_authorizations",
    ),
    path(
        f"authorization/tenants/{TENANT}/oidc/idsps/<str:idsp>/.well-known/openid-configuration",
        auth.openid_configuration,
        name="openid_configuration",
    ),
    path("styles/smart-v1.json", auth.smart_style, name="smart_style"),
    # FHIR hosts.
    path(f"{FHIR}/metadata", fhir.metadata, name="metadata"),
    path(
        f"{FHIR}/.well-known/smart-configuration",
        fhir.smart_configuration,
        name="smart_configuration",
    ),
    path(f"{FHIR}/<str:resource_type>", fhir.resource_type, name="fhir_type"),
    path(f"{FHIR}/<str:resource_type>/<str:fhir_id>", fhir.resource, name="fhir_resource"),
    # The EHR (PowerChart stand-in).
    path("ehr/", ehr.ehr_page, name="ehr"),
    path("ehr/launches/<str:launch_id>/", ehr.ehr_launch, name="ehr_launch"),
]
