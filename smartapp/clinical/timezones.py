"""Which time zone a page shows times in: the browser's (cookie `tz`, checked) or the tenant's."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from smartapp.tenants.models import Tenant, is_time_zone

COOKIE = "tz"


def browser_zone(*, request: HttpRequest, tenant: Tenant) -> ZoneInfo:
    """The zone static/js/timezone.js stored, if zoneinfo knows it; else the tenant's zone."""
    name = request.COOKIES.get(COOKIE, "")
    return ZoneInfo(name) if is_time_zone(name) else tenant.zone


def day_bounds(*, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight, as UTC instants (DST days are 23 or 25 hours)."""
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def fhir_instant(value: datetime) -> str:
    """`2024-11-24T06:00:00Z`: the form Millennium's date and start parameters take."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def today_in(zone: ZoneInfo) -> date:
    return datetime.now(zone).date()


def zone_difference(*, clinic: ZoneInfo, own: ZoneInfo) -> str:
    """How far the user's own zone is from the clinic's now, in words ("" when the same)."""
    now = datetime.now(UTC)
    mine, theirs = now.astimezone(own).utcoffset(), now.astimezone(clinic).utcoffset()
    assert mine is not None and theirs is not None  # aware datetimes always have one
    minutes = int((mine - theirs).total_seconds() // 60)
    if minutes == 0:
        return ""
    hours, rest = divmod(abs(minutes), 60)
    amount = ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours}
    if rest:
        # Translators: "5 hours" and the minutes on top, e.g. "5 hours 30 minutes".
        amount = _("%(hours)s %(minutes)s minutes") % {"hours": amount, "minutes": rest}
    if minutes > 0:
        return _("%(amount)s ahead of the clinic") % {"amount": amount}
    return _("%(amount)s behind the clinic") % {"amount": amount}
