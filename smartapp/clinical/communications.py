"""A clinician's own messages: FHIR Communications addressed to them (FACTS §2.10).

Millennium's Communication search needs all four of `category`, `recipient`, `received` and
`-email-status`. We ask for every category (comma list), the launched Practitioner, the last
`WINDOW` and each of two email statuses (`in-progress` = new, `completed` = done): two searches,
in parallel. A body is a Binary with the Communication's id, read only when a message is opened
(after the Communication, once we know it is addressed to them) and sanitized before it is shown.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.safestring import SafeString
from fhirclient.models.resource import Resource

from smartapp.clinical.messages import MESSAGE_ID, MessageNotFound
from smartapp.clinical.sanitize import safe_html, text_to_xhtml
from smartapp.clinical.timezones import fhir_instant
from smartapp.fhir import errors as fhir
from smartapp.fhir.gateway import fetch_parallel
from smartapp.fhir.presentation import instant
from smartapp.fhir.references import fhir_id
from smartapp.launch.access import gateway_for
from smartapp.launch.models import Launch

WINDOW = timedelta(days=30)
CATEGORIES = "notification,reminder,312853008"
TASK_STATUS = "http://hl7.org/fhir/task-status"
EMAIL_STATUS = "https://fhir-ehr.cerner.com/r4/StructureDefinition/email-status"
MAX_ROWS = 200


@dataclass
class StaffMessage:
    id: str
    topic: str
    received: datetime | None
    sender: str
    patient: str
    priority: str
    new: bool
    recipients: list[str]
    body: SafeString | None = None

    @property
    def urgent(self) -> bool:
        return self.priority in ("urgent", "asap", "stat")


def _email_status(resource: Resource) -> str:
    for ext in resource.extension or []:
        if ext.url == EMAIL_STATUS and ext.valueCodeableConcept is not None:
            return next((c.code for c in ext.valueCodeableConcept.coding or [] if c.code), "")
    return ""


def staff_message(resource: Resource) -> StaffMessage:
    return StaffMessage(
        id=fhir_id(resource.id),
        topic=str(getattr(resource.topic, "text", "") or ""),
        received=instant(resource.received or resource.sent),
        sender=str(getattr(resource.sender, "display", "") or ""),
        patient=str(getattr(resource.subject, "display", "") or ""),
        priority=str(resource.priority or "routine"),
        new=_email_status(resource) == "in-progress",
        recipients=[str(r.reference or "") for r in resource.recipient or []],
    )


def my_messages(*, launch: Launch) -> list[StaffMessage]:
    """Communications to the launched clinician in the last 30 days, newest first."""
    gateway = gateway_for(launch=launch)
    since = fhir_instant(timezone.now() - WINDOW)

    def search(status: str):  # noqa: ANN202 - a thunk for fetch_parallel
        params = {
            "category": CATEGORIES,
            "recipient": f"Practitioner/{launch.user_id}",
            "received": f"ge{since}",
            "-email-status": f"{TASK_STATUS}|{status}",
            "_count": MAX_ROWS,
        }
        return lambda: gateway.search("Communication", params)

    results = fetch_parallel({"new": search("in-progress"), "done": search("completed")})
    rows = [
        staff_message(c)
        for result in results.values()
        for c in result.resources
        if c.resource_type == "Communication"
    ]
    unique = {row.id: row for row in rows if row.id}
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(unique.values(), key=lambda r: r.received or epoch, reverse=True)


def _body(binary: Resource) -> SafeString:
    try:
        raw = base64.b64decode(binary.data or "").decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return safe_html("")
    if (binary.contentType or "").startswith("text/plain"):
        return safe_html(text_to_xhtml(raw))
    return safe_html(raw)


def my_message(*, launch: Launch, communication_id: str) -> StaffMessage:
    """One Communication addressed to the launched clinician, with its sanitized body."""
    if not MESSAGE_ID.match(communication_id or ""):
        raise MessageNotFound(log="malformed communication id")
    gateway = gateway_for(launch=launch)
    try:
        message = staff_message(gateway.read("Communication", communication_id))
        # The body only after we know it is theirs: reading it is an audited disclosure.
        if f"Practitioner/{launch.user_id}" not in message.recipients:
            raise MessageNotFound(log="communication addressed to someone else")
        message.body = _body(gateway.read("Binary", communication_id))
    except fhir.NotFound:
        raise MessageNotFound(log="communication or its body not found") from None
    return message
