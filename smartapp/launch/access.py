"""FHIR access on behalf of a launch: the gateway with the launch's token and audit context."""

from smartapp.fhir.gateway import AuditContext, FhirGateway
from smartapp.launch.models import Launch
from smartapp.launch.tokens import launch_access_token, launch_token_renew


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
        renew=lambda refused: launch_token_renew(launch=launch, refused=refused),
    )


def system_audit_context(*, launch: Launch, reason: str) -> AuditContext:
    """Audit context for the tenant's system client acting for the launch's patient."""
    return AuditContext(
        who="system",
        tenant=launch.tenant.slug,
        launch_id=str(launch.public_id),
        patient_id=launch.patient_id,
        reason=reason,
    )


def on_behalf_reason(*, launch: Launch, verb: str) -> str:
    """The audit reason for a system-client write done for a patient who signed in themselves."""
    return f"{verb} on behalf of patient via patient launch {launch.public_id}"


def system_gateway_for(*, launch: Launch, reason: str) -> FhirGateway:
    """The tenant's system client on the provider host, acting for the launch's patient.

    Patient tokens cannot create or patch Appointments at Millennium, so those writes go through
    the system client; the audit trail names the patient, the launch and the reason.
    """
    from smartapp.tenants.system_client import system_access_token

    tenant = launch.tenant
    return FhirGateway(
        base_url=tenant.provider_fhir_base,
        token=lambda: system_access_token(tenant=tenant),
        audit_context=system_audit_context(launch=launch, reason=reason),
    )
