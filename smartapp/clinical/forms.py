"""Input parsing for the schedule and booking pages (every value from a URL or form is checked)."""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from smartapp.clinical.booking import CANCEL_REASONS
from smartapp.lib.forms import ErrorsDescribed
from smartapp.tenants.models import ServiceType, Tenant

FHIR_ID = RegexValidator(r"^[A-Za-z0-9\-.]{1,64}$", gettext_lazy("Not a valid id."))
MAX_RANGE_DAYS = 31
DEFAULT_RANGE_DAYS = 7
REASON_MAX = 255


WINDOW_YEARS = 100  # dates further than this from today are typing slips, not visits


class WindowDateField(forms.DateField):
    """A YYYY-MM-DD date within WINDOW_YEARS of today (the calendar's ends overflow time zones)."""

    def validate(self, value: Any) -> None:
        super().validate(value)
        if isinstance(value, date):
            today = date.today()
            first, last = today.year - WINDOW_YEARS, today.year + WINDOW_YEARS
            if not first <= value.year <= last:
                raise forms.ValidationError(
                    gettext("Choose a date between %(first)s and %(last)s.")
                    % {"first": first, "last": last}
                )


def _date_field(label: Any, *, required: bool = True) -> forms.DateField:
    return WindowDateField(
        label=label,
        required=required,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),  # ISO in every language
        error_messages={"invalid": gettext_lazy("Enter a date as YYYY-MM-DD.")},
    )


class DayForm(forms.Form):
    date = _date_field(gettext_lazy("Day"), required=False)

    def problem(self) -> str:
        """The first error in words, for the page."""
        first = next(iter(self.errors.get("date", [])), None)
        return str(first or gettext("That is not a date (use YYYY-MM-DD)."))


class DateRangeForm(ErrorsDescribed, forms.Form):
    start = _date_field(pgettext_lazy("date range", "From"))
    end = _date_field(pgettext_lazy("date range", "To"))

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["start"].widget.attrs["min"] = today.isoformat()

    @classmethod
    def initial_for(cls, *, today: date) -> dict[str, Any]:
        return {"start": today, "end": today + timedelta(days=DEFAULT_RANGE_DAYS - 1)}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start < self.today:
                self.add_error("start", gettext("Choose today or a later day."))
            if end < start:
                self.add_error("end", gettext("The last day must be on or after the first day."))
            elif (end - start).days + 1 > MAX_RANGE_DAYS:
                self.add_error(
                    "end",
                    gettext("Search at most %(days)s days at a time.") % {"days": MAX_RANGE_DAYS},
                )
        return data


class SlotSearchForm(DateRangeForm):
    service_type = forms.ChoiceField(
        label=gettext_lazy("Type of visit"),
        error_messages={"invalid_choice": gettext_lazy("Choose a type of visit from the list.")},
    )
    clinician = forms.CharField(
        required=False, validators=[FHIR_ID], label=gettext_lazy("Clinician")
    )
    location = forms.CharField(required=False, validators=[FHIR_ID], label=gettext_lazy("Place"))
    field_order = ["service_type", "clinician", "location", "start", "end"]

    def __init__(self, *args: Any, tenant: Tenant, today: date, **kwargs: Any) -> None:
        super().__init__(*args, today=today, **kwargs)
        self.types = {t.code: t for t in tenant.service_types.all()}
        service_type = self.fields["service_type"]
        assert isinstance(service_type, forms.ChoiceField)
        service_type.choices = [(code, t.display) for code, t in self.types.items()]

    @property
    def service(self) -> ServiceType:
        return self.types[self.cleaned_data["service_type"]]


class SlotChoiceForm(forms.Form):
    slot = forms.CharField(validators=[FHIR_ID])


class ConfirmForm(ErrorsDescribed, forms.Form):
    key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=REASON_MAX,
        label=gettext_lazy("Reason for the visit"),
        help_text="",  # in the page's language: __init__
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": REASON_MAX}),
        error_messages={
            "required": gettext_lazy("Please say briefly why you need this visit."),
            # limit_value: the field's max_length, filled in by Django
            "max_length": gettext_lazy(
                "Please keep the reason to %(limit_value)s characters or fewer."
            ),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = gettext(
            "Required, up to %(max)s characters. The clinic sees it."
        ) % {"max": REASON_MAX}


class CancelForm(ErrorsDescribed, forms.Form):
    version = forms.CharField(max_length=64, widget=forms.HiddenInput)
    reason = forms.ChoiceField(choices=CANCEL_REASONS, label=gettext_lazy("Reason for cancelling"))


class RescheduleForm(ErrorsDescribed, forms.Form):
    version = forms.CharField(max_length=64, widget=forms.HiddenInput)
    slot = forms.CharField(
        validators=[FHIR_ID], error_messages={"required": gettext_lazy("Choose a new time.")}
    )


class PageForm(forms.Form):
    page = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1000,
        error_messages={
            "invalid": gettext_lazy("The page must be a whole number."),
            "min_value": gettext_lazy("Pages start at 1."),
            "max_value": gettext_lazy("There are not that many pages."),
        },
    )


SUBJECT_MAX = 255  # the Messages API's subject limit
BODY_MAX = 5000  # characters a patient may type; the XHTML sent must also fit CONTENT_MAX_BYTES
CONTENT_MAX_BYTES = 32 * 1024  # the (sandbox-documented) Messages API content limit


class MessageBodyForm(ErrorsDescribed, forms.Form):
    # Once-only: a double-clicked Send or a replayed form finds its key already used.
    key = forms.CharField(max_length=64, widget=forms.HiddenInput)
    body = forms.CharField(
        label=gettext_lazy("Message"),
        max_length=BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 8, "maxlength": BODY_MAX}),
        error_messages={
            "required": gettext_lazy("Please write your message."),
            # Django fills in %(limit_value)s (BODY_MAX) when it shows the error.
            "max_length": gettext_lazy(
                "Please keep the message to %(limit_value)s characters or fewer."
            ),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["body"].help_text = gettext(
            "Plain text, up to %(max)s characters. Your care team reads it; "
            "for emergencies call 911."
        ) % {"max": BODY_MAX}

    def clean_body(self) -> str:
        from smartapp.clinical.sanitize import text_to_xhtml

        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError(gettext("Please write your message."))
        if len(text_to_xhtml(body).encode()) > CONTENT_MAX_BYTES:
            raise forms.ValidationError(
                gettext("This message is too long to send. Please shorten it.")
            )
        return body


class ComposeForm(MessageBodyForm):
    recipient = forms.ChoiceField(
        label=gettext_lazy("To"),
        error_messages={
            "required": gettext_lazy("Choose who should read your message."),
            "invalid_choice": gettext_lazy("Choose someone from your care team."),
        },
    )
    subject = forms.CharField(
        label=gettext_lazy("Subject"),
        max_length=SUBJECT_MAX,
        widget=forms.TextInput(attrs={"maxlength": SUBJECT_MAX}),
        error_messages={
            "required": gettext_lazy("Please give your message a subject."),
            # Django fills in %(limit_value)s (SUBJECT_MAX) when it shows the error.
            "max_length": gettext_lazy(
                "Please keep the subject to %(limit_value)s characters or fewer."
            ),
        },
    )
    field_order = ["recipient", "subject", "body", "key"]

    def __init__(self, *args: Any, team: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        recipient = self.fields["recipient"]
        assert isinstance(recipient, forms.ChoiceField)
        recipient.choices = [("", gettext("Choose…"))] + [(p.id, p.name) for p in team]
