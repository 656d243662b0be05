"""Shared fixtures: a live server that serves both the app and the Millennium sandbox.

The app reaches the sandbox over real HTTP at `live_server.url + "/sandbox/…"`, exactly as it
would reach Millennium. See CONTRIBUTING notes in README ("Tests").
"""

import json
import os
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from the test
# body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SANDBOX_TENANT_ID = "ec2458f2-1e24-41c8-b71b-0e701af7583d"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sandbox_tenants_file(live_server, tmp_path: Path) -> Path:
    """Seeds the sandbox (served by the live server) and writes the tenant file describing it."""
    path = tmp_path / "tenants.json"
    call_command(
        "sandbox_seed",
        base_url=live_server.url,
        app_url=live_server.url,
        size=8,
        tenants_file=str(path),
    )
    return path


@pytest.fixture
def tenant(sandbox_tenants_file: Path):
    """The sandbox tenant registered in the app, as the demo registers it."""
    from smartapp.tenants.models import Tenant

    call_command("register_tenants", str(sandbox_tenants_file))
    slug = json.loads(sandbox_tenants_file.read_text())["tenants"][0]["slug"]
    return Tenant.objects.get(slug=slug)
