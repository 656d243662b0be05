from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from smartapp.tenants.services import TenantFileError, tenants_register_file


class Command(BaseCommand):
    help = "Creates or updates tenants and their client registrations from a tenant file (JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "path", nargs="?", help="Tenant file; defaults to settings.TENANTS_FILE."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["path"] or settings.TENANTS_FILE
        if not path:
            raise CommandError("Give a tenant file path (or set TENANTS_FILE).")
        try:
            tenants = tenants_register_file(path=Path(path))
        except TenantFileError as error:
            raise CommandError(str(error)) from None
        for tenant in tenants:
            self.stdout.write(
                f"registered {tenant.slug}: {tenant.clients.count()} client(s), "
                f"{tenant.service_types.count()} service type(s)"
            )
