import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from smartapp.clinical.appointments import patient_appointments, practitioner_day
from smartapp.clinical.first_screens import chart_screen, home_screen
from smartapp.clinical.forms import DayForm
from smartapp.clinical.pages import page_launch, page_zone, render_zoned, with_patient
from smartapp.clinical.timezones import today_in
from smartapp.clinical.visit_views import payments_enabled
from smartapp.launch.edge import renders_errors
from smartapp.launch.selectors import launch_for_session
from smartapp.tenants.models import Persona


@require_GET
@renders_errors
def launch_home(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    launch = launch_for_session(session=request.session, public_id=public_id)
    target = "clinical:chart" if launch.is_clinician else "clinical:patient_home"
    return redirect(target, public_id=launch.public_id)


@require_GET
@renders_errors
def chart(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    launch = launch_for_session(
        session=request.session, public_id=public_id, persona=Persona.PROVIDER
    )
    context: dict[str, Any] = {"launch": launch, "tab": "chart"}
    if not launch.patient_id:
        return render_zoned(request, "clinical/chart.html", context, zone=launch.tenant.zone)
    screen = chart_screen(launch=launch)
    context.update(screen=screen, patient=screen.patient, payments_enabled=payments_enabled())
    return render_zoned(request, "clinical/chart.html", context, zone=launch.tenant.zone)


@require_GET
@renders_errors
def patient_home(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    launch = launch_for_session(
        session=request.session, public_id=public_id, persona=Persona.PATIENT
    )
    screen = home_screen(launch=launch) if launch.patient_id else None
    patient = screen.patient if screen else None
    name = (patient.given_name or patient.name) if patient else launch.user_display
    context = {
        "launch": launch,
        "screen": screen,
        "patient": patient,
        "name": name,
        "tab": "home",
        "payments_enabled": payments_enabled(),
    }
    return render_zoned(
        request, "clinical/patient_home.html", context, zone=page_zone(request, launch)
    )


@require_GET
@renders_errors
def my_day(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The launched clinician's appointments on one day of the clinic's calendar."""
    launch = launch_for_session(
        session=request.session, public_id=public_id, persona=Persona.PROVIDER, feature="my_day"
    )
    zone = launch.tenant.zone
    context: dict[str, Any] = {"launch": launch, "tab": "my_day", "today": today_in(zone)}
    form = DayForm(request.GET)
    if not form.is_valid():
        context["error"] = form.problem()
        return render_zoned(request, "clinical/my_day.html", context, zone=zone, status=400)
    if launch.user_type != "Practitioner" or not launch.user_id:
        context["error"] = (
            "The EHR did not say which clinician you are, so there is no day to show."
        )
        return render_zoned(request, "clinical/my_day.html", context, zone=zone)
    day = form.cleaned_data["date"] or context["today"]
    context["agenda"] = practitioner_day(launch=launch, day=day, zone=zone)
    return render_zoned(request, "clinical/my_day.html", context, zone=zone)


@require_GET
@renders_errors
def chart_appointments(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The launched patient's upcoming and past appointments, for the clinician."""
    launch = page_launch(request, public_id, Persona.PROVIDER, feature="appointments")
    results = with_patient(launch, {"appointments": lambda: patient_appointments(launch=launch)})
    context = {"launch": launch, "tab": "appointments", **results}
    return render_zoned(
        request, "clinical/chart_appointments.html", context, zone=page_zone(request, launch)
    )


@require_GET
@renders_errors
def my_appointments(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The signed-in patient's own upcoming and past appointments."""
    launch = page_launch(request, public_id, Persona.PATIENT, feature="appointments")
    context = {
        "launch": launch,
        "tab": "appointments",
        "appointments": patient_appointments(launch=launch),
    }
    return render_zoned(
        request, "clinical/my_appointments.html", context, zone=page_zone(request, launch)
    )
