"""SMART scopes compared by meaning, not by string.

v1 (`patient/Appointment.read`) and v2 (`patient/Appointment.rs`) name the same right; a wildcard
resource (`user/*.read`) or permission (`system/Patient.*`) covers every one it stands for; a v2
granular scope (`patient/Observation.rs?category=vital-signs`) covers only requests limited the same
way. Other scopes (`openid`, `launch/patient`, `oraclehealth:millennium:message`) match exactly.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

CONTEXTS = ("patient", "user", "system")
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
_RESOURCE_SCOPE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<resource>[A-Za-z]+|\*)"
    r"\.(?P<permissions>read|write|\*|c?r?u?d?s?)(?:\?(?P<query>.+))?$"
)


@dataclass(frozen=True)
class ResourceScope:
    context: str  # patient | user | system
    resource: str  # a resource type, or "*"
    permissions: frozenset[str]  # of c, r, u, d, s
    query: str = ""  # a v2 granular limit ("" for none)


def scope_parse(scope: str) -> ResourceScope | None:
    """The meaning of a resource scope, or None for any other scope (or a malformed one)."""
    match = _RESOURCE_SCOPE.match(scope)
    if match is None or not match["permissions"]:
        return None
    permissions = V1_PERMISSIONS.get(match["permissions"], match["permissions"])
    return ResourceScope(
        context=match["context"],
        resource=match["resource"],
        permissions=frozenset(permissions),
        query=match["query"] or "",
    )


def scope_covers(granted: str, needed: str) -> bool:
    """True when holding `granted` gives every right `needed` asks for."""
    if granted == needed:
        return True
    have, want = scope_parse(granted), scope_parse(needed)
    if have is None or want is None:
        return False
    return (
        have.context == want.context
        and have.resource in ("*", want.resource)
        and want.permissions <= have.permissions
        and have.query in ("", want.query)
    )


def scopes_missing(*, needed: Iterable[str], granted: Iterable[str]) -> list[str]:
    """The needed scopes that no granted scope covers, in the order needed."""
    held = list(granted)
    return [scope for scope in needed if not any(scope_covers(g, scope) for g in held)]


def scope_split(text: str) -> list[str]:
    return [scope for scope in text.split() if scope]
