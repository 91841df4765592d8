"""Render names that come from a cluster as text, never as markdown or HTML."""

from __future__ import annotations

import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$:&])")


def plain(text: object) -> str:
    """Escape every markdown character so Streamlit shows the text literally."""
    return _MARKDOWN.sub(r"\\\1", str(text))
