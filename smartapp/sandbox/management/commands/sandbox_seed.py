"""manage.py sandbox_seed: wipe and re-create the sandbox, and write the tenant file."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from smartapp.sandbox import seed


class Command(BaseCommand):
    help = "Re-creates the Millennium sandbox's data and clients (deterministic per --size)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", required=True, help="public URL serving /sandbox/")
        parser.add_argument("--app-url", required=True, help="public URL of the app")
        parser.add_argument(
            "--size", type=int, default=8, help="clinicians; patients are twice this"
        )
        parser.add_argument("--tenants-file", default="", help="where to write the tenant JSON")
        parser.add_argument(
            "--day-appointments",
            type=int,
            default=7,
            help="active appointments the first clinician has today (plus one cancelled)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        clients = seed.seed(
            base_url=options["base_url"],
            app_url=options["app_url"],
            size=max(1, options["size"]),
            day_appointments=options["day_appointments"],
        )
        if options["tenants_file"]:
            document = seed.tenants_document(base_url=options["base_url"], clients=clients)
            seed.write_tenants_file(options["tenants_file"], document)
        self.stdout.write(
            f"Sandbox seeded at {options['base_url']}/sandbox/ ({len(clients)} clients)"
        )
