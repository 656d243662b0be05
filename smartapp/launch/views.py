import uuid

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from smartapp.launch import error_pages
from smartapp.launch.authorize import authorization_start
from smartapp.launch.browser import remember_launch
from smartapp.launch.callback import authorization_complete
from smartapp.launch.edge import renders_errors
from smartapp.launch.forms import EhrLaunchForm, SignInForm
from smartapp.launch.selectors import launch_for_session
from smartapp.launch.signout import launch_sign_out
from smartapp.tenants import selectors as tenants


@require_GET
def start(request: HttpRequest) -> HttpResponse:
    return render(request, "launch/start.html", {"form": SignInForm()})


@require_POST
@renders_errors
def sign_in(request: HttpRequest) -> HttpResponse:
    form = SignInForm(request.POST)
    if not form.is_valid():
        return render(request, "launch/start.html", {"form": form}, status=400)
    tenant, persona = form.cleaned_data["tenant"], form.cleaned_data["persona"]
    url = authorization_start(
        session=request.session, tenant=tenant, persona=persona, aud=tenant.fhir_base_for(persona)
    )
    return HttpResponseRedirect(url)


@require_GET
@renders_errors
def ehr_launch(request: HttpRequest) -> HttpResponse:
    form = EhrLaunchForm(request.GET)
    if not form.is_valid():
        raise error_pages.BadLaunchRequest(log=f"bad launch parameters: {sorted(form.errors)}")
    iss = form.cleaned_data["iss"]
    try:
        match = tenants.tenant_for_iss(iss=iss)
    except tenants.UnknownIssuer:
        raise error_pages.UnknownIssuer(
            log="launch from an unregistered iss (not contacted)"
        ) from None
    url = authorization_start(
        session=request.session,
        tenant=match.tenant,
        persona=match.persona,
        aud=match.fhir_base,  # the registered base, never the iss string as it arrived
        launch=form.cleaned_data["launch"],
    )
    return HttpResponseRedirect(url)


@require_GET
@renders_errors
def callback(request: HttpRequest) -> HttpResponse:
    params = {key: request.GET.get(key, "")[:2000] for key in request.GET}
    launch = authorization_complete(session=request.session, params=params)
    request.session.cycle_key()  # a new session id once signed in (no session fixation)
    remember_launch(request.session, str(launch.public_id))
    # Straight to the persona's first page: one browser round trip fewer on every launch.
    first_page = "clinical:chart" if launch.is_clinician else "clinical:patient_home"
    return redirect(first_page, public_id=launch.public_id)


@require_POST
@renders_errors
def sign_out(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Ends this launch: tokens revoked at the EHR and deleted here, the browser forgotten."""
    launch = launch_for_session(session=request.session, public_id=public_id, active=False)
    launch_sign_out(launch=launch)
    request.session.flush()
    return redirect("launch:signed_out")


@require_GET
def signed_out(request: HttpRequest) -> HttpResponse:
    return render(request, "launch/signed_out.html")
