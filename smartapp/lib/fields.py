"""Model fields whose values are encrypted in the database."""

from typing import Any

from django.db import models

from smartapp.lib import crypto


class EncryptedTextField(models.TextField):
    """Stores text encrypted with the project's Fernet keys; reads give the plaintext back."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)
