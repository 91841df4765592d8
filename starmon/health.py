"""Health cards and their thresholds: each described once, overridable in starmon.toml.

Like a glances plugin's field description, a `Card` says what it shows, in which unit,
which direction is bad and where warning and critical start. Pages only draw what
`cards()` returns, and what `conditions()` finds (through the alert rules: starmon.wrong_now);
no threshold lives in page code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from .readings import Status

OK, WARNING, CRITICAL, UNKNOWN = "ok", "warning", "critical", "unknown"


@dataclass(frozen=True)
class Card:
    """One health card: how to read its value from a snapshot and when it is bad."""

    key: str
    title: str
    unit: str
    bad: str | None  # "high", "low" or None (informational)
    warning: float | None
    critical: float | None
    value: Callable[[dict], float | None]
    help: str
    textual: bool = False  # shown as words or "x/y" rather than as its number
    spark: str | None = None  # snapshot column drawn as the card's sparkline
    counts: Callable[[dict], tuple[str, str]] | None = None  # alive cards: a snapshot's (total, alive) columns

    def spark_column(self, snapshot: dict) -> str | None:
        """The snapshot column drawn as the sparkline; an alive card draws its alive count."""
        return self.counts(snapshot)[1] if self.counts else self.spark

    def status(self, value: float | None) -> str:
        """ok / warning / critical for a value; unknown when the value is missing."""
        if value is None:
            return UNKNOWN
        if self.bad is None:
            return OK
        worse = (lambda v, limit: v >= limit) if self.bad == "high" else (lambda v, limit: v <= limit)
        if self.critical is not None and worse(value, self.critical):
            return CRITICAL
        if self.warning is not None and worse(value, self.warning):
            return WARNING
        return OK


def _col(name: str) -> Callable[[dict], float | None]:
    return lambda s: s.get(name)


def _alive_card(key: str, title: str, counts: Callable[[dict], tuple[str, str]], help_text: str) -> Card:
    """A card showing alive/total nodes, whose thresholds count the dead ones."""

    def dead(s: dict) -> float | None:
        total, alive = counts(s)
        return None if s.get(total) is None or s.get(alive) is None else s[total] - s[alive]

    return Card(key, title, "nodes", "high", 1, 2, dead, help_text, textual=True, counts=counts)


def _be_columns(snapshot: dict) -> tuple[str, str]:
    """Backends, or compute nodes on a shared-data cluster (which has no backends)."""
    if not snapshot.get("backend_total") and snapshot.get("compute_total"):
        return "compute_total", "compute_alive"
    return "backend_total", "backend_alive"


def _heap_pct(s: dict) -> float | None:
    used, limit = s.get("fe_jvm_heap_used_bytes"), s.get("fe_jvm_heap_max_bytes")
    return 100.0 * used / limit if used is not None and limit else None


_STATUS_LEVEL = {Status.OK: 0, Status.PARTIAL: 1, Status.DOWN: 2}


def _column(
    key: str, title: str, unit: str, bad: str | None, warning: float | None, critical: float | None, help_text: str
) -> Card:
    """A card that shows one snapshot column as it is, with that column as its sparkline."""
    return Card(key, title, unit, bad, warning, critical, _col(key), help_text, spark=key)


CARDS: tuple[Card, ...] = (
    Card(
        "cluster_status",
        "Cluster status",
        "level",
        "high",
        1,
        2,
        lambda s: _STATUS_LEVEL.get(s.get("status")),
        "ok, partial (a node dead or an endpoint failing) or down (nothing answered); as a number "
        "0 ok, 1 partial, 2 down. The sparkline is the share of rounds the cluster was down.",
        textual=True,
        spark="down_pct",
    ),
    _alive_card(
        "fe_dead",
        "FE alive",
        lambda s: ("frontend_total", "frontend_alive"),
        "Frontends the leader sees alive, of all frontends; thresholds count dead FEs.",
    ),
    _alive_card(
        "be_dead",
        "BE alive",
        _be_columns,
        "Backends (compute nodes on shared-data) alive, of all; thresholds count dead nodes.",
    ),
    _column("qps", "QPS", "queries/s", None, None, None, "Queries per second over all FEs."),
    _column(
        "query_latency_p99", "p99 latency", "ms", "high", 1000, 5000, "99th percentile query latency of the slowest FE."
    ),
    _column(
        "query_error_rate", "Error rate", "%", "high", 1, 5, "Share of queries since the previous round that failed."
    ),
    _column("avg_cpu_usage", "Avg CPU", "%", "high", 70, 90, "Mean CPU busy of BE/CN hosts."),
    _column("avg_memory_usage", "Avg memory", "%", "high", 75, 90, "Mean BE/CN process memory against its limit."),
    _column(
        "disk_usage_pct",
        "Disk used",
        "%",
        "high",
        80,
        90,
        "Used over total BE capacity; StarRocks refuses loads near 95 %.",
    ),
    _column("tablet_count", "Tablets", "tablets", None, None, None, "Tablets over all BEs."),
    _column(
        "max_compaction_score",
        "Max compaction score",
        "score",
        "high",
        100,
        500,
        "Highest tablet compaction score; StarRocks' own alert fires above 100.",
    ),
    _column(
        "txn_running",
        "Running transactions",
        "transactions",
        None,
        None,
        None,
        "Transactions begun and not finished (leader).",
    ),
    _column(
        "load_running", "Running loads", "jobs", None, None, None, "Load jobs pending, loading or committing (leader)."
    ),
    Card(
        "fe_jvm_heap_pct",
        "FE JVM heap",
        "%",
        "high",
        80,
        90,
        _heap_pct,
        "Heap used on the FE with the fullest heap.",
        spark="fe_jvm_heap_pct",
    ),
)


def with_overrides(overrides: dict[str, dict]) -> tuple[Card, ...]:
    """The cards with warning/critical levels replaced from `[thresholds.<key>]` tables."""
    by_key = {c.key: c for c in CARDS}
    for key, levels in overrides.items():
        if key not in by_key:
            raise ValueError(f"thresholds.{key}: no such card (known: {', '.join(by_key)})")
        card = by_key[key]
        unknown = set(levels) - {"warning", "critical"}
        if unknown:
            raise ValueError(f"thresholds.{key}: unknown key {sorted(unknown)[0]!r} (use warning, critical)")
        for level, value in levels.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"thresholds.{key}.{level} must be a number, got {value!r}")
        card = replace(card, **levels)
        if card.bad is None:
            raise ValueError(f"thresholds.{key}: this card is informational and has no thresholds")
        if (
            card.warning is not None
            and card.critical is not None
            and (card.warning > card.critical if card.bad == "high" else card.warning < card.critical)
        ):
            raise ValueError(f"thresholds.{key}: warning must come before critical ({card.bad} is bad)")
        by_key[key] = card
    return tuple(by_key[c.key] for c in CARDS)


@dataclass(frozen=True)
class CardValue:
    """A card as read from one snapshot: its number, that number as text, its status and delta."""

    key: str
    title: str
    unit: str
    value: float | None  # the card's number: alive nodes on alive cards, 0 ok / 1 partial / 2 down for the status
    total: float | None  # alive cards: all nodes of the role; None on other cards
    display: str  # the value as shown, "n/a" when unknown
    status: str
    delta: float | None  # change of `value` over the range, in `unit`
    help: str
    textual: bool

    @property
    def delta_text(self) -> str | None:
        """The delta with its unit and the value's precision ("+1.2 %", "-40 ms", "-1 node")."""
        return None if self.delta is None else format_delta(self.delta, self.unit)


def display(card: Card, snapshot: dict) -> str:
    """The card's value as text: "2/3" for alive cards, status words, numbers with units."""
    value = card.value(snapshot)
    if value is None:
        return "n/a"
    if card.key == "cluster_status":
        return str(snapshot.get("status"))
    if card.counts:
        total, alive = card.counts(snapshot)
        return f"{snapshot[alive]}/{snapshot[total]}"
    return format_value(value, card.unit)


def format_value(value: float | None, unit: str) -> str:
    """A number with its unit, scaled for reading: 1.2 TB, 35.1 %, 412 ms, 1,533.

    Sizes are decimal (1 TB = 10^12 bytes), as Streamlit's tables and Plotly's axes print them,
    so a card and the table rows under it add up.
    """
    if value is None:
        return "n/a"
    if unit == "bytes":
        size, units = float(value), ("B", "KB", "MB", "GB", "TB", "PB")
        i = 0
        while round(abs(size), 1) >= 1000 and i < len(units) - 1:  # 999,960 B is 1.0 MB, not 1000.0 KB
            size, i = size / 1000, i + 1
        return f"{size:.1f} {units[i]}" if i else f"{int(size)} B"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if unit == "queries/s":
        return f"{value:,.1f}/s"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


_NAMED_UNITS = ("bytes", "%", "ms", "queries/s")  # format_value writes these itself


def format_delta(delta: float, unit: str) -> str:
    """A change with its sign and unit, at the precision format_value gives the value itself."""
    magnitude = format_value(abs(delta), unit)
    if unit not in _NAMED_UNITS and unit not in ("", "level", "score", "count"):
        magnitude += f" {unit[:-1] if abs(delta) == 1 and unit.endswith('s') else unit}"
    if re.fullmatch(r"0(\.0+)?\D*", magnitude):  # no change at this precision: no sign
        return magnitude
    return f"{'-' if delta < 0 else '+'}{magnitude}"


def _number(card: Card, snapshot: dict) -> tuple[float | None, float | None]:
    """(value, total) a card reports: alive and all nodes for alive cards, else the card's value."""
    if card.counts:
        total, alive = card.counts(snapshot)
        return snapshot.get(alive), snapshot.get(total)
    return card.value(snapshot), None


def cards(snapshot: dict, start: dict | None, table: tuple[Card, ...] = CARDS) -> list[CardValue]:
    """Card values of a snapshot, with deltas against `start`: the range's first round.

    No delta when `start` is the snapshot itself: a change over nothing is not a change of 0.
    """
    same = start is not None and start.get("id") is not None and start.get("id") == snapshot.get("id")
    baseline = None if same else start
    out = []
    for card in table:
        value, total = _number(card, snapshot)
        before = _number(card, baseline)[0] if baseline is not None else None
        delta = value - before if value is not None and before is not None and card.key != "cluster_status" else None
        out.append(
            CardValue(
                card.key,
                card.title,
                card.unit,
                value,
                total,
                display(card, snapshot),
                card.status(card.value(snapshot)),
                delta,
                card.help,
                card.textual,
            )
        )
    return out


def _in_sentence(title: str) -> str:
    """ "Max compaction score" -> "max compaction score", but "FE JVM heap" stays."""
    first, _, rest = title.partition(" ")
    return f"{first if first.isupper() else first.lower()} {rest}".strip()


@dataclass(frozen=True)
class Condition:
    """One thing wrong in a round: the Overview says `text`, and the alert rule `rule` fires on it.

    Both read these, so "what is wrong now" and the alerts cannot disagree. `subject` tells
    apart conditions of one rule ("BE 10.0.0.3"); `value` and `threshold` are in `unit`.
    """

    rule: str
    subject: str
    severity: str
    text: str
    value: float | None = None
    threshold: float | None = None
    unit: str = ""
    since: float | None = None  # when it began, where the store knows (a node's dead streak)


def conditions(snapshot: dict, dead_nodes: list[dict], table: tuple[Card, ...] = CARDS) -> list[Condition]:
    """What is wrong in a round, in the order found: the cluster, its nodes, the cards, partial collection.

    `dead_nodes` are {role, host, since} for nodes not alive in the round.
    """
    found: list[Condition] = []
    if snapshot.get("status") == Status.DOWN:
        why = snapshot.get("error") or "no endpoint answered"
        found.append(Condition("cluster_down", "", CRITICAL, f"cluster unreachable: {why}", 2, 2, "level"))
    for node in dead_nodes:
        subject = f"{node['role']} {node['host']}"
        severity = CRITICAL if node["role"] == "FE" else WARNING
        found.append(Condition("node_down", subject, severity, f"{subject} down", since=node.get("since")))
    for card in table:
        if card.key == "cluster_status" or card.counts:  # said above, node by node
            continue
        value = card.value(snapshot)
        status = card.status(value)
        if status in (WARNING, CRITICAL):
            limit = card.critical if status == CRITICAL else card.warning
            sign = ">" if card.bad == "high" else "<"
            text = (
                f"{_in_sentence(card.title)} {format_value(value, card.unit)} {sign} {format_value(limit, card.unit)}"
            )
            found.append(Condition(card.key, "", status, text, value, limit, card.unit))
    if snapshot.get("status") == Status.PARTIAL and snapshot.get("error") and not dead_nodes:
        found.append(Condition("partial_collection", "", WARNING, f"partial collection: {snapshot['error']}"))
    return found
