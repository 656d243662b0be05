"""Payment pages for patients (pay, status) and clinicians (desk payment): thin views."""

import logging
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from smartapp.clinical.pages import page_launch, page_zone, render_zoned, with_patient
from smartapp.launch.access import gateway_for, system_gateway_for
from smartapp.launch.edge import renders_errors
from smartapp.launch.models import Launch
from smartapp.payments import selectors, services, webhooks
from smartapp.payments.ehr import guarantor_account
from smartapp.payments.forms import (
    FHIR_ID,
    BadQuote,
    DeskPaymentForm,
    PayForm,
    quote_make,
    quote_read,
)
from smartapp.payments.models import AmountSource, Payment, PaymentSettings, State
from smartapp.payments.processor import ProcessorError
from smartapp.payments.quotes import (
    VisitNotFound,
    known_due,
    owned_encounter_status,
    visit_quote,
)
from smartapp.payments.receipts import receipt_for, refund_lines
from smartapp.payments.words import payment_words
from smartapp.tenants.models import Persona, Tenant

GET_POST = require_http_methods(["GET", "POST"])
logger = logging.getLogger(__name__)
PROCESSOR_DOWN = gettext_lazy(
    "The card processor is not answering right now. No money was taken; please try again in a minute."
)


def _see_other(url: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


def _status_url(launch: Launch, payment: Payment) -> str:
    return reverse("payments:status", args=[launch.public_id, payment.public_id])


def _checked_encounter(encounter_id: str) -> str:
    try:
        FHIR_ID(encounter_id)
    except Exception:
        raise VisitNotFound(log="malformed encounter id") from None
    return encounter_id


def _page(
    request: HttpRequest, launch: Launch, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context = {"launch": launch, "tab": "payments", **with_patient(launch, {}), **context}
    zone = page_zone(request, launch)  # the times the schedule pages show: the same clock
    return render_zoned(request, template, context, zone=zone, status=status)


@GET_POST
@renders_errors
def pay(request: HttpRequest, public_id: uuid.UUID, encounter_id: str) -> HttpResponse:
    """GET: the amount for this visit and a Pay button. POST: record the payment, go to checkout."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    encounter_id = _checked_encounter(encounter_id)
    settings = services.payment_settings(tenant=launch.tenant)
    _allow_form_to_processor(request, settings.processor_base_url)
    if request.method == "POST":
        return _pay_post(request, launch, encounter_id, settings)
    quote = visit_quote(launch=launch, encounter_id=encounter_id, settings=settings)
    signed = quote_make(
        launch_id=str(launch.public_id),
        encounter_id=encounter_id,
        source=quote.source,
        amount=quote.amount,
        cap=quote.cap if quote.cap is not None else settings.max_amount,
    )
    form = PayForm(
        initial={"quote": signed}, settings=settings, entered=quote.amount is None, cap=quote.cap
    )
    context = {"quote": quote, "form": form, "settings": settings, "enabled": settings.enabled}
    context["encounter_id"] = encounter_id
    earlier = selectors.payments_for_visit(launch=launch, encounter_id=encounter_id)
    context["earlier"] = [(p, payment_words(p)) for p in earlier]
    return _page(request, launch, "payments/pay.html", context)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


def card_csp(request: HttpRequest, settings: PaymentSettings) -> None:
    """Stripe's script, its frames and its API, and nothing else, on the card page."""
    script = _origin(django_settings.STRIPE_JS_URL)
    api = _origin(settings.processor_base_url) or "https://api.stripe.com"
    frames = [script, "https://hooks.stripe.com"] if script == "https://js.stripe.com" else [script]
    request.csp_sources = {  # type: ignore[attr-defined]
        "script-src": [script],
        "connect-src": [api, script],
        "frame-src": frames,
    }


def _allow_form_to_processor(request: HttpRequest, base_url: str) -> None:
    """The pay form's answer redirects to the processor's page: CSP form-action must allow it."""
    parts = urlsplit(base_url)
    if parts.scheme in ("http", "https") and parts.netloc:
        request.csp_form_action = [f"{parts.scheme}://{parts.netloc}"]  # type: ignore[attr-defined]


def _pay_post(
    request: HttpRequest, launch: Launch, encounter_id: str, settings: Any
) -> HttpResponse:
    try:
        quote = quote_read(
            request.POST.get("quote", ""),
            launch_id=str(launch.public_id),
            encounter_id=encounter_id,
        )
    except BadQuote as error:
        messages.warning(request, str(error))
        return _see_other(reverse("payments:pay", args=[launch.public_id, encounter_id]))
    entered = quote["s"] == AmountSource.ENTERED
    form = PayForm(request.POST, settings=settings, entered=entered, cap=Decimal(quote["c"]))
    if not settings.enabled:
        messages.warning(request, _("Online payments are turned off at this hospital."))
        return _see_other(reverse("payments:pay", args=[launch.public_id, encounter_id]))
    if not form.is_valid():
        context = {
            "form": form,
            "settings": settings,
            "enabled": True,
            "quote": None,
            "encounter_id": encounter_id,
        }
        return _page(request, launch, "payments/pay.html", context, status=400)
    amount = form.cleaned_data["amount"] if entered else Decimal(quote["a"])
    new = services.NewPayment(
        launch=launch,
        encounter_id=encounter_id,
        amount=amount,
        amount_source=quote["s"],
        request_key=quote["k"],
        language=get_language() or "",
    )
    try:
        payment = services.payment_start(new=new)
    except services.KeyUsedElsewhere:
        messages.warning(request, _("This payment form was already used. Please start again."))
        return _see_other(reverse("payments:pay", args=[launch.public_id, encounter_id]))
    return _to_checkout(request, launch, payment)


def _to_checkout(request: HttpRequest, launch: Launch, payment: Payment) -> HttpResponse:
    if payment.state != State.NEW:
        return _see_other(_status_url(launch, payment))  # already paid: a double click lands here
    base = request.build_absolute_uri(
        reverse("payments:return", args=[launch.public_id, payment.public_id])
    )
    cancel = request.build_absolute_uri(
        reverse("payments:cancelled", args=[launch.public_id, payment.public_id])
    )
    card_page = reverse("payments:card", args=[launch.public_id, payment.public_id])
    try:
        url = services.checkout_begin(
            payment=payment, return_url=base, cancel_url=cancel, card_page_url=card_page
        )
    except ProcessorError as error:
        messages.warning(
            request,
            str(PROCESSOR_DOWN) if error.status == 0 or error.status >= 500 else error.message,
        )
        return _see_other(_status_url(launch, payment))
    payment.refresh_from_db()
    if payment.state != State.NEW:
        return _see_other(_status_url(launch, payment))
    return _see_other(url)


@require_POST
@renders_errors
def checkout(request: HttpRequest, public_id: uuid.UUID, payment_id: uuid.UUID) -> HttpResponse:
    """Back to the card page for a payment not paid yet (after a decline or a processor outage)."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    payment = selectors.payment_for_launch(launch=launch, public_id=payment_id)
    return _to_checkout(request, launch, payment)


@GET_POST
@renders_errors
def card(request: HttpRequest, public_id: uuid.UUID, payment_id: uuid.UUID) -> HttpResponse:
    """Stripe's card fields (Stripe Elements) on our page; POST pays with the card they set up.

    The card number goes from the browser to Stripe; this page only ever sees Stripe's ids."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    payment = selectors.payment_for_launch(launch=launch, public_id=payment_id)
    stripe = services.stripe_for(payment)
    if stripe is None or not payment.processor_session_id:
        raise Http404("no card page for this payment")
    if payment.state != State.NEW:
        return _see_other(_status_url(launch, payment))
    try:
        if request.method == "POST":
            setup = request.POST.get("setup_intent", "")[:100]
            services.card_confirm(payment=payment, stripe=stripe, setup_intent_id=setup)
            return _see_other(_status_url(launch, payment))
        secret = stripe.card_setup_secret(reference=payment.posting_id)
    except ProcessorError as error:
        messages.warning(request, str(PROCESSOR_DOWN) if error.unclear else error.message)
        return _see_other(_status_url(launch, payment))
    settings = services.payment_settings(tenant=launch.tenant)
    card_csp(request, settings)
    context = {"payment": payment, "setup_secret": secret, "settings": settings,
               "stripe_js": django_settings.STRIPE_JS_URL}  # fmt: skip
    return _page(request, launch, "payments/card.html", context)


@require_GET
@renders_errors
def processor_return(
    request: HttpRequest, public_id: uuid.UUID, payment_id: uuid.UUID
) -> HttpResponse:
    """The processor sent the patient back; the processor (asked directly) says what happened."""
    launch = page_launch(request, public_id, Persona.PATIENT)
    payment = selectors.payment_for_launch(launch=launch, public_id=payment_id)
    session_id = request.GET.get("session", "")[:100]
    if session_id != payment.processor_session_id:
        messages.warning(
            request, _("That link did not come from this payment's card page; nothing was changed.")
        )
        return _see_other(_status_url(launch, payment))
    try:
        services.checkout_return(payment=payment, session_id=session_id)
    except ProcessorError:
        messages.warning(
            request,
            _(
                "We could not confirm the payment with the card processor yet; this page will update."
            ),
        )
    return _see_other(_status_url(launch, payment))


@require_GET
@renders_errors
def processor_cancelled(
    request: HttpRequest, public_id: uuid.UUID, payment_id: uuid.UUID
) -> HttpResponse:
    launch = page_launch(request, public_id, Persona.PATIENT)
    payment = selectors.payment_for_launch(launch=launch, public_id=payment_id)
    if payment.state == State.NEW:
        messages.info(request, _("You left the card page. No money was taken."))
    return _see_other(_status_url(launch, payment))


def _status_context(payment: Payment) -> dict[str, Any]:
    """What the status page and its self-refreshing part show: the words and the refunds."""
    return {"payment": payment, "words": payment_words(payment), "refunds": refund_lines(payment)}


@require_GET
@renders_errors
def status(request: HttpRequest, public_id: uuid.UUID, payment_id: uuid.UUID) -> HttpResponse:
    """Where the money is, in plain words; the status part updates itself every 2 s until final."""
    launch = page_launch(request, public_id)
    payment = selectors.payment_for_launch(launch=launch, public_id=payment_id)
    return _page(request, launch, "payments/status.html", _status_context(payment))


@require_GET
@renders_errors
def status_part(request: HttpRequest, public_id: uuid.UUID, payment_id: uuid.UUID) -> HttpResponse:
    """The htmx part: no EHR call, only the outbox row."""
    launch = page_launch(request, public_id)
    payment = selectors.payment_for_launch(launch=launch, public_id=payment_id)
    context = {"launch": launch, **_status_context(payment)}
    zone = page_zone(request, launch)
    return render_zoned(request, "payments/_status.html", context, zone=zone)


@require_GET
@renders_errors
def receipt(request: HttpRequest, public_id: uuid.UUID, payment_id: uuid.UUID) -> HttpResponse:
    """The receipt of a captured payment, printable; the visit read with the viewer's access."""
    launch = page_launch(request, public_id)
    payment = selectors.payment_for_launch(launch=launch, public_id=payment_id)
    if payment.captured_at is None:
        raise Http404("nothing was paid, so there is no receipt")
    context = {
        "payment": payment,
        "receipt": receipt_for(payment=payment, gateway=gateway_for(launch=launch)),
    }
    return _page(request, launch, "payments/receipt.html", context)


@require_GET
@renders_errors
def payment_list(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    launch = page_launch(request, public_id)
    payments = selectors.payments_for_launch(launch=launch).prefetch_related("reversals")[:100]
    rows = [(p, payment_words(p), p.refunds_given()) for p in payments]
    return _page(request, launch, "payments/list.html", {"rows": rows})


@GET_POST
@renders_errors
def desk_payment(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """Clinicians and front desk: record cash, check or card taken in person for this patient's visit."""
    launch = page_launch(request, public_id, Persona.PROVIDER)
    settings = services.payment_settings(tenant=launch.tenant)
    if request.method == "GET":
        encounter = request.GET.get("encounter", "")[:64] or launch.encounter_id
        form = DeskPaymentForm(
            initial={"key": DeskPaymentForm.new_key(), "encounter": encounter, "method": "cash"},
            settings=settings,
        )
        return _page(request, launch, "payments/desk.html", {"form": form, "settings": settings})
    form = DeskPaymentForm(request.POST, settings=settings)
    if not form.is_valid():
        return _desk_page(request, launch, form, settings, status=400)
    data = form.cleaned_data
    due = _desk_due(launch, data["encounter"])
    if due is not None and data["amount"] > due and not data.get("credit"):
        form.add_error(
            "credit",
            f"The visit's balance is ${due:,.2f}. To post ${data['amount']:,.2f}, tick this box "
            "to record the difference as a credit, or enter the balance.",
        )
        return _desk_page(request, launch, form, settings, status=400)
    desk = services.DeskPayment(
        launch=launch,
        encounter_id=data["encounter"],
        amount=data["amount"],
        method=data["method"],
        request_key=data["key"],
        tendered=data.get("tendered"),
        check_number=data.get("check_number", ""),
        card_brand=data.get("card_brand", ""),
        card_last4=data.get("card_last4", ""),
        card_expiry=data.get("card_expiry", ""),
    )
    try:
        payment = services.desk_payment_record(desk=desk)
    except services.KeyUsedElsewhere:
        fresh = DeskPaymentForm(
            initial={**data, "key": DeskPaymentForm.new_key()}, settings=settings
        )
        messages.warning(
            request, "That form was already used for another payment: check and send it again."
        )
        return _desk_page(request, launch, fresh, settings, status=400)
    change = (payment.tendered - payment.amount) if payment.tendered else Decimal("0.00")
    messages.success(
        request,
        f"Recorded. ${payment.amount:,.2f} will be posted to the visit's account."
        + (f" Change to give back: ${change:,.2f}." if change > 0 else ""),
    )
    return _see_other(_status_url(launch, payment))


def _desk_due(launch: Launch, encounter_id: str) -> Decimal | None:
    """What the visit owes (its balance, else the estimate); None when nobody knows yet."""
    _, estimate = owned_encounter_status(launch=launch, encounter_id=encounter_id)
    gateway = system_gateway_for(
        launch=launch, reason=f"desk payment for visit {encounter_id}, launch {launch.public_id}"
    )
    account = guarantor_account(gateway=gateway, encounter_id=encounter_id)
    return known_due(account=account, estimate=estimate)


def _desk_page(
    request: HttpRequest, launch: Launch, form: DeskPaymentForm, settings: Any, status: int
) -> HttpResponse:
    return _page(
        request, launch, "payments/desk.html", {"form": form, "settings": settings}, status
    )


@csrf_exempt  # Stripe signs the body instead; the signature is checked before anything else
@require_POST
def stripe_webhook(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """One endpoint per tenant for its Stripe account's events."""
    tenant = get_object_or_404(Tenant, slug=tenant_slug, enabled=True)
    settings = services.payment_settings(tenant=tenant)
    try:
        event = webhooks.stripe_event_verify(
            settings=settings,
            payload=request.body,
            signature=request.headers.get("Stripe-Signature", ""),
        )
    except webhooks.BadEvent as refused:
        logger.warning("stripe webhook for %s refused: %s", tenant.slug, refused)
        return HttpResponse("bad signature", status=400, content_type="text/plain")
    outcome = webhooks.stripe_event_receive(tenant=tenant, settings=settings, event=event)
    return HttpResponse(outcome, content_type="text/plain")
