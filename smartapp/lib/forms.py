"""Form helpers shared by the apps."""

from typing import Any


class ErrorsDescribed:
    """A field with an error is marked invalid and described by its message, whose element the
    template renders with the id `error-{field name}` (screen readers read it with the field)."""

    errors: Any
    fields: Any

    def full_clean(self) -> None:
        super().full_clean()  # type: ignore[misc]
        for name in self.errors:
            if name in self.fields and not self.fields[name].widget.is_hidden:
                field = self.fields[name]
                helptext = f" {self[name].auto_id}_helptext" if field.help_text else ""  # type: ignore[index]
                field.widget.attrs.update(
                    {"aria-invalid": "true", "aria-describedby": f"error-{name}{helptext}"}
                )
