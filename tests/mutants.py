"""Mutants of FHIR payloads: every field dropped, reshaped, retyped, emptied or made odd.

Deterministic: the same document always gives the same mutants, in the same order. Each mutant has
one change at one path (plus whole-resource changes: unknown extensions, `contained` entries, an
unknown resourceType). Only the objects and lists on the changed path are copied; the rest is
shared with the document, so a consumer must not change a mutant in place (the scripted EHRs send
each one as JSON; hand one to app code directly as a deep copy).
"""

import copy
import json
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]
ODD_TIMES = [
    "2020-01-23",  # a date without a time
    "2020-01-23T22:10:00+05:30",  # an offset
    "2020-01-23T22:10:00.123456789-11:00",
    "0001-01-01T00:00:00Z",  # the calendar's ends
    "9999-12-31T23:59:59+14:00",
    "2020-02-30T10:00:00Z",  # no such day
    "yesterday",
]
UNKNOWN_EXTENSION = {
    "url": "https://example.org/StructureDefinition/unknown",
    "valueString": "<script>alert(1)</script>",
    "extension": [{"url": "nested", "valueInteger": 1}],
}
CONTAINED = [
    {
        "resourceType": "HealthcareService",
        "id": "m1",
        "type": [{"text": "Patient Virtual Meeting Room"}],
        "telecom": [{"system": "url", "value": "javascript:alert(1)"}],
    },
    {"resourceType": "Location", "id": "m2", "name": "Contained room <b>2</b>"},
    {"resourceType": "NotAType", "id": "m3"},
    "not an object",
]


def _paths(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if path:
        yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


def _replace(doc: Any, path: Path, value: Any, *, drop: bool = False) -> Any:
    mutant = copy.copy(doc)
    parent = mutant
    for step in path[:-1]:
        parent[step] = copy.copy(parent[step])
        parent = parent[step]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return mutant


def _alternatives(path: Path, value: Any) -> Iterator[tuple[str, Any]]:
    key = path[-1]
    if isinstance(value, list):
        yield "list as object", value[0] if value else {}
        yield "empty list", []
    elif isinstance(value, dict):
        yield "object as list", [value]
        yield "object as string", "object"
    elif isinstance(value, str):
        yield "string as number", 12345
        yield "empty string", ""
        if key in ("code", "system", "status", "use", "type", "gender", "relation", "mode"):
            yield "unknown code", "zz-unknown-" + str(key)
        if key in ("id", "patientId", "messageId"):
            yield "odd id", "../a b/c"
        if key in ("reference", "url", "value", "fullUrl"):
            yield "odd reference", "#missing" if key == "reference" else "javascript:alert(1)"
        if any(part in str(key).lower() for part in ("date", "start", "end", "time", "instant")):
            for odd in ODD_TIMES:
                yield f"time {odd}", odd
        if key in ("div", "text", "display", "data"):
            yield "hostile text", "<img src=x onerror=alert(1)><script>alert(2)</script>"
    elif isinstance(value, bool):
        yield "bool as string", str(value).lower()
    elif isinstance(value, int | float):
        yield "number as string", str(value)
        yield "huge number", 1e308
    yield "null", None


def mutants(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(description, mutant) pairs; descriptions name the path and change, never a value."""
    for path, value in list(_paths(doc)):
        where = "/".join(str(p) for p in path)
        if isinstance(path[-1], str):
            yield f"{where}: dropped", _replace(doc, path, None, drop=True)
        for change, other in _alternatives(path, value):
            if type(other) is not type(value) or other != value:  # "" emptied is no change
                yield f"{where}: {change}", _replace(doc, path, other)
    yield from _whole(doc)


def _whole(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for where, _node in [((), doc), *_entries(doc)]:
        for change, edit in (
            (
                "unknown extension",
                lambda r: r.setdefault("extension", []).append(UNKNOWN_EXTENSION),
            ),
            ("contained entries", lambda r: r.__setitem__("contained", copy.deepcopy(CONTAINED))),
            ("unknown resourceType", lambda r: r.__setitem__("resourceType", "Nonsense")),
        ):
            mutant = copy.deepcopy(doc)
            target: Any = mutant  # walks into lists as well as objects
            for step in where:
                target = target[step]
            if isinstance(target.get("extension", []), list):
                edit(target)
                yield f"{'/'.join(map(str, where)) or '(root)'}: {change}", mutant


def _entries(doc: dict[str, Any]) -> list[tuple[Path, Any]]:
    entries = doc.get("entry") if doc.get("resourceType") == "Bundle" else None
    return [
        (("entry", i, "resource"), e["resource"])
        for i, e in enumerate(entries or [])
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


def fingerprint(mutant: Any) -> str:
    return json.dumps(mutant, sort_keys=True, default=str)
