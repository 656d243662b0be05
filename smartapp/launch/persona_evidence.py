"""Who a launch signed in, from its own evidence, checked against the registration it used.

The registration (chosen by which registered FHIR base equals `iss`, or by the sign-in form) says
which screens a launch gets; the token response says who actually signed in: the `fhirUser`
(Patient or RelatedPerson is a patient, Practitioner a clinician), or, without one, granted scopes
in only the `patient/` grammar where the registration asked for `user/` ones. When the two
disagree the launch is refused: a patient never sees a clinician's screens.
"""

import logging
from typing import Any

from django.utils.translation import gettext_lazy as _

from smartapp.launch import error_pages
from smartapp.launch.users import claimed_user
from smartapp.tenants.models import Persona
from smartapp.tenants.scopes import scope_parse, scope_split

logger = logging.getLogger(__name__)
USER_TYPE_PERSONAS = {
    "Patient": Persona.PATIENT,
    "RelatedPerson": Persona.PATIENT,
    "Practitioner": Persona.PROVIDER,
    "PractitionerRole": Persona.PROVIDER,
}  # Cerner's "Person" may be either: no evidence
REFUSALS = {
    Persona.PATIENT: _(
        "You signed in as a patient, but this link opens the app's clinician screens, so the app "
        "did not open them. Please use your hospital's patient portal or the app's patient sign-in."
    ),
    Persona.PROVIDER: _(
        "You signed in as a clinician on the app's patient sign-in, so the app did not open a "
        "patient's screens. Clinicians open the app from a patient's chart in the EHR."
    ),
}


def _from_user(claims: dict[str, Any]) -> str | None:
    user = claimed_user(claims)
    return USER_TYPE_PERSONAS.get(user.resource_type) if user else None


def _from_scopes(granted: str, requested: list[str]) -> str | None:
    contexts = {m.context for m in map(scope_parse, scope_split(granted)) if m is not None}
    asked_user = any((m := scope_parse(s)) and m.context == "user" for s in requested)
    if contexts == {"patient"} and asked_user:
        return Persona.PATIENT
    return None


def signed_in_persona(
    *, claims: dict[str, Any], token: dict[str, Any], requested: list[str]
) -> str | None:
    """The kind of user the launch's evidence names (None when it names none)."""
    return _from_user(claims) or _from_scopes(str(token.get("scope") or ""), requested)


def persona_check(
    *, persona: str, claims: dict[str, Any], token: dict[str, Any], requested: list[str]
) -> None:
    """Refuses a launch whose evidence names another kind of user than its registration."""
    found = signed_in_persona(claims=claims, token=token, requested=requested)
    if found is None or found == persona:
        return
    refusal = error_pages.WrongKindOfUser(
        REFUSALS[Persona(found)],
        staff_detail=(
            f"The {persona} registration received a launch whose evidence names a {found} "
            "(fhirUser or granted scopes). Give each kind of user its own registration and, "
            "where one FHIR base serves both, its own launch link."
        ),
        log=f"{persona} registration launched by a {found}",
    )
    if found == Persona.PATIENT:
        refusal.way_forward = error_pages.PATIENT_SIGN_IN
    raise refusal
