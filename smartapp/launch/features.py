"""What a launch may show, from the scopes the EHR granted (compared by meaning).

A server may grant fewer scopes than the app asked for. A feature whose scopes were not granted is
hidden (its tab, its pages) with one plain note naming it, instead of failing with a 403 later.
A token response without `scope` granted what was asked (RFC 6749 §5.1).
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from smartapp.launch import error_pages
from smartapp.launch.models import Launch
from smartapp.tenants.models import Persona
from smartapp.tenants.scopes import scope_split, scopes_missing

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class Feature:
    tab: str  # the pages' tab, which names the feature
    label: "StrOrPromise"  # in the note: "Not available here: …" (patients': translated)
    needs: tuple[str, ...]  # scopes on the user's own token


FEATURES: dict[str, tuple[Feature, ...]] = {
    Persona.PATIENT: (
        Feature("appointments", _("your appointments"), ("patient/Appointment.read",)),
        Feature("book", _("booking"), ("patient/Slot.read", "patient/Schedule.read")),
        Feature("visits", _("your visits"), ("patient/Encounter.read",)),
    ),
    Persona.PROVIDER: (
        Feature("appointments", "the patient's appointments", ("user/Appointment.read",)),
        Feature("visits", "the patient's visits", ("user/Encounter.read",)),
        Feature("book", "booking", ("user/Slot.read", "user/Schedule.read")),
        Feature("my_day", "your day", ("user/Appointment.read",)),
    ),
}


@dataclass(frozen=True)
class Unavailable:
    feature: Feature
    missing: tuple[str, ...]


def features_unavailable(*, launch: Launch) -> list[Unavailable]:
    """The launch's features whose scopes the EHR did not grant."""
    return list(_unavailable(launch.persona, launch.scope)) if launch.scope else []


@lru_cache(maxsize=256)
def _unavailable(persona: str, scope: str) -> tuple[Unavailable, ...]:
    # A page asks several times (tabs, note, buttons); the answer depends on these two only.
    granted = scope_split(scope)
    found = []
    for feature in FEATURES.get(persona, ()):
        missing = scopes_missing(needed=feature.needs, granted=granted)
        if missing:
            found.append(Unavailable(feature, tuple(missing)))
    return tuple(found)


def _listed(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def _listed_for_patients(labels: list[str]) -> str:
    if len(labels) == 1:
        return labels[0]
    return gettext("%(first)s and %(last)s") % {"first": ", ".join(labels[:-1]), "last": labels[-1]}


def scope_note(unavailable: list[Unavailable], *, persona: str) -> str:
    """The one plain note for every page: what is hidden (and, for clinicians, which scopes)."""
    if not unavailable:
        return ""
    if persona == Persona.PATIENT:
        what = _listed_for_patients([str(item.feature.label) for item in unavailable])
        note = ngettext(
            "%(what)s cannot be shown in this app yet. Please contact your clinic for it.",
            "%(what)s cannot be shown in this app yet. Please contact your clinic for them.",
            len(unavailable),
        ) % {"what": what}
        return note[:1].upper() + note[1:]
    labels = _listed([str(item.feature.label) for item in unavailable])  # staff: English
    scopes = " ".join(dict.fromkeys(s for item in unavailable for s in item.missing))
    return (
        f"Not available here: {labels}. The EHR did not grant the app the permission "
        f"({scopes}); the hospital's integration team can add it."
    )


class FeatureNotGranted(error_pages.LaunchError):
    status = 403
    title = _("This part of the app is not available")
    way_forward = error_pages.BACK_HOME


def feature_check(*, launch: Launch, tab: str) -> None:
    """Refuses a page of a feature the EHR did not grant, before any call to the EHR."""
    for item in features_unavailable(launch=launch):
        if item.feature.tab == tab:
            raise FeatureNotGranted(
                scope_note([item], persona=launch.persona),
                staff_detail=f"missing scopes: {' '.join(item.missing)}",
                log=f"{tab} not granted ({' '.join(item.missing)})",
            ).going_back_to(launch)
