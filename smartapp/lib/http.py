"""The one outbound HTTP session: explicit timeouts, retries only for idempotent reads.

Every call to an EHR (authorization server, FHIR, Messages API) goes through `session()`.
Logs name the method, host, path and status, never headers or bodies (they carry tokens and PHI).
"""

import logging
import threading
import time
import uuid
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger("smartapp.http")
_local = threading.local()

CORRELATION_HEADERS = ("opc-request-id", "X-Request-Id", "Cerner-Correlation-Id")


class TimeoutSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[tuple[str, str], dict] = {}  # (scheme, host) -> settings

    def merge_environment_settings(
        self, url: str, proxies: dict, stream: object, verify: object, cert: object
    ) -> dict:
        """Reads the proxy and CA-bundle environment once per host, not on every request.

        requests scans the whole process environment on each call (a noticeable share of a small
        FHIR call's CPU); the environment does not change while a process runs.
        """
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        host = urlsplit(url)[:2]
        if host not in self._environment:
            self._environment[host] = super().merge_environment_settings(url, {}, None, None, None)
        found = self._environment[host]
        return {**found, "proxies": dict(found["proxies"])}

    def request(self, method: str, url: str, *args, **kwargs) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", (settings.HTTP_CONNECT_TIMEOUT, settings.HTTP_READ_TIMEOUT))
        headers = kwargs.pop("headers", None) or {}
        headers.setdefault("opc-request-id", uuid.uuid4().hex)
        started = time.perf_counter()
        response = super().request(method, url, *args, headers=headers, **kwargs)
        elapsed_ms = (time.perf_counter() - started) * 1000
        parts = urlsplit(url)
        logger.info(
            "%s %s%s -> %s correlation=%s elapsed_ms=%.1f",
            method.upper(),
            parts.netloc,
            parts.path,
            response.status_code,
            correlation_id(response),
            elapsed_ms,
        )
        return response


def correlation_id(response: requests.Response) -> str:
    """The EHR's id for this exchange, for support tickets and the audit trail."""
    for name in CORRELATION_HEADERS:
        if response.headers.get(name):
            return response.headers[name]
    return ""


def _new_session() -> TimeoutSession:
    http = TimeoutSession()
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
        _local.session = _new_session()
    return _local.session
