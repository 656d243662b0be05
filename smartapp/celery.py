import os

from celery import Celery
from celery.signals import task_prerun

from smartapp.lib.logs import log_context_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartapp.settings")

app = Celery("smartapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _task_log_context(task_id: str | None = None, **_: object) -> None:
    """A task's log lines carry its id as their correlation id (as a request's carry theirs)."""
    log_context_start(correlation_id=task_id or "")
