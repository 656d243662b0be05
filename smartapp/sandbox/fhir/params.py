"""Search parameter rules shared by resource handlers (Millennium is strict about them)."""

import re
from datetime import UTC, date, datetime, timedelta

from django.db.models import Q
from django.http import QueryDict

from smartapp.sandbox.fhir.registry import OutcomeError

PAGING = {"-pageContext", "-pageDirection", "_count"}
_DATE = re.compile(r"^(eq|ge|le|gt|lt)?(\d{4}-\d{2}-\d{2})$")
_INSTANT = re.compile(r"^(eq|ge|le|gt|lt)?(\d{4}-\d{2}-\d{2})(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?$")
_LOOKUPS = {"ge": "__gte", "le": "__lte", "gt": "__gt", "lt": "__lt"}


def bad_request(text: str) -> OutcomeError:
    return OutcomeError(400, "invalid", text)


def check_names(
    params: QueryDict, allowed: set[str], repeatable: frozenset[str] = frozenset()
) -> None:
    """Unknown parameters and repeated single-use ones are refused, as Millennium does."""
    for name in params:
        base = name.split(":")[0]
        if name not in PAGING and base not in allowed:
            raise bad_request(f"The search parameter '{name}' is not supported")
        if base not in repeatable and len(params.getlist(name)) > 1:
            raise bad_request(f"The search parameter '{name}' may only be given once")


def require_one(params: QueryDict, primary: set[str]) -> None:
    if not any(name.split(":")[0] in primary for name in params):
        raise bad_request("No supported search parameters provided")


def id_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def string_match(field: str, params: QueryDict, name: str) -> Q | None:
    """`name` matches the beginning (case-insensitive); `name:exact` the whole value."""
    if name + ":exact" in params:
        return Q(**{f"{field}__exact": params[name + ":exact"]})
    if name in params:
        return Q(**{f"{field}__istartswith": params[name]})
    return None


def date_filter(field: str, values: list[str]) -> Q:
    """One prefixed date, or exactly a ge+le pair; no times."""
    parsed = []
    for value in values:
        match = _DATE.match(value)
        if not match:
            raise bad_request(f"Invalid date '{value}': use an optional prefix and YYYY-MM-DD")
        parsed.append((match[1] or "eq", date.fromisoformat(match[2])))
    prefixes = sorted(prefix for prefix, _ in parsed)
    if len(parsed) > 2 or (len(parsed) == 2 and prefixes != ["ge", "le"]):
        raise bad_request("A date may be given once, or as exactly one 'ge' and one 'le'")
    lookups = {"eq": "", "ge": "__gte", "le": "__lte", "gt": "__gt", "lt": "__lt"}
    q = Q()
    for prefix, day in parsed:
        q &= Q(**{f"{field}{lookups[prefix]}": day})
    return q


def count(params: QueryDict, default: int, maximum: int) -> int:
    raw = params.get("_count")
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request("_count must be a positive integer")
    return min(int(raw), maximum)


def _instant(value: str, name: str) -> tuple[str, datetime, bool]:
    """(prefix, moment in UTC, whether only a day was given); a `+` decoded as space is mended."""
    value = value.replace(" ", "+")
    match = _INSTANT.match(value)
    moment = None
    if match:
        try:
            moment = datetime.fromisoformat(match[2] + (match[3] or ""))
        except ValueError:
            moment = None
    if match is None or moment is None:
        raise bad_request(f"Invalid {name} '{value}': use a prefix and an ISO 8601 date-time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return match[1] or "eq", moment.astimezone(UTC), match[3] is None


def instant_filter(field: str, values: list[str], name: str, *, pair_only: bool) -> Q:
    """Exactly one `ge` and one `lt` value; unless `pair_only`, one prefixed value also works."""
    parsed = [_instant(value, name) for value in values]
    prefixes = sorted(prefix for prefix, _, _ in parsed)
    if prefixes == ["ge", "lt"]:
        return Q(**{f"{field}__gte": parsed[0][1] if parsed[0][0] == "ge" else parsed[1][1]}) & Q(
            **{f"{field}__lt": parsed[0][1] if parsed[0][0] == "lt" else parsed[1][1]}
        )
    if pair_only or len(parsed) != 1:
        wanted = "exactly" if pair_only else "one value, or exactly"
        raise bad_request(f"'{name}' needs {wanted} one 'ge' and one 'lt' value")
    prefix, moment, day_only = parsed[0]
    if prefix == "eq":
        if day_only:
            return Q(**{f"{field}__gte": moment, f"{field}__lt": moment + timedelta(days=1)})
        return Q(**{field: moment})
    return Q(**{f"{field}{_LOOKUPS[prefix]}": moment})
