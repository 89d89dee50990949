"""Escaping for where a value goes: Markdown (Prefect artifacts) and terminals.

HTML is escaped by the report's Jinja2 template (autoescape). Values that reach these places are
ours (codes, counts, region names, hashed file names), but every one of them is escaped anyway:
a file name or a free-text field must never become a link, an image, markup or a terminal control
sequence.
"""

from __future__ import annotations

import re
import unicodedata

_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~\"'&:=$%^;,/?@])")


def _controls(text: str, fmt) -> str:
    return "".join(fmt(ch) if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)


def terminal(text: object) -> str:
    """Text safe to print on a terminal: control, format and line/paragraph-separator characters
    (escape sequences, bidi overrides, newlines) shown as \\xNN or \\uNNNN."""
    return _controls(str(text), lambda ch: f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def markdown(text: object) -> str:
    """Text safe inside Markdown (also inside a table cell): every ASCII punctuation character
    backslash-escaped (CommonMark), control characters as spaces. No link, image, HTML or code
    span can come out of it."""
    flat = _controls(str(text), lambda ch: " ")
    return _MD_PUNCT.sub(r"\\\1", flat)
