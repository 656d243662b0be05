"""Parsing FHIR JSON into fhirclient's R4 models, field by field, tolerant of Millennium's quirks."""

import logging
import re
from typing import Any

from fhirclient.models.resource import Resource

from smartapp.fhir.conform import conform, resource_model

logger = logging.getLogger(__name__)
# `conform` leaves fhirclient only missing required fields to complain about, one line each and
# with its own wording; we log one line per resource instead (parse_resource).
logging.getLogger("fhirclient.models.fhirabstractbase").setLevel(logging.ERROR)


_SAFE_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def _label(data: dict[str, Any]) -> str:
    """`Type/id` for a log line: only what looks like a type and an id (a payload may lie)."""
    kind, ident = str(data.get("resourceType")), str(data.get("id"))
    kind = kind if kind.isalpha() and len(kind) <= 40 else "?"
    return f"{kind}/{ident if _SAFE_ID.match(ident) else '?'}"


def parse_resource(data: Any) -> Resource:
    """A fhirclient model for the JSON; fields that cannot be read are left out (one warning).

    Never raises on a payload's shape: an unknown or missing resourceType gives an empty
    `Resource`, which every caller filters out by its `resource_type`.
    """
    if not isinstance(data, dict):
        logger.warning("fhir payload is not a resource (%s)", type(data).__name__)
        return Resource()
    model = resource_model(str(data.get("resourceType") or ""))
    if model is None:
        logger.warning("fhir %s: not a known resource type", _label(data))
        return Resource()
    fixed, unreadable = conform(data, model)
    if unreadable:
        logger.warning("fhir %s: unreadable fields %s", _label(data), ", ".join(unreadable))
    return model(fixed, strict=False)
