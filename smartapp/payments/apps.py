from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "smartapp.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from smartapp.payments.tenant_file import payment_settings_register
        from smartapp.tenants.services import TENANT_FILE_SECTIONS

        if payment_settings_register not in TENANT_FILE_SECTIONS:
            TENANT_FILE_SECTIONS.append(payment_settings_register)
        from smartapp.payments.doctor_checks import processor_findings
        from smartapp.tenants.doctor import DOCTOR_CHECKS

        if processor_findings not in DOCTOR_CHECKS:
            DOCTOR_CHECKS.append(processor_findings)
