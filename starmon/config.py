"""Settings and cluster declarations, read from the environment and `starmon.toml`.

Every setting is declared once below with its default and help text; the README's
settings table is checked against this list by the tests. Validation errors name the
offending key and cluster, so a typo in the TOML file is a one-line fix.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .alerts import AlertSettings, parse_settings
from .health import CARDS, with_overrides


class ConfigError(ValueError):
    """The configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    low: float = 0  # the range a value must fall in, ends included (numeric settings)
    high: float = 0


DAY = 86400
SETTINGS = (
    Setting("interval_seconds", 30, "Seconds between collection rounds.", 1, DAY),
    Setting(
        "statistics_interval_seconds",
        600,
        "Seconds between data-statistics passes (information_schema; too heavy for every round).",
        1,
        7 * DAY,
    ),
    Setting(
        "timeout_seconds",
        5.0,
        "Deadline for each HTTP request and MySQL query to a cluster, whole answer "
        "included; a cluster's round ends after three of them.",
        0.1,
        300,
    ),
    Setting("retention_days", 7, "Days raw snapshots (and their node rows) are kept.", 1, 3650),
    Setting("rollup_retention_days", 90, "Days hourly and daily rollups and table-size history are kept.", 1, 3650),
    Setting("forecast_window_days", 7, "Days of history the disk-full forecast fits.", 1, 365),
    Setting(
        "session_hours",
        12,
        "Hours a dashboard sign-in lasts (reloads, new tabs and browser restarts included); then sign in again.",
        1,
        720,
    ),
)
# A cluster's whole round may take this many `timeout_seconds` (its requests overlap).
ROUND_DEADLINE_TIMEOUTS = 3
ENV_SETTINGS = (
    Setting("STARMON_CONFIG", "./starmon.toml", "Path of the TOML file that declares clusters and settings."),
    Setting("STARMON_DB_URL", "sqlite:///data/starmon.db", "SQLAlchemy URL of the snapshot store."),
    Setting("STARMON_DEMO", "1", "0 turns off the demo cluster the dashboard starts when none is configured."),
    Setting("STARMON_EMBEDDED_COLLECTOR", "1", "0 keeps the dashboard from collecting (run collector.py instead)."),
    Setting("STARMON_SECRET_KEY", "", "Fernet key for stored cluster passwords; empty: use the key file."),
    Setting(
        "STARMON_SECRET_KEY_FILE",
        "secret.key beside the database",
        "Key file, generated with owner-only permissions on first use.",
    ),
)

_ENV_SETTINGS = {s.name: s for s in ENV_SETTINGS}


def env_setting(name: str, environ: Mapping[str, str] | None = None, *, or_default: bool = True) -> str:
    """The environment's value of the declared setting `name` (os.environ by default), else its default.

    An empty value counts as unset. With `or_default=False` an unset setting reads as "", to
    tell a value given from the default, or where the default is worked out at run time (the
    key file's default only describes where it goes).
    """
    setting = _ENV_SETTINGS[name]  # a KeyError here is a setting missing from ENV_SETTINGS
    env = os.environ if environ is None else environ
    return env.get(name) or (str(setting.default) if or_default else "")


_CLUSTER_KEYS = {
    "name",
    "fe_host",
    "http_port",
    "query_port",
    "user",
    "password",
    "password_env",
    "tls",
    "tls_verify",
    "enabled",
    "audit_table",
    "tags",
}
# db.table of the AuditLoader plugin's table: names as StarRocks allows them, no quoting needed
_AUDIT_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\.[A-Za-z_][A-Za-z0-9_]{0,63}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9\-.:\[\]]{0,252})$")
_TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,31}$")
MAX_TAGS = 16


@dataclass(frozen=True)
class ClusterConfig:
    """One StarRocks cluster to watch. The password is held in memory only."""

    name: str
    fe_host: str
    http_port: int = 8030
    query_port: int = 9030
    user: str = "root"
    password: str = field(default="", repr=False)
    password_env: str | None = None
    tls: bool = False
    tls_verify: bool = True  # verify the FE's certificate; turning it off is an explicit opt-in
    enabled: bool = True
    audit_table: str | None = None  # the AuditLoader plugin's db.table; None: its default (starmon.workload)
    tags: tuple[str, ...] = ()  # for the fleet's filter: "prod", "eu"

    @property
    def http_base(self) -> str:
        return f"{'https' if self.tls else 'http'}://{url_host(self.fe_host)}:{self.http_port}"

    def row_fields(self) -> dict:
        """The clusters-table columns this cluster sets, name aside; never the password."""
        return {key: getattr(self, key) for key in _ROW_FIELDS} | {"tags": json.dumps(list(self.tags))}

    @classmethod
    def from_row(cls, row: dict, password: str = "") -> ClusterConfig:
        """The cluster a clusters-table row describes, with its password found elsewhere."""
        tags = tuple(json.loads(row.get("tags") or "[]"))
        return cls(name=row["name"], password=password, tags=tags, **{key: row[key] for key in _ROW_FIELDS})


_ROW_FIELDS = (
    "fe_host",
    "http_port",
    "query_port",
    "user",
    "password_env",
    "tls",
    "tls_verify",
    "enabled",
    "audit_table",
)


def url_host(host: str) -> str:
    """A host as it goes into a URL: IPv6 addresses in brackets (once)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _default(name: str):
    """The declared default of a setting, for Config's field of the same name."""
    return next(s.default for s in SETTINGS if s.name == name)


@dataclass(frozen=True)
class Config:
    """Everything the collector needs: settings plus the declared clusters."""

    db_url: str
    clusters: tuple[ClusterConfig, ...] = ()
    # the settings, with the defaults SETTINGS declares
    interval_seconds: int = _default("interval_seconds")
    statistics_interval_seconds: int = _default("statistics_interval_seconds")
    timeout_seconds: float = _default("timeout_seconds")
    retention_days: int = _default("retention_days")
    rollup_retention_days: int = _default("rollup_retention_days")
    forecast_window_days: int = _default("forecast_window_days")
    session_hours: int = _default("session_hours")
    source: str = "defaults"
    thresholds: tuple = ()  # health cards with [thresholds.<card>] overrides applied
    admin_emails: tuple = ()  # [access] admin_emails: OpenID Connect users who may edit clusters
    alerts: AlertSettings = AlertSettings()  # [alerts]: rules, their overrides, channels

    @property
    def cards(self) -> tuple:
        return self.thresholds or CARDS

    @property
    def round_deadline_seconds(self) -> float:
        """How long one cluster's round may take (a round still running at its next start skips it)."""
        return ROUND_DEADLINE_TIMEOUTS * self.timeout_seconds


def validate_cluster(raw: dict, *, where: str = "cluster") -> ClusterConfig:
    """Check one cluster declaration and return it typed, or raise ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table of keys, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _CLUSTER_KEYS)
    name = raw.get("name")
    label = f"{where} {name!r}" if isinstance(name, str) and name else where
    if unknown:
        raise ConfigError(f"{label}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_CLUSTER_KEYS))})")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{label}: 'name' must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    host = raw.get("fe_host")
    if not isinstance(host, str) or not host.strip():
        raise ConfigError(f"{label}: 'fe_host' must be a non-empty host name or address")
    if not _HOST.fullmatch(host.strip()):
        raise ConfigError(f"{label}: 'fe_host' {host!r} is not a valid host name or address")
    values: dict = {"name": name, "fe_host": host.strip()}
    for key in ("http_port", "query_port"):
        if key in raw:
            port = raw[key]
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                raise ConfigError(f"{label}: '{key}' must be an integer from 1 to 65535, got {port!r}")
            values[key] = port
    for key in ("user", "password", "password_env"):
        if key in raw:
            if not isinstance(raw[key], str):
                raise ConfigError(f"{label}: '{key}' must be a string")
            values[key] = raw[key]
    if "password" in raw and "password_env" in raw:
        raise ConfigError(f"{label}: give 'password' or 'password_env', not both")
    for key in ("tls", "tls_verify", "enabled"):
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ConfigError(f"{label}: '{key}' must be true or false")
            values[key] = raw[key]
    if "tags" in raw:
        values["tags"] = _tags(raw["tags"], label)
    if "user" in values and not values["user"]:
        raise ConfigError(f"{label}: 'user' must not be empty")
    if "audit_table" in raw:
        audit = raw["audit_table"]
        if not isinstance(audit, str) or not _AUDIT_TABLE.fullmatch(audit):
            raise ConfigError(f"{label}: 'audit_table' must be db.table (letters, digits, '_'), got {audit!r}")
        values["audit_table"] = audit
    env = values.get("password_env")
    if env is not None:
        if env not in os.environ:
            raise ConfigError(f"{label}: environment variable {env!r} named by 'password_env' is not set")
        values["password"] = os.environ[env]
    return ClusterConfig(**values)


def _tags(tags: object, label: str) -> tuple[str, ...]:
    """A cluster's tags checked: a list of short names, each once."""
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(f'{label}: \'tags\' must be a list of strings, like tags = ["prod", "eu"]')
    if len(tags) > MAX_TAGS:
        raise ConfigError(f"{label}: at most {MAX_TAGS} tags, got {len(tags)}")
    seen: set[str] = set()
    for tag in tags:
        if not _TAG.fullmatch(tag):
            raise ConfigError(
                f"{label}: tag {tag[:40]!r} must be 1-32 letters, digits, '.', '_', ':' or '-', "
                "starting with a letter or digit"
            )
        if tag.lower() in seen:
            raise ConfigError(f"{label}: tag {tag!r} is given twice")
        seen.add(tag.lower())
    return tuple(tags)


def _setting(raw: dict, setting: Setting, path: Path):
    value = raw.get(setting.name, setting.default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{path}: '{setting.name}' must be a positive number, got {value!r}")
    if not setting.low <= value <= setting.high:
        raise ConfigError(f"{path}: '{setting.name}' must be from {setting.low:g} to {setting.high:g}, got {value!r}")
    return type(setting.default)(value)


def load_config(environ: dict | None = None) -> Config:
    """Read settings from the environment and the TOML file it points to.

    A missing file is fine when STARMON_CONFIG is not set (clusters may come from the
    database); a file that was asked for by name must exist.
    """
    env = os.environ if environ is None else environ
    db_url = env_setting("STARMON_DB_URL", env)
    explicit = env_setting("STARMON_CONFIG", env, or_default=False)
    path = Path(env_setting("STARMON_CONFIG", env))
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} (from STARMON_CONFIG) does not exist")
        return Config(db_url=db_url)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:  # a directory, or a file this user may not read
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    known = {s.name for s in SETTINGS} | {"clusters", "thresholds", "access", "alerts"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(known))})")
    entries = raw.get("clusters", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'clusters' must be written as [[clusters]] tables")
    clusters = [validate_cluster(c, where=f"{path}: cluster #{i + 1}") for i, c in enumerate(entries)]
    seen: set[str] = set()
    for c in clusters:
        if c.name.lower() in seen:
            raise ConfigError(f"{path}: cluster name {c.name!r} is declared twice")
        seen.add(c.name.lower())
    settings = {s.name: _setting(raw, s, path) for s in SETTINGS}
    overrides = raw.get("thresholds", {})
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ConfigError(f"{path}: write thresholds as [thresholds.<card>] tables with warning and critical")
    try:
        cards = with_overrides(overrides) if overrides else ()
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    access = raw.get("access", {})
    admins = access.get("admin_emails", []) if isinstance(access, dict) else None
    if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins) or set(access) - {"admin_emails"}:
        raise ConfigError(f'{path}: [access] takes admin_emails = ["name@example.com", ...]')
    try:
        alerts = parse_settings(raw.get("alerts", {}), env)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return Config(
        db_url=db_url,
        clusters=tuple(clusters),
        source=str(path),
        thresholds=cards,
        admin_emails=tuple(admins),
        alerts=alerts,
        **settings,
    )
