"""Researcher-written text (instructions, consent) rendered from Markdown to safe HTML; and the one check
for text that cannot be stored (NUL, lone surrogates), used by the API parsers, the request guard and the
scheme validation."""

from __future__ import annotations

import re

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

# What Markdown produces for prose, lists, tables and code; no images (they would load from other hosts),
# no raw HTML beyond these tags, no attributes that run script or style.
_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "del", "ins",
    "code", "pre", "kbd", "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "a", "abbr", "sub", "sup",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}


def render_markdown(text: str | None) -> SafeString:
    """Markdown -> sanitised HTML (nh3 allow-list; links get rel="noopener noreferrer")."""
    if not text:
        return mark_safe("")
    html = markdown.markdown(text, extensions=["extra", "sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None. PostgreSQL's text refuses NUL; a lone UTF-16 surrogate
    (JSON can spell one as an escape) is not encodable as UTF-8, and SQLite would store it and fail on read.
    The messages are DRF's, so a field reports the same words whichever layer caught it."""
    if "\x00" in value:
        return "Null characters are not allowed."
    if match := _SURROGATE.search(value):
        return f"Surrogate characters are not allowed: U+{ord(match.group()):X}."
    return None
