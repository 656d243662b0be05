"""The patient's messages and visits pages in Spanish: inbox, sent, one message, compose and reply
(with their errors and what the next page says), the merged-record notice and the visits page,
with no text of ours left in English (tests/spanish.py)."""

import secrets
from dataclasses import replace

import pytest

from smartapp.clinical import first_screens
from smartapp.clinical import forms as clinical_forms
from smartapp.clinical import messages as portal
from smartapp.fhir import errors as fhir
from smartapp.launch.models import Launch
from smartapp.sandbox.models import Appointment, Encounter, PortalMessage, Practitioner
from tests.conftest import SANDBOX_TENANT_ID
from tests.spanish import assert_all_spanish, untranslated

pytestmark = pytest.mark.django_db(transaction=True)


def _url(launch: Launch, page: str) -> str:
    return f"/l/{launch.public_id}/{page}"


def _portal(patient_id: str, **filters):
    return PortalMessage.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, patient_fhir_id=patient_id, **filters
    ).order_by("message_id")


def _care_team(patient_id: str) -> list[str]:
    return sorted(
        set(
            Appointment.objects.filter(
                tenant_id=SANDBOX_TENANT_ID, patient_fhir_id=patient_id
            ).values_list("practitioner_fhir_id", flat=True)
        )
    )


def _posted_in_spanish(client, url: str, data: dict, spanish_phrase: str, status: int = 400) -> str:
    """Posts the same form in English and in Spanish (a fresh once-only key each time); fails on
    a missing `spanish_phrase` and on any text of ours left in English (what the patient typed,
    shown again in the form, is theirs). Returns the Spanish page."""
    pages = {}
    for language in ("en", "es"):
        response = client.post(
            url, {"key": secrets.token_urlsafe(8), **data}, HTTP_ACCEPT_LANGUAGE=language
        )
        assert response.status_code == status, response.content[:500]
        pages[language] = response.content.decode()
    assert '<html lang="es">' in pages["es"]
    assert spanish_phrase in pages["es"], pages["es"][:3000]
    typed = {" ".join(str(value).split()) for value in data.values()}
    assert [text for text in untranslated(pages["en"], pages["es"]) if text not in typed] == []
    return pages["es"]


def _next_page_in_spanish(client, url: str, data: dict, spanish_phrase: str) -> str:
    """Posts a form that succeeds, in English then in Spanish, and follows each redirect in its
    language: the page after it (with its flash message) must be all Spanish."""
    pages = {}
    for language in ("en", "es"):
        response = client.post(
            url, {"key": secrets.token_urlsafe(8), **data}, HTTP_ACCEPT_LANGUAGE=language
        )
        assert response.status_code == 303, response.content[:500]
        pages[language] = client.get(
            response["Location"], HTTP_ACCEPT_LANGUAGE=language
        ).content.decode()
    assert spanish_phrase in pages["es"], pages["es"][:3000]
    assert untranslated(pages["en"], pages["es"]) == []
    return pages["es"]


# Inbox, sent, one message ----------------------------------------------------------------------


def test_the_inbox_with_unread_messages_in_spanish(client, patient):
    assert _portal(patient.patient_id, folder="INBOX", status="UNREAD").exists()

    page = assert_all_spanish(client, _url(patient, "messages/"), "sin leer)")

    assert "Bandeja de entrada" in page and "Escribir un mensaje" in page


def test_an_empty_inbox_and_sent_folder_in_spanish(client, patient):
    _portal(patient.patient_id).delete()

    inbox = assert_all_spanish(client, _url(patient, "messages/"), "No tiene mensajes")
    sent = assert_all_spanish(client, _url(patient, "messages/sent/"), "No ha enviado ningún")

    assert 'id="no-messages"' in inbox and 'id="no-messages"' in sent


def test_the_sent_folder_in_spanish(client, patient):
    assert _portal(patient.patient_id, folder="SENT").exists()

    assert_all_spanish(client, _url(patient, "messages/sent/"), "Para ")


def test_a_received_message_in_spanish(client, patient):
    message = _portal(patient.patient_id, folder="INBOX", notification_type="MESSAGE").first()

    page = assert_all_spanish(client, _url(patient, f"messages/{message.message_id}/"), "Responder")

    assert "Enviado el" in page and "Eliminar" in page and "← Bandeja de entrada" in page


def test_a_sent_message_in_spanish(client, patient):
    message = _portal(patient.patient_id, folder="SENT").first()

    assert_all_spanish(client, _url(patient, f"messages/{message.message_id}/"), "← Enviados")


def test_a_message_that_is_not_found_says_so_in_spanish(client, patient):
    assert_all_spanish(client, _url(patient, "messages/999999999/"), "Mensaje no encontrado")


# Compose ---------------------------------------------------------------------------------------


def test_the_compose_form_in_spanish(client, patient):
    page = assert_all_spanish(client, _url(patient, "messages/new/"), "Escribir un mensaje")

    assert "Elija…" in page and "hasta 5000 caracteres" in page and "Asunto" in page


def test_compose_without_a_care_team_in_spanish(client, patient):
    Appointment.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, patient_fhir_id=patient.patient_id
    ).delete()

    page = assert_all_spanish(client, _url(patient, "messages/new/"), "llame a la clínica")

    assert 'id="no-care-team"' in page


def test_an_empty_message_gets_its_errors_in_spanish(client, patient):
    page = _posted_in_spanish(
        client,
        _url(patient, "messages/new/"),
        {"recipient": "", "subject": "", "body": "  "},
        "Elija quién debe leer su mensaje.",
    )

    assert "Escriba un asunto para su mensaje." in page and "Escriba su mensaje." in page


def test_a_message_too_long_gets_its_errors_in_spanish(client, patient):
    page = _posted_in_spanish(
        client,
        _url(patient, "messages/new/"),
        {"recipient": _care_team(patient.patient_id)[0], "subject": "s" * 256, "body": "x" * 5001},
        "El mensaje debe tener 5000 caracteres o menos.",
    )

    assert "El asunto debe tener 255 caracteres o menos." in page


def test_a_message_too_long_to_send_gets_its_error_in_spanish(client, patient, monkeypatch):
    monkeypatch.setattr(clinical_forms, "CONTENT_MAX_BYTES", 100)

    _posted_in_spanish(
        client,
        _url(patient, "messages/new/"),
        {"recipient": _care_team(patient.patient_id)[0], "subject": "Hola", "body": "x" * 200},
        "Este mensaje es demasiado largo para enviarlo.",
    )


def test_a_recipient_outside_the_care_team_is_refused_in_spanish(client, patient):
    outsider = (
        Practitioner.objects.filter(tenant_id=SANDBOX_TENANT_ID)
        .exclude(fhir_id__in=_care_team(patient.patient_id))
        .first()
    )

    _posted_in_spanish(
        client,
        _url(patient, "messages/new/"),
        {"recipient": outsider.fhir_id, "subject": "Hola", "body": "Hola"},
        "Elija a alguien de su equipo de atención.",
    )


def test_a_message_the_hospital_refuses_says_so_in_spanish(client, patient, monkeypatch):
    def refuse(**_):
        raise fhir.FhirError("subject", status=400)

    monkeypatch.setattr(portal, "message_send", refuse)

    _posted_in_spanish(
        client,
        _url(patient, "messages/new/"),
        {"recipient": _care_team(patient.patient_id)[0], "subject": "Hola", "body": "Hola"},
        "El sistema de mensajes del hospital no aceptó el mensaje (subject). No se envió nada.",
    )


def test_after_sending_the_sent_folder_says_so_in_spanish(client, patient):
    _next_page_in_spanish(
        client,
        _url(patient, "messages/new/"),
        {"recipient": _care_team(patient.patient_id)[0], "subject": "Rodilla", "body": "Me duele."},
        "Enviado. Su equipo de atención le responderá aquí.",
    )


def test_a_message_sent_twice_says_so_in_spanish(client, patient):
    url = _url(patient, "messages/new/")
    values = {
        "key": secrets.token_urlsafe(8),
        "recipient": _care_team(patient.patient_id)[0],
        "subject": "Dos veces",
        "body": "Pulsé Enviar dos veces.",
    }
    assert client.post(url, values).status_code == 303
    client.get(_url(patient, "messages/sent/"))  # the first "Sent." is read

    again = client.post(url, values, HTTP_ACCEPT_LANGUAGE="es")
    page = client.get(again["Location"], HTTP_ACCEPT_LANGUAGE="es").content.decode()

    assert "Ese mensaje ya se había enviado; no se envió dos veces." in page


# Reply and delete ------------------------------------------------------------------------------


def _answerable(patient_id: str) -> PortalMessage:
    return _portal(patient_id, folder="INBOX", notification_type="MESSAGE").first()


def test_the_reply_form_in_spanish(client, patient):
    message = _answerable(patient.patient_id)

    page = assert_all_spanish(
        client, _url(patient, f"messages/{message.message_id}/reply/"), "Responder a "
    )

    assert "Enviar respuesta" in page and "Mensaje original" in page and "Asunto: Re: " in page


def test_an_empty_reply_gets_its_error_in_spanish(client, patient):
    message = _answerable(patient.patient_id)

    _posted_in_spanish(
        client,
        _url(patient, f"messages/{message.message_id}/reply/"),
        {"body": ""},
        "Escriba su mensaje.",
    )


def test_a_reply_too_long_gets_its_error_in_spanish(client, patient):
    message = _answerable(patient.patient_id)

    _posted_in_spanish(
        client,
        _url(patient, f"messages/{message.message_id}/reply/"),
        {"body": "x" * 5001},
        "El mensaje debe tener 5000 caracteres o menos.",
    )


def test_a_reminder_cannot_be_answered_in_spanish(client, patient):
    reminder = _portal(patient.patient_id, notification_type="REMINDER").first()

    _posted_in_spanish(
        client,
        _url(patient, f"messages/{reminder.message_id}/reply/"),
        {"body": "De acuerdo"},
        "No se puede responder a este mensaje. Escriba un mensaje nuevo.",
    )


def test_after_replying_the_sent_folder_says_so_in_spanish(client, patient):
    message = _answerable(patient.patient_id)

    _next_page_in_spanish(
        client,
        _url(patient, f"messages/{message.message_id}/reply/"),
        {"body": "¡Gracias!"},
        "Respuesta enviada.",
    )


def test_after_deleting_the_inbox_says_so_in_spanish(client, patient):
    first, second = _portal(patient.patient_id, folder="INBOX")[:2]
    pages = {}
    for language, message in (("en", first), ("es", second)):
        done = client.post(
            _url(patient, f"messages/{message.message_id}/delete/"), HTTP_ACCEPT_LANGUAGE=language
        )
        pages[language] = client.get(
            done["Location"], HTTP_ACCEPT_LANGUAGE=language
        ).content.decode()

    assert "Mensaje eliminado." in pages["es"]
    assert untranslated(pages["en"], pages["es"]) == []


# The merged-record notice ----------------------------------------------------------------------


def _on_a_merged_record(monkeypatch, *, showing_surviving: bool) -> None:
    """The EHR answers the patient's record as merged into another (the sandbox lets a patient
    read only their own record, so the summary is marked merged after it is read)."""
    read = first_screens.patient_summary

    def merged(*, launch):
        summary = read(launch=launch)
        return replace(summary, merged_into="12742633", showing_surviving=showing_surviving)

    monkeypatch.setattr(first_screens, "patient_summary", merged)


def test_the_merged_record_notice_in_spanish(client, patient, monkeypatch):
    _on_a_merged_record(monkeypatch, showing_surviving=True)

    page = assert_all_spanish(client, _url(patient, "home/"), "se unió al registro actual")

    assert 'id="merged-notice"' in page and "n.º de expediente" in page


def test_the_merged_record_notice_without_the_current_record_in_spanish(
    client, patient, monkeypatch
):
    _on_a_merged_record(monkeypatch, showing_surviving=False)

    page = assert_all_spanish(client, _url(patient, "home/"), "que no se pudo abrir aquí")

    assert 'id="merged-notice"' in page


# Visits ----------------------------------------------------------------------------------------


def test_the_visits_page_in_spanish(client, patient):
    encounters = Encounter.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, patient__fhir_id=patient.patient_id
    )
    assert encounters.exists()

    page = assert_all_spanish(client, _url(patient, "visits/"), "Mis visitas")

    assert "Profesional a cargo" in page and "Las horas están en" in page


def test_the_visits_page_without_visits_in_spanish(client, patient):
    Encounter.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, patient__fhir_id=patient.patient_id
    ).delete()

    page = assert_all_spanish(client, _url(patient, "visits/"), "No tiene visitas próximas.")

    assert "No tiene visitas anteriores." in page


@pytest.mark.parametrize(
    ("status", "spanish"),
    [
        ("planned", "Programada"),
        ("arrived", "Llegó"),
        ("triaged", "En triaje"),
        ("in-progress", "En curso"),
        ("onleave", "Ausente temporalmente"),
        ("finished", "Finalizada"),
        ("cancelled", "Cancelada"),
        ("entered-in-error", "Introducida por error"),
        ("unknown", "Desconocido"),
    ],
)
def test_every_visit_status_in_spanish(status, spanish):
    from django.utils import translation

    from smartapp.clinical.visits import Visit

    visit = Visit(encounter_id="1", status=status, period_start=None, period_end=None)
    with translation.override("es"):
        assert visit.status_label == spanish
    with translation.override("en"):
        assert visit.status_label != spanish
