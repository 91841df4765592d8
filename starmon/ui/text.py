"""Render names that come from a cluster as text, never as markdown, HTML or links."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:&])")
# GitHub-flavoured markdown turns e-mail addresses, "www." names and scheme:// URLs into links
# even when every character is escaped (checked in Chromium); an invisible word joiner after
# "@", "www" and the scheme's ":" keeps them text.
_AUTOLINK = re.compile(r"@|(?i:www)(?=\\\.)|\\:(?=//)")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """Escape every markdown character and break autolinks, so Streamlit shows the text literally."""
    return _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, _MARKDOWN.sub(r"\\\1", str(text)))
