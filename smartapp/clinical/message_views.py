"""Messages pages: the patient's portal inbox, sent items, compose, reply and delete; the
clinician's view of the launched patient's portal messages and of their own Communications."""

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from smartapp.clinical import communications, once
from smartapp.clinical import messages as portal
from smartapp.clinical.forms import ComposeForm, MessageBodyForm
from smartapp.clinical.pages import page_launch, page_zone, render_zoned, with_patient
from smartapp.fhir import errors as fhir
from smartapp.launch.edge import renders_errors
from smartapp.launch.models import Launch
from smartapp.launch.selectors import launch_for_session
from smartapp.tenants.models import Persona

GET_POST = require_http_methods(["GET", "POST"])


def _redirect(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303  # after a POST, always GET the next page
    return response


def _render(
    request: HttpRequest, launch: Launch, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context = {"launch": launch, "tab": "messages", **context}
    return render_zoned(request, template, context, zone=page_zone(request, launch), status=status)


def _refused(error: fhir.FhirError) -> str:
    if error.message and error.status == 400:
        return _(
            "The hospital's messaging system did not accept the message (%(detail)s). "
            "Nothing was sent."
        ) % {"detail": error.message}
    return _("The hospital's messaging system did not accept the message. Nothing was sent.")


# Patient ----------------------------------------------------------------------------------------


@require_GET
@renders_errors
def inbox(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The patient's inbox, newest first, unread ones marked."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    rows = portal.inbox(launch=launch)
    context = {"rows": rows, "folder": "inbox", "unread": sum(m.unread for m in rows)}
    return _render(request, launch, "clinical/messages.html", context)


@require_GET
@renders_errors
def sent(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """What the patient sent, newest first."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    context = {"rows": portal.sent_items(launch=launch), "folder": "sent"}
    return _render(request, launch, "clinical/messages.html", context)


@require_GET
@renders_errors
def message(request: HttpRequest, public_id: uuid.UUID, message_id: str) -> HttpResponse:
    """One of the patient's messages; opening an unread one marks it opened."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    shown = portal.message_open(launch=launch, message_id=message_id)
    context = {"message": shown, "mine": shown.sender.id == launch.patient_id}
    return _render(request, launch, "clinical/message.html", context)


def _send_once(
    request: HttpRequest,
    launch: Launch,
    form: MessageBodyForm,
    send: Callable[[], object],
    sent_text: str,
) -> HttpResponse | None:
    """Sends at most once per form key; None when the form must be shown again with its errors."""
    key = form.cleaned_data["key"]
    sent_url = reverse("clinical:messages_sent", args=[launch.public_id])
    if not once.message_key_claim(launch=launch, key=key):
        flash.info(request, _("That message was already sent; it was not sent twice."))
        return _redirect(sent_url)
    try:
        send()
    except portal.RecipientNotAllowed:
        once.message_key_release(launch=launch, key=key)
        raise
    except fhir.FhirError as error:
        if error.status != 400:
            raise  # sent but unanswered, or the EHR failed: the key stays used, nothing resends
        once.message_key_release(launch=launch, key=key)
        form.add_error(None, _refused(error))
        return None
    flash.success(request, sent_text)
    return _redirect(sent_url)


def _keyed(form_class: type, request: HttpRequest, **kwargs: Any) -> Any:
    if request.method == "POST":
        return form_class(request.POST, **kwargs)
    return form_class(initial={"key": once.message_key_new()}, **kwargs)


@GET_POST
@renders_errors
def compose(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A new message to one clinician the patient has appointments with."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    team = portal.care_team(launch=launch)
    form = _keyed(ComposeForm, request, team=team)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            done = _send_once(
                request,
                launch,
                form,
                lambda: portal.message_send(
                    launch=launch,
                    recipient_id=data["recipient"],
                    subject=data["subject"].strip(),
                    text=data["body"],
                    team=team,
                ),
                _("Sent. Your care team will answer here."),
            )
        except portal.RecipientNotAllowed:
            form.add_error("recipient", _("Choose someone from your care team."))
            done = None
        if done:
            return done
    status = 400 if request.method == "POST" else 200
    return _render(request, launch, "clinical/compose.html", {"form": form, "team": team}, status)


@GET_POST
@renders_errors
def reply(request: HttpRequest, public_id: uuid.UUID, message_id: str) -> HttpResponse:
    """Answers a message the patient received (to its sender)."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    form = _keyed(MessageBodyForm, request)
    if request.method == "POST" and form.is_valid():
        body = form.cleaned_data["body"]
        try:
            done = _send_once(
                request,
                launch,
                form,
                lambda: portal.message_reply(launch=launch, message_id=message_id, text=body),
                _("Reply sent."),
            )
        except portal.RecipientNotAllowed:
            form.add_error(None, _("This message cannot be answered. Write a new message instead."))
            done = None
        if done:
            return done
    original = portal.owned_message(launch=launch, message_id=message_id)
    status = 400 if request.method == "POST" else 200
    return _render(
        request, launch, "clinical/reply.html", {"form": form, "message": original}, status
    )


@require_POST
@renders_errors
def delete(request: HttpRequest, public_id: uuid.UUID, message_id: str) -> HttpResponse:
    """Moves one of the patient's messages to the trash."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    portal.message_delete(launch=launch, message_id=message_id)
    flash.success(request, _("Message deleted."))
    return _redirect(reverse("clinical:messages", args=[launch.public_id]))


# Clinician --------------------------------------------------------------------------------------


@require_GET
@renders_errors
def chart_messages(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The launched patient's portal messages (received and sent), for the clinician."""
    launch = page_launch(request, public_id, Persona.PROVIDER)
    results = with_patient(
        launch,
        {
            "received": lambda: portal.inbox(launch=launch),
            "sent": lambda: portal.sent_items(launch=launch),
        },
    )
    return _render(request, launch, "clinical/chart_messages.html", results)


@require_GET
@renders_errors
def chart_message(request: HttpRequest, public_id: uuid.UUID, message_id: str) -> HttpResponse:
    """One of the launched patient's portal messages, read-only (it stays unread for them)."""
    launch = page_launch(request, public_id, Persona.PROVIDER)
    results = with_patient(
        launch, {"message": lambda: portal.owned_message(launch=launch, message_id=message_id)}
    )
    return _render(request, launch, "clinical/chart_message.html", results)


def _clinician(request: HttpRequest, public_id: uuid.UUID) -> Launch:
    launch = launch_for_session(
        session=request.session, public_id=public_id, persona=Persona.PROVIDER
    )
    if launch.user_type != "Practitioner" or not launch.user_id:
        raise portal.MessageNotFound(
            "The EHR did not say which clinician you are, so there are no messages to show.",
            log="my messages without a Practitioner user",
        )
    return launch


@require_GET
@renders_errors
def staff_messages(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Communications addressed to the launched clinician in the last 30 days."""
    launch = _clinician(request, public_id)
    context = {"rows": communications.my_messages(launch=launch), "tab": "my_messages"}
    return _render(request, launch, "clinical/staff_messages.html", context)


@require_GET
@renders_errors
def staff_message(request: HttpRequest, public_id: uuid.UUID, message_id: str) -> HttpResponse:
    """One Communication addressed to the launched clinician, its body sanitized."""
    launch = _clinician(request, public_id)
    shown = communications.my_message(launch=launch, communication_id=message_id)
    return _render(
        request, launch, "clinical/staff_message.html", {"message": shown, "tab": "my_messages"}
    )
