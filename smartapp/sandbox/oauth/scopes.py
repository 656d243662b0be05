"""SMART scopes: v1 (`user/Patient.read`) and v2 (`user/Patient.rs`) forms."""

import re

_RESOURCE_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+)\.([a-z]+)$")
_V2 = re.compile(r"^c?r?u?d?s?$")
# Which letters of a v2 scope each interaction needs; v1 `read`/`write` cover several.
_V1 = {"read": {"r", "s"}, "write": {"c", "u", "d"}}
INTERACTION_LETTER = {
    "read": "r",
    "search": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
}
PERSONA_PREFIXES = {
    "provider": ("user", "patient"),
    "patient": ("patient", "user"),
    "system": ("system",),
}


def split(scope: str) -> list[str]:
    return [s for s in scope.split() if s]


def is_wildcard(scope: str) -> bool:
    return "*" in scope


def _letters(permission: str) -> set[str]:
    if permission in _V1:
        return _V1[permission]
    return set(permission) if permission and _V2.match(permission) else set()


def granting_prefix(
    scopes: list[str], persona: str, resource_type: str, interaction: str
) -> str | None:
    """The context (`user`, `patient`, `system`) of a scope allowing this, preferring the widest."""
    letter = INTERACTION_LETTER[interaction]
    found: set[str] = set()
    for scope in scopes:
        match = _RESOURCE_SCOPE.match(scope)
        if match and match[2] == resource_type and letter in _letters(match[3]):
            found.add(match[1])
    for prefix in PERSONA_PREFIXES.get(persona, ()):
        if prefix in found and prefix != "patient":
            return prefix
    return "patient" if "patient" in found and "patient" in PERSONA_PREFIXES[persona] else None
