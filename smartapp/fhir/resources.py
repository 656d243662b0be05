"""Parsing FHIR JSON into fhirclient's R4 models, tolerant of Millennium's known quirks."""

from decimal import Decimal, InvalidOperation
from typing import Any

from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirclient.models.resource import Resource


def _fix_known_quirks(value: Any) -> Any:
    """Millennium sends ContactPoint.rank and Money.value as strings; R4 says numbers."""
    if isinstance(value, list):
        return [_fix_known_quirks(item) for item in value]
    if not isinstance(value, dict):
        return value
    fixed = {key: _fix_known_quirks(item) for key, item in value.items()}
    rank = fixed.get("rank")
    if isinstance(rank, str) and rank.isdigit():
        fixed["rank"] = int(rank)
    # Money.value as a string ("1250.00", Account's account-balance): R4 says decimal.
    money = fixed.get("value")
    if "currency" in fixed and isinstance(money, str) and _is_decimal(money):
        fixed["value"] = float(money)
    return fixed


def _is_decimal(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def _model_class(resource_type: str) -> type[Resource]:
    return type(FHIRElementFactory.instantiate(resource_type, None))


def parse_resource(data: dict[str, Any]) -> Resource:
    """A fhirclient model for the JSON, parsed leniently in one pass.

    Lenient parsing keeps every property it can and drops only the ones of the wrong shape (and
    fhirclient logs which), so one odd field never blanks a whole page. A strict parse first would
    double the cost of every resource with a quirk, and list pages parse hundreds.
    """
    resource_type = str(data.get("resourceType") or "")
    return _model_class(resource_type)(_fix_known_quirks(data), strict=False)
