"""Money as Decimal with two places, USD; parsing what people type into amounts we can post."""

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency
from django.utils.translation import get_language, gettext_lazy, to_locale
from django.utils.translation import gettext as _

CENT = Decimal("0.01")
CURRENCY = "USD"


class BadAmount(ValueError):
    """An amount a person typed that we will not charge; the message says why in plain words."""


def to_money(value: object) -> Decimal:
    """A JSON number or string from the EHR or the processor as Decimal(2 places)."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise BadAmount(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise BadAmount(f"{value!r} is not an amount")
    try:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than an amount of money could have
        raise BadAmount(f"{value!r} is not an amount") from None


# One way to write an amount: ASCII digits, an optional "$", comma thousands separators in their
# places, at most two decimals ("1,250.00", "$12.5", "40"). Everything else is refused, because
# "1.000,00", "1_000", "1E+3", "+5" or "١٠" each mean something different to someone.
AMOUNT = re.compile(
    r"\$?(?P<units>[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<cents>[0-9]{1,2}))?"
)
AMOUNT_FORM = gettext_lazy("Enter the amount in dollars and cents, for example 1,250.00 or 25.")
MAX_UNIT_DIGITS = 9  # up to $999,999,999.99: far above any tenant's maximum


def parse_amount(text: str, *, low: Decimal, high: Decimal) -> Decimal:
    """A typed amount in the one accepted form, more than zero, within the tenant's limits."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise BadAmount(_("Enter an amount."))
    match = AMOUNT.fullmatch(cleaned)
    if match is None:
        raise BadAmount(str(AMOUNT_FORM))
    units = match["units"].replace(",", "")
    if len(units.lstrip("0")) > MAX_UNIT_DIGITS:
        raise BadAmount(_largest(high))
    amount = Decimal(f"{units}.{(match['cents'] or '').ljust(2, '0')}")
    if amount <= 0:
        raise BadAmount(_("The amount must be more than zero."))
    return check_limits(amount, low=low, high=high)


def check_limits(amount: Decimal, *, low: Decimal, high: Decimal) -> Decimal:
    if amount < low:
        raise BadAmount(
            _("The smallest payment we can take online is %(amount)s.")
            % {"amount": money_text(low)}
        )
    if amount > high:
        raise BadAmount(_largest(high))
    return amount


def _largest(high: Decimal) -> str:
    return _("The largest payment we can take online is %(amount)s.") % {"amount": money_text(high)}


def as_text(amount: Decimal) -> str:
    """`12.5` → `12.50` (the processor's and our pages' form)."""
    return f"{amount.quantize(CENT):f}"


# Our patients are the hospital's, in the United States: Spanish amounts read "$1,234.50" there
# (CLDR's es_US), not Spain's "1.234,50 US$".
MONEY_LOCALES = {"en": "en_US", "es": "es_US"}


def money_text(amount: Decimal) -> str:
    """`1234.5` → "$1,234.50", written the way the active language writes dollars."""
    language = get_language() or "en"
    locale = MONEY_LOCALES.get(language.split("-")[0], to_locale(language))
    return format_currency(amount, CURRENCY, locale=locale)
