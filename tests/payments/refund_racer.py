"""One racing process for the PostgreSQL refund drill: refunds $6 of every posted $10 payment.

Run as `python -m tests.payments.refund_racer NAME START_AT` with DATABASE_URL set. Prints how
many refunds it made and how many it was refused.
"""

import os
import sys
import time
from decimal import Decimal

import django


def main() -> None:
    name, start_at = sys.argv[1], float(sys.argv[2])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartapp.settings")
    django.setup()
    from smartapp.payments import refunds
    from smartapp.payments.models import Payment

    originals = list(Payment.objects.filter(tenant__slug="refund-race", reverses__isnull=True))
    time.sleep(max(0.0, start_at - time.time()))
    made = refused = 0
    for payment in originals:
        ask = refunds.RefundAsk(
            payment=payment,
            amount=Decimal("6.00"),
            reason="racing refund",
            by=name,
            request_key=f"{name}-{payment.pk}",
        )
        try:
            refunds.posted_refund_start(ask=ask)
            made += 1
        except refunds.RefundRefused:
            refused += 1
    print(f"{name} made {made} refused {refused}")


if __name__ == "__main__":
    main()
