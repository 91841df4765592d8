"""Disk-full forecast: a robust straight line through used bytes, per BE and for the cluster.

Pure functions over arrays, so they are tested on synthetic series with known answers.
The fit is ordinary least squares, then points whose residual is more than 5 robust
standard deviations (MAD x 1.4826) from the median are dropped and the line refitted,
so one dead BE reporting 0 or one purge does not swing the date. The interval on the
95 % date is a prediction interval from the residuals, turned into days through the slope.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import numpy as np

DAY = 86400.0
LEVELS = {"85": 0.85, "95": 0.95, "full": 1.0}
MIN_HOURS = 6.0
MIN_POINTS = 20
OUTLIER_SIGMAS = 5.0
Z95 = 1.96


@dataclass(frozen=True)
class Forecast:
    """What an operator reads off the fit; every field is None when it does not apply."""

    status: str  # ok, insufficient_data, not_growing, above_threshold
    subject: str  # "cluster" or the node ("BE 10.0.0.3")
    slope_bytes_per_day: float | None = None
    r2: float | None = None
    used_pct: float | None = None  # latest fitted usage
    days_to_85: float | None = None
    days_to_95: float | None = None
    days_to_full: float | None = None
    full_at: str | None = None  # ISO time the line reaches 100 %
    at_95: str | None = None  # ISO time the line reaches 95 %
    interval_days: float | None = None  # half-width of the 95 % date's prediction interval
    outliers_dropped: int = 0
    points: int = 0
    message: str | None = None  # in words, e.g. "needs 3.5 more hours of history"
    intercept: float | None = None  # bytes at t = 0 (epoch seconds), to draw the line
    slope_per_second: float | None = None
    capacity: float | None = None
    residual_sd: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="minutes")


def _ols(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    tm, ym = t.mean(), y.mean()
    sxx = ((t - tm) ** 2).sum()
    slope = ((t - tm) * (y - ym)).sum() / sxx if sxx > 0 else 0.0
    return ym - slope * tm, slope


def fit(
    ts,
    used,
    capacity: float,
    subject: str = "cluster",
    *,
    now: float | None = None,
    min_hours: float = MIN_HOURS,
    min_points: int = MIN_POINTS,
) -> Forecast:
    """Forecast one series of (epoch seconds, used bytes) against a capacity in bytes."""
    t = np.asarray(ts, dtype=float)
    y = np.asarray(used, dtype=float)
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    now = float(t.max()) if now is None and len(t) else (now or 0.0)
    span_h = (t.max() - t.min()) / 3600 if len(t) else 0.0
    if not capacity or capacity <= 0:
        return Forecast("insufficient_data", subject, message="no disk capacity reported")
    if len(t) < min_points or span_h < min_hours:
        need = []
        if span_h < min_hours:
            need.append(f"{min_hours - span_h:.1f} more hours of history")
        if len(t) < min_points:
            need.append(f"{min_points - len(t)} more data points")
        return Forecast(
            "insufficient_data", subject, points=len(t), message=f"not enough history yet: needs {' and '.join(need)}"
        )

    t0 = t.min()
    x = t - t0  # fit on small numbers for precision
    a, b = _ols(x, y)
    resid = y - (a + b * x)
    mad = np.median(np.abs(resid - np.median(resid))) * 1.4826
    inliers = np.abs(resid - np.median(resid)) <= OUTLIER_SIGMAS * max(mad, 1e-9 * capacity)
    dropped = int((~inliers).sum())
    if dropped and inliers.sum() >= min_points:
        x, y = x[inliers], y[inliers]
        a, b = _ols(x, y)
        resid = y - (a + b * x)
    else:
        dropped = 0
    n = len(x)
    sd = math.sqrt((resid**2).sum() / max(n - 2, 1))
    total = ((y - y.mean()) ** 2).sum()
    r2 = 1 - (resid**2).sum() / total if total > 0 else None
    x_now = now - t0
    current = a + b * x_now
    common = dict(
        subject=subject,
        slope_bytes_per_day=b * DAY,
        r2=r2,
        used_pct=100 * current / capacity,
        outliers_dropped=dropped,
        points=n,
        intercept=a - b * t0,
        slope_per_second=b,
        capacity=capacity,
        residual_sd=sd,
    )
    if current >= LEVELS["95"] * capacity or y[-1] >= LEVELS["95"] * capacity:
        return Forecast("above_threshold", message=f"already above 95 % ({100 * current / capacity:.1f} %)", **common)
    if b <= 0:
        return Forecast("not_growing", message="disk use is not growing", **common)
    days = {k: max(0.0, (level * capacity - current) / b / DAY) for k, level in LEVELS.items()}
    x95 = x_now + days["95"] * DAY
    sxx = ((x - x.mean()) ** 2).sum()
    band = Z95 * sd * math.sqrt(1 + 1 / n + (x95 - x.mean()) ** 2 / sxx) if sxx > 0 else float("inf")
    return Forecast(
        "ok",
        days_to_85=days["85"],
        days_to_95=days["95"],
        days_to_full=days["full"],
        full_at=_iso(now + days["full"] * DAY),
        at_95=_iso(now + days["95"] * DAY),
        interval_days=band / b / DAY,
        **common,
    )


def first_to_fill(forecasts: list[Forecast]) -> Forecast | None:
    """The node that reaches 95 % first; one already above 95 % comes before all."""
    above = [f for f in forecasts if f.status == "above_threshold"]
    if above:
        return max(above, key=lambda f: f.used_pct or 0)
    growing = [f for f in forecasts if f.status == "ok"]
    return min(growing, key=lambda f: f.days_to_95) if growing else None


def headline(cluster: Forecast, nodes: list[Forecast]) -> dict:
    """The forecast as the JSON and the card report it: the first node to fill leads.

    The keys match the issue's contract; `cluster` and `nodes` carry every fit.
    """
    first = first_to_fill(nodes)
    lead = first if first is not None else cluster
    out = {
        k: getattr(lead, k)
        for k in (
            "status",
            "slope_bytes_per_day",
            "r2",
            "days_to_85",
            "days_to_95",
            "days_to_full",
            "full_at",
            "interval_days",
            "message",
        )
    }
    out.update(
        first_node=first.subject if first else None,
        at_95=lead.at_95,
        outliers_dropped=lead.outliers_dropped,
        cluster={k: v for k, v in cluster.as_dict().items() if not k.startswith(("intercept", "slope_per"))},
        nodes=[{k: v for k, v in n.as_dict().items() if not k.startswith(("intercept", "slope_per"))} for n in nodes],
    )
    return out


def describe(lead: dict) -> str:
    """One line for the Overview card and the Capacity caption, e.g.
    "95 % in ~46 days (Jan 15, ± 3 days) — BE 10.0.0.3 first".

    The interval is given in the estimate's own unit (see `estimate`): a date weeks away
    known to the hour would be false precision.
    """
    status = lead["status"]
    if status == "ok":
        when = datetime.fromisoformat(lead["at_95"]).strftime("%b %d")
        first = f" — {lead['first_node']} first" if lead.get("first_node") else ""
        value, spread = estimate(lead["days_to_95"], lead["interval_days"])
        return f"95 % in ~{value} ({when}{f', ± {spread}' if spread else ''}){first}"
    return lead.get("message") or status.replace("_", " ")


def estimate(days: float, interval_days: float | None = None) -> tuple[str, str | None]:
    """Days to an event and its ± half-width in one unit, e.g. ("46 days", "3 days") or ("31 h", "2 h").

    Whole days from two days on, whole hours below. The half-width is rounded up to that unit
    (at least one of it): 40 minutes on a date 46 days away is "± 1 day", never "± 1 h". No
    interval, or an unbounded one, gives no half-width.
    """
    size, unit = (1 / 24, "h") if days < 2 else (1.0, "day")

    def amount(n: int) -> str:
        return f"{n} h" if unit == "h" else f"{n} {unit if n == 1 else unit + 's'}"

    value = amount(round(days / size))
    if interval_days is None or not math.isfinite(interval_days):
        return value, None
    return value, amount(max(1, math.ceil(interval_days / size - 1e-9)))
