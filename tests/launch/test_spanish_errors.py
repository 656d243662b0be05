"""Signing in, signing out and every way it can go wrong, in Spanish: the start page, the
signed-out page, each launch error page (a link without iss, an unknown EHR, a tampered or
expired state, refused consent, the EHR refusing the code or failing a FHIR call), the ended and
timed-out sessions, and Django's own 400/403/404/500 and CSRF pages. No text of ours is left in
English (tests/spanish.py), the statuses stay, and the log keeps English."""

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smartapp.fhir import errors as fhir
from smartapp.launch.models import Launch, PendingAuthorization
from smartapp.lib.words import filled
from tests.fakehttp import BASE, PATIENT_BASE, authorize_params, example, fake_patient_sign_in
from tests.launch import test_failure_pages
from tests.launch.test_failure_pages import OUTCOME, failing  # noqa: F401 - a fixture
from tests.spanish import assert_all_spanish, untranslated

pytestmark = pytest.mark.django_db

Fetch = Callable[[str], Any]  # language → the response of a request made in it


def _all_spanish(fetch: Fetch, spanish_phrase: str) -> tuple[int, str]:
    """assert_all_spanish for a page that is not a plain repeatable GET: `fetch` makes it in
    the given language (a POST, or a flow that uses its state up)."""
    english, spanish = fetch("en"), fetch("es")
    assert english.status_code == spanish.status_code, (english.status_code, spanish.status_code)
    english_page, spanish_page = english.content.decode(), spanish.content.decode()
    assert '<html lang="es">' in spanish_page and '<html lang="en">' in english_page
    assert spanish_phrase in spanish_page, spanish_page[:3000]
    assert untranslated(english_page, spanish_page) == []
    return spanish.status_code, spanish_page


def _browser(language: str, **extra: Any) -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE=language, **extra)


def _patient_started(browser: Client) -> dict[str, str]:
    """A patient's sign-in started at the fake EHR: the authorize request's parameters."""
    started = browser.post("/signin", {"tenant": "fake", "persona": "patient"})
    assert started.status_code == 302, started.content[:300]
    return authorize_params(started["Location"])


def _patient_signed_in(browser: Client, fake_ehr) -> Launch:
    fake_ehr.token_fields = {"patient": "12724066"}
    fake_ehr.fhir["Patient/12724066"] = (200, example("r4_patient_read.json") | {"id": "12724066"})
    done = fake_patient_sign_in(browser, fake_ehr, user=f"{PATIENT_BASE}/Patient/12724066")
    assert done.status_code == 302, done.content[:300]
    return Launch.objects.get(persona="patient")


# The sign-in and signed-out pages


def test_the_sign_in_page(client, fake_tenant):
    page = assert_all_spanish(client, "/", "Soy paciente")

    assert "Iniciar sesión" in page and "Su organización" in page


def test_the_sign_in_page_without_an_organisation(client, db):
    assert_all_spanish(client, "/", "Aún no hay ninguna organización configurada")


def test_the_sign_in_form_sent_incomplete(fake_tenant):
    def fetch(language: str) -> Any:
        return _browser(language).post("/signin", {"tenant": "nope", "persona": "patient"})

    status, _ = _all_spanish(fetch, "Elija su organización e indique si es paciente")

    assert status == 400


def test_the_signed_out_page(client, db):
    assert_all_spanish(client, "/signed-out/", "Ha cerrado sesión")


def test_signing_out_leads_to_the_signed_out_page_in_spanish(fake_ehr, fake_tenant):
    browser = _browser("es")
    launch = _patient_signed_in(browser, fake_ehr)

    out = browser.post(f"/l/{launch.public_id}/sign-out/", follow=True)

    assert out.status_code == 200 and "Ha cerrado sesión" in out.content.decode()


# The launch's error pages


@pytest.mark.parametrize(
    ("query", "status", "phrase"),
    [
        ({}, 400, "Este enlace de inicio está incompleto"),
        ({"iss": BASE, "launch": "bad value"}, 400, "Vuelva a abrirla desde el expediente clínico"),
        ({"iss": "https://evil.example.net/r4/t1", "launch": "x"}, 400, "no está registrado"),
    ],
)
def test_a_launch_link_without_iss_or_from_an_unknown_ehr(
    client, fake_ehr, fake_tenant, query, status, phrase
):
    url = "/launch" + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")

    assert_all_spanish(client, url.replace(" ", "%20"), phrase)

    assert client.get(url.replace(" ", "%20")).status_code == status
    assert fake_ehr.session.calls == []


def test_a_tampered_state(client, fake_ehr, fake_tenant):
    _patient_started(client)

    page = assert_all_spanish(
        client, "/launch/callback?code=c&state=unknown-state", "ya no es válido"
    )

    assert "Volver a iniciar sesión" in page


def test_a_state_started_in_another_browser(client, fake_ehr, fake_tenant):
    params = _patient_started(Client())

    assert_all_spanish(
        client,
        f"/launch/callback?code=c&state={params['state']}",
        "no corresponde a un inicio de sesión comenzado en este navegador",
    )


def test_an_expired_sign_in(client, fake_ehr, fake_tenant):
    params = _patient_started(client)
    PendingAuthorization.objects.update(created=timezone.now() - timedelta(minutes=11))

    page = assert_all_spanish(
        client, f"/launch/callback?code=c&state={params['state']}", "más de 10 minutos"
    )

    assert "Volver a iniciar sesión" in page


def test_a_sign_in_response_used_twice(fake_ehr, fake_tenant):
    fake_ehr.client_id = "patient-client"
    fake_ehr.claims_override = {"fhirUser": f"{PATIENT_BASE}/Patient/12724067"}
    fake_ehr.fhir["Patient/12724067"] = (200, example("r4_patient_read.json"))

    def fetch(language: str) -> Any:
        browser = _browser(language)
        params = _patient_started(browser)
        fake_ehr.nonce = params["nonce"]
        callback = {"code": "c", "state": params["state"]}
        assert browser.get("/launch/callback", callback).status_code == 302
        return browser.get("/launch/callback", callback)

    status, _ = _all_spanish(fetch, "Cada una sirve solo una vez")

    assert status == 400


def test_refused_consent(fake_ehr, fake_tenant, caplog):
    def fetch(language: str) -> Any:
        browser = _browser(language)
        params = _patient_started(browser)
        return browser.get("/launch/callback", {"state": params["state"], "error": "access_denied"})

    status, page = _all_spanish(fetch, "No se concedió el acceso")

    assert status == 403 and "Volver a iniciar sesión" in page
    assert "AuthorizationDenied" in caplog.text


@pytest.mark.parametrize(
    ("refusal", "status", "phrase"),
    [
        ("invalid_grant", 400, "no aceptó el código de inicio de sesión"),
        ("invalid_client", 502, "Esto lo debe resolver el equipo de integración del hospital"),
        ("temporarily_unavailable", 503, "no puede responder ahora"),
    ],
)
def test_the_ehr_refusing_the_sign_in_code(fake_ehr, fake_tenant, refusal, status, phrase):
    fake_ehr.token_error = (400, {"error": refusal})

    def fetch(language: str) -> Any:
        browser = _browser(language)
        params = _patient_started(browser)
        return browser.get("/launch/callback", {"code": "old", "state": params["state"]})

    assert _all_spanish(fetch, phrase)[0] == status


def test_a_proof_of_identity_that_does_not_check_out(fake_ehr, fake_tenant):
    fake_ehr.claims_override = {"aud": "someone-else"}

    def fetch(language: str) -> Any:
        browser = _browser(language)
        params = _patient_started(browser)
        fake_ehr.nonce = params["nonce"]
        return browser.get("/launch/callback", {"code": "c", "state": params["state"]})

    assert _all_spanish(fetch, "No se pudo verificar el inicio de sesión")[0] == 400


def test_an_ehr_that_does_not_publish_its_sign_in_addresses(client, fake_ehr, fake_tenant, caplog):
    fake_ehr.smart_configuration = lambda persona="provider": {}

    def fetch(language: str) -> Any:
        return _browser(language).post("/signin", {"tenant": "fake", "persona": "patient"})

    status, _ = _all_spanish(fetch, "no publica sus direcciones de inicio de sesión SMART")

    assert status == 502


def test_a_clinician_on_the_patient_sign_in(fake_ehr, fake_tenant):
    def fetch(language: str) -> Any:
        user = f"{PATIENT_BASE}/Practitioner/4122622"
        return fake_patient_sign_in(_browser(language), fake_ehr, user=user)

    status, page = _all_spanish(fetch, "Usted inició sesión como profesional")

    assert status == 403 and "Este inicio de sesión es para otro tipo de usuario" in page


# A FHIR call failing on a patient's page

FHIR_FAILURES: dict[str, tuple[Any, int, str]] = {
    "OperationOutcome 403": ((403, OUTCOME), 403, "no permitió que la aplicación viera"),
    "OperationOutcome 404": ((404, OUTCOME), 404, "no tiene ese registro"),
    "OperationOutcome 405": ((405, OUTCOME), 502, "con un error (HTTP 405)"),
    "429 busy": ((429, OUTCOME), 503, "pidió a la aplicación que espere un poco"),
    "500": ((500, OUTCOME), 502, "no pudo completar la solicitud (HTTP 500)"),
    "timeout": (requests.ReadTimeout(), 504, "tardó demasiado en responder"),
    "unreachable": (requests.ConnectionError(), 502, "no pudo comunicarse con los servicios"),
    "unexpected JSON": ((200, "<html>oops</html>"), 502, "de una forma que la aplicación no"),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", FHIR_FAILURES)
def test_a_fhir_failure_on_a_patients_page(failing, fake_ehr, monkeypatch, kind):  # noqa: F811
    # The EHR's reference, as the support desk reads it; digits only, so the checker does not
    # take this EHR data for words of ours.
    monkeypatch.setattr(test_failure_pages, "REFERENCE", "7341-9920")
    answer, status, phrase = FHIR_FAILURES[kind]
    browser, launch = test_failure_pages._patient(fake_ehr)
    failing.part, failing.answer = "fhir", answer

    page = assert_all_spanish(browser, f"/l/{launch}/appointments/", phrase)

    assert browser.get(f"/l/{launch}/appointments/").status_code == status
    if not isinstance(answer, Exception) and status != 404:
        assert "Referencia para el servicio de asistencia" in page and "7341-9920" in page


# Sessions that ended


def _ended_each_time(fake_ehr, change: Callable[[Launch], None]) -> Fetch:
    """Each language's request finds the same patient launch in the same state."""
    browser = _browser("en")
    launch = _patient_signed_in(browser, fake_ehr)

    def fetch(language: str) -> Any:
        Launch.objects.filter(pk=launch.pk).update(
            ended_at=None, access_token="at", refresh_token="rt", last_seen_at=timezone.now()
        )
        change(launch)
        return browser.get(f"/l/{launch.public_id}/appointments/", HTTP_ACCEPT_LANGUAGE=language)

    return fetch


def test_a_session_the_ehr_ended(fake_ehr, fake_tenant):
    fake_ehr.refresh_error = (400, {"error": "invalid_grant"})

    def expired(launch: Launch) -> None:
        Launch.objects.filter(pk=launch.pk).update(expires_at=timezone.now() - timedelta(seconds=5))

    status, page = _all_spanish(_ended_each_time(fake_ehr, expired), "Vuelva a iniciar sesión")

    assert status == 401 and "Su sesión ha terminado" in page


def test_a_session_that_had_already_ended(fake_ehr, fake_tenant):
    def ended(launch: Launch) -> None:
        Launch.objects.filter(pk=launch.pk).update(ended_at=timezone.now())

    status, _ = _all_spanish(
        _ended_each_time(fake_ehr, ended), "El acceso de la aplicación a su expediente ha terminado"
    )

    assert status == 401


def test_a_session_idle_too_long(fake_ehr, fake_tenant):
    def idle(launch: Launch) -> None:
        Launch.objects.filter(pk=launch.pk).update(
            last_seen_at=timezone.now() - timedelta(minutes=16)
        )

    status, page = _all_spanish(
        _ended_each_time(fake_ehr, idle), "Se cerró su sesión después de 15 minutos sin actividad."
    )

    assert status == 401 and "Se cerró su sesión por su seguridad" in page


def test_a_session_twelve_hours_after_sign_in(fake_ehr, fake_tenant):
    def old(launch: Launch) -> None:
        Launch.objects.filter(pk=launch.pk).update(
            created=timezone.now() - timedelta(hours=12, minutes=1)
        )

    status, _ = _all_spanish(
        _ended_each_time(fake_ehr, old), "Se cerró su sesión 12 horas después de iniciarla."
    )

    assert status == 401


def test_a_page_of_a_session_this_browser_does_not_have(client, fake_ehr, fake_tenant):
    assert_all_spanish(client, f"/l/{uuid.uuid4()}/home/", "No ha iniciado sesión")

    assert client.get(f"/l/{uuid.uuid4()}/home/").status_code == 401


def test_a_page_of_another_session(fake_ehr, fake_tenant):
    browser = Client()
    _patient_signed_in(browser, fake_ehr)

    assert_all_spanish(browser, f"/l/{uuid.uuid4()}/home/", "No existe esa sesión")

    assert browser.get(f"/l/{uuid.uuid4()}/home/").status_code == 404


def test_no_patient_selected(fake_ehr, fake_tenant):
    browser = Client()
    fake_ehr.token_fields = {}
    done = fake_patient_sign_in(browser, fake_ehr)
    if done.status_code != 302:
        pytest.skip("a patient sign-in without a patient is refused earlier")
    launch = Launch.objects.get(persona="patient")

    assert_all_spanish(browser, f"/l/{launch.public_id}/appointments/", "No se seleccionó")


def test_the_log_stays_english_when_the_page_is_spanish(client, fake_ehr, fake_tenant, caplog):
    page = client.get("/launch/callback?code=c&state=x", HTTP_ACCEPT_LANGUAGE="es")

    assert "ya no es válido" in page.content.decode()
    assert "callback with an unknown state" in caplog.text and "válido" not in caplog.text


def test_an_ehr_not_answering_logs_english(fake_ehr, fake_tenant, caplog):
    from tests.fakehttp import install, uninstall

    install(lambda method, url, kwargs: requests.Timeout())
    try:
        page = _browser("es").post("/signin", {"tenant": "fake", "persona": "patient"})
    finally:
        uninstall()

    assert page.status_code == 502 and "no respondió a tiempo" in page.content.decode()
    assert "UpstreamUnavailable status=502" in caplog.text and "respondió" not in caplog.text


def test_an_errors_own_text_is_english_and_its_words_the_pages_language():
    from django.utils import translation

    from smartapp.launch import edge, error_pages
    from smartapp.tenants.discovery import DiscoveryError

    with translation.override("es"):
        refused = edge.as_launch_error(fhir.FhirError("no", status=405))
        unknown = error_pages.UnknownIssuer()
        discovery = DiscoveryError(filled(_("The EHR could not be reached at %(url)s."), url="x"))

        assert str(refused) == (
            "The EHR answered the app's request with an error (HTTP 405). "
            "Please try again; if it keeps happening, tell the hospital's integration team."
        )
        assert "(HTTP 405)" in str(refused.explanation) and "Vuelva" in str(refused.explanation)
        assert str(unknown).startswith("The app was opened by an EHR address it does not know")
        assert str(unknown.title) == "Este sistema de expediente clínico no está registrado"
        assert str(discovery) == "The EHR could not be reached at x."
        assert (
            str(discovery.args[0])
            == "No se pudo comunicar con el sistema del expediente clínico en x."
        )


# Django's own error pages


def test_the_404_page(client, db):
    page = assert_all_spanish(client, "/no/such/page/", "Página no encontrada")

    assert client.get("/no/such/page/").status_code == 404
    assert 'href="/"' in page and "Ir a la página de inicio" in page


def test_the_csrf_failure_page(fake_tenant):
    def fetch(language: str) -> Any:
        browser = _browser(language, enforce_csrf_checks=True)
        return browser.post("/signin", {"tenant": "fake", "persona": "patient"})

    status, page = _all_spanish(fetch, "No se pudo enviar el formulario")

    assert status == 403 and "Vuelva atrás, recargue la página" in page


def test_the_400_page(db):
    def fetch(language: str) -> Any:
        return _browser(language, HTTP_HOST="evil.example").get("/")

    assert _all_spanish(fetch, "La aplicación no pudo leer esta solicitud")[0] == 400


@pytest.mark.parametrize(
    ("raised", "status", "phrase"),
    [
        (RuntimeError("broken"), 500, "Algo salió mal"),
        (PermissionDenied(), 403, "No puede abrir esta página"),
    ],
)
def test_the_500_and_403_pages(db, monkeypatch, raised, status, phrase):
    def failing_form(*args: Any, **kwargs: Any) -> Any:
        raise raised

    monkeypatch.setattr("smartapp.launch.views.SignInForm", failing_form)

    def fetch(language: str) -> Any:
        return _browser(language, raise_request_exception=False).get("/")

    assert _all_spanish(fetch, phrase)[0] == status


def test_a_form_in_another_text_encoding_is_refused_in_spanish(db):
    response = _browser("es", raise_request_exception=False).generic(
        "POST",
        "/signin",
        "tenant=fake&persona=patient".encode("latin-1"),
        content_type="application/x-www-form-urlencoded; charset=latin-1",
    )

    assert response.status_code == 400 and "Envíela en UTF-8" in response.content.decode()


# A launch the EHR granted less than the app asked for


def test_a_part_of_the_app_not_granted(client, fake_ehr, fake_tenant):
    fake_ehr.granted_scope = "openid fhirUser patient/Patient.read patient/Appointment.rs"
    assert fake_patient_sign_in(client, fake_ehr).status_code == 302
    launch = Launch.objects.get().public_id

    page = assert_all_spanish(client, f"/l/{launch}/book/", "Esta parte de la aplicación no")
    home = assert_all_spanish(client, f"/l/{launch}/home/", 'id="scope-note"')

    assert client.get(f"/l/{launch}/book/").status_code == 403
    assert (
        "no puede mostrar la reserva de citas." in page and "Volver a su página principal" in page
    )
    assert "Por ahora, esta aplicación no puede mostrar la reserva de citas y sus visitas." in home
