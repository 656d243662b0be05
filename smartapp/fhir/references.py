"""FHIR references: `fhirUser` and friends, absolute or relative."""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_TYPE_ID = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")
_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def fhir_id(value: object) -> str:
    """A resource id as FHIR defines one (letters, digits, `-`, `.`; 64 at most), else ""."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value if isinstance(value, str) and _ID.match(value) else ""


class BadReference(ValueError):
    """Not a `Type/id` reference (absolute or relative)."""


@dataclass(frozen=True)
class Reference:
    resource_type: str
    resource_id: str
    base: str = ""  # the FHIR base of an absolute reference, "" for a relative one

    @property
    def relative(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


def parse_reference(value: str) -> Reference:
    """`https://host/r4/t/Practitioner/1`, `Practitioner/1` → Reference(type, id, base)."""
    value = (value or "").strip()
    parts = urlsplit(value)
    path = parts.path.rstrip("/")
    segments = path.split("/")
    if len(segments) < 2:
        raise BadReference(value)
    match = _TYPE_ID.match("/".join(segments[-2:]))
    if not match or parts.query or parts.fragment:
        raise BadReference(value)
    if parts.scheme and parts.netloc:
        base = f"{parts.scheme}://{parts.netloc}{'/'.join(segments[:-2])}"
    elif parts.scheme or parts.netloc or len(segments) != 2:
        raise BadReference(value)
    else:
        base = ""
    return Reference(match["type"], match["id"], base)
