from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from smartapp.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "when",
        "who",
        "tenant",
        "action",
        "what",
        "patient_id",
        "status",
        "correlation_id",
    )
    list_filter = ("action", "tenant", "status", "when")
    search_fields = ("who", "patient_id", "what", "correlation_id", "launch_id")
    date_hierarchy = "when"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
