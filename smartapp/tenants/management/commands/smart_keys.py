"""`manage.py smart_keys create|list|rotate|retire`: the app's keys for signed client assertions.

The public keys are served at /.well-known/jwks.json: register that URL once in Oracle's code
console (or the SMART server's client registration); rotation never changes it.
"""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from smartapp.tenants import client_keys
from smartapp.tenants.models import ClientKey


class Command(BaseCommand):
    help = "Creates, lists, rotates and retires the keys that sign private_key_jwt assertions."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="a new key (signs at once if none signs)")
        create.add_argument("--algorithm", choices=client_keys.ALGORITHMS, default="ES384")
        actions.add_parser("list", help="every key and its state")
        rotate = actions.add_parser("rotate", help="publish a next key, or let it sign")
        rotate.add_argument(
            "--publish-lead-minutes",
            type=int,
            default=int(client_keys.PUBLISH_LEAD.total_seconds() // 60),
            help="how long a new key is published before it may sign (default 60)",
        )
        retire = actions.add_parser("retire", help="unpublish keys whose assertions expired")
        retire.add_argument("--kid", default="", help="one key (never the signing one)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except client_keys.KeyCommandRefused as refused:
            raise CommandError(str(refused)) from None

    def _create(self, options: dict[str, Any]) -> None:
        key = client_keys.key_create(algorithm=options["algorithm"])
        self.stdout.write(f"{key.kid} {key.algorithm} {key.get_state_display()}")

    def _list(self, options: dict[str, Any]) -> None:
        rows = ClientKey.objects.all()
        if not rows:
            self.stdout.write("No keys. Create one with: manage.py smart_keys create")
        for key in rows:
            until = f" until {key.published_until:%Y-%m-%d %H:%M}" if key.published_until else ""
            self.stdout.write(
                f"{key.kid}  {key.algorithm}  {key.get_state_display()}{until}  "
                f"(published {key.published_at:%Y-%m-%d %H:%M})"
            )

    def _rotate(self, options: dict[str, Any]) -> None:
        lead = timedelta(minutes=options["publish_lead_minutes"])
        key, what = client_keys.key_rotate(publish_lead=lead)
        self.stdout.write(f"{key.kid}: {what}")

    def _retire(self, options: dict[str, Any]) -> None:
        retired = client_keys.keys_retire(kid=options["kid"])
        self.stdout.write(
            "\n".join(f"{key.kid}: retired" for key in retired) or "Nothing to retire yet."
        )
