"""Fixtures for these tests: a fake SMART server (see tests/fakehttp.py)."""

from tests.fakehttp import fake_ehr, fake_tenant  # noqa: F401
