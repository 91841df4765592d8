"""How the pages' tables head and format a column, declared once for every page.

The same audit-log column (statements, CPU, bytes scanned) appears in several tables; each
is described here so a header or unit reads the same wherever the column is shown.
"""

from __future__ import annotations

import streamlit as st

_NUMBER = st.column_config.NumberColumn
_SIZE_HELP = "DATA_LENGTH, every replica included."

COLUMNS: dict[str, object] = {
    "database": "Database",
    "db_name": "Database",
    "table": "Table",
    "user": "User",
    "user_name": "User",
    "queries": _NUMBER("Statements", format="localized"),
    "failed": _NUMBER("Failed", format="localized"),
    "query_ms": _NUMBER("Time (ms)", format="localized"),
    "cpu_seconds": _NUMBER("CPU (s)", format="%.1f"),
    "scan_bytes": _NUMBER("Scanned", format="bytes"),
    "scan_rows": _NUMBER("Rows scanned", format="compact"),
    "memory_bytes": _NUMBER("Memory", format="bytes"),
    "rows": _NUMBER("Rows", format="localized"),
    "size_bytes": _NUMBER("Size", help=_SIZE_HELP),
}


def config(*names: str, **own: object) -> dict[str, object]:
    """The column_config for a table: the shared description of each named column, then the table's own."""
    return {name: COLUMNS[name] for name in names} | own
