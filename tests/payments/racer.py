"""One racing process for the PostgreSQL claim drill: claims due payments and "posts" each it wins.

Run as `python -m tests.payments.racer NAME START_AT ORDER` with DATABASE_URL set.
"""

import os
import sys
import time

import django


def main() -> None:
    name, start_at, order = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartapp.settings")
    django.setup()
    from django.utils import timezone

    from smartapp.payments.claiming import payment_claim
    from smartapp.payments.models import Attempt, Payment, State
    from smartapp.payments.services import payments_due_by_visit

    ids = list(Payment.objects.order_by("id").values_list("id", flat=True))
    if order == "desc":
        ids.reverse()
    time.sleep(max(0.0, start_at - time.time()))
    won = 0
    for round_ in range(2):  # first by the beat's query (skip locked), then straight at each row
        visits = payments_due_by_visit(limit=1000) if round_ == 0 else [ids]
        batch = [payment_id for visit in visits for payment_id in visit]
        for payment_id in batch if order == "asc" else list(reversed(batch)):
            token = payment_claim(payment_id=payment_id)
            if token is None:
                continue
            Attempt.objects.create(
                payment_id=payment_id,
                kind="post",
                result="posted",
                by=name,
                finished_at=timezone.now(),
            )
            Payment.objects.filter(pk=payment_id, claim_token=token).update(
                state=State.POSTED, claimed_until=None, claim_token="", next_check_at=None
            )
            won += 1
    print(f"{name} won {won}")


if __name__ == "__main__":
    main()
