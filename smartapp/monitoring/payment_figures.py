"""Payment figures for the metrics, read from the outbox rows and their transitions at scrape
time (selectors: they only read)."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum

from smartapp.payments.models import DUE_STATES, Attempt, Payment, State, Transition

# Seconds: a posting normally lands within a minute; an Account can take hours to appear.
BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


@dataclass(frozen=True)
class Buckets:
    counts: tuple[int, ...]  # how many took at most BUCKETS[i] seconds
    count: int
    total: float  # seconds, all together

    def cumulative(self) -> list[tuple[str, float]]:
        return [
            *((repr(b), float(c)) for b, c in zip(BUCKETS, self.counts, strict=True)),
            ("+Inf", self.count),
        ]


def payments_by_state() -> dict[str, int]:
    counted = dict(Payment.objects.order_by().values_list("state").annotate(n=Count("id")))
    return {state: counted.get(state, 0) for state in State.values}


def capture_to_posted() -> Buckets:
    took = ExpressionWrapper(F("posted_at") - F("captured_at"), output_field=DurationField())
    # Every payment that was ever posted (a refunded one too): the counts must never go down.
    rows = Payment.objects.filter(posted_at__isnull=False, captured_at__isnull=False).annotate(
        took=took
    )
    figures = rows.aggregate(
        count=Count("id"),
        total=Sum("took"),
        **{
            f"le{i}": Count("id", filter=Q(took__lte=timedelta(seconds=b)))
            for i, b in enumerate(BUCKETS)
        },
    )
    total = figures["total"] or timedelta()
    return Buckets(
        counts=tuple(figures[f"le{i}"] for i in range(len(BUCKETS))),
        count=figures["count"],
        total=total.total_seconds(),
    )


def attempts_by_kind_and_result() -> dict[tuple[str, str], int]:
    """The workers' calls to the EHR and the processor for payments (look-ups, posts), by what
    came of them: recorded rows, so a worker that dies takes none of them with it."""
    rows = Attempt.objects.order_by().values_list("kind", "result").annotate(n=Count("id"))
    return {(kind, result): n for kind, result, n in rows}


def account_waits() -> Buckets:
    """From a payment's first move into awaiting_account to its first move out of it."""
    waits = (
        Transition.objects.order_by()
        .values("payment_id")
        .annotate(
            began=Min("at", filter=Q(target=State.AWAITING_ACCOUNT)),
            ended=Min(
                "at", filter=Q(source=State.AWAITING_ACCOUNT) & ~Q(target=State.AWAITING_ACCOUNT)
            ),
        )
        .filter(began__isnull=False, ended__isnull=False)
        .values_list("began", "ended")
    )
    seconds = [max(0.0, (ended - began).total_seconds()) for began, ended in waits]
    return Buckets(
        counts=tuple(sum(1 for s in seconds if s <= b) for b in BUCKETS),
        count=len(seconds),
        total=sum(seconds),
    )


def oldest_waiting_seconds(*, now: float) -> float:
    oldest = (
        Payment.objects.filter(state__in=DUE_STATES, captured_at__isnull=False)
        .order_by("captured_at")
        .values_list("captured_at", flat=True)
        .first()
    )
    return max(0.0, now - oldest.timestamp()) if oldest else 0.0
