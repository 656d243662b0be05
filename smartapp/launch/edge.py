"""Where typed errors become one clear page (never a 500, never a token in the log)."""

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from smartapp.fhir import errors as fhir
from smartapp.launch import error_pages
from smartapp.tenants.discovery import DiscoveryError

logger = logging.getLogger("smartapp.launch.edge")


def _from_fhir(error: fhir.FhirError) -> error_pages.LaunchError:
    detail = " ".join(
        p for p in (str(error.status or ""), error.code, error.message, error.correlation) if p
    )
    if isinstance(error, fhir.Unauthorized):
        text = (
            "The EHR no longer accepts the app's access."
            if not error.wrong_environment
            else "The EHR did not recognise the app's access (it was issued by another environment)."
        )
        return error_pages.SessionEnded(text, staff_detail=detail)
    if isinstance(error, fhir.Forbidden):
        return _simple(
            403,
            "Not allowed",
            "The EHR did not allow the app to see this record "
            "(the app lacks a permission). Ask your integration team to check its scopes.",
            detail,
        )
    if isinstance(error, fhir.NotFound):
        return _simple(404, "Record not found", "The EHR has no such record.", detail)
    if isinstance(error, fhir.RateLimited):
        return _simple(
            503,
            "The EHR is busy",
            "The EHR asked the app to slow down. Please try again shortly.",
            detail,
        )
    return error_pages.UpstreamUnavailable(staff_detail=detail)


def _simple(status: int, title: str, explanation: str, detail: str) -> error_pages.LaunchError:
    error = error_pages.LaunchError(explanation, staff_detail=detail)
    error.status, error.title = status, title
    return error


def as_launch_error(error: Exception) -> error_pages.LaunchError:
    if isinstance(error, error_pages.LaunchError):
        return error
    if isinstance(error, fhir.FhirError):
        return _from_fhir(error)
    if isinstance(error, DiscoveryError):
        return error_pages.UpstreamUnavailable(str(error), log="discovery failed")
    raise error


def error_page(request: HttpRequest, error: error_pages.LaunchError) -> HttpResponse:
    logger.warning(
        "%s status=%s path=%s: %s", type(error).__name__, error.status, request.path, error
    )
    context = {"error": error, "show_detail": request.user.is_staff and bool(error.staff_detail)}
    return render(request, "launch/error.html", context, status=error.status)


def renders_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Turns launch, discovery and FHIR errors raised by a view into the error page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (error_pages.LaunchError, fhir.FhirError, DiscoveryError) as error:
            return error_page(request, as_launch_error(error))

    return wrapper
