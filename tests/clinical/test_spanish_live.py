"""Patient pages in Spanish: the language follows the browser (Accept-Language) or the switch on
every patient page (remembered), and no text of ours is left in English (tests/spanish.py)."""

import pytest

from tests.spanish import assert_all_spanish, untranslated

pytestmark = pytest.mark.django_db(transaction=True)

TRANSLATED_PAGES = {"home/": "Su próxima cita", "appointments/": "Mis citas"}


@pytest.mark.parametrize("page", TRANSLATED_PAGES)
def test_a_patient_page_in_spanish_has_no_english_of_ours(client, patient, page):
    assert_all_spanish(client, f"/l/{patient.public_id}/{page}", TRANSLATED_PAGES[page])


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
