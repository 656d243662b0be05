"""gunicorn settings shared by the demo, the benchmarks and docker-compose (`-c gunicorn.conf.py`).

Command-line flags given by each runner (bind, workers) override these defaults.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))  # the app waits on the EHR: threads
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = "-"
# The path without its query string (%(U)s), and no Referer: OAuth callbacks carry `code` and
# `state` in the query, processor returns carry session ids. Never in a log.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
