"""Portal messages (Messages API) for the launch patient, and a clinician's FHIR Communications.

Patients cannot call the Messages API with their own token: the tenant's system client does, for
the patient of the signed-in launch only (the id comes from the launch, never from the browser),
and every call is audited "on behalf of patient, launch <id>". A message id from a URL is always
checked against that patient before it is shown, opened, answered or deleted.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from smartapp.clinical.appointments import patient_appointments
from smartapp.clinical.sanitize import plain_text, safe_html, text_to_xhtml
from smartapp.fhir import errors as fhir
from smartapp.fhir.messages_api import MessagesApi
from smartapp.launch import error_pages
from smartapp.launch.access import system_audit_context
from smartapp.launch.models import Launch

MESSAGE_ID = re.compile(r"^[A-Za-z0-9\-._]{1,64}$")
WINDOW = timedelta(days=365)  # how far back the inbox and sent lists reach
UNREAD, OPENED, DELETED = "UNREAD", "OPENED", "DELETED"


class MessageNotFound(error_pages.LaunchError):
    status = 404
    title = gettext_lazy("Message not found")
    explanation = gettext_lazy("There is no such message for this patient.")
    way_forward = ""


class MessagesUnavailable(error_pages.LaunchError):
    status = 503
    title = gettext_lazy("Messages are not available")
    explanation = gettext_lazy(
        "Messaging is not set up for this organisation yet. Please call the clinic."
    )
    way_forward = ""


class RecipientNotAllowed(Exception):
    """The chosen recipient is not one of the patient's care team."""


@dataclass(frozen=True)
class Participant:
    id: str
    type: str
    name: str


@dataclass
class PortalMessage:
    id: str
    subject: str
    created: datetime | None
    status: str
    sender: Participant
    recipients: list[Participant] = field(default_factory=list)
    content: str = ""
    patient_id: str = ""
    previous_message_id: str = ""
    notification_type: str = "MESSAGE"
    summary: str = ""  # the API's plain-text preview (list items carry no content)

    @property
    def unread(self) -> bool:
        return self.status == UNREAD

    @property
    def body_html(self) -> SafeString:
        return safe_html(self.content)

    @property
    def preview(self) -> str:
        # The API's own preview may be cut-down HTML too: read both the same way.
        text = plain_text(self.content or self.summary)
        return text if len(text) <= 120 else text[:119] + "…"

    @property
    def recipient_names(self) -> str:
        return ", ".join(r.name or r.id for r in self.recipients)

    @property
    def can_reply(self) -> bool:
        return self.notification_type != "REMINDER" and self.sender.type != "PERSON"


def _first(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if data.get(key) not in (None, ""):
            return data[key]
    return None


def _participant(data: Any) -> Participant:
    if not isinstance(data, dict):
        return Participant("", "", "")
    name = _first(data, "display", "name", "displayName", "fullName") or ""
    return Participant(str(data.get("id") or ""), str(data.get("type") or ""), str(name))


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = _first(value, "value", "text", "display")
    return str(value or "")


def _created(value: Any) -> datetime | None:
    """The API's date-time, aware (UTC when it names no zone); None when it is not one."""
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but no such day or time
        return None
    if moment is None or not 1 < moment.year < 9999:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _message_id(value: Any) -> str:
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    return text if MESSAGE_ID.match(text) else ""


def message_from(data: dict[str, Any]) -> PortalMessage:
    """The plain view of one Messages API item (inbox item, sent item or message detail)."""
    created = _first(data, "createDateTime", "createdDateTime", "sentDateTime", "dateTime")
    recipients = data.get("recipients")
    recipients = recipients if isinstance(recipients, list) else []
    return PortalMessage(
        id=_message_id(_first(data, "id", "patientMessageId", "messageId")),
        subject=_text(_first(data, "subject", "topic")),
        created=_created(created),
        status=_text(data.get("status")).upper(),
        sender=_participant(_first(data, "messageSender", "sender", "from")),
        recipients=[_participant(r) for r in recipients if isinstance(r, dict)],
        content=_text(_first(data, "content", "body")),
        patient_id=str(_first(data, "patientId", "patient") or ""),
        previous_message_id=_message_id(_first(data, "previousMessageId", "inReplyTo")),
        notification_type=_text(_first(data, "notificationType")).upper() or "MESSAGE",
        summary=_text(data.get("preview")),
    )


def messages_api_for(*, launch: Launch) -> MessagesApi:
    """The Messages API with the tenant's system client, for the launch's patient only."""
    from smartapp.tenants.system_client import messages_access_token

    tenant = launch.tenant
    if not (tenant.messages_api_base and tenant.messages_token_endpoint):
        raise MessagesUnavailable(log="tenant without a Messages API")
    if not launch.patient_id:
        raise MessageNotFound(log="messages without a patient in context")
    reason = f"on behalf of patient, launch {launch.public_id}"
    if launch.is_clinician:
        reason = f"clinician chart view, launch {launch.public_id}"
    return MessagesApi(
        base_url=tenant.messages_api_base,
        token=lambda: messages_access_token(tenant=tenant),
        audit_context=system_audit_context(launch=launch, reason=reason),
    )


def _newest_first(messages: list[PortalMessage]) -> list[PortalMessage]:
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(messages, key=lambda m: m.created or epoch, reverse=True)


def _listed(launch: Launch, items: list[dict[str, Any]]) -> list[PortalMessage]:
    messages = [message_from(item) for item in items]
    # Only this patient's, never the deleted ones (the API lists trash with the inbox).
    return _newest_first(
        [
            m
            for m in messages
            if m.id and m.patient_id in ("", launch.patient_id) and m.status != DELETED
        ]
    )


def inbox(*, launch: Launch) -> list[PortalMessage]:
    """The patient's inbox for the past year, newest first (deleted messages left out)."""
    api = messages_api_for(launch=launch)
    return _listed(launch, api.inbox(since=timezone.now() - WINDOW))


def sent_items(*, launch: Launch) -> list[PortalMessage]:
    """What the patient sent in the past year, newest first."""
    api = messages_api_for(launch=launch)
    return _listed(launch, api.sent(since=timezone.now() - WINDOW))


def checked_message_id(message_id: str) -> str:
    if not MESSAGE_ID.match(message_id or ""):
        raise MessageNotFound(log="malformed message id")
    return message_id


def owned_message(
    *, launch: Launch, message_id: str, api: MessagesApi | None = None
) -> PortalMessage:
    """One message, if it is the launch patient's (else MessageNotFound, whatever the API said)."""
    api = api or messages_api_for(launch=launch)
    try:
        data = api.message(message_id=checked_message_id(message_id))
    except (fhir.NotFound, fhir.Forbidden):
        raise MessageNotFound(log="message unknown to the API") from None
    except fhir.FhirError as error:
        if error.status == 400:
            raise MessageNotFound(log="message id refused by the API") from None
        raise
    message = message_from(data)
    if message.patient_id != launch.patient_id or message.status == DELETED:
        raise MessageNotFound(log="message of another patient, or deleted")
    message.id = message_id  # the id we asked for and checked, whatever the answer spelled
    return message


def message_open(*, launch: Launch, message_id: str) -> PortalMessage:
    """The patient reads a message: an unread one they received is marked OPENED."""
    api = messages_api_for(launch=launch)
    message = owned_message(launch=launch, message_id=message_id, api=api)
    if message.unread and not launch.is_clinician:
        api.set_status(message_ids=[message.id], status=OPENED)
        message.status = OPENED
    return message


def message_delete(*, launch: Launch, message_id: str) -> None:
    """Moves one of the patient's messages to the trash (status DELETED)."""
    api = messages_api_for(launch=launch)
    message = owned_message(launch=launch, message_id=message_id, api=api)
    api.set_status(message_ids=[message.id], status=DELETED)


def care_team(*, launch: Launch) -> list[Participant]:
    """The clinicians of the patient's appointments (a year back, a year ahead), by name."""
    team: dict[str, str] = {}
    appointments = patient_appointments(launch=launch)
    for row in appointments.upcoming + appointments.past:
        for practitioner_id, name in row.practitioners.items():
            if name or practitioner_id not in team:
                team[practitioner_id] = name
    people = [
        Participant(pid, "PERSONNEL", name or _("Your clinician")) for pid, name in team.items()
    ]
    return sorted(people, key=lambda p: p.name.lower())


def message_send(
    *, launch: Launch, recipient_id: str, subject: str, text: str, team: list[Participant]
) -> dict[str, Any]:
    """Sends the patient's plain text (as minimal XHTML) to one clinician of their care team."""
    if recipient_id not in {p.id for p in team}:
        raise RecipientNotAllowed(recipient_id)
    api = messages_api_for(launch=launch)
    return api.send(
        sender={"id": launch.patient_id, "type": "PERSON"},
        recipients=[{"id": recipient_id, "type": "PERSONNEL"}],
        subject=subject,
        content=text_to_xhtml(text),
    )


def message_reply(*, launch: Launch, message_id: str, text: str) -> PortalMessage:
    """Answers a message the patient received: to its sender, naming it as the previous message."""
    api = messages_api_for(launch=launch)
    previous = owned_message(launch=launch, message_id=message_id, api=api)
    if not previous.can_reply or not previous.sender.id:
        raise RecipientNotAllowed(previous.sender.id)
    subject = (
        previous.subject
        if previous.subject.lower().startswith("re:")
        else f"Re: {previous.subject}"
    )
    api.send(
        sender={"id": launch.patient_id, "type": "PERSON"},
        recipients=[{"id": previous.sender.id, "type": previous.sender.type or "PERSONNEL"}],
        subject=subject[:255],
        content=text_to_xhtml(text),
        previous_message_id=previous.id,
    )
    return previous
