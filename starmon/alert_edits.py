"""Alert rules edited on the Alerts page: stored edits, the settings they make, and where a value comes from.

The effective rule is the built-in default, then starmon.toml's `[alerts.rules]`, then the page's
edits (for every cluster, then per cluster glob). Edits live in the `alert_rule_edits` table so every
collector process sees them; a collector re-reads them only when their signature (count and newest
time) changed, a single cheap query per loop tick. An edit is checked with the file's own checks
(alerts.rule_changes) before anything is stored.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace

import sqlalchemy as sa

from . import schema
from .alerts import OWN_LEVELS, RULES, AlertSettings, Rule, RuleEdit, duration, rule_changes
from .health import Card
from .store import Store

log = logging.getLogger("starmon.alerts")
EVERY = "*"  # the glob of an edit for every cluster
# (key in the file and the page, Rule field): what an edit may set
KEYS = (
    ("enabled", "enabled"),
    ("for", "for_seconds"),
    ("repeat", "repeat_seconds"),
    ("severity", "severity"),
    ("warning", "warning"),
    ("critical", "critical"),
)


# -- pure: settings from edits, and where each value comes from ----------------------------------
def with_edits(settings: AlertSettings, edits: list[RuleEdit]) -> AlertSettings:
    """The settings with the page's edits on top: every-cluster edits first, then globs, oldest first."""
    ordered = sorted(edits, key=lambda e: (e.glob != EVERY, e.at, e.glob))
    return replace(settings, edits=tuple(ordered))


def parse_edit(settings: AlertSettings, row: dict) -> RuleEdit:
    """A stored row as a checked edit; ValueError if it no longer passes (the file changed since)."""
    raw = json.loads(row["changes"])
    changes = rule_changes(settings, row["rule"], row["cluster_glob"], raw)
    return RuleEdit(row["rule"], row["cluster_glob"], raw, changes, row["updated_by"], row["updated_at"])


@dataclass(frozen=True)
class Explained:
    """One rule as it applies for every cluster or a glob: its values and who set each."""

    rule: Rule
    glob: str
    sources: dict[str, str]  # key (KEYS) -> "default", "starmon.toml" or "edited by ann" (the page or the CLI)
    edit: RuleEdit | None  # the page's edit of exactly this rule and glob, if any


def explain(settings: AlertSettings, name: str, glob: str = EVERY) -> Explained:
    """The rule for every cluster, or for clusters matching `glob` (the file's and the page's
    overrides of exactly that glob; other globs that overlap it aside), with each value's source."""
    default = next(r for r in RULES if r.name == name)
    rule = next(r for r in settings.rules if r.name == name)
    sources = {key: "starmon.toml" if getattr(rule, f) != getattr(default, f) else "default" for key, f in KEYS}
    layers: list[tuple[str, dict]] = []
    if glob != EVERY:
        layers += [(f"starmon.toml ({glob})", c) for n, g, c in settings.per_cluster if n == name and g == glob]
    mine = [e for e in settings.edits if e.rule == name and e.glob in (EVERY, glob)]
    layers += [(f"edited by {e.by}", e.changes) for e in mine]
    for source, changes in layers:
        rule = replace(rule, **changes)
        sources.update({key: source for key, f in KEYS if f in changes})
    return Explained(rule, glob, sources, next((e for e in mine if e.glob == glob), None))


def without_edit(settings: AlertSettings, name: str, glob: str) -> AlertSettings:
    """The settings as they would be without the page's edit of this rule and glob."""
    return replace(settings, edits=tuple(e for e in settings.edits if (e.rule, e.glob) != (name, glob)))


def as_text(seconds: float) -> str:
    """A duration as the file writes it: "90s", "5m", "4h", "1d"."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def form_changes(settings: AlertSettings, name: str, glob: str, values: dict) -> dict:
    """An edit from the page's form: the values (durations and levels as typed) that differ from
    what applies without the page's edit of this rule and glob, as stored (durations in seconds).

    A level that is not a number, or a duration that is not one, is a ValueError naming the field.
    """
    before = explain(without_edit(settings, name, glob), name, glob).rule
    where = name if glob == EVERY else f"{name} for {glob}"
    typed = {"enabled": values["enabled"], "severity": values["severity"]}
    for key in ("for", "repeat"):
        typed[key] = duration(values[key], f"{where}.{key}")
    for key in ("warning", "critical"):
        if values.get(key) is not None:
            try:
                typed[key] = float(str(values[key]).strip())
            except ValueError:
                raise ValueError(f"{where}.{key} must be a positive number, got {values[key]!r}") from None
    return {key: typed[key] for key, f in KEYS if key in typed and typed[key] != getattr(before, f)}


def rule_rows(settings: AlertSettings, cards: tuple[Card, ...]) -> list[dict]:
    """Every rule for every cluster, then each glob override, with its values and where they come
    from; a health card's rule shows the card's levels (`cards`, with [thresholds] applied)."""
    out = []
    levels = {c.key: (c.warning, c.critical) for c in cards}
    for name, glob in [(r.name, EVERY) for r in settings.rules] + overridden(settings):
        told = explain(settings, name, glob)
        r = told.rule
        if name in levels:
            r = replace(r, warning=levels[name][0], critical=levels[name][1])
        changed = "; ".join(
            f"{key}: {source}" for key, source in told.sources.items() if source != "default" and _own(r, key)
        )
        out.append(
            {
                "rule": name,
                "clusters": "every cluster" if glob == EVERY else glob,
                "enabled": r.enabled,
                "for": as_text(r.for_seconds),
                "repeat": as_text(r.repeat_seconds),
                "severity": r.severity or "by level",
                "warning": r.warning,
                "critical": r.critical,
                "changed": changed or "defaults",
                "edited_by": told.edit.by if told.edit else None,
                "edited_at": told.edit.at if told.edit else None,
            }
        )
    return out


def _own(rule: Rule, key: str) -> bool:
    """Whether the rule's own value is what shows for `key` (a card's levels are the card's)."""
    return key not in ("warning", "critical") or rule.name in OWN_LEVELS


def overridden(settings: AlertSettings) -> list[tuple[str, str]]:
    """(rule, glob) of every cluster-glob override, the file's and the page's, sorted."""
    found = {(n, g) for n, g, _ in settings.per_cluster} | {(e.rule, e.glob) for e in settings.edits}
    return sorted((n, g) for n, g in found if g != EVERY)


# -- the store -----------------------------------------------------------------------------------
def signature(store: Store) -> tuple:
    """How many edits there are and the newest's time: changes whenever one is saved or reset."""
    e = schema.alert_rule_edits
    query = sa.select(sa.func.count(), sa.func.max(e.c.updated_at))
    return tuple(store.read(lambda conn: conn.execute(query).one()))


def load(store: Store, settings: AlertSettings) -> AlertSettings:
    """The settings with every stored edit that still passes; one that does not is logged and left out."""
    e = schema.alert_rule_edits
    rows = store.read(lambda conn: [dict(r._mapping) for r in conn.execute(sa.select(e))])
    edits = []
    for row in rows:
        try:
            edits.append(parse_edit(settings, row))
        except ValueError as exc:
            log.warning("alert rule edit of %s for %s left out: %s", row["rule"], row["cluster_glob"], exc)
    return with_edits(settings, edits)


def save(store: Store, settings: AlertSettings, name: str, glob: str, raw: dict, by: str) -> None:
    """Store an admin's edit of a rule for every cluster ("*") or a glob, replacing the one before.

    Checked first with the file's checks: ValueError says why, and nothing is stored.
    """
    glob = glob.strip() or EVERY
    if not raw:
        raise ValueError("nothing to change: every value is as it was")
    rule_changes(settings, name, glob, raw)
    if len(glob) > 255:
        raise ValueError("a cluster glob is at most 255 characters")
    e = schema.alert_rule_edits
    values = {"changes": json.dumps(raw, sort_keys=True), "updated_by": by[:64], "updated_at": time.time()}

    def write(conn: sa.Connection) -> None:
        key = sa.and_(e.c.rule == name, e.c.cluster_glob == glob)
        if conn.execute(e.update().where(key).values(**values)).rowcount == 0:
            conn.execute(e.insert().values(rule=name, cluster_glob=glob, **values))

    store.write(write)


def reset(store: Store, name: str, glob: str) -> bool:
    """Remove the page's edit of a rule for a glob; False if there was none."""
    e = schema.alert_rule_edits
    key = sa.and_(e.c.rule == name, e.c.cluster_glob == glob)
    return bool(store.write(lambda conn: conn.execute(e.delete().where(key)).rowcount))
