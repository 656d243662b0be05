"""Search parameter rules shared by resource handlers (Millennium is strict about them)."""

import re
from datetime import date

from django.db.models import Q
from django.http import QueryDict

from smartapp.sandbox.fhir.registry import FhirError

PAGING = {"-pageContext", "-pageDirection", "_count"}
_DATE = re.compile(r"^(eq|ge|le|gt|lt)?(\d{4}-\d{2}-\d{2})$")


def bad_request(text: str) -> FhirError:
    return FhirError(400, "invalid", text)


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
