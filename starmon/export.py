"""Data for other programs: tables as CSV safe to open in a spreadsheet, answers as strict JSON (pure)."""

from __future__ import annotations

import json
import math

import pandas as pd
from pandas.io.formats.style import Styler

# A spreadsheet runs a cell starting with one of these as a formula ("CSV injection"); names and
# error messages come from the cluster, so such cells get a leading apostrophe, as OWASP advises.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defused(value: object) -> object:
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def to_csv(df: pd.DataFrame | Styler) -> bytes:
    """UTF-8 CSV of a table; text cells a spreadsheet would evaluate are kept as text.

    A Styler (a table whose sizes are shown as "5.9 TB") gives its data: raw numbers, whose unit
    the column names carry (`size_bytes`), so a spreadsheet can sum and sort them.
    """
    df = df.data if isinstance(df, Styler) else df
    text_columns = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
    safe = df.assign(**{c: df[c].map(_defused) for c in text_columns}) if text_columns else df
    return safe.to_csv(index=False).encode()


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data: object) -> str:
    """JSON that strict parsers accept: NaN and infinities become null (json.dumps writes `NaN`)."""
    return json.dumps(_finite(data), indent=2, allow_nan=False)
