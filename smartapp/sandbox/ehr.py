"""The PowerChart stand-in: launch contexts for EHR launches."""

import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.utils import timezone

from smartapp.sandbox import links
from smartapp.sandbox.models import Client, Encounter, LaunchContext, Patient, Practitioner

LAUNCH_LIFETIME = timedelta(minutes=10)


def create_launch(
    *,
    client: Client,
    practitioner: Practitioner,
    patient: Patient,
    encounter: Encounter | None,
    need_patient_banner: bool,
) -> LaunchContext:
    """An opaque launch id bound to user, patient, encounter and app."""
    return LaunchContext.objects.create(
        launch_id=secrets.token_urlsafe(18),
        tenant_id=client.tenant_id,
        client=client,
        practitioner=practitioner,
        patient=patient,
        encounter=encounter,
        need_patient_banner=need_patient_banner,
        expires_at=timezone.now() + LAUNCH_LIFETIME,
    )


def app_url(ctx: LaunchContext, base: str) -> str:
    iss = links.fhir_base(base, links.PROVIDER_HOST, ctx.tenant_id)
    return f"{ctx.client.launch_url}?{urlencode({'iss': iss, 'launch': ctx.launch_id})}"
