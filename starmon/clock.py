"""The cluster's clock: StarRocks prints times such as LastHeartbeat as local datetimes with no
zone ("2026-12-03 06:26:37" for 22:26:37 UTC on an FE in Asia/Shanghai).

Shown as they come, they read as the future (or the past) next to charts in the viewer's zone.
The offset is inferred from the round: a live node's heartbeat is seconds old when the round
reads it, so the freshest heartbeat minus the collection time, rounded to a quarter hour (every
UTC offset in use is a multiple of 15 minutes), is the cluster's offset from UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

QUARTER_HOUR = 900
TOLERANCE = 300  # a freshest heartbeat further than this from a quarter hour tells nothing
OFFSETS = (-12 * 3600, 14 * 3600)  # UTC-12:00 to UTC+14:00
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _as_utc(text: str | None) -> float | None:
    """Epoch seconds of a cluster time read as if it were UTC, or None for anything else."""
    if not isinstance(text, str) or not _LOCAL_TIME.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:  # 2026-13-45 25:61:00 matches the pattern
        return None


def offset(heartbeats: Iterable[str | None], collected: float) -> int | None:
    """Seconds the cluster's clock runs ahead of UTC, from the heartbeats one round read at
    `collected` (epoch seconds); None when no heartbeat is fresh enough to tell."""
    ahead = [t - collected for t in map(_as_utc, heartbeats) if t is not None]
    if not ahead:
        return None
    freshest = max(ahead)
    guess = round(freshest / QUARTER_HOUR) * QUARTER_HOUR
    if abs(freshest - guess) > TOLERANCE or not OFFSETS[0] <= guess <= OFFSETS[1]:
        return None
    return guess


def to_epoch(text: str | None, offset_seconds: int) -> float | None:
    """Epoch seconds of a cluster time whose clock runs `offset_seconds` ahead of UTC."""
    t = _as_utc(text)
    return None if t is None else t - offset_seconds


def describe_offset(offset_seconds: int) -> str:
    """`UTC+08:00`, `UTC-03:30`, `UTC`."""
    if not offset_seconds:
        return "UTC"
    sign = "+" if offset_seconds > 0 else "-"
    hours, rest = divmod(abs(offset_seconds), 3600)
    return f"UTC{sign}{hours:02d}:{rest // 60:02d}"
