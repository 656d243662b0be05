"""What a patient (or clinician) reads about a payment: plain words per state (English and
Spanish: the words are translated in the active language when they are made)."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from smartapp.payments.models import Payment, State
from smartapp.payments.money import money_text


@dataclass(frozen=True)
class Words:
    headline: str
    detail: str
    tone: str  # ok | wait | problem
    final: bool


def _card(payment: Payment) -> str:
    if payment.card_last4:
        return _("your card ending %(last4)s") % {"last4": payment.card_last4}
    if payment.by_card:
        return _("your card")
    return _("the %(method)s payment") % {"method": payment.get_method_display().lower()}


def _taken(payment: Payment, amount: str) -> str:
    if payment.by_card:
        return _charged(payment, amount)
    return _("%(amount)s was paid by %(method)s at the desk.") % {
        "amount": amount,
        "method": payment.get_method_display().lower(),
    }


def _charged(payment: Payment, amount: str) -> str:
    return _("%(amount)s was charged to %(card)s.") % {"amount": amount, "card": _card(payment)}


def payment_words(payment: Payment) -> Words:
    amount = money_text(payment.amount)
    state = payment.state
    charged = _charged(payment, amount)
    if state == State.NEW:
        if payment.message:
            return Words(
                _("Not paid yet"),
                _(
                    "The card was not accepted (%(why)s). No money was taken. "
                    "You can try again with another card."
                )
                % {"why": payment.message},
                "problem",
                False,
            )
        return Words(
            _("Not paid yet"),
            _("Finish the payment on the card page. No money has been taken."),
            "wait",
            False,
        )
    if state == State.CAPTURED and payment.checks:
        return Words(
            _("Paid. Not in the hospital's billing system yet"),
            _taken(payment, amount)
            + " "
            + _(
                "The hospital's billing system has not accepted it yet; the app keeps trying by "
                "itself and alerts staff if it lasts. Nobody needs to pay again."
            ),
            "wait",
            False,
        )
    if state == State.CAPTURED:
        return Words(
            _("Paid"), charged + " " + _("We are sending it to the hospital now."), "wait", False
        )
    if state == State.AWAITING_ACCOUNT:
        return Words(
            _("Paid. Waiting for registration"),
            charged
            + " "
            + _(
                "The hospital has not finished registering your visit yet; we'll post your "
                "payment to it automatically as soon as it has. You do not need to do anything."
            ),
            "wait",
            False,
        )
    if state in (State.POSTING, State.OUTCOME_UNKNOWN):
        return Words(
            _("Paid. Reaching the hospital"),
            charged
            + " "
            + _("We are making sure the hospital's system has recorded it, exactly once."),
            "wait",
            False,
        )
    if state == State.POSTED:
        return Words(
            _("Posted"),
            _("Your payment of %(amount)s is on your hospital account. Thank you.")
            % {"amount": amount},
            "ok",
            True,
        )
    if state == State.FAILED:
        return Words(
            _("The hospital could not accept the payment"),
            _(
                "%(amount)s was charged to %(card)s, but the hospital's system refused it. Our "
                "staff have been alerted and will apply it by hand, or refund it in full if it "
                "cannot be applied. You do not need to pay again."
            )
            % {"amount": amount, "card": _card(payment)},
            "problem",
            False,
        )
    if state == State.NEEDS_ATTENTION:
        return Words(
            _("Paid. Staff are checking it"),
            charged
            + " "
            + _(
                "The hospital's staff are checking this payment by hand; your money is safe and "
                "you do not need to pay again."
            ),
            "wait",
            False,
        )
    if state == State.REFUNDED:
        return Words(
            _("Refunded"),
            _("%(amount)s was refunded to %(card)s.") % {"amount": amount, "card": _card(payment)},
            "ok",
            True,
        )
    return Words(
        _("Not paid"), _("This payment was cancelled. No money was taken for it."), "ok", True
    )


def refund_words(refund: Payment) -> Words:
    """A refund, as the patient reads it on the payment's receipt and status."""
    amount = money_text(refund.amount)
    to = _card(refund) if refund.by_card else _("you at the desk")
    if refund.state == State.NEW:
        return Words(
            _("Refund under way"),
            _("%(amount)s is being refunded to %(to)s.") % {"amount": amount, "to": to},
            "wait",
            False,
        )
    if refund.state == State.CANCELLED:
        return Words(_("Refund not made"), _("No money moved for this refund."), "problem", True)
    if refund.state == State.POSTED:
        return Words(
            _("Refunded"),
            _("%(amount)s was refunded to %(to)s, and your hospital account shows it.")
            % {"amount": amount, "to": to},
            "ok",
            True,
        )
    return Words(
        _("Refunded"),
        _("%(amount)s was refunded to %(to)s; the hospital's account is being updated.")
        % {"amount": amount, "to": to},
        "ok",
        False,
    )
