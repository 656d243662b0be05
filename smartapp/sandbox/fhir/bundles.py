"""Searchset Bundles with server-built paging links (`-pageContext` / `-pageDirection`)."""

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.core import signing
from django.db.models import QuerySet
from django.http import QueryDict

from smartapp.sandbox.fhir.registry import OutcomeError

_SALT = "sandbox.fhir.page"


def page_offset(params: QueryDict) -> int:
    context = params.get("-pageContext")
    if context is None:
        return 0
    try:
        return int(signing.loads(context, salt=_SALT))
    except (signing.BadSignature, ValueError, TypeError):
        raise OutcomeError(400, "invalid", "Invalid -pageContext") from None


def _page_url(resource_url: str, params: QueryDict, offset: int, direction: str) -> str:
    kept = [(k, v) for k, values in params.lists() for v in values if not k.startswith("-page")]
    kept += [("-pageContext", signing.dumps(offset, salt=_SALT)), ("-pageDirection", direction)]
    return f"{resource_url}?{urlencode(kept)}"


def searchset(
    *,
    rows: QuerySet[Any],
    fhir_base: str,
    type_name: str,
    params: QueryDict,
    count: int,
    include_total: bool,
    includes: Callable[[list[Any]], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    offset = page_offset(params)
    resource_url = f"{fhir_base}/{type_name}"
    page = list(rows[offset : offset + count + 1])
    links = [{"relation": "self", "url": f"{resource_url}?{params.urlencode()}"}]
    if offset > 0:
        back = _page_url(resource_url, params, max(0, offset - count), "PREVIOUS")
        links.append({"relation": "previous", "url": back})
    if len(page) > count:
        links.append(
            {"relation": "next", "url": _page_url(resource_url, params, offset + count, "NEXT")}
        )
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "searchset",
    }
    if include_total:
        bundle["total"] = rows.count()
    bundle["link"] = links
    entries = [
        {
            "fullUrl": f"{resource_url}/{row.resource['id']}",
            "resource": row.resource,
            "search": {"mode": "match"},
        }
        for row in page[:count]
    ]
    for resource in includes(page[:count]) if includes else []:
        entries.append(
            {
                "fullUrl": f"{fhir_base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "include"},
            }
        )
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle
