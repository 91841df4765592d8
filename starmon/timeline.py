"""Reading stored events back: for the charts' markers, the Events section, the CLI and the API.

One indexed query per question (events' (cluster_id, ts) index); everything a page or a script
shows of an event comes from `event_json`, so they say the same.
"""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from . import schema
from .read import Reader, TimeRange, _iso, find_cluster, parse_range

MAX_EVENTS = 10_000  # per answer: a flapping node could store thousands in 90 days; the newest are kept


def events_in(
    reader: Reader, cluster_id: int, tr: TimeRange, kinds: list[str] | None = None, subject: str | None = None
) -> list[dict]:
    """Stored events of a cluster in the range, oldest first: ts, kind, subject, severity, details (a dict)."""
    e = schema.events
    query = sa.select(e.c.ts, e.c.kind, e.c.subject, e.c.severity, e.c.details).where(
        e.c.cluster_id == cluster_id, e.c.ts >= tr.start, e.c.ts <= tr.end
    )
    if kinds:
        query = query.where(e.c.kind.in_(kinds))
    if subject is not None:
        query = query.where(e.c.subject == subject)
    query = query.order_by(e.c.ts.desc(), e.c.id.desc()).limit(MAX_EVENTS)
    rows = reader.store.read(lambda conn: [dict(r._mapping) for r in conn.execute(query)])
    for row in rows:
        row["details"] = _details(row["details"])
    return rows[::-1]


def newest_event_id(reader: Reader, cluster_id: int) -> int | None:
    """The id of a cluster's newest stored event: part of the API's ETag, as events also come with
    statistics passes, not only with rounds."""
    e = schema.events
    return reader.store.read(
        lambda conn: conn.execute(sa.select(sa.func.max(e.c.id)).where(e.c.cluster_id == cluster_id)).scalar()
    )


def _details(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:  # written by a newer starmon, or by hand: shown as it is
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}


def event_json(row: dict) -> dict:
    """One event as the CLI and the API print it: ISO time in UTC, details as stored."""
    return {
        "ts": _iso(row["ts"]),
        "kind": row["kind"],
        "subject": row["subject"],
        "severity": row["severity"],
        "details": row["details"],
    }


def events_of(
    reader: Reader,
    cluster: str | int,
    range_label: str | None,
    *,
    start: str | None = None,
    end: str | None = None,
    now: float | None = None,
) -> tuple[dict, TimeRange, list[dict]]:
    """The cluster row (by name or id), the range and its events as JSON; LookupError or ValueError
    with a message to show for an unknown cluster or a bad range."""
    tr = parse_range(range_label, time.time() if now is None else now, start, end)
    match = find_cluster(reader, cluster)
    return match, tr, [event_json(row) for row in events_in(reader, match["id"], tr)]
