"""The Overview as plain data: what `python -m starmon overview --json` prints and the API answers.

One read path (starmon.read's health_at, aggregates, series and forecast) turned into JSON, so the
CLI, the API and the page say the same; times as ISO 8601 in UTC, unknown values as null.
"""

from __future__ import annotations

import time

import pandas as pd

from . import wrong_now
from .config import Config
from .read import AGGREGATE_UNITS, Health, Reader, TimeRange, _iso, find_cluster, forecast, health_at, parse_range


def overview(
    reader: Reader,
    cluster: str | int,
    range_label: str | None,
    config: Config,
    now: float | None = None,
    start: str | None = None,
    end: str | None = None,
    *,
    detail: bool = False,
) -> dict:
    """The Overview page as plain data (what `python -m starmon overview --json` prints); a custom
    range takes ISO `start` and `end` (see parse_range), `cluster` a name or an id; `config`
    gives the cards' levels, the alert rules and the forecast's window.

    With `detail` (the HTTP API's overview), also `real_time`, the round the cards are read
    from with every column, and `trends`, the cards' sparkline series bucketed over the range.
    """
    now = time.time() if now is None else now
    tr = parse_range(range_label, now, start, end)
    match = find_cluster(reader, cluster)
    cards = config.cards
    state = health_at(reader, match["id"], tr, cards)
    found = wrong_now.problems(reader, match, state, config, tr, now)
    extra = {}
    if detail:
        spark = sorted({c.spark_column(state.snapshot or {}) for c in cards} - {None})
        extra = {"real_time": state.snapshot, "trends": series_json(reader.series(match["id"], tr, spark), tr)}
    return extra | {
        "cluster": match["name"],
        "range": {"label": tr.label, "start": _iso(tr.start), "end": _iso(tr.end)},
        **health_json(state, found),
        "aggregates": reader.aggregates(match["id"], tr),
        "aggregate_units": AGGREGATE_UNITS,
        "forecast": forecast(reader, match["id"], config.forecast_window_days, now).headline,
    }


def health_json(state: Health, found: list[wrong_now.Problem]) -> dict:
    """The cards of health_at and what is wrong (wrong_now.problems) as JSON: the overview's and
    the API's health answer."""
    snap = state.snapshot
    return {
        "collected_at": _iso(snap["ts"]) if snap else None,
        "status": snap["status"] if snap else None,
        "health_cards": [
            {
                "key": v.key,
                "title": v.title,
                "value": v.value,
                "total": v.total,
                "unit": v.unit,
                "display": v.display,
                "status": v.status,
                "delta": v.delta,
            }
            for v in state.cards
        ],
        "deltas_since": _iso(state.since) if state.since is not None else None,
        "problems": [p.sentence(_iso) for p in found],
    }


def series_json(df: pd.DataFrame, tr: TimeRange) -> dict:
    """A bucketed frame (Reader.series) as JSON: `bucket_seconds`, ISO `time`, and one list per
    column, unknown values as null."""
    values = df.drop(columns="time").astype(object).where(df.notna(), None)
    return {
        "bucket_seconds": tr.bucket,
        "time": [t.isoformat(timespec="seconds") for t in df["time"]],
        "series": {name: values[name].tolist() for name in values.columns},
    }
