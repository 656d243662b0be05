from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "smartapp.monitoring"
    label = "monitoring"
