"""The README documents every setting, environment variable, fault switch and emulator flag."""

from __future__ import annotations

import re

import pytest

from starmon.config import ENV_SETTINGS, SETTINGS
from starmon.emulator.__main__ import _parser
from starmon.emulator.model import Faults
from starmon.health import CARDS

from .fixtures import ROOT, SAMPLES

README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS + ENV_SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_documented_with_its_default(setting):
    row = next((line for line in README.splitlines() if line.startswith(f"| `{setting.name}` |")), None)
    assert row is not None, f"README has no table row for {setting.name}"
    assert str(setting.default).lstrip("./") in row
    if setting in SETTINGS:
        assert f"| {setting.low:g}–{setting.high:g} |" in row, f"README's range for {setting.name} is not the code's"


@pytest.mark.parametrize("switch", Faults.SWITCHES)
def test_every_fault_switch_is_documented(switch):
    assert re.search(rf"^\| `{switch}` \|", README, re.M)


def test_every_emulator_flag_is_documented():
    flags = [s for a in _parser()._actions for s in a.option_strings if s.startswith("--") and s != "--help"]
    assert flags and [f for f in flags if f"`{f}" not in README] == []


@pytest.mark.parametrize("card", [c for c in CARDS if c.bad], ids=lambda c: c.key)
def test_every_threshold_is_documented_with_its_levels(card):
    assert f"| `{card.key}` | {card.unit or '-'} | {card.bad} | {card.warning:g} | {card.critical:g} |" in README


def test_sample_copies_match_shared():
    """tests/samples are copies of shared/starrocks/samples (so a fresh clone is self-contained)."""
    shared = ROOT.parent / "shared" / "starrocks" / "samples"
    if not shared.is_dir():
        pytest.skip("no shared/ folder beside this checkout")
    assert sorted(p.name for p in shared.iterdir()) == sorted(p.name for p in SAMPLES.iterdir())
    assert all((SAMPLES / p.name).read_bytes() == p.read_bytes() for p in shared.iterdir())


def test_the_limits_on_what_a_cluster_sends_are_the_codes():
    from starmon.config import ROUND_DEADLINE_TIMEOUTS
    from starmon.fetch import MAX_JSON_BYTES, MAX_METRICS_BYTES, MAX_SAMPLES
    from starmon.round import MAX_NODES, MAX_SCRAPES_AT_ONCE

    rows = {
        line.split("|")[1].strip(): line.split("|")[2].strip()
        for line in README.splitlines()
        if line.startswith("| ") and line.count("|") == 4
    }
    assert rows["one `/metrics` answer"] == f"{MAX_METRICS_BYTES // 2**20} MiB, decompressed"
    assert rows["one JSON answer (show_proc, runtime info)"] == f"{MAX_JSON_BYTES // 2**20} MiB"
    assert rows["samples of the metric names starmon reads, per answer"] == f"{MAX_SAMPLES:,}"
    assert rows["nodes per round (FE, BE and CN together)"] == f"{MAX_NODES:,}"
    assert rows["/metrics scrapes in flight per cluster"] == str(MAX_SCRAPES_AT_ONCE)
    assert rows["one cluster's round"].startswith(f"{ROUND_DEADLINE_TIMEOUTS} × `timeout_seconds`")


def test_config_fields_are_the_declared_settings_with_their_defaults():
    import dataclasses

    from starmon.config import Config

    fields = {f.name: f for f in dataclasses.fields(Config)}
    for setting in SETTINGS:
        assert fields[setting.name].default == setting.default, setting.name
        assert fields[setting.name].type in (type(setting.default).__name__, type(setting.default)), setting.name
