"""`manage.py payments_reconcile --date YYYY-MM-DD [--tenant slug] [--csv file]`: the day's
processor charges against our postings; exits 1 when there are exceptions."""

import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from smartapp.payments.reconciliation import (
    reconciliation_csv,
    reconciliation_for,
    reconciliation_record,
)
from smartapp.tenants.models import Tenant


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date must be YYYY-MM-DD, not {value!r}") from None


class Command(BaseCommand):
    help = "Reconciles a day's card processor charges and refunds with the postings to Millennium."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", default="", help="the clinic's calendar day (default: today)")
        parser.add_argument("--tenant", default="", help="one tenant's slug (default: all)")
        parser.add_argument("--csv", default="", help="also write every row to this CSV file")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.filter(enabled=True)
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        exceptions, rows = 0, []
        for tenant in tenants:
            day = (
                _day(options["date"])
                if options["date"]
                else timezone.now().astimezone(tenant.zone).date()
            )
            report = reconciliation_for(tenant=tenant, day=day)
            reconciliation_record(report=report)
            counts = ", ".join(f"{n} {verdict}" for verdict, n in report.counts().items() if n)
            self.stdout.write(f"{tenant.slug} {day}: {counts or 'no payments'}")
            if report.processor_note:
                self.stdout.write(f"  {report.processor_note}")
            for row in report.exceptions:
                self.stdout.write(f"  {row.verdict}: {row.reference or '-'} {row.why}")
            exceptions += len(report.exceptions)
            rows.append(reconciliation_csv(report))
        if options["csv"]:
            header, *_ = rows[0].splitlines(keepends=True) if rows else [""]
            body = "".join("".join(r.splitlines(keepends=True)[1:]) for r in rows)
            Path(options["csv"]).write_text(header + body)
        if exceptions:
            sys.exit(1)
