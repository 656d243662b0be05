from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from smartapp.payments import staff
from smartapp.payments.models import Attempt, Payment, PaymentSettings

if TYPE_CHECKING:  # the stubs' admin classes are generic; Django's cannot be subscripted
    AttemptInlineBase = admin.TabularInline[Attempt, Payment]
    PaymentAdminBase = admin.ModelAdmin[Payment]
    SettingsAdminBase = admin.ModelAdmin[PaymentSettings]
else:
    AttemptInlineBase = admin.TabularInline
    PaymentAdminBase = SettingsAdminBase = admin.ModelAdmin


class AttemptInline(AttemptInlineBase):
    model = Attempt
    extra = 0
    can_delete = False
    fields = (
        "started_at",
        "kind",
        "result",
        "http_status",
        "correlation_id",
        "account_id",
        "balance_before",
        "outcome_text",
        "by",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(PaymentAdminBase):
    list_display = (
        "posting_id",
        "tenant",
        "patient_id",
        "encounter_id",
        "amount",
        "method",
        "state",
        "created_at",
        "updated_at",
    )
    list_filter = ("state", "method", "tenant", "created_at")
    search_fields = ("posting_id", "patient_id", "encounter_id", "account_id", "charge_id")
    inlines = [AttemptInline]
    actions = ["retry_now"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # State changes go through the services (retry, resolve, refund), never a raw edit.
        return [f.name for f in Payment._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Retry now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        for payment in queryset:
            try:
                staff.payment_retry(payment=payment, by=request.user.get_username())
            except staff.ActionRefused as refused:
                self.message_user(request, f"{payment.posting_id}: {refused}", messages.WARNING)


@admin.register(PaymentSettings)
class PaymentSettingsAdmin(SettingsAdminBase):
    list_display = ("tenant", "enabled", "card_alias", "location", "min_amount", "max_amount")
    exclude = ("processor_api_key",)
