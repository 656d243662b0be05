"""Pointing the app at a test's broker keeps it the app that tasks register with."""

from celery import shared_task

from smartapp.celery import app
from smartapp.testing._worker import use_broker


def test_a_task_module_imported_after_a_broker_switch_is_still_registered():
    previous = str(app.conf.broker_url)
    app.finalize()  # as any earlier task call leaves it: later task modules register on import
    use_broker("redis://127.0.0.1:1/0")
    try:

        @shared_task(name="tests.testing.imported_late")
        def imported_late() -> None:
            """Stands for a task module a test imports first after the switch."""

        assert "tests.testing.imported_late" in app.tasks
        connection = app.connection_for_write()
        assert (connection.hostname, connection.port) == ("127.0.0.1", 1)
    finally:
        use_broker(previous)
