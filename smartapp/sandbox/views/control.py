"""Sandbox-only controls for tests and demos: faults, test knobs, the FinancialTransaction ledger
and "Register now". No auth and no CSRF (documented in README.md): they exist only when
SANDBOX_ENABLED mounts the sandbox.
"""

import json

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from smartapp.sandbox import faults, knobs, links, registration
from smartapp.sandbox.models import Encounter, Posting


@csrf_exempt
@require_http_methods(["GET", "POST"])
def fault_settings(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse(faults.describe())
    try:
        payload = json.loads(request.body or b"{}")
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
        return JsonResponse(faults.configure(payload))
    except ValueError as err:
        return JsonResponse({"error": str(err)}, status=400)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def knob_settings(request: HttpRequest) -> JsonResponse:
    """The test knobs (`smartapp.sandbox.knobs`): GET describes them, POST changes them."""
    if request.method == "GET":
        return JsonResponse(knobs.describe())
    try:
        payload = json.loads(request.body or b"{}")
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
        return JsonResponse(knobs.configure(payload))
    except ValueError as err:
        return JsonResponse({"error": str(err)}, status=400)


def posting_json(posting: Posting) -> dict[str, object]:
    return {
        "id": posting.transaction_id,
        "tenant": posting.tenant_id,
        "identifier": posting.identifier,
        "kind": posting.kind,
        "amount": f"{posting.amount:.2f}",
        "currency": posting.currency,
        "alias": posting.alias,
        "method": posting.method,
        "target": posting.target,
        "account": f"Account/{posting.account_fhir_id}",
        "client_id": posting.client_id,
        "request_id": posting.request_id,
        "at": posting.at.isoformat().replace("+00:00", "Z"),
    }


@require_GET
def ledger(request: HttpRequest) -> JsonResponse:
    """Every accepted `POST /Basic`, oldest first (`?identifier=`, `?tenant=`, `?account=`)."""
    rows = Posting.objects.order_by("pk")
    for param, field in (("identifier", "identifier"), ("tenant", "tenant_id")):
        if request.GET.get(param):
            rows = rows.filter(**{field: request.GET[param]})
    if request.GET.get("account"):
        rows = rows.filter(account_fhir_id=request.GET["account"].removeprefix("Account/"))
    return JsonResponse([posting_json(row) for row in rows], safe=False)


@csrf_exempt
@require_POST
def register_encounter(request: HttpRequest, encounter_id: str) -> HttpResponse:
    """Registers an Encounter now (JSON answer; a browser form is sent back to the EHR page)."""
    tenant = request.GET.get("tenant") or request.POST.get("tenant") or links.TENANT
    encounter = get_object_or_404(
        Encounter.objects.select_related("patient"), tenant_id=tenant, fhir_id=encounter_id
    )
    account = registration.register_now(encounter)
    if request.content_type == "application/x-www-form-urlencoded":
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("sandbox:ehr")
        return HttpResponseRedirect(back)
    return JsonResponse(
        {
            "encounter": f"Encounter/{encounter.fhir_id}",
            "registered": True,
            "account": f"Account/{account.fhir_id}",
            "balance": f"{account.balance:.2f}",
        }
    )
