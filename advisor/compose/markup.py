"""Markdown we produce must not carry markup from user input: no HTML, no links, no images.

* `md_text` is for user-supplied text placed in our Markdown (profile names, platforms, questions, template
  values, file names): one line, HTML-escaped, Markdown punctuation backslash-escaped, so it shows as the
  characters typed and never becomes a tag, a link, an image or a heading.
* `neutralise_md` is for a model's answer, which is Markdown by design but may echo what a user (or an
  instruction hidden in the data) asked for: raw HTML tags are escaped, images become their alt text, and
  links whose target is not http(s) become their text.
"""

from __future__ import annotations

import html
import re

_MD_PUNCTUATION = re.compile(r"([\\`*_\[\]!|~#])")
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\s*(?:\([^)\n]*\)|\[[^\]\n]*\])")
_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?\s*(?!https?://)[^)\n]*\)")
_REFERENCE = re.compile(r"^(\s{0,3})\[([^\]\n]+)\]:", re.MULTILINE)


def md_text(value: object) -> str:
    """User text made inert inside Markdown (one line; shown exactly as typed)."""
    text = " ".join(str(value).split())
    return _MD_PUNCTUATION.sub(r"\\\1", html.escape(text, quote=False))


def neutralise_md(text: str) -> str:
    """A model's Markdown without raw HTML, images or non-http(s) links (lists, emphasis and quotes stay)."""
    text = _TAG.sub("&lt;", text)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(1), text)
    return _REFERENCE.sub(lambda m: f"{m.group(1)}\\[{m.group(2)}]:", text)
