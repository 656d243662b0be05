"""Choosing a time, confirming, cancelling and rescheduling in Spanish: every state of these pages
(first available, the week of one clinician, no free times, bad dates, a wrong reason, a time
taken meanwhile, a stale cancel) and the words after booking or cancelling have nothing of ours
left in English (tests/spanish.py)."""

import re
from datetime import timedelta

import pytest

from smartapp.sandbox.models import Appointment, Patient
from tests.clinical.test_schedule_live import _book, _first, _service, _today, _url
from tests.journeys import hidden, slot_ids
from tests.spanish import assert_all_spanish, untranslated

pytestmark = pytest.mark.django_db(transaction=True)

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ES = {"HTTP_ACCEPT_LANGUAGE": "es"}


def _search(launch, **extra: str) -> str:
    """The book page's URL searching the first type of visit this week (`extra` overrides)."""
    day = _today().date()
    params = {
        "service_type": _service(launch.tenant).code,
        "start": day.isoformat(),
        "end": (day + timedelta(days=6)).isoformat(),
        **extra,
    }
    return _url(launch, "book/") + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def _days(offset: int) -> str:
    return (_today().date() + timedelta(days=offset)).isoformat()


def _all_spanish(english, spanish, phrase: str) -> str:
    """What assert_all_spanish checks, for two responses got otherwise (a POST, a flash)."""
    assert english.status_code == spanish.status_code, (english.status_code, spanish.status_code)
    english_page, spanish_page = english.content.decode(), spanish.content.decode()
    assert '<html lang="es">' in spanish_page and '<html lang="en">' in english_page
    assert phrase in spanish_page, spanish_page[:3000]
    assert untranslated(english_page, spanish_page) == []
    return spanish_page


def _main(page: str) -> str:
    """A clinician page's own part: its navigation stays English (staff pages)."""
    match = re.search(r'<main class="page">.*</main>', page, re.S)
    assert match, page[:500]
    return f'<html lang="x"><body>{match[0]}</body></html>'


def _main_all_spanish(english, spanish, phrase: str) -> str:
    assert english.status_code == spanish.status_code, (english.status_code, spanish.status_code)
    spanish_page = spanish.content.decode()
    assert '<html lang="es">' in spanish_page and phrase in spanish_page, spanish_page[:3000]
    assert untranslated(_main(english.content.decode()), _main(spanish_page)) == []
    return spanish_page


def _free_slots(client, launch) -> list[str]:
    slots = slot_ids(client.get(_search(launch), **EN).content.decode())
    assert len(slots) >= 2
    return slots


def _booked(client, launch, slot_id: str) -> Appointment:
    booked, _ = _book(client, launch, slot_id)
    assert booked.status_code == 303, booked.content[:500]
    return Appointment.objects.get(slot__fhir_id=slot_id, status="booked")


# Choosing a time -------------------------------------------------------------------------------


def test_the_book_page_before_a_search(client, patient):
    page = assert_all_spanish(client, _url(patient, "book/"), "Ver horarios disponibles")
    assert "Cualquier profesional" in page and "Hasta 31 días a la vez" in page


def test_first_available_rows_with_their_more_times(client, patient):
    page = assert_all_spanish(client, _search(patient), "Primeros horarios disponibles")
    assert re.search(r'id="slot-count">\d+ horarios? disponibles?', page)
    assert re.search(r'class="more-times" id="more-\d+" href="[^"]+">\d+ horarios? más', page)
    assert "Cada fila es un profesional en un lugar" in page


def test_the_week_of_one_clinician_and_place(client, patient):
    first = client.get(_search(patient), **EN).content.decode()
    link = re.search(r'class="more-times" id="more-\d+" href="([^"]+)"', first)
    assert link, "no row with more times"

    page = assert_all_spanish(client, link[1].replace("&amp;", "&"), "Horarios disponibles por día")
    assert 'id="free-slots"' in page and "Volver a los primeros horarios disponibles" in page


def test_no_free_times(client, patient):
    page = assert_all_spanish(
        client, _search(patient, clinician="nobody"), "No hay horarios disponibles entre el"
    )
    assert "El profesional que eligió" in page and 'id="no-slots"' in page


def test_a_patient_in_another_time_zone_is_told_the_difference(client, patient):
    client.cookies["tz"] = "Europe/London"
    page = assert_all_spanish(client, _search(patient), "Usted está en Europe/London")
    assert "Las horas están en la zona horaria de la clínica, America/Chicago" in page
    assert re.search(r"\d+ horas? por delante de la clínica", page)

    slot_id = slot_ids(page)[0]
    confirm = assert_all_spanish(
        client, f"{_url(patient, 'book/confirm/')}?slot={slot_id}", "hora de la clínica; usted está"
    )
    assert "por delante de la clínica" in confirm


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"service_type": "nope"}, "Elija un tipo de visita de la lista."),
        ({"start": "2024-13-01"}, "Escriba la fecha como AAAA-MM-DD."),
        ({"start": "1800-01-01"}, "Elija una fecha entre"),
        ({"end": "1999-01-01"}, "El último día debe ser igual o posterior al primero."),
        ({"end": "+40"}, "Busque como máximo 31 días a la vez."),
        ({"start": "-3"}, "Elija hoy o un día posterior."),
        ({"clinician": "not/an/id"}, "No es un identificador válido."),
    ],
)
def test_the_search_form_posted_wrong(client, patient, params, message):
    values = {k: _days(int(v)) if v.startswith(("+", "-")) else v for k, v in params.items()}

    page = assert_all_spanish(client, _search(patient, **values), message)

    assert client.get(_search(patient, **values), **ES).status_code == 400
    assert 'class="field-error"' in page


def test_no_types_of_visit_set_up(client, patient):
    patient.tenant.service_types.all().delete()

    assert_all_spanish(client, _url(patient, "book/"), "La reserva en línea aún no está disponible")


def test_a_bad_slot_link_goes_back_to_the_list_with_a_spanish_message(client, patient):
    page = client.get(f"{_url(patient, 'book/confirm/')}?slot=no/such", follow=True, **ES)

    text = page.content.decode()
    assert page.status_code == 200 and "Elija un horario de la lista." in text
    assert "Choose a time from the list." not in text


# Confirming ------------------------------------------------------------------------------------


def test_the_confirm_page(client, patient):
    slot_id = _free_slots(client, patient)[0]

    page = assert_all_spanish(
        client, f"{_url(patient, 'book/confirm/')}?slot={slot_id}", "Confirmar la reserva"
    )

    assert "Motivo de la visita" in page and "Obligatorio, hasta 255 caracteres" in page
    assert "(hora de America/Chicago)" in page and "Reservar este horario" in page


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Indique brevemente por qué necesita esta visita."),
        ("1" * 256, "Escriba el motivo en 255 caracteres o menos."),
    ],
)
def test_the_confirm_form_posted_wrong(client, patient, reason, message):
    slot_id = _free_slots(client, patient)[0]
    confirm = client.get(f"{_url(patient, 'book/confirm/')}?slot={slot_id}").content.decode()
    data = {"key": hidden(confirm, "key"), "reason": reason}
    url = _url(patient, "book/confirm/")

    english, spanish = client.post(url, data, **EN), client.post(url, data, **ES)

    assert spanish.status_code == 400
    _all_spanish(english, spanish, message)


def test_after_booking_the_list_says_booked_in_spanish(client, patient):
    first, second = _free_slots(client, patient)[:2]
    url = _url(patient, "book/confirm/")
    pages = []
    for slot_id, language in ((first, EN), (second, ES)):
        confirm = client.get(f"{url}?slot={slot_id}", **language).content.decode()
        booked = client.post(url, {"key": hidden(confirm, "key"), "reason": "Dolor"}, **language)
        assert booked.status_code == 303 and "?booked=" in booked["Location"]
        pages.append(client.get(booked["Location"], **language))

    page = _all_spanish(*pages, "Reservada. La cita aparece en la lista de abajo.")
    assert "Booked." not in page


def test_a_time_taken_meanwhile_says_so_in_spanish(client, patient, system_client):
    slots = _free_slots(client, patient)
    someone_else = _first(Patient, fhir_id__gt=patient.patient_id)
    url = _url(patient, "book/confirm/")
    pages = []
    for slot_id, language in ((slots[0], EN), (slots[1], ES)):
        confirm = client.get(f"{url}?slot={slot_id}", **language).content.decode()
        system_client.book(slot_id, someone_else.fhir_id)  # fails unless Millennium said 201
        data = {"key": hidden(confirm, "key"), "reason": "Rodilla"}
        pages.append(client.post(url, data, follow=True, **language))

    _all_spanish(*pages, "Alguien reservó ese horario hace un momento")


def test_a_time_no_longer_free_when_confirming_says_so_in_spanish(client, patient, system_client):
    slot_id = _free_slots(client, patient)[0]
    someone_else = _first(Patient, fhir_id__gt=patient.patient_id)
    system_client.book(slot_id, someone_else.fhir_id)

    page = client.get(f"{_url(patient, 'book/confirm/')}?slot={slot_id}", follow=True, **ES)

    assert "Ese horario ya no está disponible." in page.content.decode()


def test_an_expired_confirmation_says_so_in_spanish(client, patient):
    page = client.post(_url(patient, "book/confirm/"), {"key": "forged", "reason": "x"}, **ES)

    text = page.content.decode()
    assert page.status_code == 400 and "Esta confirmación ha vencido" in text
    assert "La página de reserva estuvo abierta demasiado tiempo" in text


# Cancelling ------------------------------------------------------------------------------------


def test_the_cancel_page(client, patient):
    appointment = _booked(client, patient, _free_slots(client, patient)[0])
    url = _url(patient, f"appointments/{appointment.fhir_id}/cancel/")

    page = assert_all_spanish(client, url, "Cancelar esta cita")

    assert "Motivo de la cancelación" in page and "Me siento mejor" in page
    assert 'id="appointment-status">Reservada<' in page and "Mantener la cita" in page


def test_the_cancel_form_posted_wrong(client, patient):
    appointment = _booked(client, patient, _free_slots(client, patient)[0])
    url = _url(patient, f"appointments/{appointment.fhir_id}/cancel/")
    data = {"version": hidden(client.get(url).content.decode(), "version"), "reason": "nope"}

    english, spanish = client.post(url, data, **EN), client.post(url, data, **ES)

    assert spanish.status_code == 400
    _all_spanish(english, spanish, "Escoja una opción válida.")


def test_after_cancelling_the_list_says_so_in_spanish(client, patient):
    slots = _free_slots(client, patient)
    pages = []
    for slot_id, language in ((slots[0], EN), (slots[1], ES)):
        url = _url(patient, f"appointments/{_booked(client, patient, slot_id).fhir_id}/cancel/")
        data = {"version": hidden(client.get(url).content.decode(), "version"), "reason": "pat"}
        pages.append(client.post(url, data, follow=True, **language))

    _all_spanish(*pages, "Cancelada. El horario ya está disponible para otra persona.")


def test_a_stale_cancel_says_so_in_spanish(client, patient):
    slots = _free_slots(client, patient)
    pages = []
    for slot_id, language in ((slots[0], EN), (slots[1], ES)):
        appointment = _booked(client, patient, slot_id)
        url = _url(patient, f"appointments/{appointment.fhir_id}/cancel/")
        data = {"version": hidden(client.get(url).content.decode(), "version"), "reason": "pat"}
        Appointment.objects.filter(pk=appointment.pk).update(version=appointment.version + 1)
        pages.append(client.post(url, data, follow=True, **language))

    _all_spanish(*pages, "Esta cita cambió desde que abrió la página")


def test_an_appointment_that_cannot_be_cancelled(client, patient):
    appointment = _booked(client, patient, _free_slots(client, patient)[0])
    url = _url(patient, f"appointments/{appointment.fhir_id}/cancel/")
    version = hidden(client.get(url).content.decode(), "version")
    assert client.post(url, {"version": version, "reason": "pat"}).status_code == 303

    page = assert_all_spanish(client, url, "Esta cita no se puede cancelar aquí (está cancelada).")

    assert 'id="not-cancelable"' in page


def test_another_patients_appointment_is_not_found_in_spanish(client, patient, other_patient):
    other = Appointment.objects.filter(patient_fhir_id=other_patient.fhir_id)[0]

    page = client.get(_url(patient, f"appointments/{other.fhir_id}/cancel/"), **ES)

    assert page.status_code == 404 and "No se encontró la cita" in page.content.decode()


# A clinician books and reschedules (their navigation stays English) ----------------------------


def test_a_clinician_books_for_the_patient_in_spanish(client, clinician):
    english, spanish = client.get(_search(clinician), **EN), client.get(_search(clinician), **ES)

    _main_all_spanish(english, spanish, "Reservar para")


def test_the_reschedule_page_and_its_states(client, clinician):
    appointment = _booked(client, clinician, _free_slots(client, clinician)[0])
    url = _url(clinician, f"appointments/{appointment.fhir_id}/reschedule/")

    page = _main_all_spanish(client.get(url, **EN), client.get(url, **ES), "Cambiar a este horario")
    assert "Horarios disponibles para" in page and "Ahora" in page

    wrong = f"{url}?start={_days(3)}&end={_days(1)}"
    _main_all_spanish(
        client.get(wrong, **EN), client.get(wrong, **ES), "El último día debe ser igual"
    )

    pages = [client.post(url, {"version": "1"}, follow=True, **lang) for lang in (EN, ES)]
    _main_all_spanish(*pages, "Elija un nuevo horario.")

    slot_id = re.findall(r'name="slot" value="([^"]+)"', page)[-1]
    version = hidden(page, "version")
    moved = client.post(url, {"version": version, "slot": slot_id}, follow=True, **ES)
    assert (
        "Fecha cambiada. El nuevo horario aparece en la lista de abajo." in moved.content.decode()
    )


def test_an_appointment_that_cannot_be_rescheduled(client, clinician):
    appointment = _booked(client, clinician, _free_slots(client, clinician)[0])
    cancel = _url(clinician, f"appointments/{appointment.fhir_id}/cancel/")
    version = hidden(client.get(cancel).content.decode(), "version")
    assert client.post(cancel, {"version": version, "reason": "prov"}).status_code == 303
    url = _url(clinician, f"appointments/{appointment.fhir_id}/reschedule/")

    _main_all_spanish(
        client.get(url, **EN), client.get(url, **ES), "No se puede cambiar la fecha de esta cita."
    )
