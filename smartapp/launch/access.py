"""FHIR access on behalf of a launch: the gateway with the launch's token and audit context."""

from smartapp.fhir.gateway import AuditContext, FhirGateway
from smartapp.launch.models import Launch
from smartapp.launch.tokens import launch_access_token


def audit_context(launch: Launch) -> AuditContext:
    who = launch.user_reference or f"{launch.persona} user"
    return AuditContext(
        who=who,
        tenant=launch.tenant.slug,
        launch_id=str(launch.public_id),
        patient_id=launch.patient_id,
    )


def gateway_for(*, launch: Launch) -> FhirGateway:
    """A FHIR gateway that reads as this launch's user and audits every call."""
    return FhirGateway(
        base_url=launch.fhir_base,
        token=lambda: launch_access_token(launch=launch),
        audit_context=audit_context(launch),
    )
