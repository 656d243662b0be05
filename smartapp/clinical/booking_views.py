"""Booking, cancelling and rescheduling pages: parse, load what the user may see, call a service."""

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from smartapp.clinical import booking
from smartapp.clinical.booking import State
from smartapp.clinical.forms import (
    FHIR_ID,
    CancelForm,
    ConfirmForm,
    DateRangeForm,
    RescheduleForm,
    SlotChoiceForm,
    SlotSearchForm,
)
from smartapp.clinical.pages import (
    clinic_zone_context,
    page_launch,
    page_zone,
    render_zoned,
    with_patient,
)
from smartapp.clinical.slots import first_available, free_slots, slot_details
from smartapp.clinical.timezones import day_bounds, today_in
from smartapp.launch.access import gateway_for
from smartapp.launch.edge import renders_errors
from smartapp.launch.models import Launch
from smartapp.tenants.models import Persona

SEARCH_KEYS = ("service_type", "clinician", "location", "start", "end")
GET_POST = require_http_methods(["GET", "POST"])


def _list_url(launch: Launch) -> str:
    name = "clinical:chart_appointments" if launch.is_clinician else "clinical:my_appointments"
    return reverse(name, args=[launch.public_id])


def _search_query(source: Any) -> str:
    """The slot search parameters to carry back to the search (checked again when used)."""
    return urlencode({k: str(source.get(k, ""))[:100] for k in SEARCH_KEYS if source.get(k)})


def _book_url(launch: Launch, query: str) -> str:
    url = reverse("clinical:book", args=[launch.public_id])
    return f"{url}?{query}" if query else url


def _redirect(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303  # after a POST, always GET the next page
    return response


def _window(form: DateRangeForm, zone: Any) -> tuple[Any, Any]:
    start = max(day_bounds(day=form.cleaned_data["start"], zone=zone)[0], timezone.now())
    return start, day_bounds(day=form.cleaned_data["end"], zone=zone)[1]


@require_GET
@renders_errors
def book(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Choose a type of visit, optionally a clinician or place, and dates; see free slots by day."""
    launch = page_launch(request, public_id, feature="book")
    zone = launch.tenant.zone  # booking is in the clinic's time (clinic_zone_context)
    today = today_in(zone)
    searching = "service_type" in request.GET
    form = SlotSearchForm(
        request.GET if searching else None,
        tenant=launch.tenant,
        today=today,
        initial=SlotSearchForm.initial_for(today=today),
    )
    context: dict[str, Any] = {
        "launch": launch,
        "tab": "book",
        "form": form,
        "query": "",
        **clinic_zone_context(request, launch),
    }
    if searching and not form.is_valid():
        context.update(with_patient(launch, {}))
        return render_zoned(request, "clinical/book.html", context, zone=zone, status=400)
    calls = {}
    if searching:
        start, end = _window(form, zone)
        calls["slots"] = lambda: free_slots(
            gateway=gateway_for(launch=launch),
            service_type=form.service.token,
            start=start,
            end=end,
            zone=zone,
            practitioner_id=form.cleaned_data["clinician"],
            location_id=form.cleaned_data["location"],
        )
        context["query"] = _search_query(request.GET)
        context["narrowed"] = bool(form.cleaned_data["clinician"] or form.cleaned_data["location"])
    context.update(with_patient(launch, calls))
    if context.get("slots") and not context.get("narrowed"):
        context["first_available"] = first_available(context["slots"])
    return render_zoned(request, "clinical/book.html", context, zone=zone)


def _fallback_query(launch: Launch, zone: Any, service_code: str) -> str:
    """A search for the slot's type over the default dates, when the user came by a bare link."""
    if not launch.tenant.service_types.filter(code=service_code).exists():
        return ""
    today = today_in(zone)
    dates = SlotSearchForm.initial_for(today=today)
    return urlencode({"service_type": service_code, **{k: v.isoformat() for k, v in dates.items()}})


def _confirm_page(
    request: HttpRequest,
    launch: Launch,
    slot_id: str,
    form: ConfirmForm | None,
    query: str,
    status: int = 200,
) -> HttpResponse:
    """The chosen slot, read fresh; a new one-time key when `form` is None (first showing)."""
    zone = launch.tenant.zone
    results = with_patient(
        launch, {"slot": lambda: slot_details(gateway=gateway_for(launch=launch), slot_id=slot_id)}
    )
    slot = results["slot"]
    if slot is None:
        messages.warning(request, _("That time is no longer free. Here are the free times now."))
        return _redirect(_book_url(launch, query))
    if form is None:
        query = query or _fallback_query(launch, zone, slot.service_code)
        pending = booking.booking_request_create(launch=launch, slot_id=slot_id, search=query)
        form = ConfirmForm(initial={"key": pending.key})
    context = {
        "launch": launch,
        "tab": "book",
        "form": form,
        "query": query,
        **results,
        **clinic_zone_context(request, launch),
    }
    return render_zoned(request, "clinical/book_confirm.html", context, zone=zone, status=status)


@GET_POST
@renders_errors
def book_confirm(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """GET shows the chosen slot with a one-time key; POST books it (once per key)."""
    launch = page_launch(request, public_id, feature="book")
    if request.method == "GET":
        choice = SlotChoiceForm(request.GET)
        if not choice.is_valid():
            messages.warning(request, _("Choose a time from the list."))
            return _redirect(_book_url(launch, _search_query(request.GET)))
        query = _search_query(request.GET)
        return _confirm_page(request, launch, choice.cleaned_data["slot"], None, query)
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        pending = booking.booking_request_for(launch=launch, key=request.POST.get("key", "")[:64])
        return _confirm_page(request, launch, pending.slot_id, form, pending.search, 400)
    result = booking.appointment_book(
        launch=launch, key=form.cleaned_data["key"], reason=form.cleaned_data["reason"]
    )
    return _after_booking(request, launch, result, result.search)


def _after_booking(
    request: HttpRequest, launch: Launch, result: booking.BookingRequest, query: str
) -> HttpResponse:
    if result.state == State.BOOKED:
        messages.success(request, _("Booked. The appointment is in the list below."))
        return _redirect(f"{_list_url(launch)}?booked={result.appointment_id}")
    if result.state == State.REFUSED:
        messages.warning(request, _(result.message or booking.SLOT_TAKEN))  # stored in English
        return _redirect(_book_url(launch, query))
    messages.warning(
        request,
        _(
            "The hospital's system did not confirm the booking in time. Check the list below "
            "before trying again, so you do not book twice."
        ),
    )
    return _redirect(_list_url(launch))


@GET_POST
@renders_errors
def cancel(request: HttpRequest, public_id: uuid.UUID, appointment_id: str) -> HttpResponse:
    """GET asks for a reason; POST cancels at the version the page showed."""
    launch = page_launch(request, public_id, feature="appointments")
    appointment_id = _checked_id(appointment_id)
    zone = page_zone(request, launch)
    if request.method == "POST":
        form = CancelForm(request.POST)
        if form.is_valid():
            return _cancel(request, launch, appointment_id, form)
        status = 400
    else:
        form, status = None, 200
    results = with_patient(
        launch,
        {
            "appointment": lambda: booking.owned_appointment(
                launch=launch, appointment_id=appointment_id
            )
        },
    )
    form = form or CancelForm(initial={"version": results["appointment"].version})
    context = {"launch": launch, "tab": "appointments", "form": form, **results}
    return render_zoned(request, "clinical/cancel.html", context, zone=zone, status=status)


def _cancel(
    request: HttpRequest, launch: Launch, appointment_id: str, form: CancelForm
) -> HttpResponse:
    try:
        booking.appointment_cancel(
            launch=launch,
            appointment_id=appointment_id,
            version=form.cleaned_data["version"],
            reason_code=form.cleaned_data["reason"],
        )
    except booking.WriteRefused as refused:
        messages.warning(request, refused.message)
    else:
        messages.success(request, _("Cancelled. The time is free for someone else now."))
    return _redirect(_list_url(launch))


def _checked_id(value: str) -> str:
    try:
        FHIR_ID(value)
    except ValidationError:
        raise booking.AppointmentNotFound(log="malformed appointment id") from None
    return value


@GET_POST
@renders_errors
def reschedule(request: HttpRequest, public_id: uuid.UUID, appointment_id: str) -> HttpResponse:
    """Clinicians: pick a new free time of the same type for the launched patient's appointment."""
    launch = page_launch(request, public_id, Persona.PROVIDER, feature="book")
    appointment_id = _checked_id(appointment_id)
    if request.method == "POST":
        form = RescheduleForm(request.POST)
        if form.is_valid():
            return _reschedule(request, launch, appointment_id, form)
        messages.warning(request, _("Choose a new time."))
        return _redirect(request.path)
    zone = page_zone(request, launch)
    today = today_in(zone)
    initial = DateRangeForm.initial_for(today=today)
    data = request.GET if "start" in request.GET else {k: v.isoformat() for k, v in initial.items()}
    dates = DateRangeForm(data, today=today)
    results = with_patient(
        launch,
        {
            "appointment": lambda: booking.owned_appointment(
                launch=launch, appointment_id=appointment_id
            )
        },
    )
    row = results["appointment"]
    context = {"launch": launch, "tab": "appointments", "dates": dates, **results}
    context["form"] = RescheduleForm(initial={"version": row.version})
    if not dates.is_valid():
        return render_zoned(request, "clinical/reschedule.html", context, zone=zone, status=400)
    if row.can_reschedule and row.service_coding:
        start, end = _window(dates, zone)
        context["slots"] = free_slots(
            gateway=gateway_for(launch=launch),
            service_type=f"{row.service_coding.system}|{row.service_coding.code}",
            start=start,
            end=end,
            zone=zone,
        )
    return render_zoned(request, "clinical/reschedule.html", context, zone=zone)


def _reschedule(
    request: HttpRequest, launch: Launch, appointment_id: str, form: RescheduleForm
) -> HttpResponse:
    try:
        booking.appointment_reschedule(
            launch=launch,
            appointment_id=appointment_id,
            version=form.cleaned_data["version"],
            slot_id=form.cleaned_data["slot"],
        )
    except booking.SlotTaken as refused:
        messages.warning(request, refused.message)
        return _redirect(request.path)
    except booking.WriteRefused as refused:
        messages.warning(request, refused.message)
        return _redirect(_list_url(launch))
    messages.success(request, _("Rescheduled. The new time is in the list below."))
    return _redirect(_list_url(launch))
