"""The emulated workload's shape over time: weekdays and weekends, daily peaks, bursts, drift.

A real cluster is busy in business hours, quiet at night and at weekends, has a nightly ETL
bump, bursts now and then, and grows week over week. `Workload.daily(t)` is that relative load
(about 1 on average over a week), piecewise linear between knots every 5 minutes, so its
integral (`daily_integral`) is exact: FE query counters and BE CPU jiffies integrate the very
curve the gauges show, and stay monotonic. Knot values are a pure function of the seed and the
knot's time, computed with numpy eight days at a time and cached.
"""

from __future__ import annotations

import math
import zlib
from array import array
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

GB = 1024**3
TB = 1024**4
DAY = 86400.0
WEEK = 7 * DAY
KNOT = 300.0  # seconds between knots of the load curve
BLOCK = 8 * DAY  # the curve is computed and cached a block of days at a time
_BLOCK_KNOTS = int(BLOCK // KNOT)
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


_ANCHORS = np.array([_WEEKDAY, _WEEKEND]) / _WEEK_MEAN  # [is weekend, UTC hour]


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
        """Relative load at time t: about 1 on average over a week (exactly 1 when flat)."""
        if self.daily_amplitude == 0:
            return 1.0
        values, _, j, x = self._at(t)
        return values[j] + (values[j + 1] - values[j]) * x

    def daily_integral(self, t0: float, t1: float) -> float:
        """Exact integral of `daily` from t0 to t1, in seconds."""
        if t1 <= t0:
            return 0.0
        if self.daily_amplitude == 0:
            return t1 - t0
        params = self._params()
        whole = sum(_block_total(params, b) for b in range(int(t0 // BLOCK), int(t1 // BLOCK)))
        return whole + self._within(t1) - self._within(t0)

    def _at(self, t: float) -> tuple[array, array, int, float]:
        """t's block (its knot values and their integrals from the block's start), the knot before
        t within it, and how far t is towards the next knot (0 to 1)."""
        k = t / KNOT
        i = math.floor(k)
        block, j = divmod(i, _BLOCK_KNOTS)
        values, prefix = _block(self._params(), block)
        return values, prefix, j, k - i

    def _within(self, t: float) -> float:
        """Integral of `daily` from the start of t's block to t."""
        values, prefix, j, x = self._at(t)
        return prefix[j] + KNOT * x * (values[j] + 0.5 * (values[j + 1] - values[j]) * x)

    def jitter(self, *key: object) -> float:
        """Multiplicative noise factor in [1 - noise, 1 + noise]."""
        return 1.0 + self.noise * (2 * unit_hash(self.seed, *key) - 1)


_MASK = 2**64 - 1


def _uniform(seed: int, keys: np.ndarray) -> np.ndarray:
    """Deterministic numbers in [0, 1), one per integer key (splitmix64, vectorised: seeding a
    numpy generator per day costs more than the whole day's knots)."""
    x = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64((seed * 0x632BE59BD9B4E019) & _MASK)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(float) * 2.0**-53


def _knots(params: tuple, k: np.ndarray) -> np.ndarray:
    """The load at knots k (k * KNOT seconds since the epoch): a pure function of the seed and the
    knot, computed for many knots at once."""
    seed, amplitude, noise, events, growth, origin = params
    hour, into = np.divmod(k, 3600 // int(KNOT))
    anchor = _ANCHORS[((hour // 24 + 3) % 7 >= 5).astype(int), hour % 24]
    after = _ANCHORS[(((hour + 1) // 24 + 3) % 7 >= 5).astype(int), (hour + 1) % 24]
    shape = anchor + (after - anchor) * into * KNOT / 3600
    shape *= np.minimum(2.0, np.maximum(0.5, 1 + growth * (k * KNOT - origin) / WEEK))
    shape *= 1 + 0.5 * noise * (2 * _uniform(seed, 3 * k) - 1)
    if events:
        burst = _uniform(seed, 3 * k + 1) < BURST_SHARE
        shape = np.where(burst, shape * (1.4 + 0.6 * _uniform(seed, 3 * k + 2)), shape)
    return np.maximum(_FLOOR, 1 + amplitude / REFERENCE_AMPLITUDE * (shape - 1))


# A cluster's round needs the block holding now and the one holding its nodes' start times (the
# blocks between only by their totals): room for a few hundred emulated clusters.
@lru_cache(maxsize=1024)
def _block(params: tuple, block: int) -> tuple[array, array]:
    """One block's knot values (the next block's first included) and the integral from the block's
    start to each knot, as plain floats."""
    values = _knots(params, block * _BLOCK_KNOTS + np.arange(_BLOCK_KNOTS + 1))
    prefix = np.concatenate(([0.0], np.cumsum(KNOT * 0.5 * (values[:-1] + values[1:]))))
    return array("d", values.tobytes()), array("d", prefix.tobytes())


@lru_cache(maxsize=65536)
def _block_total(params: tuple, block: int) -> float:
    """The integral of the load over one whole block."""
    return _block(params, block)[1][-1]
