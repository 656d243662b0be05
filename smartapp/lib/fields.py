"""Model fields whose values are encrypted in the database."""

from typing import TYPE_CHECKING, Any

from django.db import models

from smartapp.lib import crypto

if TYPE_CHECKING:  # the stubs' fields are generic; Django's cannot be subscripted
    from django.db.models.expressions import Combinable

    TextFieldBase = models.TextField[str | Combinable, str]
else:
    TextFieldBase = models.TextField


class EncryptedTextField(TextFieldBase):
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
