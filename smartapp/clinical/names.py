"""Names for references that came without a display: cached, else one `_id=a,b,c` search per type.

Staff and places change rarely and are not patient data, so their names may be cached; a
patient's never are.
"""

import hashlib
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.core.cache import cache
from fhirclient.models.resource import Resource

from smartapp.fhir.gateway import FhirGateway, fetch_parallel
from smartapp.fhir.presentation import display_name

CACHEABLE_NAMES = {"Practitioner", "Location"}
NAME_CACHE_SECONDS = 600


def resource_name(resource: Resource) -> str:
    """A Location's name, or a person's display name."""
    if resource.resource_type == "Location":
        return str(getattr(resource, "name", "") or "")
    return display_name(resource)


def _name_key(gateway: FhirGateway, kind: str, fhir_id: str) -> str:
    return (
        "fhir-name:" + hashlib.sha256(f"{gateway.base_url}|{kind}|{fhir_id}".encode()).hexdigest()
    )


def _cached_names(gateway: FhirGateway, wanted: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    keys = {
        _name_key(gateway, kind, i): (kind, i)
        for kind, ids in wanted.items()
        if kind in CACHEABLE_NAMES
        for i in ids
    }
    return {keys[key]: name for key, name in cache.get_many(list(keys)).items()}


def names_by_reference(
    *, gateway: FhirGateway, wanted: dict[str, set[str]]
) -> dict[tuple[str, str], str]:
    """Names for references without a display: cached ones, then one `_id=a,b,c` search per
    resource type (in parallel) for the rest."""
    names = _cached_names(gateway, wanted)
    missing = {kind: {i for i in ids if (kind, i) not in names} for kind, ids in wanted.items()}
    calls = {
        kind: partial(
            gateway.search, kind, {"_id": ",".join(sorted(ids)), "_count": len(ids)}, all_pages=True
        )
        for kind, ids in missing.items()
        if ids
    }
    fetched: dict[tuple[str, str], str] = {}
    for kind, result in fetch_parallel(calls).items():
        for resource in result.resources:
            if resource.resource_type == kind and str(resource.id) in missing[kind]:
                fetched[(kind, str(resource.id))] = resource_name(resource)
    cache.set_many(
        {
            _name_key(gateway, k, i): n
            for (k, i), n in fetched.items()
            if k in CACHEABLE_NAMES and n
        },
        NAME_CACHE_SECONDS,
    )
    return {**names, **fetched}


def references_wanted(rows: Iterable[Any]) -> dict[str, set[str]]:
    """The ids, by resource type, of every row's references that came without a display."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        for kind, ids in row.refs.items():
            wanted.setdefault(kind, set()).update(ids)
    return wanted
