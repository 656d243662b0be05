"""Sandbox URLs: Cerner's paths after a host segment (see README.md)."""

from django.urls import include, path, register_converter

from smartapp.sandbox import faults
from smartapp.sandbox.messages import views as messages
from smartapp.sandbox.views import auth, control, ehr, fhir, video


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
MESSAGES = f"api/{TENANT}/message/20241001"

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
    path(
        f"<authenv:env>/tenants/{TENANT}/hosts/api/protocols/oauth2/profiles/smart-v1/token",
        auth.token,
        {"host": "api"},
        name="api_token",
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
    # Account and Basic go through the fault injector first (faults.py), then the FHIR views.
    path(f"{FHIR}/Basic", faults.basic, name="fhir_basic"),
    path(f"{FHIR}/Account", faults.account, name="fhir_account_search"),
    path(f"{FHIR}/Account/<str:fhir_id>", faults.account, name="fhir_account"),
    path(f"{FHIR}/<str:resource_type>", fhir.resource_type, name="fhir_type"),
    path(f"{FHIR}/<str:resource_type>/<str:fhir_id>", fhir.resource, name="fhir_resource"),
    # The Messages API (non-FHIR, Oracle Health EHR APIs) at api.cernermillennium.com's place.
    path(f"{MESSAGES}/patientMessages/inboxItems", messages.inbox_items, name="inbox_items"),
    path(f"{MESSAGES}/patientMessages/sentItems", messages.sent_items, name="sent_items"),
    path(
        f"{MESSAGES}/patientMessages/<str:message_id>",
        messages.patient_message,
        name="patient_message",
    ),
    path(
        f"{MESSAGES}/actions/updatePatientMessageStatus",
        messages.update_patient_message_status,
        name="update_patient_message_status",
    ),
    # The EHR (PowerChart stand-in).
    path("ehr/", ehr.ehr_page, name="ehr"),
    path("ehr/launches/<str:launch_id>/", ehr.ehr_launch, name="ehr_launch"),
    path(
        "ehr/encounters/<str:encounter_id>/register",
        control.register_encounter,
        name="register_encounter",
    ),
    # Where a video visit's meeting-room links lead (patient | provider).
    path("video/<str:appointment_id>/<persona:role>/", video.video_room, name="video_room"),
    # Sandbox-only controls (no auth, no CSRF; README "Control endpoints").
    path("control/faults", control.fault_settings, name="control_faults"),
    path("control/knobs", control.knob_settings, name="control_knobs"),
    path("control/ledger", control.ledger, name="control_ledger"),
    # The card processor (not Millennium).
    path("processor/", include("smartapp.sandbox.processor.urls")),
]
