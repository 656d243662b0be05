"""The staff ops page: payments by state and age, each with its attempts; retry, resolve, refund."""

import uuid

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from smartapp.payments import selectors, staff
from smartapp.payments.forms import OpsFilterForm, ResolveForm
from smartapp.payments.models import Payment, State
from smartapp.payments.transitions import next_steps


def _back(payment: Payment) -> HttpResponseRedirect:
    response = HttpResponseRedirect(reverse("payments:ops_detail", args=[payment.public_id]))
    response.status_code = 303
    return response


def _who(request: HttpRequest) -> str:
    return request.user.get_username()


@require_GET
@staff_member_required
def ops_list(request: HttpRequest) -> HttpResponse:
    form = OpsFilterForm(request.GET)
    form.is_valid()
    state = form.cleaned_data.get("state", "") if form.is_valid() else ""
    state = state if state in State.values else ""
    older = form.cleaned_data.get("older_than", "") if form.is_valid() else ""
    rows = selectors.ops_payments(state=state, older_than=older)[:300]
    context = {
        "reconciliations": selectors.reconciliation_exceptions(),
        "rows": rows,
        "counts": selectors.ops_counts(),
        "states": State.choices,
        "state": state,
        "form": form,
    }
    return render(request, "payments/ops_list.html", context)


@require_GET
@staff_member_required
def ops_detail(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    payment = get_object_or_404(Payment.objects.select_related("tenant"), public_id=payment_id)
    context = {
        "payment": payment,
        "attempts": payment.attempts.all(),
        "transitions": payment.transitions.all(),
        "next_steps": next_steps(payment.state),
        "resolve": ResolveForm(),
    }
    return render(request, "payments/ops_detail.html", context)


@require_POST
@staff_member_required
def ops_retry(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    payment = get_object_or_404(Payment, public_id=payment_id)
    try:
        staff.payment_retry(payment=payment, by=_who(request))
        messages.success(request, "Queued: a worker will process it now.")
    except staff.ActionRefused as refused:
        messages.warning(request, str(refused))
    return _back(payment)


@require_POST
@staff_member_required
def ops_resolve(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    payment = get_object_or_404(Payment, public_id=payment_id)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.warning(request, "Write a note and choose what you found.")
        return _back(payment)
    try:
        staff.payment_resolve(
            payment=payment,
            by=_who(request),
            note=form.cleaned_data["note"],
            posted=form.cleaned_data["outcome"] == "posted",
        )
        messages.success(request, "Resolved.")
    except staff.ActionRefused as refused:
        messages.warning(request, str(refused))
    return _back(payment)


@require_POST
@staff_member_required
def ops_refund(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    payment = get_object_or_404(Payment, public_id=payment_id)
    try:
        staff.payment_refund(
            payment=payment, by=_who(request), note=request.POST.get("note", "")[:500]
        )
        messages.success(request, "Refunded through the card processor.")
    except staff.ActionRefused as refused:
        messages.warning(request, str(refused))
    return _back(payment)


@require_POST
@staff_member_required
def ops_receipt(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """Staff send the receipt (again)."""
    from smartapp.payments.receipts import receipt_email

    payment = get_object_or_404(Payment.objects.select_related("tenant"), public_id=payment_id)
    if payment.captured_at is None:
        messages.warning(request, "Nothing was paid yet, so there is no receipt.")
        return _back(payment)
    said = receipt_email(payment=payment, again=True)
    messages.info(request, f"Receipt: {said}.")
    return _back(payment)


@require_GET
@staff_member_required
def ops_reconciliation(request: HttpRequest) -> HttpResponse:
    """A day's reconciliation for one tenant; `?format=csv` downloads every row."""
    from datetime import date

    from django.utils import timezone

    from smartapp.payments.reconciliation import reconciliation_csv, reconciliation_for
    from smartapp.tenants.models import Tenant

    tenants = Tenant.objects.filter(enabled=True).order_by("slug")
    tenant = tenants.filter(slug=request.GET.get("tenant", "")[:50]).first() or tenants.first()
    if tenant is None:
        return render(request, "payments/ops_reconciliation.html", {"report": None})
    try:
        day = date.fromisoformat(request.GET.get("date", "")[:10])
    except ValueError:
        day = timezone.now().astimezone(tenant.zone).date()
    report = reconciliation_for(tenant=tenant, day=day)
    if request.GET.get("format") == "csv":
        response = HttpResponse(reconciliation_csv(report), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="reconciliation-{tenant.slug}-{day}.csv"'
        )
        return response
    context = {"report": report, "tenants": tenants, "counts": report.counts()}
    return render(request, "payments/ops_reconciliation.html", context)
