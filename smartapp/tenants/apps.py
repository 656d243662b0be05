from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "smartapp.tenants"
    label = "tenants"
