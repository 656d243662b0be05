from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from smartapp.tenants.models import ClientRegistration, ServiceType, Tenant
from smartapp.tenants.services import registration_token_forget

if TYPE_CHECKING:  # the stubs' admin and form classes are generic; Django's cannot be subscripted
    RegistrationFormBase = forms.ModelForm[ClientRegistration]
    RegistrationInlineBase = admin.StackedInline[ClientRegistration, Tenant]
    ServiceTypeInlineBase = admin.TabularInline[ServiceType, Tenant]
    TenantAdminBase = admin.ModelAdmin[Tenant]
    RegistrationAdminBase = admin.ModelAdmin[ClientRegistration]
else:
    RegistrationFormBase = forms.ModelForm
    RegistrationInlineBase = admin.StackedInline
    ServiceTypeInlineBase = admin.TabularInline
    TenantAdminBase = RegistrationAdminBase = admin.ModelAdmin


class ClientRegistrationForm(RegistrationFormBase):
    # Write-only: the stored secret is never sent to the browser.
    new_client_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        label="Set a new client secret",
        help_text="Leave empty to keep the current secret.",
    )
    make_public = forms.BooleanField(required=False, label="Remove the secret (public client)")

    class Meta:
        model = ClientRegistration
        fields = ["tenant", "persona", "client_id", "redirect_uri", "scopes"]

    def save(self, commit: bool = True) -> ClientRegistration:
        registration = super().save(commit=False)
        if self.cleaned_data.get("make_public"):
            registration.client_secret = ""
        elif self.cleaned_data.get("new_client_secret"):
            registration.client_secret = self.cleaned_data["new_client_secret"]
        if commit:
            registration.save()
        return registration


class ClientRegistrationInline(RegistrationInlineBase):
    model = ClientRegistration
    form = ClientRegistrationForm
    extra = 0
    readonly_fields = ["has_secret"]

    @admin.display(boolean=True, description="Confidential (has a secret)")
    def has_secret(self, obj: ClientRegistration) -> bool:
        return obj.is_confidential


class ServiceTypeInline(ServiceTypeInlineBase):
    model = ServiceType
    extra = 0
    fields = ["position", "display", "system", "code"]


@admin.register(Tenant)
class TenantAdmin(TenantAdminBase):
    list_display = ("name", "slug", "ehr_tenant_id", "time_zone", "enabled")
    list_filter = ("enabled",)
    search_fields = ("name", "slug", "ehr_tenant_id")
    inlines = [ClientRegistrationInline, ServiceTypeInline]


@admin.register(ClientRegistration)
class ClientRegistrationAdmin(RegistrationAdminBase):
    form = ClientRegistrationForm
    list_display = ("tenant", "persona", "client_id", "has_secret")
    list_filter = ("persona", "tenant")
    readonly_fields = ["has_secret"]

    @admin.display(boolean=True, description="Confidential (has a secret)")
    def has_secret(self, obj: ClientRegistration) -> bool:
        return obj.is_confidential

    def save_model(
        self, request: HttpRequest, obj: ClientRegistration, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change:
            registration_token_forget(registration=obj)
