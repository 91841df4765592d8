"""CSV downloads are safe to open in a spreadsheet and otherwise unchanged; JSON is strict."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys
import time

import pandas as pd

from starmon.config import ClusterConfig
from starmon.export import to_csv, to_json
from starmon.store import Store

from .fixtures import ROOT


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_cells_a_spreadsheet_would_run_are_kept_as_text():
    df = pd.DataFrame(
        {
            "table": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "orders", "a=b"],
            "bytes": [1, 2, 3, 4, 5, 6, -7],
        }
    )
    rows = _rows(to_csv(df))
    assert rows[0] == ["table", "bytes"]
    assert [r[0] for r in rows[1:]] == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "'\tx", "orders", "a=b"]
    assert [r[1] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6", "-7"]  # numbers stay numbers


def test_missing_values_and_non_text_columns_pass_through():
    df = pd.DataFrame({"name": ["x", None], "growth": [1.5, None], "when": pd.to_datetime([0, 1], unit="s", utc=True)})
    assert to_csv(df) == df.to_csv(index=False).encode()


def test_json_is_strict_non_finite_numbers_become_null():
    text = to_json({"p99": math.inf, "rows": [{"x": -math.inf}, (math.nan, 1.5)], "name": "NaN"})
    assert json.loads(text, parse_constant=_refuse) == {"p99": None, "rows": [{"x": None}, [None, 1.5]], "name": "NaN"}


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def test_overview_cli_prints_strict_json_after_an_infinite_p99(tmp_path):
    url = f"sqlite:///{tmp_path / 'starmon.db'}"
    store = Store(url)
    store.sync_clusters((ClusterConfig("prod", "10.0.0.1"),))
    store.write_round(
        store.cluster_ids()["prod"],
        {"ts": time.time() - 5, "status": "ok", "collect_ms": 3, "query_latency_p99": math.inf, "qps": math.nan},
        [],
    )
    store.close()
    env = {**os.environ, "STARMON_DB_URL": url, "STARMON_CONFIG": os.devnull}
    done = subprocess.run(
        [sys.executable, "-m", "starmon", "overview", "--cluster", "prod", "--range", "1h", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout, parse_constant=_refuse)
    cards = {c["key"]: c for c in data["health_cards"]}
    assert cards["query_latency_p99"]["value"] is None and cards["qps"]["value"] is None
