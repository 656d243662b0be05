"""Where typed errors become one clear page (never a 500, never a token in the log)."""

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from smartapp.fhir import errors as fhir
from smartapp.launch import error_pages
from smartapp.launch.oauth_words import token_error_page
from smartapp.lib.words import filled
from smartapp.tenants.discovery import DiscoveryError
from smartapp.tenants.oauth import TokenEndpointError

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger("smartapp.launch.edge")


def _from_fhir(error: fhir.FhirError) -> error_pages.LaunchError:
    page = _fhir_page(error)
    page.reference = page.reference or error.correlation
    return page


def _fhir_page(error: fhir.FhirError) -> error_pages.LaunchError:
    detail = " ".join(
        p for p in (str(error.status or ""), error.code, error.message, error.correlation) if p
    )
    if isinstance(error, fhir.Unauthorized):
        text = (
            _("The EHR no longer accepts the app's access.")
            if not error.wrong_environment
            else _(
                "The EHR did not recognise the app's access (it was issued by another environment)."
            )
        )
        return error_pages.SessionEnded(text, staff_detail=detail)
    if isinstance(error, fhir.Forbidden):
        return _simple(
            403,
            _("Not allowed"),
            _(
                "The EHR did not allow the app to see this record "
                "(the app lacks a permission). Ask your integration team to check its scopes."
            ),
            detail,
        )
    if isinstance(error, fhir.NotFound):
        return _simple(404, _("Record not found"), _("The EHR has no such record."), detail)
    if isinstance(error, fhir.RateLimited):
        return _simple(
            503,
            _("The EHR is busy"),
            _("The EHR asked the app to slow down. Please try again shortly."),
            detail,
        )
    if isinstance(error, fhir.Timeout):
        return _simple(
            504,
            _("The EHR did not answer in time"),
            _("The EHR took too long to answer. Please try again in a minute."),
            detail,
        )
    if isinstance(error, fhir.Unreachable):
        return error_pages.UpstreamUnavailable(staff_detail=detail)
    if 400 <= error.status < 500:
        return _simple(
            502,
            _("The EHR refused the app's request"),
            filled(
                _(
                    "The EHR answered the app's request with an error (HTTP %(status)s). "
                    "Please try again; if it keeps happening, tell the hospital's integration team."
                ),
                status=error.status,
            ),
            detail,
        )
    if not error.status or error.status == 200:
        return _simple(
            502,
            _("The EHR sent an answer the app could not read"),
            _("The EHR answered, but not in a form the app understands. Please try again later."),
            detail,
        )
    return _simple(
        502,
        _("The EHR had a problem"),
        filled(
            _(
                "The EHR could not complete the request (HTTP %(status)s). Please try again shortly."
            ),
            status=error.status,
        ),
        detail,
    )


def _simple(
    status: int, title: "StrOrPromise", explanation: "StrOrPromise", detail: str
) -> error_pages.LaunchError:
    error = error_pages.LaunchError(explanation, staff_detail=detail)
    error.status, error.title = status, title
    return error


def as_launch_error(error: Exception) -> error_pages.LaunchError:
    if isinstance(error, error_pages.LaunchError):
        return error
    if isinstance(error, fhir.FhirError):
        return _from_fhir(error)
    if isinstance(error, TokenEndpointError):
        return token_error_page(error)
    if isinstance(error, DiscoveryError):
        shown = error.args[0] if error.args else ""  # str(error) is the log's English
        return error_pages.UpstreamUnavailable(shown, log="discovery failed")
    raise error


def _persona(request: HttpRequest, kwargs: dict[str, Any]) -> str:
    """The persona of the launch this page is for (its URL names it), if this browser has it."""
    from smartapp.launch.browser import launch_ids
    from smartapp.launch.models import Launch

    public_id = str(kwargs.get("public_id") or "")
    if not public_id or public_id not in launch_ids(request.session):
        return ""
    return (
        Launch.objects.filter(public_id=public_id).values_list("persona", flat=True).first() or ""
    )


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
        except (
            error_pages.LaunchError,
            fhir.FhirError,
            TokenEndpointError,
            DiscoveryError,
        ) as error:
            page = as_launch_error(error).for_persona(_persona(request, kwargs))
            return error_page(request, page)

    return wrapper
