"""The card processor seam: hosted checkout, so card numbers never touch smartapp.

`Processor` is the interface; `SandboxProcessor` speaks the sandbox's API (smartapp/sandbox/README.md,
"Card processor"), configured from the tenant file's "processor" key. A real adapter implements
the same three calls. Every call goes through smartapp.lib.http.session() (timeouts, logging).
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import requests

from smartapp.lib.http import session
from smartapp.payments.models import PaymentSettings
from smartapp.payments.money import BadAmount, as_text, to_money

logger = logging.getLogger(__name__)


class ProcessorError(Exception):
    """The processor refused or did not answer; `unclear` when a write may have happened."""

    def __init__(self, message: str, *, status: int = 0, unclear: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.unclear = unclear


@dataclass(frozen=True)
class Checkout:
    session_id: str
    checkout_url: str
    status: str  # open | captured | declined | failed
    amount: Decimal
    reference: str
    charge_id: str = ""
    brand: str = ""
    last4: str = ""
    expiry: str = ""  # YYYY-MM
    failure: str = ""


@dataclass(frozen=True)
class Refund:
    refund_id: str
    amount: Decimal


@dataclass(frozen=True)
class ProcessorCharge:
    """One charge as the processor's own books have it (for the daily reconciliation)."""

    charge_id: str
    amount: Decimal
    refunded: Decimal
    session_id: str


class Processor(Protocol):
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
        """`card_page_url`: our page with the processor's card fields, for a processor that has
        no hosted page of its own (Stripe Elements); `metadata` travels with the charge."""
        ...

    def fetch_session(self, *, session_id: str) -> Checkout: ...

    def find_by_reference(self, *, reference: str) -> Checkout | None: ...

    def refund(
        self,
        *,
        charge_id: str,
        idempotency_key: str,
        amount: Decimal | None = None,
        reference: str = "",
    ) -> Refund:
        """Refunds `amount` of the charge (None: all that is left); the same key never refunds
        twice, nor does the same `reference` (our refund's posting identifier)."""
        ...

    def charges_between(self, *, start: datetime, end: datetime) -> list[ProcessorCharge]:
        """Every charge the processor made in [start, end)."""
        ...

    def abandon(self, *, session_id: str) -> None:
        """The checkout was given up: nothing may be charged on it any more (where supported)."""
        ...


def _checkout(data: dict[str, Any]) -> Checkout:
    charge = data.get("charge") or {}
    month, year = charge.get("exp_month"), charge.get("exp_year")
    expiry = f"{int(year):04d}-{int(month):02d}" if month and year else ""
    return Checkout(
        session_id=str(data["id"]),
        checkout_url=str(data.get("checkout_url") or ""),
        status=str(data.get("status") or ""),
        amount=to_money(data.get("amount")),
        reference=str(data.get("reference") or ""),
        charge_id=str(charge.get("id") or ""),
        brand=str(charge.get("brand") or ""),
        last4=str(charge.get("last4") or "")[-4:],
        expiry=expiry,
        failure=str((data.get("failure") or {}).get("message") or ""),
    )


class SandboxProcessor:
    def __init__(self, *, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = api_key

    def _call(
        self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        what = f"{method} {path.split('?')[0]}"
        try:
            response = session().request(
                method,
                f"{self.base_url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {self._key}", **(headers or {})},
            )
        except requests.RequestException as error:
            logger.warning("processor %s failed: %s", what, type(error).__name__)
            raise ProcessorError(
                "The card processor did not answer.", unclear=method != "GET"
            ) from None
        if response.status_code >= 500:
            raise ProcessorError(
                "The card processor had a problem.", status=response.status_code, unclear=True
            )
        return response

    def _data(self, response: requests.Response) -> dict[str, Any]:
        try:
            data: dict[str, Any] = response.json()  # the processor answers with objects
        except ValueError:
            data = {}
        if not 200 <= response.status_code < 300:
            error = (data.get("error") or {}) if isinstance(data, dict) else {}
            raise ProcessorError(
                str(
                    error.get("message") or f"The card processor refused ({response.status_code})."
                ),
                status=response.status_code,
            )
        return data

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
        """Creates (or, for the same reference, finds again) the hosted checkout session."""
        body = {
            "amount": as_text(amount),
            "currency": "USD",
            "reference": reference,
            "return_url": return_url,
            "cancel_url": cancel_url,
            "description": f"Hospital payment {reference}",
        }
        return _checkout(self._data(self._call("POST", "/v1/checkout/sessions", body=body)))

    def fetch_session(self, *, session_id: str) -> Checkout:
        return _checkout(self._data(self._call("GET", f"/v1/checkout/sessions/{session_id}")))

    def find_by_reference(self, *, reference: str) -> Checkout | None:
        response = self._call("GET", f"/v1/checkout/sessions?reference={reference}")
        if response.status_code == 404:
            return None
        return _checkout(self._data(response))

    def refund(
        self,
        *,
        charge_id: str,
        idempotency_key: str,
        amount: Decimal | None = None,
        reference: str = "",
    ) -> Refund:
        """The sandbox processor keeps idempotency keys for ever: the key alone is enough."""
        response = self._call(
            "POST",
            f"/v1/charges/{charge_id}/refund",
            body={} if amount is None else {"amount": f"{amount:.2f}"},
            headers={"Idempotency-Key": idempotency_key},
        )
        data = self._data(response)
        try:
            return Refund(str(data["id"]), to_money(data.get("amount")))
        except (KeyError, BadAmount):
            raise ProcessorError("The card processor sent an unreadable refund.") from None

    def abandon(self, *, session_id: str) -> None:
        """The sandbox's hosted sessions stay payable: money arriving late is still taken."""

    def charges_between(self, *, start: datetime, end: datetime) -> list[ProcessorCharge]:
        window = f"created_gte={int(start.timestamp())}&created_lt={int(end.timestamp())}"
        data = self._data(self._call("GET", f"/v1/charges?{window}"))
        listed = data.get("data")
        return (
            [_sandbox_charge(item) for item in listed if isinstance(item, dict)]
            if isinstance(listed, list)
            else []
        )


def _sandbox_charge(data: dict[str, Any]) -> ProcessorCharge:
    try:
        return ProcessorCharge(
            charge_id=str(data["id"]),
            amount=to_money(data.get("amount")),
            refunded=to_money(data.get("amount_refunded") or "0"),
            session_id=str(data.get("session") or ""),
        )
    except (KeyError, BadAmount):
        raise ProcessorError("The card processor sent an unreadable charge.") from None


class NotConfigured(ProcessorError):
    pass


def processor_for(settings: PaymentSettings) -> Processor:
    """The tenant's processor: Stripe (`"kind": "stripe"`) or the sandbox's."""
    if settings.processor_kind == "stripe" and settings.processor_api_key:
        from smartapp.payments.stripe_processor import StripeProcessor

        return StripeProcessor(
            secret_key=settings.processor_api_key, api_base=settings.processor_base_url
        )
    if not settings.processor_base_url or not settings.processor_api_key:
        raise NotConfigured("Card payments are not set up for this hospital.")
    return SandboxProcessor(
        base_url=settings.processor_base_url, api_key=settings.processor_api_key
    )
