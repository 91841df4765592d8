"""Pure parsers for what StarRocks FE/BE endpoints and SQL statements return.

Everything here is stdlib-only and free of I/O so it can be tested against the
captured samples in /work/shared/starrocks/samples and reused by the emulator.
Values that cannot be parsed become None (or are counted as bad lines): a
monitoring tool must keep working when one field of one node is odd.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NamedTuple

# --------------------------------------------------------------------------
# Prometheus text exposition
# --------------------------------------------------------------------------

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
# name="value"; the value regex is "unrolled" (no per-character alternation) for speed.
_PAIR = r'([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"([^"\\]*(?:\\.[^"\\]*)*)"'
_PAIR_RE = re.compile(_PAIR)
# A whole label block: pairs separated by "," or ", " (FE), optional trailing comma.
_LABELS_RE = re.compile(rf"(?:[ \t]*{_PAIR}(?:[ \t]*,[ \t]*{_PAIR})*(?:[ \t]*,)?)?[ \t]*")
_ESCAPE_RE = re.compile(r"\\(.)")
_UNESCAPED = {"n": "\n", "\\": "\\", '"': '"'}


class Sample(NamedTuple):
    """One exposition line: metric name, labels in their original order, value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


class MetricSet:
    """Parsed Prometheus exposition: every sample, looked up by name and labels."""

    __slots__ = ("samples", "bad_lines", "skipped", "truncated", "_by_name")

    def __init__(self, samples: list[Sample], bad_lines: int = 0, skipped: int = 0, truncated: bool = False) -> None:
        self.samples = samples
        self.bad_lines = bad_lines
        self.skipped = skipped  # sample lines left unparsed because their name was not asked for
        self.truncated = truncated  # parsing stopped at the sample limit it was given
        self._by_name: dict[str, list[Sample]] | None = None

    def _matching(self, name: str, labels: dict[str, str]) -> list[Sample]:
        if self._by_name is None:
            index: dict[str, list[Sample]] = {}
            for sample in self.samples:
                index.setdefault(sample.name, []).append(sample)
            self._by_name = index
        candidates = self._by_name.get(name, [])
        if not labels:
            return candidates
        wanted = labels.items()
        return [s for s in candidates if wanted <= dict(s.labels).items()]

    def get(self, name: str, **labels: str) -> float | None:
        """First value of `name` whose labels include all given pairs; None if absent."""
        found = self._matching(name, labels)
        return found[0].value if found else None

    def series(self, name: str) -> list[tuple[dict[str, str], float]]:
        """Every sample of `name` as (labels, value), including non-contiguous ones (FE order)."""
        return [(dict(s.labels), s.value) for s in self._matching(name, {})]

    def sum(self, name: str, **labels: str) -> float | None:
        """Sum over matching samples; None (not 0) when nothing matches, so absence shows."""
        found = self._matching(name, labels)
        return sum(s.value for s in found) if found else None

    def max(self, name: str, **labels: str) -> float | None:
        """Largest matching value, e.g. per-BE compaction score; None when nothing matches."""
        found = self._matching(name, labels)
        return max(s.value for s in found) if found else None

    def __len__(self) -> int:
        """Number of samples."""
        return len(self.samples)

    def __repr__(self) -> str:
        return f"MetricSet({len(self.samples)} samples, bad_lines={self.bad_lines})"


def _unescape(value: str) -> str:
    return _ESCAPE_RE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(0)), value)


_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_KNOWN_KEYS: set[str] = set()


def _parse_labels_plain(body: str) -> tuple[tuple[str, str], ...] | None:
    """Fast path for label blocks without backslashes: split on quotes, check the pieces.

    Per-table FE metrics carry a different label set on every line, so memoising alone
    does not help there; this avoids the validating regex for the common case.
    """
    parts = body.split('"')
    if len(parts) % 2 == 0:
        return None
    pairs = []
    for i in range(0, len(parts) - 1, 2):
        key = parts[i].strip()
        if i:
            if not key.startswith(","):
                return None
            key = key[1:].lstrip()
        if not key.endswith("="):
            return None
        key = key[:-1].rstrip()
        if key not in _KNOWN_KEYS:
            if _LABEL_NAME_RE.fullmatch(key) is None:
                return None
            _KNOWN_KEYS.add(key)
        pairs.append((key, parts[i + 1]))
    tail = parts[-1].strip()
    if tail not in ("", ",") or (tail == "," and not pairs):
        return None
    return tuple(pairs)


def _parse_labels(body: str) -> tuple[tuple[str, str], ...] | None:
    if "\\" not in body:
        return _parse_labels_plain(body)
    if _LABELS_RE.fullmatch(body) is None:
        return None
    pairs = _PAIR_RE.findall(body)
    if "\\" in body:
        pairs = [(key, _unescape(value)) for key, value in pairs]
    return tuple(pairs)


def parse_prometheus(text: str, only: frozenset[str] | None = None, limit: int | None = None) -> MetricSet:
    """Parse Prometheus text line by line; never raises, bad lines are only counted.

    Line-based rather than family-based because the FE emits series of one name
    non-contiguously and prometheus_client renames counters to `<name>_total`.
    Label blocks and names repeat a lot, so their parses are memoised per call.
    A `\\r` of CRLF input is just trailing whitespace to `str.split`.

    With `only`, lines of other names are skipped before their labels and value are
    read (and so are not checked): the collector needs a few dozen of a BE's ~1,500
    lines, and of the ~50,000 an FE with per-table metrics sends.

    With `limit`, parsing stops once that many samples are kept (`truncated` says so), so an
    answer of endless series of a wanted name costs bounded memory.
    """
    samples: list[Sample] = []
    append = samples.append
    new_sample = tuple.__new__  # skips NamedTuple's Python-level __new__
    bad = skipped = 0
    names: set[str] = set()
    label_cache: dict[str, tuple[tuple[str, str], ...] | None] = {}  # invalid ones re-parse
    for line in text.split("\n"):
        if not line or line[0] == "#":
            continue
        if line[0].isspace():
            line = line.strip()
            if not line or line[0] == "#":
                continue
        brace = line.find("{")
        if brace < 0:
            parts = line.split()
            labels: tuple[tuple[str, str], ...] | None = ()
            name = parts[0]
            if only is not None and name not in only:
                skipped += 1
                continue
            rest = parts[1:]
        else:
            name = line[:brace]
            if only is not None and name not in only:
                skipped += 1
                continue
            close = line.rfind("}")
            if close < brace:
                bad += 1
                continue
            body = line[brace + 1 : close]
            labels = label_cache.get(body)
            if labels is None:
                labels = label_cache[body] = _parse_labels(body)
            rest = line[close + 1 :].split()
        if labels is None or not 1 <= len(rest) <= 2:
            bad += 1
            continue
        if name not in names:
            if _NAME_RE.fullmatch(name) is None:
                bad += 1
                continue
            names.add(name)
        try:
            value = float(rest[0])
            if len(rest) == 2:
                int(rest[1])
        except ValueError:
            bad += 1
            continue
        append(new_sample(Sample, (name, labels, value)))
        if limit is not None and len(samples) >= limit:
            return MetricSet(samples, bad, skipped, truncated=True)
    return MetricSet(samples, bad, skipped)


# --------------------------------------------------------------------------
# Scalar strings from SHOW BACKENDS / show_proc / information_schema
# --------------------------------------------------------------------------

_SIZE_RE = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([KMGTPE]?)B?\s*", re.I)
_SIZE_EXP = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_PERCENT_RE = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*%?\s*")
_NUMBER_RE = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?:\s*[A-Za-z]+)?\s*")
_VERSION_RE = re.compile(r"(?<![0-9A-Za-z.])[vV]?(\d+\.\d+(?:\.\d+)?)(?![0-9])")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_size(text: str | None) -> int | None:
    """StarRocks size string (`"1.800 TB"`, `"57.012GB"`, `"0.000 "`, `"1234"`) to bytes, 1024 steps.

    The unit may lack the space (MemLimit) or be empty (Doris-style bytes);
    N/A, NULL, \\N, a size too large for a float (`"1e309 B"`) and anything else unparseable give None.
    """
    match = _SIZE_RE.fullmatch(str(text)) if text is not None else None
    if match is None:
        return None
    size = float(match.group(1)) * 1024 ** _SIZE_EXP[match.group(2).upper()]
    return round(size) if math.isfinite(size) else None


def parse_percent(text: str | None) -> float | None:
    """Percent string (`"19.83 %"`, `"27.16%"`, `"0.0 %"`) to a float; None if unparseable."""
    match = _PERCENT_RE.fullmatch(str(text)) if text is not None else None
    number = float(match.group(1)) if match else None
    return number if number is not None and math.isfinite(number) else None


def parse_bool(text: Any) -> bool | None:
    """`"true"`/`"false"` (any case), True/False, 1/0 or `"1"`/`"0"` to bool; else None."""
    if isinstance(text, int):
        return bool(text) if text in (0, 1) else None
    if not isinstance(text, str):
        return None
    return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())


def parse_float(text: Any) -> float | None:
    """Finite number with an optional unit word (`"4.231 s"`, `"1023445 rows"`, 3.5) to float; else None."""
    match = _NUMBER_RE.fullmatch(str(text)) if text is not None else None
    number = float(match.group(1)) if match else None
    return number if number is not None and math.isfinite(number) else None


def parse_int(text: Any) -> int | None:
    """Integer with an optional unit word (`"42"`, 42, `"1023445 rows"`) to int; else None.

    Integral floats such as `"42.0"` are accepted; fractional ones give None
    rather than being silently truncated.
    """
    match = _NUMBER_RE.fullmatch(str(text)) if text is not None else None
    if match is None:
        return None
    try:
        return int(match.group(1))
    except ValueError:
        number = float(match.group(1))
        return int(number) if number.is_integer() else None


def parse_status_json(text: str | None) -> dict:
    """Decode the SHOW BACKENDS `Status` column, a JSON object inside a string; {} if not one."""
    if not isinstance(text, str):
        return {}
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def parse_version(text: str | None) -> str | None:
    """Release number (`"3.3.5"`) from `current_version()` or a node Version column; else None.

    Works for `"3.3.5 6d81f75"`, `"3.3.5-6d81f75"` and vendor strings like
    `"meidi-dev-3.1.7-bc488c8"`; a dotless build id such as `"JSON-410e4c8"`
    has no release number, and hex hashes are never taken for one.
    """
    if not isinstance(text, str):
        return None
    match = _VERSION_RE.search(text)
    return match.group(1) if match else None


# --------------------------------------------------------------------------
# /api/show_proc bodies and result rows
# --------------------------------------------------------------------------

BACKEND_COLUMNS_25: tuple[str, ...] = (
    "BackendId",
    "IP",
    "HeartbeatPort",
    "BePort",
    "HttpPort",
    "BrpcPort",
    "LastStartTime",
    "LastHeartbeat",
    "Alive",
    "SystemDecommissioned",
    "ClusterDecommissioned",
    "TabletNum",
    "DataUsedCapacity",
    "AvailCapacity",
    "TotalCapacity",
    "UsedPct",
    "MaxDiskUsedPct",
    "ErrMsg",
    "Version",
    "Status",
    "DataTotalCapacity",
    "DataUsedPct",
    "CpuCores",
)
BACKEND_COLUMNS_30: tuple[str, ...] = BACKEND_COLUMNS_25 + (
    "NumRunningQueries",
    "MemUsedPct",
    "CpuUsedPct",
)
FRONTEND_COLUMNS: tuple[str, ...] = (
    "Name",
    "IP",
    "EditLogPort",
    "HttpPort",
    "QueryPort",
    "RpcPort",
    "Role",
    "ClusterId",
    "Join",
    "Alive",
    "ReplayedJournalId",
    "LastHeartbeat",
    "IsHelper",
    "ErrMsg",
    "StartTime",
    "Version",
)
# Known positional layouts of the pre-3.1 list-of-lists body, longest last.
_KNOWN_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "/backends": (BACKEND_COLUMNS_25, BACKEND_COLUMNS_30),
    "/frontends": (FRONTEND_COLUMNS,),
}
_JSON_TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


def _json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), "number")


def _names_for(path: str, width: int) -> tuple[str, ...]:
    known = _KNOWN_COLUMNS.get("/" + path.strip("/"), ())
    for names in known:
        if len(names) == width:
            return names
    prefix = known[-1][:width] if known else ()
    return prefix + tuple(f"col{i}" for i in range(len(prefix), width))


def proc_rows(payload: Any, path: str) -> list[dict[str, str]]:
    """Normalise a decoded `/api/show_proc` body into one dict per row, keyed by column.

    3.1+ returns a list of objects; up to 3.0 a list of lists without names,
    mapped here by the column list whose length matches (unknown extra
    positions become `col<i>`, i being the 0-based position). Anything else
    raises ValueError, because it means we are not talking to a StarRocks FE.
    """
    if not isinstance(payload, list):
        raise ValueError(f"expected a JSON array of rows, got {_json_type(payload)}")
    if all(isinstance(row, dict) for row in payload):
        return [{key: _text(value) for key, value in row.items()} for row in payload]
    if all(isinstance(row, list) for row in payload):
        return [dict(zip(_names_for(path, len(row)), map(_text, row))) for row in payload]
    kinds = sorted({_json_type(row) for row in payload})
    raise ValueError(f"expected a JSON array of rows, got array of {'/'.join(kinds)}")


def column(row: dict, *names: str) -> str | None:
    """Value of the first of `names` present in `row`, case-insensitively, as str; else None.

    Needed because spellings drift (3.2.0 `location`, later `Location`) and
    DictCursor rows hold int/float/None; a SQL NULL stays None.
    """
    lowered: dict[str, Any] | None = None
    for name in names:
        if name in row:
            return _text(row[name])
        if lowered is None:
            lowered = {str(key).lower(): key for key in row}
        if name.lower() in lowered:
            return _text(row[lowered[name.lower()]])
    return None
