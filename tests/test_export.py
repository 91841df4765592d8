"""CSV downloads are safe to open in a spreadsheet and otherwise unchanged."""

from __future__ import annotations

import csv
import io

import pandas as pd

from starmon.export import to_csv


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_cells_a_spreadsheet_would_run_are_kept_as_text():
    df = pd.DataFrame({"table": ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\tx", "orders", "a=b"],
                       "bytes": [1, 2, 3, 4, 5, 6, -7]})
    rows = _rows(to_csv(df))
    assert rows[0] == ["table", "bytes"]
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-2", "'@SUM(A1)", "'\tx", "orders", "a=b"]
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6", "-7"]      # numbers stay numbers


def test_missing_values_and_non_text_columns_pass_through():
    df = pd.DataFrame({"name": ["x", None], "growth": [1.5, None], "when": pd.to_datetime([0, 1], unit="s", utc=True)})
    assert to_csv(df) == df.to_csv(index=False).encode()
