"""Pointing the app's Celery at a test's broker: the test kit's (smartapp.testing) way, which
also drops the producer pool and control mailbox Celery caches on the app."""

from smartapp.testing._worker import use_broker as celery_use_broker

__all__ = ["celery_use_broker"]
