"""A Celery worker's own /metrics: the EHR calls and token refreshes its pool processes made.

Web processes count only what they do; a worker's EHR calls (Account searches, posts of payments,
system tokens) happen in its pool's child processes, which answer no HTTP. With
WORKER_METRICS_PORT set, the children share their counters through prometheus_client's
multiprocess files and the worker's main process serves them on that port, behind the same bearer
token as the web's /metrics. Payment figures stay on the web's /metrics (they come from the
database, the same whichever process reads them).
"""

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

logger = logging.getLogger(__name__)
StartResponse = Callable[..., Any]
Wsgi = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def share_counters_between_pool_processes() -> None:
    """Before prometheus_client is first imported (it picks its mode then): counters in files.

    Read straight from the environment: Django's settings are not loaded yet. A bad value is
    refused loudly by the settings a moment later."""
    port = os.environ.get("WORKER_METRICS_PORT", "").strip()
    if port not in ("", "0") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = tempfile.mkdtemp(prefix="smartapp-worker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Scrapes every few seconds would drown the worker's log."""


def metrics_app(*, token: str) -> Wsgi:
    """GET /metrics with `Authorization: Bearer <token>`: the pool's counters, added up (the
    web's counters and token check; not its payment figures)."""
    from prometheus_client import make_wsgi_app

    from smartapp.monitoring import metrics

    served = make_wsgi_app(metrics.counters_registry())

    def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Only /metrics is served here.\n"]
        if not metrics.scrape_allowed(str(environ.get("HTTP_AUTHORIZATION", "")), token=token):
            headers = [("Content-Type", "text/plain"), ("WWW-Authenticate", metrics.SCRAPE_CHALLENGE)]  # fmt: skip
            start_response("401 Unauthorized", headers)
            return [metrics.SCRAPE_REFUSED.encode()]
        return served(environ, start_response)

    return guarded


def serve_worker_metrics(*, port: int, token: str) -> None:
    """Starts serving in a daemon thread (it dies with the worker); counts of a worker that ran
    before in this folder are dropped first. A port already taken is logged, not fatal: posting
    payments matters more than counting them."""
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()
    try:
        server = make_server("0.0.0.0", port, metrics_app(token=token), handler_class=_QuietHandler)  # noqa: S104 - the container's network
    except OSError as error:
        logger.error("worker metrics not served: port %s: %s", port, error.strerror or error)
        return
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    logger.info("worker metrics on port %s (/metrics, bearer token)", port)


def forget_pool_process(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
