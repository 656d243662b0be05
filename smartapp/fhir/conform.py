"""FHIR JSON brought into the shapes fhirclient's R4 models declare, one field at a time.

fhirclient's lenient parse keeps a value of the wrong shape when a list was expected (a `name`
that is one object), checks only the first item of a list, and drops a whole list when one item
is bad. Code reading the model would then trust what it should not. `conform` walks the JSON
against the models' own property tables first: a field that cannot be read is dropped (and its
path noted), a lone object where a list belongs becomes a one-item list, a one-item list where
one value belongs becomes that value, and Millennium's string numbers (`ContactPoint.rank "1"`,
`Money.value "12.50"`) become numbers. What is left parses into a model whose types hold.
"""

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from fhirclient.models.fhirabstractbase import FHIRAbstractBase
from fhirclient.models.fhirdate import FHIRDate
from fhirclient.models.fhirelementfactory import FHIRElementFactory
from fhirclient.models.resource import Resource

MAX_PROBLEMS = 20  # noted per resource; the log line names paths, never values


@dataclass(frozen=True)
class _Property:
    json_name: str
    type: type
    is_list: bool
    required: bool


@cache
def _properties(model: type[FHIRAbstractBase]) -> dict[str, _Property]:
    table = model().elementProperties()
    return {
        js: _Property(js, typ, bool(is_list), bool(required))
        for _name, js, typ, is_list, _of_many, required in table
    }


@cache
def resource_model(resource_type: str) -> type[Resource] | None:
    """The fhirclient class of a resource type, None for anything that is not a resource."""
    if not resource_type or not resource_type.isalpha():
        return None
    model = type(FHIRElementFactory.instantiate(resource_type, None))
    return model if issubclass(model, Resource) and model.resource_type == resource_type else None


class _Notes:
    def __init__(self) -> None:
        self.paths: list[str] = []

    def add(self, path: str) -> None:
        if len(self.paths) < MAX_PROBLEMS:
            self.paths.append(path or "(resource)")


def _decimal(text: str) -> float | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return float(value) if value.is_finite() and abs(value) < Decimal("1e300") else None


def _primitive(value: Any, kind: type) -> Any:
    """The value as `kind`, or None when it cannot honestly be read as one."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        return {"true": True, "false": False}.get(value) if isinstance(value, str) else None
    if isinstance(value, bool):
        return None
    if kind is str:
        return value if isinstance(value, str) else None
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        text = value.strip() if isinstance(value, str) else ""
        return int(text) if text.lstrip("-").isdigit() and len(text) < 19 else None
    if kind is float:
        if isinstance(value, int | float):
            return value if _finite(value) else None
        return _decimal(value) if isinstance(value, str) else None
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _date(value: Any, kind: type[FHIRDate]) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        kind(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value


def _element(value: Any, kind: type, path: str, notes: _Notes) -> Any:
    if isinstance(kind, type) and issubclass(kind, FHIRDate):
        return _date(value, kind)
    if not (isinstance(kind, type) and issubclass(kind, FHIRAbstractBase)):
        return _primitive(value, kind)
    if not isinstance(value, dict):
        return None
    if issubclass(kind, Resource) and (value.get("resourceType") or kind is Resource):
        model = resource_model(str(value.get("resourceType") or ""))
        if model is None or not issubclass(model, kind):
            return None
        return _object(value, model, path, notes, nested=True)
    return _object(value, kind, path, notes, nested=True)


def _items(value: Any, prop: _Property, path: str, notes: _Notes) -> list[Any] | None:
    if not isinstance(value, list):
        notes.add(path)  # a lone value where a list belongs: read it as a list of one
        value = [value]
    kept = []
    for i, item in enumerate(value):
        read = _element(item, prop.type, f"{path}[{i}]", notes)
        if read is None:
            notes.add(f"{path}[{i}]")
        else:
            kept.append(read)
    return kept or None


def _single(value: Any, prop: _Property, path: str, notes: _Notes) -> Any:
    if isinstance(value, list):
        notes.add(path)
        if len(value) != 1:
            return None
        value = value[0]
    read = _element(value, prop.type, path, notes)
    if read is None:
        notes.add(path)
    return read


# `model: type` (a fhirclient class): fhirclient being untyped, type[FHIRAbstractBase] is
# type[Any], which mypy will not hash for the @cache'd tables.
def _object(
    data: dict[str, Any], model: type, path: str, notes: _Notes, *, nested: bool
) -> dict[str, Any] | None:
    properties = _properties(model)
    out: dict[str, Any] = {}
    if isinstance(data.get("resourceType"), str):
        out["resourceType"] = data["resourceType"]
    for key, value in data.items():
        prop = properties.get(key)
        if prop is None:
            if key.startswith("_") and key[1:] in properties and isinstance(value, dict | list):
                out[key] = value  # a primitive's extensions (data-absent-reason and friends)
            continue
        if value is None:
            continue
        where = f"{path}.{key}" if path else key
        read = (_items if prop.is_list else _single)(value, prop, where, notes)
        if read is not None:
            out[key] = read
    missing = [p.json_name for p in properties.values() if p.required and p.json_name not in out]
    # Choice elements (value[x]) list every variant as required-of-many; one present is enough.
    missing = [m for m in missing if not _choice_present(m, model, out)]
    if missing and nested:
        notes.add(path)
        return None
    return out


@cache
def _choices(model: type[FHIRAbstractBase]) -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for _name, js, _typ, _is_list, of_many, _required in model().elementProperties():
        if of_many:
            groups.setdefault(of_many, set()).add(js)
    return {js: frozenset(names) for names in groups.values() for js in names}


def _choice_present(json_name: str, model: type, out: dict[str, Any]) -> bool:
    return any(name in out for name in _choices(model).get(json_name, ()))


def conform(data: dict[str, Any], model: type[Resource]) -> tuple[dict[str, Any], list[str]]:
    """The resource's JSON in the model's shapes, and the paths of fields that were not."""
    notes = _Notes()
    out = _object(data, model, "", notes, nested=False) or {}
    return out, notes.paths
