"""HTML from the EHR made safe to show, and our users' plain text made into minimal XHTML.

Message bodies (Messages API XHTML, Communication Binary HTML) are written by other people and
systems: nothing in them may run script in our pages. `nh3` (the Rust ammonia sanitizer) keeps a
short list of formatting tags, drops everything else (scripts and styles with their content,
event handlers, style attributes, `javascript:` and other non-web URLs) and marks links
`rel="noopener noreferrer"`. The Content-Security-Policy forbids inline script as a second wall.
"""

import html

import nh3
from django.utils.safestring import SafeString, mark_safe

from smartapp.lib.html_text import DROP_WITH_CONTENT, plain_text

__all__ = ["plain_text", "safe_html", "text_to_xhtml"]

TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "div",
    "em",
    "h3",
    "h4",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"colspan"}, "th": {"colspan"}}
URL_SCHEMES = {"http", "https", "mailto"}


def safe_html(untrusted: str) -> SafeString:
    """Untrusted HTML reduced to harmless formatting, ready for a template."""
    cleaned = nh3.clean(
        untrusted or "",
        tags=TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return mark_safe(cleaned)  # noqa: S308 - the sanitizer's output, never raw input


def text_to_xhtml(text: str) -> str:
    """A patient's plain text as minimal XHTML: escaped, blank lines → paragraphs, lines → <br/>."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "".join(
        "<p>" + "<br/>".join(html.escape(line, quote=True) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'
