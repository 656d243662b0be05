"""Messages API rules and JSON shapes (ours where Oracle leaves the schema open; see README)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.html import strip_tags

from smartapp.lib.html_text import plain_text
from smartapp.sandbox.models import Patient, PortalMessage, Practitioner

LIMIT = 1000
MAX_CONTENT_BYTES = 32 * 1024
MAX_STATUS_IDS = 100
DEFAULT_WINDOW = timedelta(days=90)
STATUSES = {"UNREAD", "OPENED", "DELETED"}
# Every move Oracle lists (Unread↔Opened, either → Deleted, Deleted → Unread/Opened).
TRANSITIONS = {"UNREAD": {"OPENED", "DELETED"}, "OPENED": {"UNREAD", "DELETED"}}
TRANSITIONS["DELETED"] = {"UNREAD", "OPENED"}
PRIORITIES = {"HIGH", "NORMAL"}
NOTIFICATION_TYPES = {"MESSAGE", "REMINDER"}
RECIPIENT_TYPES = {"PERSONNEL", "GROUPINBOX", "EMAIL"}
CREATED_BASE = 880_000_000
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class ApiError(Exception):
    """Ends the request with the Oracle API gateway's `{"code", "message"}` body."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def not_found(message: str = "The message was not found or you are not authorized") -> ApiError:
    return ApiError(404, "NotAuthorizedOrNotFound", message)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(value: str, name: str) -> datetime:
    if not _INSTANT.match(value):
        raise invalid(f"{name} must be an ISO-8601 UTC date-time without milliseconds")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise invalid(f"{name} is not a valid date-time") from None


def _participant(value: dict[str, Any]) -> dict[str, Any]:
    return {"id": value["id"], "type": value["type"], "name": value.get("name", "")}


def preview(content: str, length: int = 120) -> str:
    """Plain text (not HTML: callers must escape it) from the start of the content."""
    text = plain_text(content)
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def summary(row: PortalMessage) -> dict[str, Any]:
    return {
        "id": row.message_id,
        "subject": row.subject,
        "createDateTime": stamp(row.created_at),
        "status": row.status,
        "priority": row.priority,
        "notificationType": row.notification_type,
        "sender": _participant(row.sender),
        "recipients": [_participant(r) for r in row.recipients],
        "hasAttachments": False,
        "preview": preview(row.content),
    }


def detail(row: PortalMessage) -> dict[str, Any]:
    return summary(row) | {
        "patientId": row.patient_fhir_id,
        "content": row.content,
        "previousMessageId": row.previous_message_id or None,
        "encounterId": row.encounter_fhir_id or None,
        "carbonCopyRecipients": [],
        "attachments": [],
    }


def patient_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("patientId is required")
    return value.strip()


def listing(
    tenant: str, folder: str, query: dict[str, list[str]]
) -> tuple[list[PortalMessage], bool]:
    """One page (≤ 1000) of a folder and whether more matched ("hasMore")."""
    single = {k: v for k, v in query.items() if k != "notificationType"}
    for name, values in single.items():
        if len(values) > 1:
            raise invalid(f"{name} may only be given once")
    get = {k: v[0] for k, v in single.items()}
    patient = patient_id(get.get("patientId"))
    if "limit" in get and get["limit"] != str(LIMIT):
        raise invalid(f"limit only supports {LIMIT}")
    now = timezone.now()
    upper = now
    if "createDateTimeLessThanOrEqualTo" in get:
        upper = min(
            _instant(get["createDateTimeLessThanOrEqualTo"], "createDateTimeLessThanOrEqualTo"), now
        )
    lower = upper - DEFAULT_WINDOW if "createDateTimeGreaterThanOrEqualTo" not in get else None
    if lower is None:
        lower = _instant(
            get["createDateTimeGreaterThanOrEqualTo"], "createDateTimeGreaterThanOrEqualTo"
        )
    if lower > upper:
        raise invalid("createDateTimeGreaterThanOrEqualTo is after createDateTimeLessThanOrEqualTo")
    types = [t for value in query.get("notificationType", []) for t in value.split(",") if t]
    if not set(types) <= NOTIFICATION_TYPES:
        raise invalid("notificationType must be MESSAGE or REMINDER")
    sort_by, order = get.get("sortBy", "createDateTime"), get.get("sortOrder", "DESC").upper()
    if sort_by not in ("createDateTime", "priority") or order not in ("ASC", "DESC"):
        raise invalid("sortBy must be createDateTime or priority; sortOrder ASC or DESC")
    rows: QuerySet[PortalMessage] = PortalMessage.objects.filter(
        tenant_id=tenant,
        patient_fhir_id=patient,
        folder=folder,
        created_at__gte=lower,
        created_at__lte=upper,
    ).exclude(status="DELETED")
    if types:
        rows = rows.filter(notification_type__in=types)
    sign = "-" if order == "DESC" else ""
    # HIGH sorts before NORMAL in a descending priority sort.
    keys = [f"{'' if sign else '-'}priority"] if sort_by == "priority" else []
    rows = rows.order_by(*keys, f"{sign}created_at", f"{sign}message_id")
    if "page" in get:
        return [], False  # one page only: there is never an `opc-next-page` to follow
    page = list(rows[: LIMIT + 1])
    return page[:LIMIT], len(page) > LIMIT


def one(tenant: str, message_id: str, patient: str) -> PortalMessage:
    if "," in message_id:
        raise invalid("Only one patientMessageId may be given")
    row = PortalMessage.objects.filter(tenant_id=tenant, message_id=message_id).first()
    if row is None or row.patient_fhir_id != patient or row.status == "DELETED":
        raise not_found()
    return row


def _recipients(tenant: str, values: Any, name: str, required: bool) -> list[dict[str, Any]]:
    if values is None and not required:
        return []
    if not isinstance(values, list) or (required and not values):
        raise invalid(f"{name} needs at least one recipient")
    found = []
    for value in values:
        if not isinstance(value, dict) or value.get("type") not in RECIPIENT_TYPES:
            raise invalid(f"{name}[].type must be PERSONNEL, GROUPINBOX or EMAIL")
        ident = str(value.get("id", "")).strip()
        if not ident:
            raise invalid(f"{name}[].id is required")
        kind, display = value["type"], ""
        if kind == "PERSONNEL":
            person = Practitioner.objects.filter(tenant_id=tenant, fhir_id=ident).first()
            if person is None:
                raise invalid(f"Unknown PERSONNEL recipient {ident}")
            display = person.display_name
        elif kind == "EMAIL" and "@" not in ident:
            raise invalid("An EMAIL recipient's id is the address")
        found.append({"id": ident, "type": kind, "name": display or str(value.get("name", ""))})
    kinds = {r["type"] for r in found}
    if "EMAIL" in kinds and (len(kinds) > 1 or len(found) > 1):
        raise invalid(
            "An EMAIL recipient cannot be mixed with others, and only one address is allowed"
        )
    return found


def create(tenant: str, body: Any) -> PortalMessage:
    """A new message from the patient (or a reply, with `previousMessageId`) in their sent items."""
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object (CreateSentItemDetails)")
    patient_ident = patient_id(body.get("patientId"))
    patient = Patient.objects.filter(tenant_id=tenant, fhir_id=patient_ident).first()
    if patient is None:
        raise not_found("The patient was not found or you are not authorized")
    content = body.get("content")
    if not isinstance(content, str) or not strip_tags(content).strip():
        raise invalid("content is required")
    if len(content.encode()) > MAX_CONTENT_BYTES:
        raise invalid(f"content may be at most {MAX_CONTENT_BYTES} bytes")
    sender = body.get("messageSender")
    if not isinstance(sender, dict) or sender.get("type") != "PERSON":
        raise invalid("messageSender {id, type: PERSON} is required")
    if str(sender.get("id", "")) != patient_ident:
        raise invalid("messageSender.id must be the patient (proxies are not supported)")
    recipients = _recipients(tenant, body.get("recipients"), "recipients", True)
    _recipients(tenant, body.get("carbonCopyRecipients"), "carbonCopyRecipients", False)
    if body.get("attachments"):
        raise invalid("attachments are not supported by the sandbox")
    priority = body.get("priority", {"value": "NORMAL"})
    if not isinstance(priority, dict) or priority.get("value") not in PRIORITIES:
        raise invalid("priority.value must be HIGH or NORMAL")
    subject = body.get("subject", "")
    if not isinstance(subject, str) or len(subject) > 255:
        raise invalid("subject must be text of at most 255 characters")
    previous, encounter = None, ""
    if body.get("previousMessageId"):
        previous = one(tenant, str(body["previousMessageId"]), patient_ident)
        if previous.notification_type == "REMINDER":
            raise invalid("A REMINDER cannot be replied to")
        encounter = previous.encounter_fhir_id
        subject = subject or (
            previous.subject if previous.subject.startswith("RE:") else f"RE: {previous.subject}"
        )
    with transaction.atomic():
        row = PortalMessage.objects.create(
            tenant_id=tenant,
            message_id="new",
            patient_fhir_id=patient_ident,
            folder="SENT",
            subject=subject.strip() or "(no subject)",
            content=content,
            created_at=timezone.now().replace(microsecond=0),
            status="OPENED",
            priority=priority["value"],
            sender={"id": patient_ident, "type": "PERSON", "name": patient.display_name},
            recipients=recipients,
            previous_message_id=previous.message_id if previous else "",
            encounter_fhir_id=encounter,
        )
        row.message_id = str(CREATED_BASE + row.pk)
        row.save(update_fields=["message_id"])
    return row


def update_status(tenant: str, body: Any) -> None:
    if not isinstance(body, dict):
        raise invalid("The body must be a JSON object")
    patient = patient_id(body.get("patientId"))
    ids, status = body.get("messages"), body.get("status")
    if status not in STATUSES:
        raise invalid("status must be UNREAD, OPENED or DELETED")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise invalid("messages must be a non-empty list of message ids")
    if len(ids) > MAX_STATUS_IDS:
        raise invalid(f"At most {MAX_STATUS_IDS} messages may be updated at once")
    with transaction.atomic():
        rows = list(
            PortalMessage.objects.select_for_update().filter(
                Q(tenant_id=tenant) & Q(message_id__in=ids) & Q(patient_fhir_id=patient)
            )
        )
        if len(rows) != len(set(ids)):
            raise not_found("One or more messages were not found or you are not authorized")
        for row in rows:
            if row.status != status and status not in TRANSITIONS[row.status]:
                raise invalid(f"A {row.status} message cannot become {status}")
        PortalMessage.objects.filter(pk__in=[r.pk for r in rows]).update(status=status)
