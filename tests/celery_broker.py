"""Pointing the app's Celery at a test's broker."""


def celery_use_broker(url: str) -> None:
    """Publishes and control calls go to `url` from now on.

    `app.close()` drops the connection pool, but the AMQP producer pool and control's mailbox
    (cached on the app) stay bound to the first broker ever used: after a publish to the default
    one failed, `control.inspect()` would keep dialling it.
    """
    from smartapp.celery import app

    app.conf.update(broker_url=url)
    app.close()
    for cached in ("amqp", "control", "events"):
        app.__dict__.pop(cached, None)
