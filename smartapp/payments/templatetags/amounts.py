"""`{{ amount|money }}`: dollars as the page's language writes them ("$1,234.50")."""

from decimal import Decimal

from django import template

from smartapp.payments.money import money_text

register = template.Library()


@register.filter
def money(amount: Decimal | None) -> str:
    return "" if amount is None else money_text(Decimal(amount))
