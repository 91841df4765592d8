"""Fault and incident switches a test or the demo flips while the emulator runs.

Faults break how the cluster answers (ports refused, 500s, bad bodies). Incidents change what a
healthy cluster reports: a p99 spike with timeouts, failing loads, an MV whose refresh fails, a
schema change, a disk growth spurt. An incident is also remembered as an `Episode` (from, to), so
counters that integrate over time (timeouts, failed transactions, disk bytes) stay exact at any
instant before, during or after it, and the demo can script incidents into its past.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The incident switches and the value each has when off.
INCIDENT_OFF: dict[str, object] = {
    "latency_spike": 1.0,  # factor on latency quantiles; 1 = off
    "fail_loads": False,  # a share of load transactions fails
    "mv_refresh_failing": None,  # "db.mv" whose refreshes fail
    "schema_change": None,  # "db.table" under a running schema change
    "disk_spurt": None,  # {"index": BE index or None for all, "factor": growth factor}
}
DEFAULT_MV = "sales.mv_daily_revenue"
DEFAULT_SCHEMA_CHANGE = "sales.customers"
SCHEMA_CHANGE_ENDS = {"finish": "FINISHED", "cancel": "CANCELLED"}


@dataclass
class Episode:
    """One incident from `start` until `end` (None while it lasts), with its switch's value; a
    schema change also says how it ended (FINISHED or CANCELLED)."""

    kind: str
    start: float
    value: object
    end: float | None = None
    outcome: str | None = None

    def covers(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t < self.end)

    def overlap(self, t0: float, t1: float) -> tuple[float, float] | None:
        """The part of [t0, t1] the episode covers, or None."""
        a, b = max(t0, self.start), min(t1, self.end if self.end is not None else t1)
        return (a, b) if b > a else None


@dataclass
class Faults:
    """Every switch's current value."""

    fe_down: set[int] = field(default_factory=set)  # FE indexes refusing connections
    be_down: set[int] = field(default_factory=set)  # BE/CN indexes: dead to the FE, HTTP refused
    slow_seconds: float = 0.0  # delay before every HTTP answer
    http_500: bool = False  # FE /metrics and /api/* answer 500
    bad_body: str | None = None  # "truncated" or "garbage" FE /metrics and show_proc bodies
    proc_forbidden: bool = False  # show_proc answers 401 as for a user without admin
    mysql_refused: bool = False  # MySQL query ports refuse connections
    latency_spike: float = 1.0
    fail_loads: bool = False
    mv_refresh_failing: str | None = None
    schema_change: str | None = None
    disk_spurt: dict | None = None

    SWITCHES = (
        "fe_down",
        "be_down",
        "slow_seconds",
        "http_500",
        "bad_body",
        "proc_forbidden",
        "mysql_refused",
        *INCIDENT_OFF,
    )

    def update(self, changes: dict, *, mvs: tuple[str, ...] = (), tables: tuple[str, ...] = ()) -> dict[str, str]:
        """Apply a partial update, rejecting unknown switches and bad values (nothing changes then).

        `mvs` and `tables` are the names ("db.name") an MV or schema-change switch may take.
        Returns how each schema change that this update ended, ended ({"db.table": "FINISHED"}).
        """
        values, ended = {}, {}
        for key, value in changes.items():
            if key not in self.SWITCHES:
                raise ValueError(f"unknown fault switch {key!r}; known: {', '.join(self.SWITCHES)}")
            if key == "schema_change":
                value, outcome = self._schema_change(value, tables)
                if outcome and self.schema_change:
                    ended[self.schema_change] = outcome
            else:
                value = _CHECKS[key](value, mvs)
            values[key] = value
        for key, value in values.items():
            setattr(self, key, value)
        return ended

    def _schema_change(self, value: object, tables: tuple[str, ...]) -> tuple[str | None, str | None]:
        """(table now under a schema change, how the running one ended)."""
        if value is None or value in SCHEMA_CHANGE_ENDS:
            return None, SCHEMA_CHANGE_ENDS.get(value or "finish")
        name = DEFAULT_SCHEMA_CHANGE if value == "start" else value
        if not isinstance(name, str) or (tables and name not in tables):
            raise ValueError(
                "schema_change must be 'start', a table as 'db.table', 'finish', 'cancel' or null; "
                f"got {value!r}" + (f" (tables: {', '.join(tables)})" if tables else "")
            )
        if self.schema_change is not None and self.schema_change != name:
            raise ValueError(f"a schema change on {self.schema_change} is running: finish or cancel it first")
        return name, None

    def as_dict(self) -> dict:
        """JSON-ready view of every switch."""
        d = {k: getattr(self, k) for k in self.SWITCHES}
        d["fe_down"], d["be_down"] = sorted(self.fe_down), sorted(self.be_down)
        return d


def _indexes(value: object, mvs: tuple) -> set[int]:
    if not isinstance(value, list | tuple | set):
        raise ValueError("fe_down and be_down take a list of node indexes")
    return {int(v) for v in value}


def _slow(value: object, mvs: tuple) -> float:
    value = float(value)
    if value < 0:
        raise ValueError("slow_seconds must be >= 0")
    return value


def _bad_body(value: object, mvs: tuple) -> str | None:
    if value not in (None, "truncated", "garbage"):
        raise ValueError("bad_body must be null, 'truncated' or 'garbage'")
    return value


def _flag(value: object, mvs: tuple) -> bool:
    if not isinstance(value, bool | int):
        raise ValueError(f"expected true or false, got {value!r}")
    return bool(value)


def _latency(value: object, mvs: tuple) -> float:
    factor = 1.0 if value is None or value is False else _number(value, "latency_spike")
    if not 1 <= factor <= 1000:
        raise ValueError("latency_spike is a factor from 1 (off) to 1000")
    return factor


def _mv(value: object, mvs: tuple) -> str | None:
    if value is None or value is False:
        return None
    name = DEFAULT_MV if value is True else value
    if not isinstance(name, str) or (mvs and name not in mvs):
        known = f" (materialized views: {', '.join(mvs)})" if mvs else ""
        raise ValueError(f"mv_refresh_failing must be true, false, null or an MV as 'db.name'; got {value!r}{known}")
    return name


def _spurt(value: object, mvs: tuple) -> dict | None:
    if value is None or value is False:
        return None
    if isinstance(value, dict):
        unknown = set(value) - {"index", "factor"}
        if unknown:
            raise ValueError(f"disk_spurt takes 'index' and 'factor', not {', '.join(sorted(unknown))}")
        index, factor = value.get("index"), _number(value.get("factor", 5), "disk_spurt factor")
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise ValueError(f"disk_spurt index must be a BE index or null (every BE); got {index!r}")
    else:
        index, factor = None, _number(value, "disk_spurt")
    if not 1 <= factor <= 1000:
        raise ValueError("disk_spurt factor must be from 1 to 1000 (how many times faster data grows)")
    return None if factor == 1 else {"index": index, "factor": factor}


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {value!r}") from None


_CHECKS = {
    "fe_down": _indexes,
    "be_down": _indexes,
    "slow_seconds": _slow,
    "http_500": _flag,
    "bad_body": _bad_body,
    "proc_forbidden": _flag,
    "mysql_refused": _flag,
    "latency_spike": _latency,
    "fail_loads": _flag,
    "mv_refresh_failing": _mv,
    "disk_spurt": _spurt,
}
