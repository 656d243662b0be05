from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _register_tenants_file(sender: AppConfig, **kwargs: Any) -> None:
    # Deployments run `migrate` at start-up, so the tenant file is (re)loaded then.
    from pathlib import Path

    from django.conf import settings

    from smartapp.tenants.services import tenants_register_file

    if settings.TENANTS_FILE and Path(settings.TENANTS_FILE).exists():
        tenants_register_file(path=Path(settings.TENANTS_FILE))


class TenantsConfig(AppConfig):
    name = "smartapp.tenants"
    label = "tenants"

    def ready(self) -> None:
        post_migrate.connect(_register_tenants_file, sender=self)
