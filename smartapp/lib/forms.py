"""Form helpers shared by the apps."""

from typing import Any


class ErrorsDescribed:
    """A field with an error is marked invalid and described by its message, whose element a
    template renders with the id `{field id}-error` (screen readers read it with the field)."""

    errors: Any
    fields: Any

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:
            if name in self.fields:
                field_id = self[name].auto_id  # type: ignore[index]
                self.fields[name].widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"{field_id}-error"}
                )
