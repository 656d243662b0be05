"""Once-only form keys: booking requests, and sent messages, claimed once before the EHR is called."""

from django.db import models
from django.utils import timezone

from smartapp.launch.models import Launch


class BookingRequest(models.Model):
    class State(models.TextChoices):
        NEW = "new", "confirm page shown"
        SENDING = "sending", "sent to the EHR, waiting"
        BOOKED = "booked", "booked"
        REFUSED = "refused", "refused by the EHR"
        UNKNOWN = "unknown", "sent, no clear answer"

    # The hidden field of one confirm page; a second submit of it finds this row taken.
    key = models.CharField(max_length=64, unique=True)
    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="booking_requests")
    slot_id = models.CharField(max_length=100)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    appointment_id = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=300, blank=True)
    # The slot search the user came from, to show fresh slots if the EHR refuses this one.
    search = models.CharField(max_length=600, blank=True)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"booking of Slot/{self.slot_id} ({self.state}) for launch {self.launch_id}"


class SentMessageKey(models.Model):
    """The hidden key of one compose or reply form; its row exists once the message went out."""

    key = models.CharField(max_length=64, unique=True)
    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="sent_message_keys")
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"message key for launch {self.launch_id}"
