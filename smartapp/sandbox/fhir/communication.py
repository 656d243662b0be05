"""Communication (clinician messaging, FACTS §2.10): read, search, create, PATCH email status.

Provider and system personas only. Search by `_id`, or by all four of `category`,
`recipient` (`recipient:Practitioner=1`, `recipient:Group=2` or `recipient=Practitioner/1`),
`received` (`ge…`, or `ge…` and `le…`, with a time) and `-email-status`
(`[http://hl7.org/fhir/task-status|]in-progress`). Newest first; at most 1000 a page.
"""

import base64
import binascii
from datetime import datetime
from html import escape
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from smartapp.sandbox.fhir import params as p
from smartapp.sandbox.fhir.registry import (
    Access,
    InsufficientScope,
    OutcomeError,
    ResourceHandler,
    SearchParams,
    register,
)
from smartapp.sandbox.models import Communication, Patient, Practitioner
from smartapp.sandbox.scheduling import instant
from smartapp.sandbox.seed_people import EXT

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/communication-category"
SNOMED = "http://snomed.info/sct"
CATEGORIES = {"notification": "Notification", "reminder": "Reminder", "312853008": "Message"}
TASK_STATUS = "http://hl7.org/fhir/task-status"
EMAIL_STATUS_URL = f"{EXT}/email-status"
EMAIL_STATUSES = {"in-progress", "completed", "on-hold", "cancelled", "failed"}
REPLY_TO_URL = f"{EXT}/reply-to"
CONTENT_TYPES = {"application/xhtml+xml", "text/plain"}
CHARSETS = {"", "utf-8", "us-ascii"}
CREATE_FIELDS = {"resourceType", "extension", "status", "category", "priority", "subject"}
CREATE_FIELDS |= {"topic", "encounter", "recipient", "sender", "payload"}
CREATED_BASE = 472_894_781
FOUR = ("category", "recipient", "received", "-email-status")


def refuse(text: str, code: str = "business-rule") -> OutcomeError:
    return OutcomeError(422, code, text)


def email_status_extension(code: str) -> dict[str, Any]:
    return {
        "valueCodeableConcept": {
            "coding": [{"system": TASK_STATUS, "code": code, "display": code.title()}],
            "text": code.replace("-", " ").title(),
        },
        "url": EMAIL_STATUS_URL,
    }


def communication_body(row: Communication, message: dict[str, Any]) -> dict[str, Any]:
    """The Communication for `row`; `message` holds what the columns do not (names, topic…)."""
    category = row.category
    coding = {"system": SNOMED if category.isdigit() else CATEGORY_SYSTEM, "code": category}
    coding["display"] = CATEGORIES[category]
    body: dict[str, Any] = {
        "resourceType": "Communication",
        "id": row.fhir_id,
        "meta": {"versionId": str(row.version), "lastUpdated": message["updated"]},
        "text": {
            "status": "generated",
            "div": "<div xmlns='http://www.w3.org/1999/xhtml'><p><b>Communication</b></p>"
            f"<p><b>Topic</b>: {escape(message.get('topic', ''))}</p></div>",
        },
        "extension": [email_status_extension(row.email_status)],
    }
    if message.get("in_response_to"):
        body["inResponseTo"] = [{"reference": f"Communication/{message['in_response_to']}"}]
    body |= {
        "status": "completed",
        "category": [{"coding": [coding], "text": CATEGORIES[category]}],
        "priority": message.get("priority", "routine"),
    }
    if row.patient_fhir_id:
        body["subject"] = {
            "reference": f"Patient/{row.patient_fhir_id}",
            "display": message.get("patient", ""),
        }
    if message.get("topic"):
        body["topic"] = {"text": message["topic"]}
    if message.get("encounter"):
        body["encounter"] = {"reference": f"Encounter/{message['encounter']}"}
    body |= {
        "sent": instant(row.received),
        "received": instant(row.received),
        "recipient": message["recipients"],
        "sender": message["sender"],
        "payload": [{"contentReference": {"reference": f"Binary/{row.fhir_id}"}}],
    }
    return body


def _names(tenant: str, model: Any, refs: list[str]) -> dict[str, str]:
    ids = [ref.split("/", 1)[1] for ref in refs]
    return {
        row.fhir_id: row.display_name
        for row in model.objects.filter(tenant_id=tenant, fhir_id__in=ids)
    }


def _reference(value: Any, types: tuple[str, ...], what: str) -> str:
    ref = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(ref, str) or ref.split("/")[0] not in types or ref.count("/") != 1:
        raise refuse(f"{what} must reference a {' or '.join(types)}")
    return ref


def _payload(body: dict[str, Any]) -> tuple[str, bytes]:
    payload = body.get("payload")
    if not isinstance(payload, list) or len(payload) != 1:
        raise refuse("Exactly one payload is required")
    attachment = payload[0].get("contentAttachment") if isinstance(payload[0], dict) else None
    if not isinstance(attachment, dict):
        raise refuse("payload.contentAttachment is required")
    kind, _, params = str(attachment.get("contentType", "")).partition(";")
    charset = params.strip().lower().removeprefix("charset=")
    if kind.strip() not in CONTENT_TYPES or charset not in CHARSETS:
        raise refuse("contentType must be application/xhtml+xml or text/plain (utf-8, us-ascii)")
    try:
        data = base64.b64decode(str(attachment.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise refuse("payload data must be base64") from None
    if not data:
        raise refuse("payload data is required")
    stored = "text/html" if kind.strip() == "application/xhtml+xml" else "text/plain"
    return stored, data


def _parse_create(tenant: str, body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(column values, message details) for a create, or 422."""
    if not isinstance(body, dict) or body.get("resourceType") != "Communication":
        raise refuse("The body must be a Communication")
    unsupported = sorted(set(body) - CREATE_FIELDS)
    if unsupported:
        raise refuse(f"Unsupported fields: {', '.join(unsupported)}")
    if body.get("status") != "completed":
        raise refuse("status must be completed")
    try:
        category = body["category"][0]["coding"][0]["code"]
    except (KeyError, IndexError, TypeError):
        raise refuse("category is required") from None
    if category not in CATEGORIES:
        raise refuse("category must be notification, reminder or SNOMED 312853008")
    priority = body.get("priority", "routine")
    if priority not in ("routine", "urgent"):
        raise refuse("priority must be routine or urgent")
    recipients = body.get("recipient")
    if not isinstance(recipients, list) or not recipients:
        raise refuse("At least one recipient is required")
    refs = [_reference(r, ("Practitioner", "Group"), "recipient") for r in recipients]
    sender = _reference(body.get("sender"), ("Practitioner",), "sender")
    patient = ""
    if "subject" in body:
        patient = _reference(body["subject"], ("Patient",), "subject").split("/")[1]
    if "encounter" in body and not patient:
        raise refuse("encounter needs a subject")
    content_type, data = _payload(body)
    people = _names(tenant, Practitioner, [r for r in refs if r.startswith("P")] + [sender])
    patients = _names(tenant, Patient, [f"Patient/{patient}"]) if patient else {}
    if patient and patient not in patients:
        raise refuse(f"Patient/{patient} does not exist")
    if sender.split("/")[1] not in people:
        raise refuse(f"{sender} does not exist")
    topic = body.get("topic", {}).get("text", "") if isinstance(body.get("topic"), dict) else ""
    message = {
        "priority": priority,
        "topic": topic,
        "patient": patients.get(patient, ""),
        "encounter": _reference(body["encounter"], ("Encounter",), "encounter").split("/")[1]
        if "encounter" in body
        else "",
        "recipients": [
            {"reference": ref, "display": people.get(ref.split("/")[1], "")} for ref in refs
        ],
        "sender": {"reference": sender, "display": people[sender.split("/")[1]]},
    }
    columns = {
        "category": category,
        "recipients": " " + " ".join(refs) + " ",
        "patient_fhir_id": patient,
        "content_type": content_type,
        "content": data,
        "email_status": "in-progress",
    }
    return columns, message


def create_row(tenant: str, columns: dict[str, Any], message: dict[str, Any], fhir_id: str = ""):
    """Stores a Communication (also used by the seed); `fhir_id` empty → the next created id."""
    now = columns.pop("received", None) or timezone.now()
    message.setdefault("updated", instant(now))
    row = Communication.objects.create(
        tenant_id=tenant, fhir_id=fhir_id or "new", received=now, resource={}, **columns
    )
    if not fhir_id:
        row.fhir_id = f"{CREATED_BASE + row.pk}.0.-4.0"
    row.resource = communication_body(row, message)
    row.save(update_fields=["fhir_id", "resource"])
    return row


def _received(values: list[str]) -> Q:
    parsed = [p._instant(value, "received") for value in values]
    prefixes = sorted(prefix for prefix, _, _ in parsed)
    if prefixes not in (["ge"], ["ge", "le"]) or any(day for _, _, day in parsed):
        raise p.bad_request("received needs 'ge' (and optionally 'le') with a date and time")
    q = Q()
    for prefix, moment, _ in parsed:
        q &= Q(**{f"received__{'gte' if prefix == 'ge' else 'lte'}": moment})
    return q


def _filters(params: SearchParams) -> Q:
    p.check_names(params, {"_id", *FOUR}, repeatable=frozenset({"received"}))
    if "_id" in params:
        if len(params) > 1 and set(params) - p.PAGING != {"_id"}:
            raise p.bad_request("_id cannot be combined with other parameters")
        return Q(fhir_id__in=p.id_list(params["_id"]))
    present = {name.split(":")[0] for name in params}
    missing = [name for name in FOUR if name not in present]
    if missing:
        raise p.bad_request(f"category, recipient, received and -email-status are all required "
                            f"(missing {', '.join(missing)})")  # fmt: skip
    categories = p.id_list(params["category"])
    if not set(categories) <= set(CATEGORIES):
        raise p.bad_request("category must be notification, reminder or 312853008")
    refs = []
    for name in params:
        if name.startswith("recipient"):
            kind = name.partition(":")[2]
            if kind and kind not in ("Practitioner", "Group"):
                raise p.bad_request("recipient must be a Practitioner or Group")
            for value in p.id_list(params[name]):
                ref = f"{kind}/{value}" if kind else value
                if ref.split("/")[0] not in ("Practitioner", "Group") or "/" not in ref:
                    raise p.bad_request("recipient must be Practitioner/{id} or Group/{id}")
                refs.append(ref)
    recipient_q = Q()
    for ref in refs:
        recipient_q |= Q(recipients__contains=f" {ref} ")
    system, _, code = params["-email-status"].rpartition("|")
    if (system and system != TASK_STATUS) or code not in EMAIL_STATUSES:
        raise p.bad_request(f"-email-status must be {TASK_STATUS}|in-progress (or another status)")
    return (
        Q(category__in=categories)
        & recipient_q
        & _received(params.getlist("received"))
        & Q(email_status=code)
    )


def _email_status(operations: Any) -> str:
    try:
        (op,) = operations
        assert op["op"] == "replace" and op["path"] == "/extension"
        (extension,) = op["value"]
        assert extension["url"] == EMAIL_STATUS_URL
        (coding,) = extension["valueCodeableConcept"]["coding"]
        assert coding.get("system", TASK_STATUS) == TASK_STATUS
        code = coding["code"]
    except (AssertionError, KeyError, TypeError, ValueError):
        raise refuse(
            "Only 'replace /extension' with the email-status extension is supported"
        ) from None
    if code not in EMAIL_STATUSES:
        raise refuse("Unknown email status")
    return code


def provider_or_system(access: Access) -> None:
    if access.persona not in ("provider", "system"):
        raise InsufficientScope


@register
class CommunicationHandler(ResourceHandler):
    type_name = "Communication"
    include_total = False
    default_count = 100
    max_count = 1000

    def read(self, *, tenant: str, fhir_id: str, access: Access) -> dict[str, Any] | None:
        provider_or_system(access)
        row = Communication.objects.filter(tenant_id=tenant, fhir_id=fhir_id).first()
        return row.resource if row else None

    def search(self, *, tenant: str, params: SearchParams, access: Access) -> QuerySet[Any]:
        provider_or_system(access)
        rows = Communication.objects.filter(tenant_id=tenant).filter(_filters(params))
        return rows.order_by("-received", "fhir_id")

    def create(self, *, tenant: str, body: Any, access: Access) -> tuple[str, int]:
        columns, message = _parse_create(tenant, body)
        row = create_row(tenant, columns, message)
        return row.fhir_id, row.version

    def patch(
        self, *, tenant: str, fhir_id: str, operations: Any, version: str, access: Access
    ) -> int:
        code = _email_status(operations)
        with transaction.atomic():
            rows = Communication.objects.filter(tenant_id=tenant, fhir_id=fhir_id)
            if version:
                if not version.isdigit():
                    raise OutcomeError(409, "conflict", "The version does not match If-Match")
                rows = rows.filter(version=int(version))
            changed = rows.update(email_status=code, version=F("version") + 1)
            row = Communication.objects.filter(tenant_id=tenant, fhir_id=fhir_id).first()
            if row is None:
                raise OutcomeError(404, "not-found", "Resource not found")
            if not changed:
                raise OutcomeError(409, "conflict", "The version does not match If-Match")
            row.resource["extension"] = [email_status_extension(code)]
            row.resource["meta"] = {"versionId": str(row.version), "lastUpdated": _now()}
            row.save(update_fields=["resource"])
        return row.version


def _now() -> str:
    return instant(datetime.now(tz=timezone.get_current_timezone()))
