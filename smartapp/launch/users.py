"""Who launched: the fhirUser from the id_token, read through the FHIR gateway for a display name."""

import logging
from typing import Any

from smartapp.fhir.errors import FhirError
from smartapp.fhir.presentation import display_name
from smartapp.fhir.references import BadReference, Reference, parse_reference
from smartapp.launch.models import Launch
from smartapp.tenants.models import Persona

logger = logging.getLogger(__name__)
USER_TYPES = {"Practitioner", "Patient", "RelatedPerson", "Person"}


def claimed_user(claims: dict[str, Any]) -> Reference | None:
    """The user the id_token names (`fhirUser`, else `profile`), when it is a FHIR reference."""
    for value in (claims.get("fhirUser"), claims.get("profile")):
        if value:
            try:
                return parse_reference(str(value))
            except BadReference:
                continue
    return None


def _user_reference(
    launch: Launch, claims: dict[str, Any], token: dict[str, Any]
) -> Reference | None:
    claimed = claimed_user(claims)
    if claimed is not None:
        return claimed
    if claims.get("fhirUser") or claims.get("profile"):
        logger.warning("launch %s: fhirUser is not a FHIR reference", launch.public_id)
    # Without openid, Millennium still names the practitioner in the token response's `user`.
    if launch.persona == Persona.PROVIDER and token.get("user"):
        return Reference("Practitioner", str(token["user"]))
    if launch.persona == Persona.PATIENT and launch.patient_id:
        return Reference("Patient", launch.patient_id)
    return None


def launch_user_resolve(*, launch: Launch, claims: dict[str, Any], token: dict[str, Any]) -> None:
    """Stores the launch's user (type, id, display name); reads the user only when unnamed."""
    from smartapp.launch.access import gateway_for

    reference = _user_reference(launch, claims, token)
    if reference is None or reference.resource_type not in USER_TYPES:
        return
    launch.user_type, launch.user_id = reference.resource_type, reference.resource_id
    if launch.user_display:
        # The id_token already names the user: reading their resource too would add a round trip
        # to every launch for nothing on screen (and a patient's pages read their record anyway).
        launch.save(update_fields=["user_type", "user_id"])
        return
    try:
        resource = gateway_for(launch=launch).read(reference.resource_type, reference.resource_id)
        launch.user_display = display_name(resource) or launch.user_display
    except FhirError as error:
        logger.info("launch %s: fhirUser read failed status=%s", launch.public_id, error.status)
    launch.save(update_fields=["user_type", "user_id", "user_display"])
