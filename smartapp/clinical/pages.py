"""What every schedule page shares: the launch, its time zone, the banner patient, rendering."""

import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smartapp.clinical.selectors import patient_summary
from smartapp.clinical.timezones import browser_zone, zone_difference
from smartapp.fhir.gateway import fetch_parallel
from smartapp.launch import error_pages
from smartapp.launch.models import Launch
from smartapp.launch.selectors import launch_for_session


class NoPatient(error_pages.LaunchError):
    status = 400
    title = _("No patient selected")
    explanation = _(
        "The EHR did not say which patient this is. Open the app from a patient's chart."
    )
    way_forward = error_pages.RELAUNCH


def page_launch(
    request: HttpRequest, public_id: uuid.UUID, persona: str | None = None, *, feature: str = ""
) -> Launch:
    """The session's launch, which must have a patient in context (and `feature` granted)."""
    launch = launch_for_session(
        session=request.session,
        public_id=public_id,
        persona=persona,
        active=not request.headers.get("HX-Request"),  # a page refreshing itself is not the user
        feature=feature,
    )
    if not launch.patient_id:
        raise NoPatient(log="schedule page without a patient in context")
    return launch


def page_zone(request: HttpRequest, launch: Launch) -> ZoneInfo:
    """Clinicians see the clinic's time; patients their browser's (checked), else the clinic's."""
    if launch.is_clinician:
        return launch.tenant.zone
    return browser_zone(request=request, tenant=launch.tenant)


def clinic_zone_context(request: HttpRequest, launch: Launch) -> dict[str, Any]:
    """Booking shows the clinic's time, said once; a patient elsewhere is told the difference."""
    own = browser_zone(request=request, tenant=launch.tenant)
    difference = "" if launch.is_clinician else zone_difference(clinic=launch.tenant.zone, own=own)
    return {"own_zone": own if difference else None, "zone_difference": difference}


def with_patient(launch: Launch, calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Runs the page's FHIR calls in parallel, plus the banner patient for clinicians."""
    if launch.is_clinician:
        calls = {**calls, "patient": lambda: patient_summary(launch=launch)}
    results = fetch_parallel(calls) if calls else {}
    results.setdefault("patient", None)
    return results


def render_zoned(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    zone: ZoneInfo,
    status: int = 200,
) -> HttpResponse:
    """Renders with times shown in `zone` (the date filter converts to the current zone)."""
    with timezone.override(zone):
        return render(request, template, {**context, "zone": zone}, status=status)
