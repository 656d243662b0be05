"""The hosted checkout form: card number, expiry, CVC and name (test cards only)."""

import re
from datetime import date
from typing import Any

from django import forms

from smartapp.sandbox.processor.service import TEST_CARDS, Card

EXPIRY = re.compile(r"^\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*$")


class CardForm(forms.Form):
    number = forms.CharField(
        label="Card number",
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )
    expiry = forms.CharField(
        label="Expiry (MM/YY)",
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "MM/YY"}),
    )
    cvc = forms.CharField(
        label="CVC",
        max_length=4,
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )
    name = forms.CharField(
        label="Name on card",
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "cc-name"}),
    )

    def clean_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if number not in TEST_CARDS:
            raise forms.ValidationError("Use a sandbox test card.")
        return number

    def clean_expiry(self) -> tuple[int, int]:
        match = EXPIRY.match(self.cleaned_data["expiry"])
        if not match or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError("Enter the expiry as MM/YY.")
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        today = date.today()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        return month, year

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"\d{3,4}", cvc):
            raise forms.ValidationError("The CVC is 3 or 4 digits.")
        return cvc

    def card(self) -> Card:
        data: dict[str, Any] = self.cleaned_data
        month, year = data["expiry"]
        return Card(number=data["number"], exp_month=month, exp_year=year)
