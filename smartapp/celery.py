import os

from smartapp.monitoring import worker_metrics

worker_metrics.share_counters_between_pool_processes()  # before any counter is made

from celery import Celery  # noqa: E402
from celery.signals import (  # noqa: E402
    task_prerun,
    worker_init,
    worker_process_shutdown,
)

from smartapp.lib.logs import log_context_start  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartapp.settings")

app = Celery("smartapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _task_log_context(task_id: str | None = None, **_: object) -> None:
    """A task's log lines carry its id as their correlation id (as a request's carry theirs)."""
    log_context_start(correlation_id=task_id or "")


@worker_init.connect
def _serve_worker_metrics(**_: object) -> None:
    from django.conf import settings

    if settings.WORKER_METRICS_PORT:
        worker_metrics.serve_worker_metrics(
            port=settings.WORKER_METRICS_PORT, token=settings.METRICS_TOKEN
        )


@worker_process_shutdown.connect
def _forget_pool_process(pid: int | None = None, **_: object) -> None:
    from django.conf import settings

    if settings.WORKER_METRICS_PORT and pid:
        worker_metrics.forget_pool_process(pid)
