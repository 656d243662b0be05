import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from smartapp.clinical.selectors import patient_summary
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
    context = {"launch": launch, "patient": patient_summary(launch=launch)}
    return render(request, "clinical/chart.html", context)


@require_GET
@renders_errors
def patient_home(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    launch = launch_for_session(
        session=request.session, public_id=public_id, persona=Persona.PATIENT
    )
    patient = patient_summary(launch=launch)
    name = (patient.given_name or patient.name) if patient else launch.user_display
    return render(
        request, "clinical/patient_home.html", {"launch": launch, "patient": patient, "name": name}
    )
