"""Visits pages: the launch patient's Encounters for the clinician (paged) and for the patient."""

import uuid

from django.apps import apps
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from smartapp.clinical.forms import PageForm
from smartapp.clinical.pages import page_launch, page_zone, render_zoned, with_patient
from smartapp.clinical.visits import patient_visits
from smartapp.launch.edge import renders_errors
from smartapp.tenants.models import Persona


def payments_enabled() -> bool:
    """The patient Visits page shows a5's Pay button only when the payments app is installed."""
    return apps.is_installed("smartapp.payments")


@require_GET
@renders_errors
def chart_visits(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The launched patient's visits, newest first, `PAGE_SIZE` a page (clinicians)."""
    launch = page_launch(request, public_id, Persona.PROVIDER, feature="visits")
    zone = page_zone(request, launch)
    form = PageForm(request.GET)
    context = {"launch": launch, "tab": "visits", "form": form}
    if not form.is_valid():
        context.update(with_patient(launch, {}))
        return render_zoned(request, "clinical/chart_visits.html", context, zone=zone, status=400)
    results = with_patient(launch, {"visits": lambda: patient_visits(launch=launch)})
    context.update(results)
    context["visit_page"] = results["visits"].page(form.cleaned_data["page"] or 1)
    return render_zoned(request, "clinical/chart_visits.html", context, zone=zone)


@require_GET
@renders_errors
def my_visits(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The signed-in patient's own visits: upcoming (soonest first), then past (newest first)."""
    launch = page_launch(request, public_id, Persona.PATIENT, feature="visits")
    context = {
        "launch": launch,
        "tab": "visits",
        "visits": patient_visits(launch=launch),
        "payments_enabled": payments_enabled(),
    }
    return render_zoned(
        request, "clinical/my_visits.html", context, zone=page_zone(request, launch)
    )
