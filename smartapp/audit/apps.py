from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "smartapp.audit"
    label = "audit"
