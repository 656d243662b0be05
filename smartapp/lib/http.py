"""The one outbound HTTP session: explicit timeouts, retries only for idempotent reads.

Every call to an EHR (authorization server, FHIR, Messages API) goes through `session()`.
Each call is logged once, here: method, host, path, status, correlation id, elapsed time and the
caller's summary (`what`), never headers or bodies (they carry tokens and PHI).
"""

import logging
import threading
import time
import uuid
from typing import Any, TypedDict
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.util.retry import Retry

from smartapp.monitoring.metrics import count_ehr_call

logger = logging.getLogger("smartapp.http")
_local = threading.local()

CORRELATION_HEADERS = ("opc-request-id", "X-Request-Id", "Cerner-Correlation-Id")

Auth = tuple[str, str] | AuthBase
Params = dict[str, Any]


class Environment(TypedDict):
    """What requests reads from the process environment for one URL (proxies, CA bundle)."""

    proxies: dict[str, str]
    stream: bool | None
    verify: bool | str | None
    cert: str | tuple[str, str] | None


class TimeoutSession:
    """A pooled `requests.Session` behind the few calls the app makes."""

    def __init__(self) -> None:
        self._http = _pooled()
        self._environment: dict[tuple[str, str], Environment] = {}  # (scheme, host) -> settings

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        data: str | dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        auth: Auth | None = None,
        allow_redirects: bool = True,
        what: str = "",
    ) -> requests.Response:
        """Sends one request; `what` names it in the log line (types and ids, never PHI)."""
        headers = {"opc-request-id": uuid.uuid4().hex, **(headers or {})}
        request = requests.Request(
            method, url, params=params, data=data, json=json, headers=headers, auth=auth
        )
        prepared = self._http.prepare_request(request)
        started = time.perf_counter()
        try:
            response = self._http.send(
                prepared,
                timeout=(settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT),
                allow_redirects=allow_redirects,
                **self.environment(url),
            )
        except requests.RequestException as error:
            count_ehr_call(method, url, type(error).__name__, time.perf_counter() - started)
            raise
        elapsed = time.perf_counter() - started
        count_ehr_call(method, url, str(response.status_code), elapsed)
        _log(method, url, response, headers["opc-request-id"], elapsed, what)
        return response

    def get(
        self,
        url: str,
        *,
        params: Params | None = None,
        headers: dict[str, str] | None = None,
        what: str = "",
    ) -> requests.Response:
        return self.request("GET", url, params=params, headers=headers, what=what)

    def post(
        self,
        url: str,
        *,
        data: str | dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        auth: Auth | None = None,
        what: str = "",
    ) -> requests.Response:
        return self.request(
            "POST", url, data=data, json=json, headers=headers, auth=auth, what=what
        )

    def environment(self, url: str) -> Environment:
        """The proxy and CA-bundle environment for `url`, read once per host.

        requests scans the whole process environment on each call (a noticeable share of a small
        FHIR call's CPU); the environment does not change while a process runs.
        """
        host = urlsplit(url)[:2]
        if host not in self._environment:
            read = self._http.merge_environment_settings(url, {}, None, None, None)
            self._environment[host] = Environment(
                proxies=dict(read["proxies"]),
                stream=read["stream"],
                verify=read["verify"],
                cert=read["cert"],
            )
        cached = self._environment[host]
        return {**cached, "proxies": dict(cached["proxies"])}


def _log(
    method: str, url: str, response: requests.Response, sent_id: str, elapsed: float, what: str
) -> None:
    parts = urlsplit(url)
    logger.info(
        "%s %s%s -> %s correlation=%s elapsed_ms=%.1f%s",
        method.upper(),
        parts.netloc,
        parts.path,
        response.status_code,
        correlation_id(response) or sent_id,
        elapsed * 1000,
        f" what={what}" if what else "",
    )


def correlation_id(response: requests.Response) -> str:
    """The EHR's id for this exchange, for support tickets and the audit trail."""
    for name in CORRELATION_HEADERS:
        if response.headers.get(name):
            return response.headers[name]
    return ""


def _pooled() -> requests.Session:
    http = requests.Session()
    retry = Retry(
        total=2,
        backoff_factor=0.2,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "OPTIONS"}),  # never retry a write blindly
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=20, pool_maxsize=20)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


def session() -> TimeoutSession:
    """A per-thread pooled session (requests.Session is not safe to share across threads)."""
    if not hasattr(_local, "session"):
        _local.session = TimeoutSession()
    found: TimeoutSession = _local.session  # tests put a fake here (tests/fakehttp.py)
    return found
