"""A desk payment through the clinician's own page (as a hospital's test would record one)."""

import re

from smartapp.payments.models import Payment
from smartapp.testing import Launched, SeededVisit


def desk_payment(client, launched: Launched, visit: SeededVisit, amount: str) -> Payment:
    url = launched.url("payments/desk/")
    page = client.get(url, {"encounter": visit.fhir_id}).content.decode()
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key, page[:500]
    form = {"key": key[1], "encounter": visit.fhir_id, "method": "cash", "amount": amount}
    done = client.post(url, {**form, "tendered": amount})
    assert done.status_code == 303, done.content[:500]
    return Payment.objects.get(request_key=key[1])
