from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "smartapp.demo"
    label = "demo"
