"""`{% video_room row launch as room %}`: the video visit link this user may follow now, if any."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

register = template.Library()


@dataclass(frozen=True)
class VideoLink:
    url: str
    state: str  # "open" | "not-yet" | "closed"
    opens: datetime | None


@register.simple_tag
def video_room(row: Any, launch: Any) -> VideoLink | None:
    """The patient's room for patients, the provider's for clinicians; None when not virtual,
    not active, or over."""
    room = row.video_for(clinician=bool(getattr(launch, "is_clinician", False)))
    if room is None:
        return None
    return VideoLink(url=room.url, state=room.state(timezone.now()), opens=room.opens)
