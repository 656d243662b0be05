import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smartapp.tenants.doctor import OK, PROBLEM, diagnose
from smartapp.tenants.models import Tenant

MARKS = {OK: "OK     ", PROBLEM: "PROBLEM", "warning": "WARNING"}


class Command(BaseCommand):
    help = "Checks a tenant's SMART configuration, endpoints and system client; explains what is wrong."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="The tenant's slug.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        findings = diagnose(tenant)
        for finding in findings:
            self.stdout.write(f"{MARKS[finding.level]} {finding.text}")
        problems = sum(1 for f in findings if f.level == PROBLEM)
        if problems:
            self.stdout.write(f"{problems} problem(s) found for {tenant.slug}.")
            sys.exit(1)
        self.stdout.write(f"{tenant.slug}: everything checked is fine.")
