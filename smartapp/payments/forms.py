"""Input parsing for the payment pages: every amount and id from a form is checked here."""

import re
import secrets
from decimal import Decimal
from typing import Any, TypedDict

from django import forms
from django.core import signing
from django.core.validators import RegexValidator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from smartapp.lib.forms import ErrorsDescribed
from smartapp.payments.models import Method, PaymentSettings
from smartapp.payments.money import BadAmount, as_text, parse_amount

FHIR_ID = RegexValidator(r"^[A-Za-z0-9\-.]{1,64}$", "Not a valid id.")
QUOTE_SALT = "smartapp.payments.quote"
QUOTE_MAX_AGE = 3600


class SignedQuote(TypedDict):
    """What the pay page offered, as signed into its form (short keys keep the field small)."""

    l: str  # noqa: E741 - the launch's public id
    e: str  # the encounter id
    s: str  # an AmountSource
    a: str  # the amount, "" when the patient enters it
    c: str  # the most the patient may enter (what is owed, or the online maximum)
    k: str  # the one-time key


class BadQuote(Exception):
    """The pay form's signed quote is missing, edited, expired or for another launch or visit."""


def quote_make(
    *, launch_id: str, encounter_id: str, source: str, amount: Decimal | None, cap: Decimal
) -> str:
    """What the pay page offered, signed, with a one-time key (a double click reuses it)."""
    data: SignedQuote = {
        "l": launch_id,
        "e": encounter_id,
        "s": source,
        "a": as_text(amount) if amount is not None else "",
        "c": as_text(cap),
        "k": secrets.token_urlsafe(24),
    }
    return signing.dumps(data, salt=QUOTE_SALT)


def quote_read(value: str, *, launch_id: str, encounter_id: str) -> SignedQuote:
    try:
        data: SignedQuote = signing.loads(value or "", salt=QUOTE_SALT, max_age=QUOTE_MAX_AGE)
    except signing.BadSignature:
        raise BadQuote(
            _("This payment form has expired or was changed. Please start again.")
        ) from None
    if data.get("l") != launch_id or data.get("e") != encounter_id or "c" not in data:
        raise BadQuote(_("This payment form belongs to another visit. Please start again."))
    return data


class PayForm(ErrorsDescribed, forms.Form):
    quote = forms.CharField(widget=forms.HiddenInput, max_length=1000)
    amount = forms.CharField(required=False, max_length=30, label=gettext_lazy("Amount (USD)"))

    def __init__(
        self,
        *args: Any,
        settings: PaymentSettings,
        entered: bool,
        cap: Decimal | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.settings, self.entered = settings, entered
        self.cap = settings.max_amount if cap is None else min(cap, settings.max_amount)
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def clean_amount(self) -> Decimal | None:
        if not self.entered:
            return None
        try:
            return parse_amount(
                self.cleaned_data.get("amount", ""), low=self.settings.min_amount, high=self.cap
            )
        except BadAmount as error:
            raise forms.ValidationError(str(error)) from None


CARD_BRANDS = [
    ("visa", "Visa"),
    ("mastercard", "Mastercard"),
    ("amex", "Amex"),
    ("discover", "Discover"),
]
EXPIRY = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class DeskPaymentForm(ErrorsDescribed, forms.Form):
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    encounter = forms.CharField(max_length=64, validators=[FHIR_ID], label="Visit (encounter id)")
    method = forms.ChoiceField(choices=Method.choices, label="Paid by")
    amount = forms.CharField(max_length=30, label="Amount (USD)")
    tendered = forms.CharField(max_length=30, required=False, label="Cash handed over (USD)")
    check_number = forms.CharField(max_length=20, required=False, label="Check number")
    card_brand = forms.ChoiceField(choices=[("", "—"), *CARD_BRANDS], required=False)
    card_last4 = forms.CharField(max_length=4, required=False, label="Card: last 4 digits")
    card_expiry = forms.CharField(max_length=7, required=False, label="Card expiry (YYYY-MM)")
    credit = forms.BooleanField(
        required=False, label="More than the visit's balance: record the difference as a credit"
    )

    def __init__(self, *args: Any, settings: PaymentSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings

    @staticmethod
    def new_key() -> str:
        return secrets.token_urlsafe(24)

    def _money(self, name: str) -> Decimal:
        try:
            return parse_amount(
                self.cleaned_data.get(name, ""),
                low=self.settings.min_amount,
                high=self.settings.max_amount,
            )
        except BadAmount as error:
            raise forms.ValidationError(str(error)) from None

    def clean_amount(self) -> Decimal:
        return self._money("amount")

    def clean_tendered(self) -> Decimal | None:
        text = self.cleaned_data.get("tendered", "").strip()
        if not text:
            return None
        try:
            return parse_amount(text, low=Decimal("0.01"), high=Decimal("1000000"))
        except BadAmount as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        method = data.get("method")
        if method == Method.CASH and data.get("tendered") and data.get("amount"):
            if data["tendered"] < data["amount"]:
                self.add_error("tendered", "Cash handed over must be at least the amount.")
        if method == Method.CHECK and not re.fullmatch(r"\d{1,20}", data.get("check_number", "")):
            self.add_error("check_number", "Enter the check number (digits only).")
        if method == Method.CARD:
            if not re.fullmatch(r"\d{4}", data.get("card_last4", "")):
                self.add_error("card_last4", "Enter the last 4 digits of the card.")
            if not data.get("card_brand"):
                self.add_error("card_brand", "Choose the card brand.")
            if data.get("card_expiry") and not EXPIRY.match(data["card_expiry"]):
                self.add_error("card_expiry", "Enter the expiry as YYYY-MM.")
        return data


class RefundForm(ErrorsDescribed, forms.Form):
    """Staff refund (part of) a posted payment: how much, and why (both required)."""

    key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    amount = forms.CharField(max_length=30, label="Amount to refund (USD)")
    reason = forms.CharField(max_length=500, label="Reason (kept with the refund)")

    def __init__(self, *args: Any, left: Decimal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.left = left
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "autocomplete": "off"})

    def clean_amount(self) -> Decimal:
        try:
            amount = parse_amount(
                self.cleaned_data.get("amount", ""), low=Decimal("0.01"), high=Decimal("1000000")
            )
        except BadAmount as error:
            raise forms.ValidationError(str(error)) from None
        if amount > self.left:
            raise forms.ValidationError(f"At most ${self.left:,.2f} is left to refund.")
        return amount


class ResolveForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    outcome = forms.ChoiceField(
        choices=[("posted", "It is on the account (posted)"), ("not_posted", "Not to be posted")]
    )


class OpsFilterForm(forms.Form):
    state = forms.CharField(required=False, max_length=20)
    older_than = forms.ChoiceField(
        required=False,
        choices=[
            ("", "any age"),
            ("1h", "over 1 hour"),
            ("1d", "over 1 day"),
            ("7d", "over 7 days"),
        ],
    )
