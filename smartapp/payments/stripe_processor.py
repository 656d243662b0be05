"""Stripe behind the processor seam, through Stripe's official SDK.

A payment is one PaymentIntent (amount in cents, our reference, tenant and visit in `metadata`),
created with an idempotency key derived from our reference, so a retried create never makes a
second one. The card fields are Stripe's own (Stripe Elements on our card page, loaded from
Stripe's script): card numbers reach Stripe from the browser and never our servers. Every call
goes through smartapp.lib.http.session() (timeouts, one log line per call, no query strings).
"""

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
import stripe

from smartapp.lib.http import session
from smartapp.payments.money import BadAmount, to_money
from smartapp.payments.processor import Checkout, ProcessorCharge, ProcessorError, Refund

logger = logging.getLogger(__name__)
CENTS = Decimal(100)
# PaymentIntent status → the seam's checkout status (a declined card returns to
# requires_payment_method with its last_payment_error).
STATUSES = {"succeeded": "captured", "canceled": "failed"}


class _AppSession:
    """The SDK's requests session, replaced by the app's (it sends `timeout`; ours sets its own)."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        path = url.split("?")[0].split("/v1/", 1)[-1]
        return session().request(
            method.upper(),
            url,
            data=kwargs.get("data"),
            headers=kwargs.get("headers"),
            what=f"stripe {path.split('/')[0]}",
        )


def _cents(amount: Decimal) -> int:
    return int((amount * CENTS).to_integral_value())


class StripeProcessor:
    def __init__(self, *, secret_key: str, api_base: str = "") -> None:
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else {},
            http_client=stripe.RequestsClient(session=_AppSession()),  # type: ignore[arg-type]
            max_network_retries=0,  # retries are ours (the outbox), never a silent second write
        )

    def _call(self, what: str, call: Any, *, write: bool) -> Any:
        try:
            return call()
        except stripe.CardError as error:
            raise ProcessorError(
                error.user_message or "The card was declined.", status=402
            ) from None
        except stripe.APIConnectionError:
            logger.warning("stripe %s: no answer", what)
            raise ProcessorError("The card processor did not answer.", unclear=write) from None
        except stripe.StripeError as error:
            status = error.http_status or 0
            logger.warning("stripe %s refused: %s %s", what, status, error.code or "")
            raise ProcessorError(
                error.user_message or "The card processor refused the request.",
                status=status,
                unclear=write and status >= 500,
            ) from None

    def create_checkout(
        self,
        *,
        amount: Decimal,
        reference: str,
        return_url: str,
        cancel_url: str,
        card_page_url: str = "",
        metadata: dict[str, str] | None = None,
    ) -> Checkout:
        """One PaymentIntent per reference: the same key finds it again instead of a second."""
        params = {
            "amount": _cents(amount),
            "currency": "usd",
            "payment_method_types": ["card"],
            "metadata": {**(metadata or {}), "reference": reference},
        }
        intent = self._call(
            "create",
            lambda: self._client.v1.payment_intents.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"smartapp-payment-{reference}"},
            ),
            write=True,
        )
        return self._checkout(intent, card_page_url)

    def fetch_session(self, *, session_id: str) -> Checkout:
        intent = self._call(
            "retrieve", lambda: self._client.v1.payment_intents.retrieve(session_id), write=False
        )
        return self._checkout(intent, "")

    def find_by_reference(self, *, reference: str) -> Checkout | None:
        query = f"metadata['reference']:'{reference}'"
        found = self._call(
            "search",
            lambda: self._client.v1.payment_intents.search(params={"query": query}),
            write=False,
        )
        intents = list(found.data)
        return self._checkout(intents[0], "") if intents else None

    def refund(
        self,
        *,
        charge_id: str,
        idempotency_key: str,
        amount: Decimal | None = None,
        reference: str = "",
    ) -> Refund:
        """With a `reference`, the charge's refunds are searched for it first: an idempotency key
        lasts 24 hours at Stripe (and localstripe ignores it), our reference lasts for ever."""
        earlier = self._refund_of(charge_id, reference) if reference else None
        if earlier is not None:
            return earlier
        params: dict[str, Any] = {"charge": charge_id}
        if amount is not None:
            params["amount"] = _cents(amount)
        if reference:
            params["metadata"] = {"reference": reference}
        made = self._call(
            "refund",
            lambda: self._client.v1.refunds.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            ),
            write=True,
        )
        return Refund(str(made.id), Decimal(int(made.amount)) / CENTS)

    def _refund_of(self, charge_id: str, reference: str) -> Refund | None:
        listed = self._call(
            "refunds",
            lambda: self._client.v1.refunds.list(params={"charge": charge_id, "limit": 100}),
            write=False,
        )
        for found in listed.auto_paging_iter():
            if found.to_dict().get("metadata", {}).get("reference") == reference:
                return Refund(str(found.id), Decimal(int(found.amount)) / CENTS)
        return None

    def charges_between(self, *, start: datetime, end: datetime) -> list[ProcessorCharge]:
        """Every charge in [start, end), all pages (Stripe's auto-paging list). Asked as
        `created[gt]` only and cut at `end` here: what both Stripe and localstripe answer."""
        window = {"gt": int(start.timestamp()) - 1}
        until = int(end.timestamp())
        listed = self._call(
            "charges",
            lambda: self._client.v1.charges.list(params={"created": window, "limit": 100}),  # type: ignore[arg-type]
            write=False,
        )
        found = []
        for charge in listed.auto_paging_iter():
            data = charge.to_dict()
            if int(data.get("created") or 0) >= until:
                continue
            found.append(
                ProcessorCharge(
                    charge_id=str(data.get("id") or ""),
                    amount=Decimal(int(data.get("amount") or 0)) / CENTS,
                    refunded=Decimal(int(data.get("amount_refunded") or 0)) / CENTS,
                    session_id=str(data.get("payment_intent") or ""),
                )
            )
        return found

    def abandon(self, *, session_id: str) -> None:
        """Cancels the PaymentIntent, so an abandoned checkout can never be charged."""
        self._call("cancel", lambda: self._client.v1.payment_intents.cancel(session_id), write=True)

    def keys_check(self) -> None:
        """One harmless read (a list of one PaymentIntent): raises when Stripe refuses the key."""
        self._call(
            "check", lambda: self._client.v1.payment_intents.list(params={"limit": 1}), write=False
        )

    def card_setup_secret(self, *, reference: str) -> str:
        """A SetupIntent for the card page: Stripe.js turns the card fields into a PaymentMethod
        with it, in the browser (the card number goes to Stripe, never to us)."""
        setup = self._call(
            "setup",
            lambda: self._client.v1.setup_intents.create(
                params={  # type: ignore[arg-type]
                    "payment_method_types": ["card"],
                    "usage": "on_session",
                    "metadata": {"reference": reference},
                }
            ),
            write=True,
        )
        return str(setup.client_secret)

    def pay_with_setup(self, *, session_id: str, setup_intent_id: str, reference: str) -> Checkout:
        """Confirms the payment's PaymentIntent with the card the browser set up (server-side
        confirmation); a decline comes back as the checkout's `declined` status."""
        v1 = self._client.v1
        setup = self._call("setup", lambda: v1.setup_intents.retrieve(setup_intent_id), write=False)
        found = setup.to_dict()
        if (
            found.get("status") != "succeeded"
            or (found.get("metadata") or {}).get("reference") != reference
        ):
            raise ProcessorError(
                "That card was not set up for this payment. Please enter it again."
            )
        method = str(found.get("payment_method") or "")
        self._call(
            "update",
            lambda: v1.payment_intents.update(session_id, params={"payment_method": method}),
            write=True,
        )
        try:
            self._call(
                "confirm",
                lambda: v1.payment_intents.confirm(
                    session_id, options={"idempotency_key": f"smartapp-confirm-{setup_intent_id}"}
                ),
                write=True,
            )
        except ProcessorError as error:
            if error.status != 402:  # a decline is the intent's state; anything else is not
                raise
        return self.fetch_session(session_id=session_id)

    def _card(self, payment_method: str) -> dict[str, Any]:
        if not payment_method:
            return {}
        method = self._call(
            "payment method",
            lambda: self._client.v1.payment_methods.retrieve(payment_method),
            write=False,
        ).to_dict()
        card = method.get("card")
        return card if isinstance(card, dict) else {}

    def _checkout(self, found: Any, card_page_url: str) -> Checkout:
        intent: dict[str, Any] = found.to_dict()
        status = STATUSES.get(str(intent.get("status")), "open")
        failure = ""
        error = intent.get("last_payment_error") or {}
        if status == "open" and intent.get("status") == "requires_payment_method" and error:
            status, failure = "declined", str(error.get("message") or "card declined")
        method = intent.get("payment_method") or ""
        card = self._card(str(method)) if status == "captured" and isinstance(method, str) else {}
        charge = intent.get("latest_charge") or ""
        month, year = card.get("exp_month"), card.get("exp_year")
        try:
            amount = to_money(Decimal(int(intent["amount"])) / CENTS)
        except (BadAmount, KeyError, TypeError, ValueError):
            raise ProcessorError("The card processor sent an unreadable amount.") from None
        return Checkout(
            session_id=str(intent.get("id") or ""),
            checkout_url=card_page_url,
            status=status,
            amount=amount,
            reference=str((intent.get("metadata") or {}).get("reference") or ""),
            charge_id=str(charge.get("id") if isinstance(charge, dict) else charge),
            brand=str(card.get("brand") or ""),
            last4=str(card.get("last4") or "")[-4:],
            expiry=f"{int(year):04d}-{int(month):02d}" if month and year else "",
            failure=failure,
        )
