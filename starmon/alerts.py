"""Alert rules and their evaluation (pure): which conditions hold, and how open alerts move.

Every rule is declared once in `RULES` with its defaults and help text; `[alerts.rules.<name>]`
in starmon.toml overrides them, for all clusters or per cluster glob, and an admin's edits on
the Alerts page (`RuleEdit`, starmon.alert_edits) override both. The conditions come
from `health.conditions` plus the rules that need more than one round (disk forecast, stale
data, slow collection, MVs); the Overview's "what is wrong now" lists the same conditions with
the alerts they opened (starmon.wrong_now).
How an alert moves from round to round is starmon.alert_lifecycle's.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from .health import CARDS, CRITICAL, WARNING, Card, Condition, conditions

SEVERITIES = ("warning", "critical")
RANK = {WARNING: 1, CRITICAL: 2}
HOUR = 3600


@dataclass(frozen=True)
class Rule:
    """One alert rule: when its condition must hold before firing, how loud, how often again."""

    name: str
    help: str
    severity: str | None = None  # a fixed severity; None: the level the condition reached
    for_seconds: float = 60.0
    repeat_seconds: float = 4 * HOUR
    enabled: bool = True
    warning: float | None = None  # the rule's own levels, for rules that are not health cards
    critical: float | None = None
    bad: str = "high"  # which way the value gets worse: what "peak" means

    def severity_of(self, condition: Condition) -> str:
        return self.severity or condition.severity


def _card_rule(card: Card) -> Rule:
    return Rule(
        card.key, f"Health card '{card.title}' past its [thresholds] level: {card.help}", bad=card.bad or "high"
    )


RULES: tuple[Rule, ...] = (
    Rule("cluster_down", "No endpoint of the cluster answered the round.", severity=CRITICAL),
    Rule("node_down", "An FE (critical), BE or CN (warning) is not alive; one alert per node, named."),
    *(_card_rule(c) for c in CARDS if c.bad and not c.counts and c.key != "cluster_status"),
    Rule(
        "partial_collection",
        "Part of a round failed (an endpoint or a node's /metrics) though no node is down.",
        severity=WARNING,
        for_seconds=300.0,
    ),
    Rule(
        "disk_forecast",
        "The disk forecast (Overview) reaches 95 % in fewer days than `warning` / `critical`.",
        warning=14,
        critical=3,
        bad="low",
    ),
    Rule(
        "stale_data",
        "No round of the cluster was stored for `warning` intervals: the collector is stuck or cannot store.",
        severity=CRITICAL,
        warning=3,
        for_seconds=0.0,
    ),
    Rule(
        "slow_collection",
        "A round took longer than `warning` times the interval.",
        severity=WARNING,
        warning=0.5,
        for_seconds=0.0,
    ),
    Rule("mv_refresh_failed", "A materialized view's last refresh failed (statistics pass).", severity=WARNING),
    Rule("mv_inactive", "A materialized view became inactive (statistics pass).", severity=WARNING),
)
RULE_NAMES = tuple(r.name for r in RULES)
OWN_LEVELS = {"disk_forecast", "stale_data", "slow_collection"}  # rules whose levels live here, not in [thresholds]


# -- configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Channel:
    """Where notifications go: an apprise URL (a secret: never logged, shown or stored)."""

    name: str
    url: str = field(repr=False)
    min_severity: str = WARNING
    clusters: tuple[str, ...] = ()  # globs; empty: every cluster

    def wants(self, cluster: str, severity: str) -> bool:
        matches = not self.clusters or any(fnmatch.fnmatchcase(cluster, g) for g in self.clusters)
        return matches and RANK.get(severity, 0) >= RANK[self.min_severity]


@dataclass(frozen=True)
class RuleEdit:
    """A rule changed on the Alerts page for every cluster (glob "*") or a cluster glob."""

    rule: str
    glob: str
    raw: dict  # as stored: the [alerts.rules] keys, durations in seconds
    changes: dict  # the same as Rule fields, checked (rule_changes)
    by: str
    at: float


@dataclass(frozen=True)
class AlertSettings:
    """The [alerts] table: rules with overrides, channels and the dashboard's public address."""

    public_url: str = "http://localhost:8501"
    rules: tuple[Rule, ...] = RULES
    per_cluster: tuple[tuple[str, str, dict], ...] = ()  # (rule, cluster glob, changes), in file order
    channels: tuple[Channel, ...] = ()
    edits: tuple[RuleEdit, ...] = ()  # the Alerts page's, every-cluster ones first

    def rule(self, name: str, cluster: str) -> Rule:
        """The rule as it applies to one cluster: its defaults, the file's, the file's matching cluster
        globs, then the page's edits (for every cluster, then matching globs)."""
        rule = next(r for r in self.rules if r.name == name)
        for rule_name, glob, changes in self.per_cluster:
            if rule_name == name and fnmatch.fnmatchcase(cluster, glob):
                rule = replace(rule, **changes)
        for edit in self.edits:
            if edit.rule == name and fnmatch.fnmatchcase(cluster, edit.glob):
                rule = replace(rule, **edit.changes)
        return rule

    def rules_for(self, cluster: str) -> Callable[[str], Rule]:
        """Every rule as it applies to one cluster, worked out once: an evaluation asks many times."""
        table = {r.name: self.rule(r.name, cluster) for r in self.rules}
        return table.__getitem__

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": HOUR, "d": 24 * HOUR}


def duration(value: object, where: str) -> float:
    """Seconds from a number of seconds or text like "90s", "5m", "4h", "1d"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f'{where} must be seconds or a duration like "90s", "5m", "4h", got {value!r}')
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def _changes(raw: dict, where: str, rule: Rule, *, levels: bool) -> dict:
    """A rule table's keys as Rule fields, checked."""
    known = {"enabled", "for", "repeat", "severity"} | ({"warning", "critical"} if levels else set())
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    out: dict = {}
    if "enabled" in raw:
        if not isinstance(raw["enabled"], bool):
            raise ValueError(f"{where}.enabled must be true or false")
        out["enabled"] = raw["enabled"]
    if "for" in raw:
        out["for_seconds"] = duration(raw["for"], f"{where}.for")
    if "repeat" in raw:
        out["repeat_seconds"] = duration(raw["repeat"], f"{where}.repeat")
        if out["repeat_seconds"] < 60:
            raise ValueError(f"{where}.repeat must be at least 60 s")
    if "severity" in raw:
        if raw["severity"] not in SEVERITIES:
            raise ValueError(f"{where}.severity must be one of {', '.join(SEVERITIES)}, got {raw['severity']!r}")
        out["severity"] = raw["severity"]
    for level in ("warning", "critical"):
        if level in raw:
            value = raw[level]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{where}.{level} must be a positive number, got {value!r}")
            out[level] = float(value)
    if rule.critical is not None and levels:
        warn, crit = out.get("warning", rule.warning), out.get("critical", rule.critical)
        if (warn < crit) if rule.bad == "low" else (warn > crit):
            raise ValueError(f"{where}: warning must come before critical ({rule.bad} is bad)")
    return out


def rule_changes(settings: AlertSettings, name: str, glob: str, raw: dict) -> dict:
    """An edit's keys (those of an [alerts.rules] table) as Rule fields, with the file's checks.

    As in the file, a rule's own levels (disk forecast, stale data, slow collection) are set for
    every cluster only, and the health cards' levels live in [thresholds]; ValueError says why.
    """
    if name not in RULE_NAMES:
        raise ValueError(f"no such rule {name!r} (known: {', '.join(RULE_NAMES)})")
    where = f"{name}" if glob == "*" else f"{name} for {glob}"
    base = next(r for r in settings.rules if r.name == name)
    return _changes(raw, where, base, levels=name in OWN_LEVELS and glob == "*")


def parse_settings(raw: object, environ: Mapping[str, str] | None = None) -> AlertSettings:
    """The [alerts] table of starmon.toml, checked; ValueError says which key is wrong and why."""
    env = os.environ if environ is None else environ
    if not isinstance(raw, dict):
        raise ValueError("write alerts as an [alerts] table")
    unknown = sorted(set(raw) - {"public_url", "rules", "channels"})
    if unknown:
        raise ValueError(f"alerts: unknown key {unknown[0]!r} (known: channels, public_url, rules)")
    public_url = raw.get("public_url", AlertSettings.public_url)
    if not isinstance(public_url, str) or not re.match(r"^https?://[^\s/]+", public_url):
        raise ValueError(f"alerts.public_url must be an http(s) address, got {public_url!r}")
    rules = {r.name: r for r in RULES}
    per_cluster: list[tuple[str, str, dict]] = []
    tables = raw.get("rules", {})
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise ValueError("alerts.rules: write each rule as an [alerts.rules.<name>] table")
    for name, table in tables.items():
        if name not in rules:
            raise ValueError(f"alerts.rules.{name}: no such rule (known: {', '.join(RULE_NAMES)})")
        where = f"alerts.rules.{name}"
        clusters = table.get("clusters", {})
        if not isinstance(clusters, dict) or not all(isinstance(v, dict) for v in clusters.values()):
            raise ValueError(f'{where}.clusters: write [{where}.clusters."<glob>"] tables')
        own = {k: v for k, v in table.items() if k != "clusters"}
        rules[name] = replace(rules[name], **_changes(own, where, rules[name], levels=name in OWN_LEVELS))
        for glob, changes in clusters.items():
            per_cluster.append((name, glob, _changes(changes, f"{where}.clusters.{glob}", rules[name], levels=False)))
    channels = raw.get("channels", [])
    if not isinstance(channels, list):
        raise ValueError("alerts.channels: write channels as [[alerts.channels]] tables")
    parsed = [_channel(c, i, env) for i, c in enumerate(channels)]
    names = [c.name for c in parsed]
    if len(set(names)) != len(names):
        raise ValueError(f"alerts.channels: channel {next(n for n in names if names.count(n) > 1)!r} is declared twice")
    return AlertSettings(public_url.rstrip("/"), tuple(rules[n] for n in RULE_NAMES), tuple(per_cluster), tuple(parsed))


def _channel(raw: object, index: int, env: Mapping[str, str]) -> Channel:
    where = f"alerts.channels #{index + 1}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a table")
    unknown = sorted(set(raw) - {"name", "url", "url_env", "min_severity", "clusters"})
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: clusters, min_severity, name, url, url_env)")
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", name):
        raise ValueError(f"{where}: 'name' must be 1-64 letters, digits, '.', '_' or '-'")
    where = f"{where} {name!r}"
    if ("url" in raw) == ("url_env" in raw):
        raise ValueError(f"{where}: give 'url' or 'url_env', one of them")
    if "url_env" in raw:
        if not isinstance(raw["url_env"], str) or not env.get(raw["url_env"]):
            raise ValueError(f"{where}: environment variable {raw['url_env']!r} named by 'url_env' is not set")
        url = env[raw["url_env"]]
    else:
        url = raw["url"]
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"{where}: the URL is not an apprise URL (schema://...)")  # never echo it: a secret
    severity = raw.get("min_severity", WARNING)
    if severity not in SEVERITIES:
        raise ValueError(f"{where}: 'min_severity' must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    globs = raw.get("clusters", [])
    if not isinstance(globs, list) or not all(isinstance(g, str) and g for g in globs):
        raise ValueError(f"{where}: 'clusters' must be a list of globs, e.g. [\"prod-*\"]")
    return Channel(name, url.strip(), severity, tuple(globs))


# -- conditions beyond one round's cards ------------------------------------------------------------
def _levels(rule: Rule, value: float, *, low: bool) -> str | None:
    """The level a value reaches against the rule's own warning and critical."""
    worse = (lambda v, limit: v < limit) if low else (lambda v, limit: v > limit)
    if rule.critical is not None and worse(value, rule.critical):
        return CRITICAL
    if rule.warning is not None and worse(value, rule.warning):
        return WARNING
    return None


def forecast_condition(headline: dict | None, rule: Rule) -> Condition | None:
    """Days to 95 % (the forecast's headline, the first node to fill leading) under the rule's levels."""
    days = headline.get("days_to_95") if headline and headline.get("status") == "ok" else None
    if days is None:
        return None
    level = _levels(rule, days, low=True)
    if level is None:
        return None
    limit = rule.critical if level == CRITICAL else rule.warning
    who = f" ({headline['first_node']} first)" if headline.get("first_node") else ""
    text = f"disk 95 % full in {days:.1f} days{who} < {limit:g} days"
    return Condition("disk_forecast", "", level, text, round(days, 2), limit, "days")


def stale_condition(last_round_ts: float | None, now: float, interval: float, rule: Rule) -> Condition | None:
    """No round stored for `warning` intervals (a cluster never collected is not stale: it is new)."""
    if last_round_ts is None:
        return None
    age, limit = now - last_round_ts, (rule.warning or 3) * interval
    if age <= limit:
        return None
    text = f"no round stored for {age:.0f} s (more than {limit:g} s, {rule.warning:g} intervals)"
    return Condition("stale_data", "", CRITICAL, text, round(age, 1), limit, "s")


def slow_condition(snapshot: dict, interval: float, rule: Rule) -> Condition | None:
    """The round took longer than `warning` of the interval (its collect_ms)."""
    took, limit = snapshot.get("collect_ms"), (rule.warning or 0.5) * interval * 1000
    if took is None or took <= limit:
        return None
    return Condition("slow_collection", "", WARNING, f"round took {took:,} ms > {limit:,.0f} ms", took, limit, "ms")


def mv_conditions(statistics: dict | None) -> list[Condition]:
    """Failed and inactive materialized views of the newest statistics pass, one condition each."""
    found = []
    for mv in (statistics or {}).get("materialized_views") or []:
        subject = f"{mv.get('db')}.{mv.get('name')}"
        if (mv.get("state") or "").upper() == "FAILED":
            why = f": {mv['error']}" if mv.get("error") else ""
            found.append(Condition("mv_refresh_failed", subject, WARNING, f"MV {subject} refresh failed{why}"))
        if mv.get("active") is False:
            why = f": {mv['inactive_reason']}" if mv.get("inactive_reason") else ""
            found.append(Condition("mv_inactive", subject, WARNING, f"MV {subject} inactive{why}"))
    return found


@dataclass(frozen=True)
class RoundInputs:
    """What one evaluation of a cluster reads: its newest round and what goes with it."""

    snapshot: dict
    dead_nodes: list[dict]
    statistics: dict | None
    forecast: dict | None  # the forecast headline, or None when none was fitted


def round_conditions(
    inputs: RoundInputs, cards: tuple[Card, ...], interval: float, rule: Callable[[str], Rule]
) -> tuple[list[Condition], set[str]]:
    """Every condition a stored round shows, and the rules it cannot tell about.

    A rule the round cannot tell about (a card with no value, a node list missing because the
    cluster is down) keeps its alerts as they are, rather than resolving them and firing again.
    """
    snap = inputs.snapshot
    found = conditions(snap, inputs.dead_nodes, cards)
    found += [c for c in (forecast_condition(inputs.forecast, rule("disk_forecast")),) if c]
    found += [c for c in (slow_condition(snap, interval, rule("slow_collection")),) if c]
    found += mv_conditions(inputs.statistics)
    unknown = {"stale_data"}  # the loop's check, not a round's
    if inputs.statistics is None or inputs.statistics.get("materialized_views") is None:  # no pass, or a failed one
        unknown |= {"mv_refresh_failed", "mv_inactive"}
    if inputs.forecast is None:
        unknown.add("disk_forecast")
    if snap.get("status") == "down":
        unknown |= {r.name for r in RULES} - {"cluster_down", "slow_collection"}
    unknown |= {c.key for c in cards if c.bad and c.value(snap) is None}
    return found, unknown
