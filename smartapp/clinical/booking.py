"""Booking, cancelling and rescheduling appointments for the launch's patient.

Clinicians write with their own token. Patients cannot create or patch Appointments at
Millennium, so their writes go through the tenant's system client, for the patient of their own
launch only, audited with the reason. A confirm form carries a one-time key: the row is claimed
before the POST, so a double submit never books twice.
"""

import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from smartapp.clinical.appointment_rows import CANCEL_SYSTEM, AppointmentRow, appointment_row
from smartapp.clinical.models import BookingRequest
from smartapp.fhir import errors as fhir
from smartapp.fhir.gateway import FhirGateway
from smartapp.launch import error_pages
from smartapp.launch.access import gateway_for, on_behalf_reason, system_gateway_for
from smartapp.launch.models import Launch
from smartapp.lib import row_leases

State = BookingRequest.State
REQUEST_LIFETIME = timedelta(hours=1)
SETTLE_SECONDS = 15  # how long a double submit waits for the first one's answer
CANCEL_REASONS = [
    ("pat", gettext_lazy("I cannot come / patient request")),
    ("pat-fb", gettext_lazy("Feeling better")),
    ("pat-lt", gettext_lazy("No transport")),
    ("prov", gettext_lazy("Clinician unavailable")),
    ("oth-err", gettext_lazy("Booked by mistake")),
    ("other", gettext_lazy("Other")),
]
# Kept in English on the booking request (a replay may come in another language): shown with _().
SLOT_TAKEN = gettext_noop(
    "That time was taken a moment ago, so it was not booked. Here are the free times now."
)
NOT_ACCEPTED = gettext_noop("The EHR did not accept the booking.")
MOVE_REFUSED = gettext_lazy(
    "The new time was taken a moment ago or the appointment changed meanwhile, "
    "so nothing was changed. Here are the free times now."
)
STALE = gettext_lazy(
    "This appointment changed since you opened the page (someone else updated it), "
    "so nothing was changed. Here is the current list."
)


class WriteRefused(Exception):
    """The EHR refused the write in a way the user can act on; `message` says how."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SlotTaken(WriteRefused):
    pass


class StaleAppointment(WriteRefused):
    pass


class AppointmentNotFound(error_pages.LaunchError):
    status = 404
    title = gettext_lazy("Appointment not found")
    explanation = gettext_lazy("There is no such appointment for this patient.")
    way_forward = ""


class BookingExpired(error_pages.LaunchError):
    status = 400
    title = gettext_lazy("This confirmation has expired")
    explanation = gettext_lazy(
        "The booking page was open too long or does not belong to this session. "
        "Please choose a time again."
    )
    way_forward = ""


def _writer(launch: Launch, verb: str) -> FhirGateway:
    if launch.is_clinician:
        return gateway_for(launch=launch)
    return system_gateway_for(launch=launch, reason=on_behalf_reason(launch=launch, verb=verb))


def booking_request_create(*, launch: Launch, slot_id: str, search: str) -> BookingRequest:
    """A fresh one-time key for a confirm page showing this slot (and the search it came from)."""
    return BookingRequest.objects.create(
        key=secrets.token_urlsafe(32), launch=launch, slot_id=slot_id, search=search[:600]
    )


def booking_request_for(*, launch: Launch, key: str) -> BookingRequest:
    request = BookingRequest.objects.filter(key=key, launch=launch).first()
    if request is None or request.created < timezone.now() - REQUEST_LIFETIME:
        raise BookingExpired(log="booking key unknown, of another launch, or expired")
    return request


def _settle(request: BookingRequest) -> BookingRequest:
    """A replay waits briefly for the first submit's answer, then reports it."""

    def settled() -> bool:
        request.refresh_from_db()
        return request.state != State.SENDING

    row_leases.wait_until(settled, seconds=SETTLE_SECONDS, step=0.2)
    return request


def _finish(
    request: BookingRequest, state: str, *, appointment_id: str = "", message: str = ""
) -> None:
    BookingRequest.objects.filter(pk=request.pk).update(
        state=state, appointment_id=appointment_id, message=message[:300], updated=timezone.now()
    )
    request.refresh_from_db()


def appointment_body(*, slot_id: str, patient_id: str, reason: str) -> dict[str, Any]:
    """The Appointment Millennium books from a free Slot: booked, the patient accepted."""
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
        "reasonCode": [{"text": reason}],
    }


def appointment_book(*, launch: Launch, key: str, reason: str) -> BookingRequest:
    """Books the slot of this confirm key for the launch's patient, at most once per key."""
    request = booking_request_for(launch=launch, key=key)
    claimed = BookingRequest.objects.filter(pk=request.pk, state=State.NEW).update(
        state=State.SENDING, updated=timezone.now()
    )
    if not claimed:
        return _settle(request)
    body = appointment_body(slot_id=request.slot_id, patient_id=launch.patient_id, reason=reason)
    try:
        written = _writer(launch, "booked").create(
            "Appointment", body, patient_id=launch.patient_id
        )
    except (fhir.Conflict, fhir.Unprocessable, fhir.Locked):
        _finish(request, State.REFUSED, message=SLOT_TAKEN)
    except fhir.Unreachable:
        _finish(request, State.NEW)  # never sent: the same page may try again
        raise
    except (fhir.Timeout, fhir.RateLimited) as error:
        _finish(request, State.UNKNOWN, message=str(error))
    except fhir.FhirError as error:
        state = State.UNKNOWN if error.status >= 500 else State.REFUSED
        _finish(request, state, message=NOT_ACCEPTED)
        raise
    else:
        _finish(request, State.BOOKED, appointment_id=written.resource_id)
    return request


def owned_appointment(*, launch: Launch, appointment_id: str) -> AppointmentRow:
    """The appointment, read with the launch's own token, if the launch's patient takes part."""
    try:
        data = gateway_for(launch=launch).read_json("Appointment", appointment_id)
    except fhir.NotFound:
        raise AppointmentNotFound(log="appointment not found at the EHR") from None
    row = appointment_row(data)
    if not launch.patient_id or row.patient_id != launch.patient_id:
        raise AppointmentNotFound(log="appointment of another patient")
    return row


def _check_version(row: AppointmentRow, version: str) -> None:
    if row.version != version:
        raise StaleAppointment(str(STALE))


def _patch(
    launch: Launch, row: AppointmentRow, operations: list[dict], verb: str, version: str
) -> None:
    try:
        _writer(launch, verb).patch(
            "Appointment", row.id, operations, version=version, patient_id=launch.patient_id
        )
    except (fhir.Conflict, fhir.PreconditionFailed, fhir.Locked):
        raise StaleAppointment(str(STALE)) from None


def appointment_cancel(
    *, launch: Launch, appointment_id: str, version: str, reason_code: str
) -> AppointmentRow:
    """Cancels one of the launch patient's upcoming appointments at the version the user saw."""
    row = owned_appointment(launch=launch, appointment_id=appointment_id)
    _check_version(row, version)
    if not row.can_cancel:
        raise WriteRefused(
            _("This appointment can no longer be cancelled here. Please call the clinic.")
        )
    operations: list[dict[str, Any]] = [
        {"op": "replace", "path": "/status", "value": "cancelled"},
        {
            "op": "add",
            "path": "/cancelationReason",
            "value": {"coding": [{"system": CANCEL_SYSTEM, "code": reason_code}]},
        },
    ]
    try:
        _patch(launch, row, operations, "cancelled", version)
    except fhir.Unprocessable:
        raise WriteRefused(
            _("The EHR would not cancel this appointment. Please call the clinic.")
        ) from None
    return row


def appointment_reschedule(
    *, launch: Launch, appointment_id: str, version: str, slot_id: str
) -> AppointmentRow:
    """Moves one of the launch patient's appointments to another free slot (clinicians)."""
    row = owned_appointment(launch=launch, appointment_id=appointment_id)
    _check_version(row, version)
    if not row.can_reschedule:
        raise WriteRefused(_("This appointment cannot be rescheduled."))
    operations = [{"op": "replace", "path": "/slot", "value": [{"reference": f"Slot/{slot_id}"}]}]
    try:
        _patch(launch, row, operations, "rescheduled", version)
    except (fhir.Unprocessable, StaleAppointment):
        # Millennium answers 409 for a changed version; a taken slot may come as 409 or 422.
        raise SlotTaken(str(MOVE_REFUSED)) from None
    return row
