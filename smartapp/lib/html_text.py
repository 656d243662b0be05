"""The words of HTML as one line of plain text, for previews (framework-free; nh3 parses)."""

import html
import re

import nh3

# Dropped with everything inside them (not just the tags).
DROP_WITH_CONTENT = {"script", "style", "title", "head", "template", "noscript", "iframe", "object"}
# Elements whose edges separate words: their text is never glued to the next block's.
BLOCKS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    "button", "label", "option", "select", "textarea",
}  # fmt: skip
_TAG = re.compile(r"<[^>]*>")


def plain_text(untrusted: str) -> str:
    """The words of untrusted HTML, for one-line previews (escape it again when rendering).

    Blocks are kept apart by a space ("Ready.</p><p>View" reads "Ready. View"), and script,
    style and the like are dropped with their content. The sanitizer's output holds only bare
    block tags, so a simple pattern can turn each into a space before entities are decoded.
    """
    cleaned = nh3.clean(
        untrusted or "", tags=BLOCKS, clean_content_tags=DROP_WITH_CONTENT, attributes={}
    )
    return " ".join(html.unescape(_TAG.sub(" ", cleaned)).split())
