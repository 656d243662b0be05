"""Writing the audit trail."""

import uuid

from smartapp.audit.models import AuditEvent


def record(
    *,
    who: str,
    action: str,
    what: str,
    tenant: str = "",
    patient_id: str = "",
    status: int | None = None,
    correlation_id: str = "",
    launch_id: uuid.UUID | str | None = None,
    reason: str = "",
) -> AuditEvent:
    """Appends one audit event; callers pass ids and resource types, never PHI values."""
    event = AuditEvent(
        who=who[:300],
        action=action,
        what=what[:500],
        tenant=tenant,
        patient_id=patient_id or "",
        status=status,
        correlation_id=correlation_id[:200],
        launch_id=launch_id or None,
        reason=reason[:200],
    )
    event.save()
    return event
