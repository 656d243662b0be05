"""`smart_doctor`'s payment checks: the card processor's keys, with one harmless call."""

from collections.abc import Iterator

from smartapp.payments.models import PaymentSettings
from smartapp.payments.processor import ProcessorError, processor_for
from smartapp.payments.stripe_processor import StripeProcessor
from smartapp.tenants.doctor import OK, PROBLEM, WARN, Finding
from smartapp.tenants.models import Tenant


def _mode(key: str) -> str:
    return "live" if "_live_" in key else "test"


def processor_findings(tenant: Tenant) -> Iterator[Finding]:
    settings = PaymentSettings.objects.filter(tenant=tenant).first()
    if settings is None or settings.processor_kind != "stripe":
        return
    stripe = processor_for(settings)
    if not isinstance(stripe, StripeProcessor):
        return
    try:
        stripe.keys_check()
    except ProcessorError as error:
        if error.status == 0:
            yield Finding(PROBLEM, f"Stripe did not answer: {error.message}")
        else:
            yield Finding(PROBLEM, f"Stripe: the secret key was refused ({error.message}).")
        return
    yield Finding(OK, f"Stripe: the secret key works ({_mode(settings.processor_api_key)} mode).")
    if _mode(settings.processor_api_key) != _mode(settings.processor_publishable_key):
        yield Finding(
            WARN, "Stripe: the publishable and secret keys are from different modes (live/test)."
        )
    if not settings.processor_webhook_secret:
        yield Finding(WARN, "Stripe: no webhook secret; events from Stripe will be refused.")
