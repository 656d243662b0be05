"""The staff ops page: payments by state and age, each with its attempts; retry, resolve, refund."""

import uuid

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from smartapp.payments import refunds, selectors, staff
from smartapp.payments.forms import DeskPaymentForm, OpsFilterForm, RefundForm, ResolveForm
from smartapp.payments.models import Payment, State
from smartapp.payments.transitions import REFUNDABLE, RESOLVABLE, RETRYABLE, next_steps


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
    payment = get_object_or_404(
        Payment.objects.select_related("tenant", "reverses"), public_id=payment_id
    )
    return _detail(request, payment, refund_form=None)


def _detail(request: HttpRequest, payment: Payment, refund_form: RefundForm | None) -> HttpResponse:
    left = refunds.refundable_left(payment=payment)
    if refund_form is None:
        refund_form = RefundForm(
            initial={"key": DeskPaymentForm.new_key(), "amount": left}, left=left
        )
    context = {
        "payment": payment,
        "attempts": payment.attempts.all(),
        "transitions": payment.transitions.all(),
        "next_steps": next_steps(payment.state),
        "resolve": ResolveForm(),
        "reversals": payment.reversals.order_by("created_at"),
        "refund_left": left,
        "refund_form": refund_form,
        "refund_posted": payment.state == State.POSTED and not payment.is_reversal and left > 0,
        "refund_unposted": payment.state in REFUNDABLE and bool(payment.charge_id),
        "can_retry": payment.state in RETRYABLE,
        "can_resolve": payment.state in RESOLVABLE,
    }
    status = 400 if refund_form.is_bound and refund_form.errors else 200
    return render(request, "payments/ops_detail.html", context, status=status)


@require_POST
@staff_member_required
def ops_refund_posted(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """Staff refund (part of) a posted payment: the money back, then its reversal posted."""
    payment = get_object_or_404(Payment.objects.select_related("tenant"), public_id=payment_id)
    form = RefundForm(request.POST, left=refunds.refundable_left(payment=payment))
    if not form.is_valid():
        return _detail(request, payment, refund_form=form)
    ask = refunds.RefundAsk(
        payment=payment,
        amount=form.cleaned_data["amount"],
        reason=form.cleaned_data["reason"],
        by=_who(request),
        request_key=form.cleaned_data["key"],
    )
    try:
        refund = refunds.posted_refund_start(ask=ask)
    except refunds.RefundRefused as refused:
        messages.warning(request, str(refused))
        return _back(payment)
    messages.info(request, refund.message)
    return _back(refund)


@require_POST
@staff_member_required
def ops_refund_again(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """Asks the processor again for a refund it never answered (the same key: never twice)."""
    refund = get_object_or_404(Payment, public_id=payment_id, reverses__isnull=False)
    if refund.state != State.NEW:
        messages.warning(request, "This refund is past the processor already.")
        return _back(refund)
    refund = refunds.refund_at_processor(refund=refund, by=_who(request))
    messages.info(request, refund.message)
    return _back(refund)


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
