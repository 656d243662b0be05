from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "smartapp.clinical"
    label = "clinical"
