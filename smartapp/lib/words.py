"""Texts a user reads, translated when shown: on the page in its language, in logs in English."""

from typing import TYPE_CHECKING, Any

from django.utils import translation
from django.utils.functional import lazy

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _filled(text: "StrOrPromise", values: dict[str, Any]) -> str:
    return str(text) % values


_filled_lazy = lazy(_filled, str)


def filled(text: "StrOrPromise", **values: Any) -> "StrOrPromise":
    """`text` (a gettext_lazy text with %(name)s places) with `values` in it, still translated
    only when it is shown (a lazy text % values would be translated at once)."""
    return _filled_lazy(text, values)


def english(text: object) -> str:
    """`text` as the log and the records keep it: in English, whatever the request's language."""
    with translation.override("en"):
        return str(text)


class EnglishStr:
    """For an exception whose first argument is a text the user reads (perhaps lazy): its str(),
    which logs and records use, is English."""

    args: tuple[Any, ...]

    def __str__(self) -> str:
        return english(self.args[0]) if self.args else ""
