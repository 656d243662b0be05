from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "smartapp.fhir"
    label = "fhir"
