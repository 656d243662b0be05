"""`{% launch_features launch as features %}`: the tabs to hide and the one note saying why."""

from dataclasses import dataclass

from django import template

from smartapp.launch.features import features_unavailable, scope_note
from smartapp.launch.models import Launch

register = template.Library()


@dataclass(frozen=True)
class LaunchFeatures:
    hidden: frozenset[str]
    note: str


@register.simple_tag
def launch_features(launch: Launch) -> LaunchFeatures:
    unavailable = features_unavailable(launch=launch)
    hidden = frozenset(u.feature.tab for u in unavailable)
    return LaunchFeatures(hidden, scope_note(unavailable, persona=launch.persona))
