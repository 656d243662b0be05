"""The Messages API door: Millennium's non-FHIR patient-portal messaging (FACTS §2.12).

Base `{messages_api_base}/message/20241001`; bearer token of the tenant's system client for the
API host (scope `oraclehealth:millennium:message`). Every call sends an `opc-request-id`, is
audited (with the EHR's `opc-request-id` as correlation id, the patient and the reason) and turns
the API's JSON errors into the gateway's typed errors. Logs carry ids and statuses, never bodies.
"""

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests

from smartapp.audit import services as audit
from smartapp.fhir.errors import FhirError, Timeout, Unreachable, error_from_response
from smartapp.fhir.gateway import AuditContext
from smartapp.lib.http import correlation_id, session

logger = logging.getLogger(__name__)

VERSION = "20241001"
STATUSES = ("UNREAD", "OPENED", "DELETED")
MAX_STATUS_IDS = 100  # updatePatientMessageStatus takes at most 100 ids


class MessagesApiError(FhirError):
    """The Messages API refused or failed a request (status-typed like FHIR errors)."""


def _api_error(response: requests.Response) -> FhirError:
    """The typed error, with the API's own `code` and `message` when its JSON error has them."""
    error = error_from_response(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        nested = body.get("error")
        detail = nested if isinstance(nested, dict) else body
        error.code = str(detail.get("code") or error.code or "")
        error.message = str(detail.get("message") or error.message or "")
        error.args = (error.message or f"Messages API request failed ({response.status_code})",)
    return error


def instant(value: datetime) -> str:
    """ISO 8601 in UTC without milliseconds, as the API's date filters want."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MessagesApi:
    """One tenant's Messages API, used on behalf of one patient (audited with `audit_context`)."""

    def __init__(
        self, *, base_url: str, token: Callable[[], str], audit_context: AuditContext
    ) -> None:
        self.base_url = f"{base_url.rstrip('/')}/message/{VERSION}"
        self._token = token
        self._audit = audit_context

    def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        what: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> requests.Response:
        request_id = uuid.uuid4().hex
        headers = {
            "Accept": "application/json",
            "Authorization": f"Bearer {self._token()}",
            "opc-request-id": request_id,
        }
        response = None
        try:
            response = session().request(
                method,
                f"{self.base_url}/{path}",
                params=params,
                json=body,
                headers=headers,
                what=what,
            )
        except (requests.ConnectTimeout, requests.ConnectionError) as error:
            logger.warning("messages unreachable %s: %s", what, type(error).__name__)
            raise Unreachable(f"The messages service could not be reached ({what}).") from None
        except requests.Timeout:
            logger.warning("messages timeout %s", what)
            raise Timeout(f"The messages service did not answer in time ({what}).") from None
        finally:
            self._record(action, what, response, request_id)
        if not 200 <= response.status_code < 300:
            raise _api_error(response)
        return response

    def _record(
        self, action: str, what: str, response: requests.Response | None, request_id: str
    ) -> None:
        audit.record(
            who=self._audit.who,
            tenant=self._audit.tenant,
            action=action,
            what=what,
            patient_id=self._audit.patient_id,
            launch_id=self._audit.launch_id,
            status=response.status_code if response is not None else None,
            correlation_id=(correlation_id(response) if response is not None else "") or request_id,
            reason=self._audit.reason,
        )

    @staticmethod
    def _json(response: requests.Response) -> Any:
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise MessagesApiError(
                "The messages service sent an unreadable answer.", status=response.status_code
            ) from None

    def _list(self, folder: str, since: datetime, until: datetime | None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {
            "patientId": self._audit.patient_id,
            "createDateTimeGreaterThanOrEqualTo": instant(since),
            "limit": 1000,
        }
        if until is not None:
            params["createDateTimeLessThanOrEqualTo"] = instant(until)
        items: list[dict[str, Any]] = []
        for _ in range(20):  # sentItems pages by the `opc-next-page` header; inboxItems never does
            response = self._call(
                "GET",
                f"patientMessages/{folder}",
                action="search",
                what=f"Messages {folder}",
                params=params,
            )
            items.extend(_items(self._json(response), folder))
            next_page = response.headers.get("opc-next-page")
            if folder != "sentItems" or not next_page:
                break
            params = {**params, "page": next_page}
        return items

    def inbox(self, *, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        """The patient's inbox items created in [since, until] (one page of at most 1000)."""
        return self._list("inboxItems", since, until)

    def sent(self, *, since: datetime, until: datetime | None = None) -> list[dict[str, Any]]:
        """The patient's sent items created in [since, until], every page."""
        return self._list("sentItems", since, until)

    def message(self, *, message_id: str) -> dict[str, Any]:
        """One message's details."""
        response = self._call(
            "GET",
            f"patientMessages/{message_id}",
            action="read",
            what=f"Messages patientMessages/{message_id}",
            params={"patientId": self._audit.patient_id},
        )
        data = self._json(response)
        if not isinstance(data, dict):
            raise MessagesApiError("The messages service sent an unreadable message.")
        return data

    def send(
        self,
        *,
        sender: dict[str, str],
        recipients: list[dict[str, str]],
        subject: str,
        content: str,
        previous_message_id: str = "",
    ) -> dict[str, Any]:
        """Sends a message (XHTML content) from the patient; a reply names the previous message."""
        body: dict[str, Any] = {
            "patientId": self._audit.patient_id,
            "messageSender": sender,
            "recipients": recipients,
            "subject": subject,
            "content": content,
            "priority": {"value": "NORMAL"},
        }
        if previous_message_id:
            body["previousMessageId"] = previous_message_id
        response = self._call(
            "POST",
            "patientMessages/sentItems",
            action="write",
            what="Messages sentItems create",
            body=body,
        )
        data = self._json(response)
        return data if isinstance(data, dict) else {}

    def set_status(self, *, message_ids: list[str], status: str) -> None:
        """Marks the patient's messages UNREAD, OPENED or DELETED."""
        if status not in STATUSES or not 0 < len(message_ids) <= MAX_STATUS_IDS:
            raise ValueError("a known status and 1 to 100 message ids")
        self._call(
            "POST",
            "actions/updatePatientMessageStatus",
            action="write",
            what=f"Messages status {status} {','.join(message_ids)}",
            body={"patientId": self._audit.patient_id, "messages": message_ids, "status": status},
        )


def _items(data: Any, folder: str) -> list[dict[str, Any]]:
    """The list in a list answer, whichever key it comes under."""
    if isinstance(data, list):
        return [i for i in data if isinstance(i, dict)]
    if isinstance(data, dict):
        for key in ("items", folder, "patientMessages", "messages"):
            if isinstance(data.get(key), list):
                return [i for i in data[key] if isinstance(i, dict)]
    return []
