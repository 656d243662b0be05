"""gunicorn settings shared by the demo, the benchmarks and docker-compose (`-c gunicorn.conf.py`).

Command-line flags given by each runner (bind, workers) override these defaults.
"""

import os
import tempfile
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))  # the app waits on the EHR: threads
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
# gunicorn 27's control socket sits in $HOME: two web processes of one user would share it.
control_socket_disable = True
# The path without its query string (%(U)s), and no Referer: OAuth callbacks carry `code` and
# `state` in the query, processor returns carry session ids. Never in a log.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'

# Request and EHR-call counters are per process; gunicorn's workers share them through files here
# (prometheus_client's multiprocess mode), so /metrics tells the same whichever worker answers.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="smartapp-metrics-")


def on_starting(server):  # a new master: counts of an earlier run are not ours
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# LOG_FORMAT=json: gunicorn's own lines (errors, and the access line as "message") in JSON too.
if os.environ.get("LOG_FORMAT", "plain").lower() == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "smartapp.lib.logs.JsonFormatter"}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["stderr"], "level": "INFO"},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        },
    }
