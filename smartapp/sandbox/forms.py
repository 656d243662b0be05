"""The EHR page's launch form."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.db.models import QuerySet

from smartapp.sandbox.links import TENANT
from smartapp.sandbox.models import Client, Encounter, Patient, Practitioner


def _start(encounter: Encounter) -> str:
    return str(encounter.resource.get("period", {}).get("start", ""))[:10]


class LaunchForm(forms.Form):
    client = forms.ModelChoiceField(
        queryset=Client.objects.none(), label="App", to_field_name="client_id"
    )
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.none(), label="Clinician", to_field_name="fhir_id"
    )
    patient = forms.ModelChoiceField(queryset=Patient.objects.none(), to_field_name="fhir_id")
    encounter = forms.ModelChoiceField(
        queryset=Encounter.objects.none(),
        required=False,
        to_field_name="fhir_id",
        empty_label="(the patient's latest visit)",
    )
    without_encounter = forms.BooleanField(required=False, label="Launch without an encounter")
    need_patient_banner = forms.BooleanField(
        required=False, initial=True, label="Show patient banner"
    )

    def __init__(self, *args: Any, tenant: str = TENANT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields = self.fields
        fields["client"].queryset = Client.objects.filter(tenant_id=tenant, persona="provider")  # type: ignore[attr-defined]
        practitioners = Practitioner.objects.filter(tenant_id=tenant).order_by("fhir_id")
        fields["practitioner"].queryset = practitioners  # type: ignore[attr-defined]
        patients = Patient.objects.filter(tenant_id=tenant).order_by("fhir_id")
        fields["patient"].queryset = patients  # type: ignore[attr-defined]
        fields["patient"].label_from_instance = _patient_label(patients)  # type: ignore[attr-defined]
        encounters = (
            Encounter.objects.filter(tenant_id=tenant).select_related("patient").order_by("fhir_id")
        )
        fields["encounter"].queryset = encounters  # type: ignore[attr-defined]
        fields["encounter"].label_from_instance = (  # type: ignore[attr-defined]
            lambda e: f"{e.fhir_id} — {e.patient.display_name} ({_start(e)})"
        )
        # Ready to launch with one click: the first app, clinician and patient.
        for name in ("client", "practitioner", "patient"):
            first = fields[name].queryset.first()  # type: ignore[attr-defined]
            if first is not None:
                fields[name].initial = getattr(first, fields[name].to_field_name)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        encounter, patient = data.get("encounter"), data.get("patient")
        if encounter and patient and encounter.patient_id != patient.pk:
            self.add_error("encounter", "That encounter belongs to another patient.")
        elif data.get("without_encounter"):
            data["encounter"] = None
        elif patient and not encounter:
            data["encounter"] = _latest_encounter(patient)
        return data


def _patient_label(patients: QuerySet[Patient]) -> Callable[[Patient], str]:
    """Combined records stay pickable (PowerChart can open them), named by their survivor."""
    survivors = patients.filter(fhir_id__in=patients.exclude(replaced_by="").values("replaced_by"))
    names = {p.fhir_id: p.display_name for p in survivors}

    def label(patient: Patient) -> str:
        if not patient.replaced_by:
            return patient.display_name
        survivor = names.get(patient.replaced_by, patient.replaced_by)
        return f"Merged record {patient.fhir_id} → {survivor}"

    return label


def _latest_encounter(patient: Patient) -> Encounter | None:
    encounters = list(patient.encounters.all())
    return max(encounters, key=_start, default=None)
