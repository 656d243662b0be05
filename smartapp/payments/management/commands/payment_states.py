"""`manage.py payment_states`: the payment state table as a Mermaid diagram (for the README)."""

from typing import Any

from django.core.management.base import BaseCommand

from smartapp.payments.transitions import mermaid


class Command(BaseCommand):
    help = "Prints the payment state table as a Mermaid state diagram."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(mermaid(), ending="")
