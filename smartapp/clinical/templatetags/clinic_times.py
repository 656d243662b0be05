"""`{{ row|time_span }}`: a list row's local start–end cell, cheaply (pages show hundreds).

The same text as `<time datetime="{{ row.start|date:'c' }}">{{ row.start|date:"H:i"|default:"—" }}
</time>{% if row.end %}–{{ row.end|date:"H:i" }}{% endif %}`, in the current time zone (the page's
zone, see clinical.pages.render_zoned), without the `date` filter's per-call format lookups:
`c` and `H:i` are not localised, so the lookup only ever answers the format itself.
"""

from datetime import datetime
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]  # not in django-stubs

register = template.Library()


def _local(value: datetime | None) -> datetime | None:
    return template_localtime(value) if isinstance(value, datetime) else None


@register.filter
def time_span(row: Any) -> SafeString:
    start, end = _local(getattr(row, "start", None)), _local(getattr(row, "end", None))
    # isoformat() and strftime("%H:%M") write digits, "-", "+", ":", "." and "T" only: no escaping.
    cell = (
        f'<time datetime="{start.isoformat()}">{start:%H:%M}</time>'
        if start
        else '<time datetime="">—</time>'
    )
    return mark_safe(f"{cell}–{end:%H:%M}" if end else cell)  # noqa: S308 - see above
