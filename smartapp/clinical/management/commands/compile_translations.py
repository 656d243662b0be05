"""`manage.py compile_translations`: every locale/*/LC_MESSAGES/django.po → django.mo with Babel,
so a fresh machine needs no GNU gettext (Django's compilemessages calls msgfmt)."""

import os
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def compile_catalog(po_path: Path) -> int:
    """Writes the .mo beside `po_path`; returns how many messages it translates. Fuzzy entries
    are left out, as msgfmt leaves them out."""
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, abort_invalid=True)
    errors = [(message.id, error) for message, errors in catalog.check() for error in errors]
    if errors:
        raise CommandError(f"{po_path}: {errors[:3]}")
    # Written beside it, then renamed: a server reading the catalog never sees half a file.
    partial = po_path.with_suffix(".mo.partial")
    with partial.open("wb") as mo_file:
        write_mo(mo_file, catalog, use_fuzzy=False)
    os.replace(partial, po_path.with_suffix(".mo"))
    return sum(1 for message in catalog if message.id and message.string and not message.fuzzy)


class Command(BaseCommand):
    help = "Compiles the translations (locale/*/LC_MESSAGES/django.po) into .mo files."

    def handle(self, *args: Any, **options: Any) -> None:
        for locale_path in settings.LOCALE_PATHS:
            for po_path in sorted(Path(locale_path).glob("*/LC_MESSAGES/django.po")):
                count = compile_catalog(po_path)
                if options["verbosity"] > 1:
                    self.stdout.write(f"{po_path}: {count} messages")
