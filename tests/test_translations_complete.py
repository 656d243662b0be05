"""Every text the code and templates mark for translation has its Spanish in the repository's
.po file: makemessages runs on a copy of the checkout (so the real file is left alone) and the
regenerated catalog has no empty and no fuzzy entry. A new `{% translate %}` without its Spanish
fails here, before the Spanish page tests find it on a page."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

CHECKOUT = Path(__file__).resolve().parents[1]


def test_every_marked_text_has_its_spanish(tmp_path):
    for part in ("smartapp", "templates", "locale"):
        shutil.copytree(CHECKOUT / part, tmp_path / part, ignore=shutil.ignore_patterns("*.mo"))
    shutil.copy(CHECKOUT / "manage.py", tmp_path)
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "es",
            "-v",
            "0",
            "--ignore",
            "templates/sandbox/*",
            "--ignore",
            "smartapp/sandbox/*",
        ],  # fmt: skip
        cwd=tmp_path,
        env={**os.environ, "DJANGO_DEBUG": "1"},
        check=True,
    )
    with (tmp_path / "locale/es/LC_MESSAGES/django.po").open("rb") as po_file:
        catalog = read_po(po_file)
    entries = [message for message in catalog if message.id]

    missing = [m.id for m in entries if not all(m.string) or not m.string]
    fuzzy = [m.id for m in entries if m.fuzzy]

    assert len(entries) > 400
    assert missing == [] and fuzzy == [], (missing, fuzzy)
