"""One append-only record per read, search or write of patient data."""

from typing import Any

from django.db import models


class AppendOnlyError(Exception):
    """Audit events are never changed or removed once written."""


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        READ = "read", "read"
        SEARCH = "search", "search"
        WRITE = "write", "write"

    # fhirUser reference ("Practitioner/123"), a staff username, or "system".
    who = models.CharField(max_length=300)
    tenant = models.CharField(max_length=100, blank=True, db_index=True)
    patient_id = models.CharField(max_length=100, blank=True, db_index=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    # Resource type plus id or a query summary of parameter names: never PHI values.
    what = models.CharField(max_length=500)
    when = models.DateTimeField(auto_now_add=True, db_index=True)
    correlation_id = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    launch_id = models.UUIDField(null=True, blank=True, db_index=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-when", "-id"]

    def __str__(self) -> str:
        return f"{self.when:%Y-%m-%d %H:%M:%S} {self.who} {self.action} {self.what}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise AppendOnlyError("audit events cannot be deleted")
