"""Everything that can go wrong in a launch, each with the words the user sees.

The words are translated when the page shows them (in the page's language); the exception's own
text, which goes to the log, is always English.
"""

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from smartapp.lib.words import EnglishStr

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from smartapp.launch.models import Launch

RELAUNCH = "relaunch"  # clinicians: go back to the EHR and open the app again
SIGN_IN = "signin"  # patients: sign in again from our start page
EITHER = "either"
BACK_HOME = "home"  # still signed in: back to the launch's first page
PATIENT_SIGN_IN = "patient-signin"  # a patient at the clinician's door: to the patient sign-in


class LaunchError(EnglishStr, Exception):
    status = 400
    title: "StrOrPromise" = _("The app could not start")
    explanation: "StrOrPromise" = _("Something in the sign-in request was not right.")
    reference = ""  # the EHR's correlation id, for the support desk
    way_forward = EITHER
    home_url = ""  # with BACK_HOME: the launch's first page

    def __init__(
        self,
        explanation: "StrOrPromise" = "",
        *,
        staff_detail: str = "",
        way_forward: str = "",
        log: str = "",
        reference: str = "",
    ) -> None:
        super().__init__(log or explanation or self.explanation)
        if explanation:
            self.explanation = explanation
        if way_forward:
            self.way_forward = way_forward
        self.staff_detail = staff_detail
        self.reference = reference or self.reference

    def going_back_to(self, launch: "Launch") -> "LaunchError":
        """BACK_HOME leads to this launch's first page (the chart, or the patient's home)."""
        from django.urls import reverse

        page = "clinical:chart" if launch.is_clinician else "clinical:patient_home"
        self.home_url = reverse(page, kwargs={"public_id": launch.public_id})
        return self

    def for_persona(self, persona: str) -> "LaunchError":
        """The way forward this user has: patients sign in again, clinicians relaunch."""
        if self.way_forward == EITHER and persona:
            self.way_forward = SIGN_IN if persona == "patient" else RELAUNCH
        return self


class BadLaunchRequest(LaunchError):
    title = _("This launch link is incomplete")
    explanation = _(
        "The EHR opened the app without the information it needs (the iss and launch values)."
    )
    way_forward = RELAUNCH


class UnknownIssuer(LaunchError):
    title = _("This EHR is not registered")
    explanation = _(
        "The app was opened by an EHR address it does not know, so it did not contact it. "
        "Ask your integration team to register this organisation."
    )
    way_forward = RELAUNCH


class NotConfigured(LaunchError):
    title = _("This organisation is not set up for this app")
    explanation = _(
        "The app has no sign-in registration for this kind of user at this organisation."
    )


class AuthorizationDenied(LaunchError):
    status = 403
    title = _("Access was not granted")
    explanation = _("You chose not to let the app see your record, so it cannot continue.")


class AuthorizationFailed(LaunchError):
    title = _("The EHR refused the sign-in")
    explanation = _("The EHR's sign-in service refused the app's request.")


class StateInvalid(LaunchError):
    title = _("This sign-in link is no longer valid")
    explanation = _("The sign-in response does not match a sign-in started in this browser.")


class StateExpired(StateInvalid):
    explanation = _("The sign-in took longer than 10 minutes, so it was cancelled for your safety.")


class StateReused(StateInvalid):
    explanation = _("This sign-in response was already used. Each one works only once.")


class TokenExchangeFailed(LaunchError):
    title = _("The sign-in could not be completed")
    explanation = _(
        "The EHR did not accept the sign-in code (it may have expired). Please start again."
    )


class IdTokenInvalid(LaunchError):
    title = _("The sign-in could not be verified")
    explanation = _(
        "The EHR's proof of who you are did not check out, so the app did not sign you in."
    )


class SessionEnded(LaunchError):
    status = 401
    explanation = _("The app's access to your record has ended.")

    @property
    def title(self) -> "StrOrPromise":  # type: ignore[override]  # a patient has no "EHR session"
        if self.way_forward == SIGN_IN:
            return _("Your session has ended")
        return _("Your EHR session ended")


class SessionTimedOut(LaunchError):
    status = 401
    title = _("You were signed out for your safety")
    explanation = _("You were signed out after a while without activity.")


class NotSignedIn(LaunchError):
    status = 401
    title = _("You are not signed in")
    explanation = _(
        "This page belongs to an app session this browser does not have (or it has ended)."
    )


class LaunchNotFound(LaunchError):
    status = 404
    title = _("Page not found")
    explanation = _("There is no such app session in this browser.")


class UpstreamUnavailable(LaunchError):
    status = 502
    title = _("The EHR is not answering")
    explanation = _("The app could not reach the EHR's services. Please try again in a minute.")


class WrongKindOfUser(LaunchError):
    """The launch's own evidence (fhirUser, granted scopes) names another kind of user than the
    registration it arrived at: never shown the other kind's screens."""

    status = 403
    title = _("This sign-in is for another kind of user")
    way_forward = ""  # set per case: the patient sign-in, or nothing (clinicians use the chart)
