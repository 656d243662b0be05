"""The sandbox EHR page: pick who and what, then launch the app in an iframe."""

from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from smartapp.sandbox import ehr, links, registration
from smartapp.sandbox.forms import LaunchForm
from smartapp.sandbox.links import TENANT
from smartapp.sandbox.models import LaunchContext


@require_http_methods(["GET", "POST"])
def ehr_page(request: HttpRequest) -> HttpResponse:
    form = LaunchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        ctx = ehr.create_launch(
            client=data["client"],
            practitioner=data["practitioner"],
            patient=data["patient"],
            encounter=data["encounter"],
            need_patient_banner=data["need_patient_banner"],
        )
        return HttpResponseRedirect(
            reverse("sandbox:ehr_launch", kwargs={"launch_id": ctx.launch_id})
        )
    context = {"form": form, "unregistered": registration.unregistered(TENANT)}
    return render(request, "sandbox/ehr.html", context, status=400 if form.errors else 200)


@require_GET
def ehr_launch(request: HttpRequest, launch_id: str) -> HttpResponse:
    ctx = get_object_or_404(
        LaunchContext.objects.select_related("client", "practitioner", "patient", "encounter"),
        launch_id=launch_id,
    )
    src = ehr.app_url(ctx, links.base_url(request))
    response = render(request, "sandbox/ehr_launch.html", {"ctx": ctx, "src": src})
    app = urlsplit(src)
    # The app may live on another origin than the sandbox; let this one page frame it.
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"frame-src 'self' {app.scheme}://{app.netloc}; object-src 'none'; base-uri 'self'; "
        "frame-ancestors 'self'"
    )
    return response
