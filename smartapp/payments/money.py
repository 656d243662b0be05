"""Money as Decimal with two places, USD; parsing what people type into amounts we can post."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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


def parse_amount(text: str, *, low: Decimal, high: Decimal) -> Decimal:
    """A typed amount: a number, more than zero, at most cents, within the tenant's limits."""
    cleaned = (text or "").strip().replace(",", "").removeprefix("$").strip()
    if not cleaned:
        raise BadAmount("Enter an amount.")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise BadAmount("Enter the amount as a number, for example 25.00.") from None
    if not amount.is_finite():
        raise BadAmount("Enter the amount as a number, for example 25.00.")
    if amount <= 0:
        raise BadAmount("The amount must be more than zero.")
    if amount != amount.quantize(CENT):
        raise BadAmount("Use dollars and cents only (at most two digits after the point).")
    return check_limits(amount.quantize(CENT), low=low, high=high)


def check_limits(amount: Decimal, *, low: Decimal, high: Decimal) -> Decimal:
    if amount < low:
        raise BadAmount(f"The smallest payment we can take online is ${low:,.2f}.")
    if amount > high:
        raise BadAmount(f"The largest payment we can take online is ${high:,.2f}.")
    return amount


def as_text(amount: Decimal) -> str:
    """`12.5` → `12.50` (the processor's and our pages' form)."""
    return f"{amount.quantize(CENT):f}"
