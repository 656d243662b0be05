"""Is a patient page all in Spanish? The checker the Spanish tests share.

"Ours" is every visible text the page shows that is not the EHR's own data: a text node that
reads the same in the English and the Spanish page, has letters, and is not found in the
sandbox's records (names, places, appointments, visits, message subjects and bodies) or the
hospital's own words is an untranslated string.
"""

import json
import re
from html.parser import HTMLParser

from smartapp.lib.html_text import plain_text
from smartapp.payments.models import Payment
from smartapp.sandbox.models import (
    Appointment,
    Encounter,
    Location,
    Patient,
    PortalMessage,
    Practitioner,
)
from smartapp.tenants.models import ServiceType, Tenant

# data-label is shown as the column name on a phone (CSS attr()); the others are read aloud.
SHOWN_ATTRIBUTES = {"aria-label", "placeholder", "alt", "title", "data-label"}
NOT_WORDS = {"smartapp", "English", "Español"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "title", "head"):
            self._hidden += 1
        if not self._hidden:  # what people see or hear that is not a text node
            # an <input type=submit>'s value is its label; a <button>'s value is never shown
            button = tag == "input" and dict(attrs).get("type") in ("submit", "button", "reset")
            for name, value in attrs:
                if name in SHOWN_ATTRIBUTES or (name == "value" and button):
                    self.handle_data(value or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title", "head"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._hidden:
            self.texts.append(text)


def visible_texts(page: str) -> list[str]:
    parser = _Visible()
    parser.feed(page)
    return parser.texts


def _ehr_data() -> str:
    """Everything the EHR (the sandbox) says about people, places and visits, and the hospital's
    own words from its tenant file, as one text."""
    rows = [
        *Patient.objects.values_list("resource", flat=True),
        *Practitioner.objects.values_list("resource", flat=True),
        *Location.objects.values_list("resource", flat=True),
        *Appointment.objects.values_list("resource", flat=True),
        *Encounter.objects.values_list("resource", flat=True),
        *PortalMessage.objects.values_list("subject", flat=True),
        *map(plain_text, PortalMessage.objects.values_list("content", flat=True)),  # bodies
        *ServiceType.objects.values_list("display", flat=True),
        *Tenant.objects.values_list("name", "what_to_bring", "how_to_cancel"),  # the hospital's
        *Payment.objects.values_list("posting_id", flat=True),  # payment references: ids, not words
    ]
    return json.dumps(rows, ensure_ascii=False)


def untranslated(english: str, spanish: str) -> list[str]:
    same = set(visible_texts(english)) & set(visible_texts(spanish))
    data = _ehr_data()
    return sorted(
        text
        for text in same
        if re.search(r"[A-Za-z]{2}", text)
        and text not in NOT_WORDS
        and not all(
            part.strip(" ,·()") in data for part in re.split(r"[·,()]", text) if part.strip(" ,·()")
        )
    )


def assert_all_spanish(client, url: str, spanish_phrase: str, **extra) -> str:
    """Renders `url` in English and in Spanish (Accept-Language); fails on `<html lang>`, on a
    missing `spanish_phrase` and on any text of ours left in English. Returns the Spanish page."""
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en", **extra)
    spanish = client.get(url, HTTP_ACCEPT_LANGUAGE="es", **extra)
    assert english.status_code == spanish.status_code, (english.status_code, spanish.status_code)
    english_page, spanish_page = english.content.decode(), spanish.content.decode()
    assert '<html lang="es">' in spanish_page and '<html lang="en">' in english_page
    assert spanish_phrase in spanish_page, spanish_page[:3000]
    left_in_english = untranslated(english_page, spanish_page)
    assert left_in_english == [], left_in_english
    return spanish_page
