"""What a patient (or clinician) reads about a payment: plain words per state."""

from dataclasses import dataclass

from smartapp.payments.models import Payment, State


@dataclass(frozen=True)
class Words:
    headline: str
    detail: str
    tone: str  # ok | wait | problem
    final: bool


def _card(payment: Payment) -> str:
    if payment.card_last4:
        return f"your card ending {payment.card_last4}"
    return "your card" if payment.by_card else f"the {payment.get_method_display().lower()} payment"


def _taken(payment: Payment, amount: str) -> str:
    if payment.by_card:
        return f"{amount} was charged to {_card(payment)}."
    return f"{amount} was paid by {payment.get_method_display().lower()} at the desk."


def payment_words(payment: Payment) -> Words:
    amount = f"${payment.amount:,.2f}"
    state = payment.state
    if state == State.NEW:
        if payment.message:
            return Words(
                "Not paid yet",
                f"The card was not accepted ({payment.message}). No money was taken. "
                "You can try again with another card.",
                "problem",
                False,
            )
        return Words(
            "Not paid yet",
            "Finish the payment on the card page. No money has been taken.",
            "wait",
            False,
        )
    if state == State.CAPTURED and payment.checks:
        return Words(
            "Paid. Not in the hospital's billing system yet",
            f"{_taken(payment, amount)} The hospital's billing system has not accepted it yet; "
            "the app keeps trying by itself and alerts staff if it lasts. "
            "Nobody needs to pay again.",
            "wait",
            False,
        )
    if state == State.CAPTURED:
        return Words(
            "Paid",
            f"{amount} was charged to {_card(payment)}. We are sending it to the hospital now.",
            "wait",
            False,
        )
    if state == State.AWAITING_ACCOUNT:
        return Words(
            "Paid. Waiting for registration",
            f"{amount} was charged to {_card(payment)}. The hospital has not finished registering "
            "your visit yet; we'll post your payment to it automatically as soon as it has. "
            "You do not need to do anything.",
            "wait",
            False,
        )
    if state in (State.POSTING, State.OUTCOME_UNKNOWN):
        return Words(
            "Paid. Reaching the hospital",
            f"{amount} was charged to {_card(payment)}. We are making sure the hospital's "
            "system has recorded it, exactly once.",
            "wait",
            False,
        )
    if state == State.POSTED:
        return Words(
            "Posted",
            f"Your payment of {amount} is on your hospital account. Thank you.",
            "ok",
            True,
        )
    if state == State.FAILED:
        return Words(
            "The hospital could not accept the payment",
            f"{amount} was charged to {_card(payment)}, but the hospital's system refused it. "
            "Our staff have been alerted and will apply it by hand, or refund it in full if it "
            "cannot be applied. You do not need to pay again.",
            "problem",
            False,
        )
    if state == State.NEEDS_ATTENTION:
        return Words(
            "Paid. Staff are checking it",
            f"{amount} was charged to {_card(payment)}. The hospital's staff are checking this "
            "payment by hand; your money is safe and you do not need to pay again.",
            "wait",
            False,
        )
    if state == State.REFUNDED:
        return Words("Refunded", f"{amount} was refunded to {_card(payment)}.", "ok", True)
    return Words("Not paid", "This payment was cancelled. No money was taken for it.", "ok", True)


def refund_words(refund: Payment) -> Words:
    """A refund, as the patient reads it on the payment's receipt and status."""
    amount = f"${refund.amount:,.2f}"
    to = _card(refund) if refund.by_card else "you at the desk"
    if refund.state == State.NEW:
        return Words("Refund under way", f"{amount} is being refunded to {to}.", "wait", False)
    if refund.state == State.CANCELLED:
        return Words("Refund not made", "No money moved for this refund.", "problem", True)
    if refund.state == State.POSTED:
        return Words(
            "Refunded",
            f"{amount} was refunded to {to}, and your hospital account shows it.",
            "ok",
            True,
        )
    return Words(
        "Refunded",
        f"{amount} was refunded to {to}; the hospital's account is being updated.",
        "ok",
        False,
    )
