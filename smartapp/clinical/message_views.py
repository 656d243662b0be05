"""Messages pages: the patient's portal inbox, sent items, compose, reply and delete; the
clinician's view of the launched patient's portal messages and of their own Communications."""

import uuid
from typing import Any

from django.contrib import messages as flash
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from smartapp.clinical import communications
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
    detail = f" ({error.message})" if error.message and error.status == 400 else ""
    return f"The hospital's messaging system did not accept the message{detail}. Nothing was sent."


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


@GET_POST
@renders_errors
def compose(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A new message to one clinician the patient has appointments with."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    team = portal.care_team(launch=launch)
    form = ComposeForm(request.POST if request.method == "POST" else None, team=team)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                portal.message_send(
                    launch=launch,
                    recipient_id=form.cleaned_data["recipient"],
                    subject=form.cleaned_data["subject"].strip(),
                    text=form.cleaned_data["body"],
                    team=team,
                )
            except portal.RecipientNotAllowed:
                form.add_error("recipient", "Choose someone from your care team.")
            except fhir.FhirError as error:
                if error.status != 400:
                    raise
                form.add_error(None, _refused(error))
            else:
                flash.success(request, "Sent. Your care team will answer here.")
                return _redirect(reverse("clinical:messages_sent", args=[launch.public_id]))
    return _render(request, launch, "clinical/compose.html", {"form": form, "team": team}, status)


@GET_POST
@renders_errors
def reply(request: HttpRequest, public_id: uuid.UUID, message_id: str) -> HttpResponse:
    """Answers a message the patient received (to its sender)."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    form = MessageBodyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            portal.message_reply(
                launch=launch, message_id=message_id, text=form.cleaned_data["body"]
            )
        except portal.RecipientNotAllowed:
            form.add_error(None, "This message cannot be answered. Write a new message instead.")
        except fhir.FhirError as error:
            if error.status != 400:
                raise
            form.add_error(None, _refused(error))
        else:
            flash.success(request, "Reply sent.")
            return _redirect(reverse("clinical:messages_sent", args=[launch.public_id]))
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
    flash.success(request, "Message deleted.")
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
