"""The FHIR gateway: the only code that calls FHIR servers.

It owns timeouts (via smartapp.lib.http), typed errors, paging rules and the audit trail.
Logs carry resource types, ids, statuses and correlation ids, never tokens, names or bodies.
"""

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from fhirclient.models.resource import Resource
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from smartapp.audit import services as audit
from smartapp.fhir.errors import FhirError, Timeout, Unreachable, error_from_response
from smartapp.fhir.references import BadReference, parse_reference
from smartapp.fhir.resources import parse_resource
from smartapp.lib.http import correlation_id, session

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
TokenProvider = Callable[[], str]
TokenRenewer = Callable[[str], str]  # the refused token → a new one (or raises)
FHIR_JSON = "application/fhir+json"
JSON_PATCH = "application/json-patch+json"
_ETAG = re.compile(r'^(?:W/)?"?(?P<version>[^"]*)"?$')
# Search parameters whose values are ids, safe to keep in the audit trail (others may be PHI).
ID_PARAMS = {
    "_id",
    "patient",
    "subject",
    "encounter",
    "-encounter",
    "_count",
    "actor",
    "practitioner",
    "location",
    "-location",
    "schedule.actor",
    "status",
    "_include",
}
MAX_PAGES = 50


@dataclass(frozen=True)
class AuditContext:
    who: str
    tenant: str
    launch_id: str | None = None
    patient_id: str = ""
    reason: str = ""


@dataclass
class SearchResult:
    resources: list[Resource]
    next_url: str | None
    included: list[Resource] = field(
        default_factory=list
    )  # `_include` entries (search.mode include)


@dataclass
class JsonSearchResult:
    """A search's entries as JSON dicts (see `FhirGateway.search_json`)."""

    resources: list[dict[str, Any]]
    next_url: str | None
    included: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Written:
    """What a create or patch answered: the resource id and its new version (from ETag)."""

    resource_id: str
    version: str
    correlation: str = ""  # the EHR's id for the exchange (support tickets, payment attempts)


def etag_version(etag: str | None) -> str:
    """`W/"10"` → `10` (the value to send back in If-Match)."""
    match = _ETAG.match((etag or "").strip())
    return match["version"] if match else ""


def query_summary(resource_type: str, params: dict[str, Any]) -> str:
    parts = [f"{k}={v}" if k in ID_PARAMS else k for k, v in sorted(params.items())]
    return f"{resource_type}?{'&'.join(parts)}"


def _never_sent(error: requests.ConnectionError) -> bool:
    """True only when the connection was never established, so the request cannot have arrived."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme.lower(), a.netloc.lower()) == (b.scheme.lower(), b.netloc.lower())


class FhirGateway:
    def __init__(
        self,
        *,
        base_url: str,
        token: TokenProvider,
        audit_context: AuditContext | None = None,
        renew: TokenRenewer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._audit = audit_context
        self._renew = renew

    def _get(self, url: str, params: dict[str, Any] | None, what: str) -> requests.Response:
        """A GET; answered 401 (a token revoked, keys rotated), it renews the token and reads once
        more (a read is safe to repeat)."""
        token = self._token()
        response = self._get_with(token, url, params, what)
        if response.status_code == 401 and self._renew is not None:
            logger.info("fhir 401 %s: renewing the token and reading once more", what)
            response = self._get_with(self._renew(token), url, params, what)
        return response

    def _get_with(
        self, token: str, url: str, params: dict[str, Any] | None, what: str
    ) -> requests.Response:
        headers = {"Accept": FHIR_JSON, "Authorization": f"Bearer {token}"}
        try:
            response = session().get(url, params=params, headers=headers, what=what)
        except requests.Timeout:
            logger.warning("fhir timeout %s", what)
            raise Timeout(f"The EHR did not answer in time ({what}).") from None
        except requests.RequestException as error:
            logger.warning("fhir unreachable %s: %s", what, type(error).__name__)
            raise Unreachable(f"The EHR could not be reached ({what}).") from None
        return response

    def _record(
        self, action: str, what: str, response: requests.Response | None, patient_id: str = ""
    ) -> None:
        if self._audit is None:
            return
        audit.record(
            who=self._audit.who,
            tenant=self._audit.tenant,
            action=action,
            what=what,
            patient_id=patient_id or self._audit.patient_id,
            launch_id=self._audit.launch_id,
            status=response.status_code if response is not None else None,
            correlation_id=correlation_id(response) if response is not None else "",
            reason=self._audit.reason,
        )

    def _json(self, response: requests.Response, what: str) -> dict[str, Any]:
        if not 200 <= response.status_code < 300:
            raise error_from_response(response)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise FhirError(
                f"The EHR sent an unreadable answer ({what}).",
                status=response.status_code,
                correlation=correlation_id(response),
            )
        return data

    def read(self, resource_type: str, resource_id: str) -> Resource:
        """Reads one resource by type and id."""
        return parse_resource(self.read_json(resource_type, resource_id))

    def read_json(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """`read` without the fhirclient model: the resource's JSON as sent (checked type and id)."""
        what = f"{resource_type}/{resource_id}"
        response = None
        try:
            response = self._get(f"{self.base_url}/{what}", None, what)
            data = self._json(response, what)
        finally:
            patient = resource_id if resource_type == "Patient" else ""
            self._record("read", what, response, patient)
        if data.get("resourceType") != resource_type or str(data.get("id")) != str(resource_id):
            raise FhirError(
                f"The EHR answered {what} with another resource.", status=response.status_code
            )
        return data

    def _page(
        self, url: str, params: dict[str, Any] | None, what: str, searched: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
        response = None
        try:
            response = self._get(url, params, what)
            bundle = self._json(response, what)
        finally:
            self._record("search", what, response)
        matches, included = _split_entries(bundle, searched)
        return matches, included, _next_link(bundle)

    def _safe_next(self, next_url: str | None) -> str | None:
        if next_url and not _same_origin(next_url, self.base_url):
            logger.warning(
                "fhir ignored a next link on another origin %s", urlsplit(next_url).netloc
            )
            return None
        return next_url

    def _search_pages(
        self, resource_type: str, params: dict[str, Any], *, all_pages: bool, max_pages: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
        what = query_summary(resource_type, params)
        raw, included, next_url = self._page(
            f"{self.base_url}/{resource_type}", params, what, resource_type
        )
        next_url = self._safe_next(next_url)
        pages = 1
        while all_pages and next_url and pages < max_pages:
            more, more_included, next_url = self._page(
                next_url, None, f"{resource_type} next page", resource_type
            )
            next_url = self._safe_next(next_url)
            raw.extend(more)
            included.extend(more_included)
            pages += 1
        return dedupe_resources(raw), dedupe_resources(included), next_url

    def search(
        self,
        resource_type: str,
        params: dict[str, Any],
        *,
        all_pages: bool = False,
        max_pages: int = MAX_PAGES,
    ) -> SearchResult:
        """Searches; follows `link[next]` (same origin only) when `all_pages`; de-duplicates by id.

        `next_url` stays set when `max_pages` stopped the paging early (more results exist).
        """
        raw, included, next_url = self._search_pages(
            resource_type, params, all_pages=all_pages, max_pages=max_pages
        )
        return SearchResult(
            resources=[parse_resource(r) for r in raw],
            next_url=next_url,
            included=[parse_resource(r) for r in included],
        )

    def search_json(
        self,
        resource_type: str,
        params: dict[str, Any],
        *,
        all_pages: bool = False,
        max_pages: int = MAX_PAGES,
    ) -> JsonSearchResult:
        """`search` without the fhirclient models: the entries' JSON as sent (same calls, paging,
        de-duplication and audit). For list pages that read a few fields of many resources, where
        building a model per resource would cost more than the rest of the page."""
        raw, included, next_url = self._search_pages(
            resource_type, params, all_pages=all_pages, max_pages=max_pages
        )
        return JsonSearchResult(resources=raw, next_url=next_url, included=included)

    def _send(
        self, method: str, url: str, body: Any, content_type: str, extra: dict[str, str], what: str
    ) -> requests.Response:
        headers = {
            "Accept": FHIR_JSON,
            "Content-Type": content_type,
            "Authorization": f"Bearer {self._token()}",
            **extra,
        }
        try:
            response = session().request(
                method, url, data=json.dumps(body), headers=headers, what=what
            )
        except requests.ConnectionError as error:
            if _never_sent(error):
                # The connection was never made: safe to say nothing was written.
                logger.warning("fhir unreachable %s %s: %s", method, what, type(error).__name__)
                raise Unreachable(f"The EHR could not be reached ({what}).") from None
            # Dropped after the request went out: the write may or may not have happened.
            logger.warning("fhir connection dropped %s %s", method, what)
            raise Timeout(f"The EHR dropped the connection before answering ({what}).") from None
        except requests.Timeout:
            # Sent, no answer: the write may or may not have happened.
            logger.warning("fhir timeout %s %s", method, what)
            raise Timeout(f"The EHR did not answer in time ({what}).") from None
        return response

    def create(self, resource_type: str, body: dict[str, Any], *, patient_id: str = "") -> Written:
        """POSTs a new resource; returns its id (from Location) and version (from ETag)."""
        response = None
        what = f"{resource_type} create"
        try:
            response = self._send(
                "POST", f"{self.base_url}/{resource_type}", body, FHIR_JSON, {}, what
            )
            if not 200 <= response.status_code < 300:
                raise error_from_response(response)
            try:
                ref = parse_reference(response.headers.get("Location", "").split("/_history")[0])
            except BadReference:
                raise FhirError(
                    f"The EHR did not say where it created the {resource_type}.",
                    status=response.status_code,
                ) from None
            what = f"{ref.relative} create"
        finally:
            self._record("write", what, response, patient_id)
        return Written(
            ref.resource_id, etag_version(response.headers.get("ETag")), correlation_id(response)
        )

    def patch(
        self,
        resource_type: str,
        resource_id: str,
        operations: list[dict[str, Any]],
        *,
        version: str,
        patient_id: str = "",
    ) -> Written:
        """JSON-Patches a resource at the version the caller saw (If-Match)."""
        what = f"{resource_type}/{resource_id}"
        response = None
        try:
            response = self._send(
                "PATCH",
                f"{self.base_url}/{what}",
                operations,
                JSON_PATCH,
                {"If-Match": f'W/"{version}"'},
                f"{what} patch",
            )
            if not 200 <= response.status_code < 300:
                raise error_from_response(response)
        finally:
            self._record("write", f"{what} patch", response, patient_id)
        return Written(resource_id, etag_version(response.headers.get("ETag")))


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _split_entries(
    bundle: dict[str, Any], searched: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A search Bundle's matches and `_include`d resources; OperationOutcomes left out.

    Without `search.mode` (Millennium leaves it out of some bundles) a resource of the searched
    type is a match and any other an include, so an included Schedule is never taken for a Slot.
    """
    matches: list[dict[str, Any]] = []
    included: list[dict[str, Any]] = []
    for entry in _dicts(bundle.get("entry")):
        resource = entry.get("resource")
        if not isinstance(resource, dict) or resource.get("resourceType") == "OperationOutcome":
            continue
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        if mode not in ("match", "include"):
            mode = "match" if resource.get("resourceType") == searched else "include"
        (included if mode == "include" else matches).append(resource)
    return matches, included


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in _dicts(bundle.get("link")):
        url = link.get("url")
        if link.get("relation") == "next" and isinstance(url, str) and url:
            return url
    return None


def _identity(resource: Any) -> tuple[str, str] | None:
    if isinstance(resource, dict):
        kind, ident = resource.get("resourceType"), resource.get("id")
    else:
        kind, ident = getattr(resource, "resource_type", None), getattr(resource, "id", None)
    return None if ident is None else (str(kind), str(ident))


def dedupe_resources(resources: Iterable[R]) -> list[R]:
    """Resources (JSON or models) once each by type and id, first seen first: Cerner's rule
    wherever pages or searches are merged. Resources without an id are all kept."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for resource in resources:
        key = _identity(resource)
        if key is None or key not in seen:
            if key is not None:
                seen.add(key)
            unique.append(resource)
    return unique


def fetch_parallel(calls: Mapping[str, Callable[[], T]], *, max_workers: int = 6) -> dict[str, T]:
    """Runs independent gateway calls at once; re-raises the first error after all finish.

    Inside a transaction they run in turn: a thread has its own database connection, which
    cannot see the transaction's uncommitted rows (and on SQLite would wait for its lock)."""
    from django.db import close_old_connections, connection

    if len(calls) <= 1 or connection.in_atomic_block:  # no thread, no extra DB connection
        return {name: call() for name, call in calls.items()}

    def run(call: Callable[[], T]) -> T:
        try:
            return call()
        finally:
            close_old_connections()  # worker threads open their own DB connections (audit rows)

    with ThreadPoolExecutor(max_workers=min(max_workers, max(len(calls), 1))) as pool:
        futures = {name: pool.submit(run, call) for name, call in calls.items()}
    return {name: future.result() for name, future in futures.items()}
