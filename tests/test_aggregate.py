"""build_round reads only the /metrics names it declares, so the collector may parse only those."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re

import pytest

from starmon import aggregate
from starmon.aggregate import BE_METRICS, FE_METRICS, build_round
from starmon.demo import replay_round
from starmon.emulator import exposition
from starmon.emulator.model import ClusterModel
from starmon.emulator.profiles import PROFILES
from starmon.parse import parse_prometheus
from starmon.readings import PreviousRound

T0 = 1_780_000_000.0


def _names_read() -> set[str]:
    """Metric names passed as the first argument of any call in aggregate.py (MetricSet lookups
    and the local `get`/`lget` shorthands alike)."""
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(aggregate))):
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and re.fullmatch(r"(starrocks_\w+|jvm_\w+|node_info)", node.args[0].value)
        ):
            names.add(node.args[0].value)
    return names


def test_every_name_read_is_declared():
    read = _names_read()
    assert len(read) >= 20, read  # the scan itself works
    assert {n for n in read if n.startswith("starrocks_be_")} <= BE_METRICS
    assert {n for n in read if not n.startswith("starrocks_be_")} <= FE_METRICS


def _model(profile: str) -> ClusterModel:
    return ClusterModel(
        "agg",
        PROFILES[profile],
        ["127.0.0.1", "127.0.0.2"],
        ["127.0.0.3", "127.0.0.4", "127.0.0.5"],
        http_port=8030,
        query_port=9030,
        be_http_port=8040,
        clock=lambda: T0,
    )


def _fully_parsed(model: ClusterModel, t: float):
    """The replayed round with every /metrics body parsed in full, as the probe does."""
    raw = replay_round(model, t)
    return dataclasses.replace(
        raw,
        fe_metrics={fe.host: parse_prometheus(exposition.fe_metrics(model, fe, t)) for fe in model.frontends},
        be_metrics={be.host: parse_prometheus(exposition.be_metrics(model, be, t)) for be in model.backends},
    )


def _damage(raw, model: ClusterModel, variant: str) -> None:
    if variant == "leader /metrics failed":
        raw.fe_metrics.pop(model.leader.host)
        raw.node_errors[True, model.leader.host] = "HTTP 500"
    elif variant == "leader unmarked in the list":  # the leader is then found by node_info
        for row in raw.frontends:
            row.update(Role="FOLLOWER", IsMaster="false")


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("variant", ["as served", "leader /metrics failed", "leader unmarked in the list"])
def test_selective_parse_gives_the_same_round(profile, variant):
    model = _model(profile)
    rounds = []
    for raw_of in (replay_round, _fully_parsed):
        first, second = raw_of(model, T0), raw_of(model, T0 + 30)
        _damage(first, model, variant)
        _damage(second, model, variant)
        snapshot, nodes = build_round(first, None)
        rounds.append(build_round(second, PreviousRound(ts=first.ts, nodes=nodes)))
    selective, full = rounds
    assert selective == full
    snapshot = selective[0]
    assert snapshot.qps is not None and snapshot.query_latency_p99 is not None
    assert snapshot.total_cpu_usage is not None and snapshot.total_memory_usage is not None
    leader_read = variant != "leader /metrics failed"  # leader-only numbers are then unknown, not 0
    assert (snapshot.txn_success_total is not None) == leader_read
