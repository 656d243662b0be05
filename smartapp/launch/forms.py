from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext_lazy as _

from smartapp.tenants.models import Persona, Tenant


class SignInForm(forms.Form):
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.filter(enabled=True),
        to_field_name="slug",
        label=_("Your organisation"),
        empty_label=None,
    )
    persona = forms.ChoiceField(
        choices=[(Persona.PATIENT, _("patient")), (Persona.PROVIDER, _("clinician"))]
    )


def _absolute_http_url(value: str) -> None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not one
    except ValueError:
        raise forms.ValidationError("not an absolute http(s) URL") from None
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.username
        or parts.fragment
    ):
        raise forms.ValidationError("not an absolute http(s) URL")


class EhrLaunchForm(forms.Form):
    iss = forms.CharField(max_length=500, validators=[_absolute_http_url])
    launch = forms.CharField(max_length=1000)

    def clean_launch(self) -> str:
        value: str = self.cleaned_data["launch"]
        if not value.isprintable() or " " in value:
            raise forms.ValidationError("malformed launch value")
        return value
