"""Patient pages in Spanish: the language follows the browser (Accept-Language) or the switch on
every patient page (remembered), and no text of ours is left in English.

"Ours" is every visible text the page shows that is not the EHR's own data: a text node that
reads the same in the English and the Spanish page, has letters, and is not found in the
sandbox's records (names, places, visit types, message subjects) is an untranslated string.
"""

import json
import re
from html.parser import HTMLParser

import pytest

from smartapp.sandbox.models import Appointment, Location, Patient, PortalMessage, Practitioner
from smartapp.tenants.models import ServiceType, Tenant

pytestmark = pytest.mark.django_db(transaction=True)
NOT_WORDS = {"smartapp", "English", "Español"}


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "title", "head"):
            self._hidden += 1

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
        *PortalMessage.objects.values_list("subject", flat=True),
        *ServiceType.objects.values_list("display", flat=True),
        *Tenant.objects.values_list("name", "what_to_bring", "how_to_cancel"),  # the hospital's
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


TRANSLATED_PAGES = {"home/": "Su próxima cita", "appointments/": "Mis citas"}


@pytest.mark.parametrize("page", TRANSLATED_PAGES)
def test_a_patient_page_in_spanish_has_no_english_of_ours(client, patient, page):
    url = f"/l/{patient.public_id}/{page}"

    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    spanish = client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert '<html lang="es">' in spanish and '<html lang="en">' in english
    assert TRANSLATED_PAGES[page] in spanish
    assert untranslated(english, spanish) == []


def test_the_checker_finds_a_string_left_in_english():
    english = "<html><body><h2>What you owe</h2><p>Nancy</p></body></html>"
    spanish = "<html><body><h2>What you owe</h2><p>Nancy</p></body></html>"
    assert "What you owe" in untranslated(english, spanish)


def test_the_switch_on_every_patient_page_changes_the_language_and_remembers_it(client, patient):
    home = f"/l/{patient.public_id}/home/"
    page = client.get(home).content.decode()
    assert 'id="language-es"' in page  # the switch offers the other language

    switched = client.post("/i18n/setlang/", {"language": "es", "next": home})
    again = client.get(home).content.decode()  # no Accept-Language: the choice is remembered

    assert switched.status_code == 302 and switched["Location"] == home
    assert '<html lang="es">' in again and 'id="language-en"' in again
