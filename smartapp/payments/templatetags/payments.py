"""`{% pay_button launch visit %}` for the visits page: no EHR call, only our outbox rows."""

from typing import Any

from django import template

from smartapp.payments.selectors import payments_for_visit
from smartapp.payments.words import payment_words

register = template.Library()
NOT_PAYABLE = {"cancelled", "entered-in-error"}


@register.inclusion_tag("payments/_pay_button_inner.html")
def pay_button(launch: Any, visit: Any) -> dict[str, Any]:
    encounter_id = str(getattr(visit, "encounter_id", "") or "")
    earlier = payments_for_visit(launch=launch, encounter_id=encounter_id) if encounter_id else []
    return {
        "launch": launch,
        "encounter_id": encounter_id,
        "payable": bool(encounter_id) and getattr(visit, "status", "") not in NOT_PAYABLE,
        "estimate": getattr(visit, "estimated_responsibility", None),
        "earlier": [(p, payment_words(p)) for p in earlier],
    }
