"""Disk-full forecast on synthetic series with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from starmon.forecast import DAY, describe, first_to_fill, fit, headline

TB = 1024**4
NOW = 1_790_000_000.0


def series(days=7.0, step=300.0, start_pct=50.0, pct_per_day=1.0, noise_pct=0.0, seed=1, capacity=TB):
    t = np.arange(NOW - days * DAY, NOW + 1, step)
    used = capacity * (start_pct + pct_per_day * (t - t[0]) / DAY) / 100
    if noise_pct:
        used = used + np.random.default_rng(seed).normal(0, capacity * noise_pct / 100, len(t))
    return t, used


def true_days_to(level_pct, start_pct=50.0, pct_per_day=1.0, days=7.0):
    return (level_pct - (start_pct + pct_per_day * days)) / pct_per_day


def test_steady_slope_within_two_percent():
    f = fit(*series(), TB)
    assert f.status == "ok" and f.outliers_dropped == 0
    assert f.days_to_95 == pytest.approx(true_days_to(95), rel=0.02)
    assert f.days_to_85 == pytest.approx(true_days_to(85), rel=0.02)
    assert f.days_to_full == pytest.approx(true_days_to(100), rel=0.02)
    assert f.slope_bytes_per_day == pytest.approx(TB / 100, rel=0.01)
    assert f.r2 == pytest.approx(1.0)


@pytest.mark.parametrize("pct_per_day", [0.0, -0.5])
def test_flat_or_shrinking_is_not_growing(pct_per_day):
    f = fit(*series(pct_per_day=pct_per_day), TB)
    assert f.status == "not_growing" and f.days_to_95 is None and f.full_at is None


def test_noisy_series_true_date_inside_the_interval():
    misses = 0
    for seed in range(20):
        f = fit(*series(noise_pct=0.8, seed=seed), TB)
        assert f.status == "ok" and f.interval_days > 0
        misses += abs(f.days_to_95 - true_days_to(95)) > f.interval_days
    assert misses <= 2  # a 95 % interval may miss now and then, not often


def test_one_wild_outlier_barely_moves_the_forecast():
    t, used = series()
    clean = fit(t, used, TB)
    used = used.copy()
    used[len(used) // 2] = 0.0  # a dead BE reporting 0
    dirty = fit(t, used, TB)
    assert dirty.outliers_dropped == 1
    assert dirty.days_to_95 == pytest.approx(clean.days_to_95, rel=0.005)


def test_too_little_history_says_what_is_needed():
    f = fit(*series(days=3 / 24), TB)
    assert f.status == "insufficient_data"
    assert "3.0 more hours of history" in f.message
    f = fit(*series(days=1, step=7200), TB)
    assert f.status == "insufficient_data" and "more data points" in f.message


def test_already_above_95():
    f = fit(*series(start_pct=94, pct_per_day=0.5), TB)
    assert f.status == "above_threshold" and "already above 95 %" in f.message


def test_the_fastest_be_is_first_to_fill():
    nodes = [
        fit(*series(start_pct=40, pct_per_day=0.5), TB, "BE 10.0.0.1"),
        fit(*series(start_pct=45, pct_per_day=3.0), TB, "BE 10.0.0.3"),
        fit(*series(start_pct=60, pct_per_day=0.2), TB, "BE 10.0.0.2"),
    ]
    cluster = fit(*series(start_pct=48, pct_per_day=1.2, capacity=3 * TB), 3 * TB)
    assert first_to_fill(nodes).subject == "BE 10.0.0.3"
    lead = headline(cluster, nodes)
    assert lead["first_node"] == "BE 10.0.0.3"
    assert lead["days_to_95"] == pytest.approx(true_days_to(95, 45, 3.0), rel=0.02)
    assert lead["cluster"]["days_to_95"] > lead["days_to_95"]
    assert describe(lead).startswith("95 % in ~") and describe(lead).endswith("BE 10.0.0.3 first")


def _lead(days_to_95: float, interval_days: float) -> dict:
    return {"status": "ok", "days_to_95": days_to_95, "interval_days": interval_days, "at_95": "2026-12-09T10:00+00:00"}


@pytest.mark.parametrize(
    "days, interval, sentence",
    [
        (46.2, 1 / 24, "95 % in ~46 days (Dec 09, ± 1 day)"),  # an hour on 46 days is false precision
        (46.2, 2.3, "95 % in ~46 days (Dec 09, ± 3 days)"),
        (12.0, 0.5, "95 % in ~12 days (Dec 09, ± 1 day)"),
        (1.3, 0.1, "95 % in ~31 h (Dec 09, ± 3 h)"),  # under two days, hours both
        (1.3, float("inf"), "95 % in ~31 h (Dec 09)"),
    ],
)
def test_the_interval_is_in_the_unit_of_the_estimate(days, interval, sentence):
    assert describe(_lead(days, interval)) == sentence


def test_the_interval_of_a_real_fit_is_whole_days_when_the_date_is_days_away():
    f = fit(*series(noise_pct=0.05), TB)
    lead = headline(f, [])
    assert f.days_to_95 > 2 and 0 < f.interval_days < 1
    assert describe(lead).endswith(", ± 1 day)")
