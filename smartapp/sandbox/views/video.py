"""Video visits' virtual meeting rooms: where a contained HealthcareService's telecom URL leads."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from smartapp.sandbox.models import Appointment
from smartapp.sandbox.scheduling import VIDEO_VISIT


@require_GET
def video_room(request: HttpRequest, appointment_id: str, role: str) -> HttpResponse:
    if not Appointment.objects.filter(fhir_id=appointment_id, service_code=VIDEO_VISIT).exists():
        raise Http404("No such video visit")
    context = {"appointment_id": appointment_id, "role": role}
    return render(request, "sandbox/video_room.html", context)
