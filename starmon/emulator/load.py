"""The emulated workload's shape over time: weekdays and weekends, daily peaks, bursts, drift.

A real cluster is busy in business hours, quiet at night and at weekends, has a nightly ETL
bump, bursts now and then, and grows week over week. `Workload.daily(t)` is that relative load
(about 1 on average over a week), piecewise linear between knots every 5 minutes, so its
integral (`daily_integral`) is exact: FE query counters and BE CPU jiffies integrate the very
curve the gauges show, and stay monotonic. Knot values are a pure function of the seed and the
knot's time, computed a day at a time and cached.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from functools import lru_cache

GB = 1024**3
TB = 1024**4
DAY = 86400.0
WEEK = 7 * DAY
KNOT = 300.0  # seconds between knots of the load curve
_KNOTS_PER_DAY = int(DAY // KNOT)
_FLOOR = 0.02  # the load never reaches zero: counters keep growing

# Relative load at each UTC hour (interpolated in between): a weekday has a nightly ETL bump
# around 02:00, a morning ramp, a lunch dip and an afternoon peak at 15:00; a weekend is lower
# and flatter. Scaled below so the mean over a week is 1.
_WEEKDAY = (0.45, 0.55, 0.75, 0.70, 0.45, 0.35, 0.40, 0.60, 0.95, 1.30, 1.45, 1.45)
_WEEKDAY += (1.25, 1.40, 1.60, 1.70, 1.60, 1.35, 1.05, 0.85, 0.75, 0.65, 0.55, 0.50)
_WEEKEND = (0.40, 0.50, 0.70, 0.65, 0.40, 0.30, 0.30, 0.32, 0.38, 0.45, 0.52, 0.58)
_WEEKEND += (0.60, 0.62, 0.63, 0.62, 0.60, 0.56, 0.52, 0.50, 0.48, 0.46, 0.44, 0.42)
_WEEK_MEAN = (5 * sum(_WEEKDAY) + 2 * sum(_WEEKEND)) / (7 * 24)
REFERENCE_AMPLITUDE = 0.5  # daily_amplitude at which daily() is the shape above as is
BURST_SHARE = 0.015  # of 5-minute knots that carry a burst (with events on)


def unit_hash(*parts: object) -> float:
    """Deterministic pseudo-random number in [0, 1) for the given key."""
    return zlib.crc32(":".join(map(str, parts)).encode()) / 2**32


def is_weekend(t: float) -> bool:
    """Whether t falls on a Saturday or Sunday, UTC (1970-01-01 was a Thursday)."""
    return (int(t // DAY) + 3) % 7 >= 5


def _hourly(hour: int) -> float:
    """The shape's value at the start of an absolute UTC hour (hours since the epoch)."""
    table = _WEEKEND if is_weekend(hour * 3600.0) else _WEEKDAY
    return table[hour % 24] / _WEEK_MEAN


@dataclass
class Workload:
    """What the emulated cluster is told to serve; tests set these and check the results.

    `daily_amplitude`, `noise` and `events` at 0, 0 and False make every rate flat and exact.
    """

    qps: float = 40.0  # cluster-wide queries per second, the mean over a week
    daily_amplitude: float = 0.5  # how far load strays from its mean: 0.5 the shape as drawn, 0 flat
    error_fraction: float = 0.002  # share of queries that fail outside bursts
    latency_ms: float = 25.0  # p50 query latency on the leader
    noise: float = 0.1  # relative jitter of gauges; 0 = exact values
    disk_growth_pct_per_day: float = 0.8  # of each BE's capacity, the cluster's mean
    events: bool = True  # occasional bursts of load, query errors and slow queries
    seed: int = 7
    response_ms: float = 0.0  # time every answer takes (network round trip plus the FE's own work)
    weekly_growth: float = 0.04  # slow drift: load grows this share a week (scaled by daily_amplitude)
    drift_origin: float = 0.0  # where the drift is 1 (the model sets its start time when 0)

    def _params(self) -> tuple:
        return (self.seed, self.daily_amplitude, self.noise, self.events, self.weekly_growth, self.drift_origin)

    def daily(self, t: float) -> float:
        """Relative load at time t: about 1 on average over a week."""
        k = t / KNOT
        i = math.floor(k)
        day, j = divmod(i, _KNOTS_PER_DAY)
        values, _ = _day(self._params(), day)
        return values[j] + (values[j + 1] - values[j]) * (k - i)

    def daily_integral(self, t0: float, t1: float) -> float:
        """Exact integral of `daily` from t0 to t1, in seconds."""
        if t1 <= t0:
            return 0.0
        d0, d1 = int(t0 // DAY), int(t1 // DAY)
        params = self._params()
        whole = sum(_day(params, d)[1][-1] for d in range(d0, d1))
        return whole + self._within(params, t1) - self._within(params, t0)

    def _within(self, params: tuple, t: float) -> float:
        """Integral of `daily` from the start of t's UTC day to t."""
        k = t / KNOT
        i = math.floor(k)
        day, j = divmod(i, _KNOTS_PER_DAY)
        values, prefix = _day(params, day)
        x = k - i
        return prefix[j] + KNOT * x * (values[j] + 0.5 * (values[j + 1] - values[j]) * x)

    def jitter(self, *key: object) -> float:
        """Multiplicative noise factor in [1 - noise, 1 + noise]."""
        return 1.0 + self.noise * (2 * unit_hash(self.seed, *key) - 1)


def _knot(params: tuple, k: int) -> float:
    """The load at knot k (k * KNOT seconds since the epoch)."""
    seed, amplitude, noise, events, growth, origin = params
    if amplitude == 0:
        return 1.0
    t = k * KNOT
    hour, into = divmod(t, 3600.0)
    a, b = _hourly(int(hour)), _hourly(int(hour) + 1)
    shape = a + (b - a) * into / 3600.0
    shape *= min(2.0, max(0.5, 1 + growth * (t - origin) / WEEK))
    shape *= 1 + 0.5 * noise * (2 * unit_hash(seed, "knot", k) - 1)
    if events and unit_hash(seed, "burst", k) < BURST_SHARE:
        shape *= 1.4 + 0.6 * unit_hash(seed, "burst size", k)
    return max(_FLOOR, 1 + amplitude / REFERENCE_AMPLITUDE * (shape - 1))


@lru_cache(maxsize=512)
def _day(params: tuple, day: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """One UTC day's knot values (its 289 knots, the next day's first included) and the integral
    from the day's start to each knot."""
    first = day * _KNOTS_PER_DAY
    values = tuple(_knot(params, first + j) for j in range(_KNOTS_PER_DAY + 1))
    prefix = [0.0]
    for j in range(_KNOTS_PER_DAY):
        prefix.append(prefix[-1] + KNOT * 0.5 * (values[j] + values[j + 1]))
    return values, tuple(prefix)
