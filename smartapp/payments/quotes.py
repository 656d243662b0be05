"""The visit a payment is for: checked to be the launch patient's, with its amount to pay."""

from dataclasses import dataclass, replace
from decimal import Decimal

from django.utils.translation import gettext_lazy

from smartapp.fhir.errors import FhirError
from smartapp.launch import error_pages
from smartapp.launch.access import gateway_for, system_gateway_for
from smartapp.launch.models import Launch
from smartapp.payments.ehr import RESPONSIBILITY, AccountBalance, guarantor_account, money_extension
from smartapp.payments.models import AmountSource, PaymentSettings


class VisitNotFound(error_pages.LaunchError):
    status = 404
    title = gettext_lazy("Visit not found")
    explanation = gettext_lazy("There is no such visit in your record.")


@dataclass(frozen=True)
class Quote:
    encounter_id: str
    status: str
    source: str  # AmountSource
    amount: Decimal | None  # None: the patient enters it
    account: AccountBalance | None
    estimate: Decimal | None
    nothing_due: bool = False
    cap: Decimal | None = None  # the most the patient may pay online for this visit

    @property
    def known(self) -> Decimal | None:
        """What the hospital says is owed: the Account's balance, else the estimate."""
        return known_due(account=self.account, estimate=self.estimate)


def known_due(*, account: AccountBalance | None, estimate: Decimal | None) -> Decimal | None:
    if account is not None:
        return account.balance
    return estimate if estimate is not None and estimate > 0 else None


def owned_encounter_status(*, launch: Launch, encounter_id: str) -> tuple[str, Decimal | None]:
    """The Encounter's status and estimate, read as the launch's user; 404 unless their patient's."""
    try:
        encounter = gateway_for(launch=launch).read("Encounter", encounter_id)
    except FhirError as error:
        if error.status in (403, 404, 410):
            raise VisitNotFound(log=f"encounter {error.status}") from None
        raise
    subject = getattr(getattr(encounter, "subject", None), "reference", "") or ""
    if subject.split("/")[-1] != launch.patient_id:
        raise VisitNotFound(log="encounter of another patient")
    return str(encounter.status or ""), money_extension(encounter, RESPONSIBILITY)


def visit_quote(*, launch: Launch, encounter_id: str, settings: PaymentSettings) -> Quote:
    """What to charge: the Account's balance, else the estimate, else what the patient enters.

    Never more than is owed, and the minimum never forces an overpayment: a balance under the
    minimum is offered as it is. Above the online maximum the patient pays a part of their
    choosing. Two EHR calls, on this page only: the Encounter (as the patient: proves it is
    theirs) and the Account (system client: patients cannot read Accounts).
    """
    status, estimate = owned_encounter_status(launch=launch, encounter_id=encounter_id)
    gateway = system_gateway_for(
        launch=launch,
        reason=f"payment amount for visit {encounter_id} on behalf of patient, launch {launch.public_id}",
    )
    account = guarantor_account(gateway=gateway, encounter_id=encounter_id)
    quote = Quote(encounter_id, status, AmountSource.ENTERED, None, account, estimate)
    known = quote.known
    if known is None:
        return replace(quote, cap=settings.max_amount)
    if known <= 0:
        return replace(quote, source=AmountSource.BALANCE, nothing_due=True, cap=Decimal("0.00"))
    source = AmountSource.BALANCE if account is not None else AmountSource.ESTIMATE
    if known <= settings.max_amount:
        return replace(quote, source=source, amount=known, cap=known)
    return replace(quote, cap=settings.max_amount)
