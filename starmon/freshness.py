"""How current a cluster's numbers are: one answer for the sidebar badge and the Overview.

Both used to ask different questions (the newest round, the newest good round) and could
contradict each other for a down cluster: "no data collected yet" beside "Collected 16:30".
`freshness` reads both rounds once and says the same facts in a short and a long form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .readings import Status

STALE_INTERVALS = 3  # a newest round older than this many collection intervals is stale


def ago(seconds: float) -> str:
    """`12 s ago`, `5 min ago`, `3 h ago`, `2 d ago`."""
    seconds = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


@dataclass(frozen=True)
class Freshness:
    """The state of a cluster's data: `level` is fresh, stale, down or none (nothing collected)."""

    level: str
    label: str  # for a badge: "collected 12 s ago", "down: last round 15 s ago"
    sentence: str  # for a page: the same facts with clock times


def freshness(
    latest: dict | None, last_good: dict | None, interval: float, now: float, when: Callable[[float], str]
) -> Freshness:
    """What the newest round and the newest round that was not down say about the data's age.

    `latest` and `last_good` are snapshot rows (ts, status); `when` formats epoch seconds as a
    clock time for the viewer.
    """
    if latest is None:
        return Freshness("none", "no round collected yet", "No round has been collected yet.")
    age = now - latest["ts"]
    at = f"{when(latest['ts'])} ({ago(age)})"
    if latest["status"] == Status.DOWN:
        if last_good is None:
            data = "no data collected yet"
        else:
            data = f"last data {when(last_good['ts'])} ({ago(now - last_good['ts'])})"
        return Freshness(
            "down", f"down: last round {ago(age)}", f"The cluster was down at the last round, {at}; {data}."
        )
    if age > STALE_INTERVALS * interval:
        return Freshness(
            "stale",
            f"stale: collected {ago(age)}",
            f"Collected {at}: no round since, though one is due every {interval:g} s.",
        )
    return Freshness("fresh", f"collected {ago(age)}", f"Collected {at}.")
