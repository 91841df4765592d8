"""The aggregation rules an operator relies on, checked on recorded rounds: no socket, milliseconds.

Each round is recorded from the emulator's renderers (the wire formats a StarRocks FE and BE
send) into a directory, read back through recorded.RecordedSource and the same assembly as a
live round (round.fetch_round), then aggregated. The numbers are checked against what the
emulator was told to serve.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from starmon import recorded
from starmon.aggregate import build_round
from starmon.config import ClusterConfig
from starmon.emulator import exposition, proc, sqlviews
from starmon.emulator.model import ClusterModel, Workload
from starmon.emulator.profiles import PROFILES
from starmon.readings import PreviousRound, Status
from starmon.round import fetch_round

T0 = 1_780_000_000.0
QPS = 60.0
EXACT = Workload(qps=QPS, noise=0.0, daily_amplitude=0.0, events=False)


def _model() -> ClusterModel:
    return ClusterModel(
        "rules",
        PROFILES["3.3"],
        ["127.0.0.1", "127.0.0.2"],
        ["127.0.0.3", "127.0.0.4", "127.0.0.5"],
        http_port=8030,
        query_port=9030,
        be_http_port=8040,
        workload=EXACT,
        clock=lambda: T0,
    )


def record(model: ClusterModel, directory: Path) -> Path:
    """What a round would read from the model now, as files; a node that is down answers nothing."""
    t, leader = model.now(), model.leader
    answers: dict = {
        f"show_proc/{path}.json": proc.proc_body(model, leader, f"/{path}", t)
        for path in ("frontends", "backends", "compute_nodes")
    }
    answers["runtime_info.json"] = proc.runtime_info(model, leader, t)
    rows, columns = sqlviews.answer(model, leader, "SELECT current_version()", t)
    answers["sql.json"] = {"SELECT current_version()": [dict(zip(columns, row)) for row in rows]}
    for kind, nodes, render in (
        ("fe", model.frontends, exposition.fe_metrics),
        ("be", model.backends, exposition.be_metrics),
    ):
        answers |= {f"metrics/{kind}-{n.host}.txt": render(model, n, t) for n in nodes if model.alive(n)}
    cluster = ClusterConfig(model.name, leader.host, model.http_port, model.query_port)
    return recorded.write(directory, cluster, answers)


def replay(directory: Path, previous=None):
    raw = asyncio.run(fetch_round(recorded.RecordedSource(directory), recorded_ts(directory), 10.0))
    return build_round(raw, previous)


def recorded_ts(directory: Path) -> float:
    return float(directory.name)


def rounds(model: ClusterModel, tmp_path: Path, *steps) -> list:
    """Record and aggregate a round now, then one after each step (seconds to advance, or a callable)."""
    out, previous = [], None
    for step in (0, *steps):
        if callable(step):
            step()
            continue
        model.advance(step)
        snapshot, nodes = replay(record(model, tmp_path / str(model.now())), previous)
        previous = PreviousRound(snapshot.ts, nodes)
        out.append((snapshot, nodes))
    return out


def test_a_recorded_round_reads_like_the_live_one(tmp_path):
    (snapshot, nodes), (second, _) = rounds(_model(), tmp_path, 30)
    assert snapshot.status == Status.OK and snapshot.error is None and snapshot.source == "show_proc"
    assert (snapshot.frontend_total, snapshot.backend_total) == (2, 3) and len(nodes) == 5
    assert snapshot.qps == pytest.approx(QPS, rel=0.05)  # the FE gauge, with no previous round
    assert second.qps == pytest.approx(QPS, rel=0.01)  # counter deltas over 30 s: exact


def test_an_fe_restart_between_rounds_counts_from_zero_not_negative(tmp_path):
    model = _model()
    restarted = model.frontends[1]
    _, (snapshot, nodes) = rounds(model, tmp_path, lambda: (model.advance(10), model.restart_fe(1)), 20)
    fes = {n.host: n for n in nodes if n.role == "FE"}
    leader = model.frontends[0]
    assert fes[leader.host].qps == pytest.approx(leader.share * QPS, rel=0.01)
    # counted from zero for the 20 s since its restart, over the 30 s window: that share of its rate
    assert fes[restarted.host].qps == pytest.approx(restarted.share * QPS * 20 / 30, rel=0.01)
    assert all(n.qps >= 0 for n in fes.values()) and snapshot.qps < 1.5 * QPS


def test_a_dead_be_is_unknown_not_zero(tmp_path):
    model = _model()
    _, (snapshot, nodes) = rounds(model, tmp_path, lambda: model.set_faults({"be_down": [1]}), 30)
    dead = next(n for n in nodes if n.role == "BE" and n.host == model.backends[1].host)
    assert dead.alive is False and dead.cpu_pct is None and dead.mem_pct is None
    assert (snapshot.backend_total, snapshot.backend_alive, snapshot.status) == (3, 2, Status.PARTIAL)
    assert "not alive" in snapshot.error and model.backends[1].host in snapshot.error


def test_an_answer_not_recorded_is_a_problem_of_the_round(tmp_path):
    model = _model()
    directory = record(model, tmp_path / str(T0))
    (directory / f"metrics/be-{model.backends[0].host}.txt").unlink()
    snapshot, nodes = replay(directory)
    assert snapshot.status == Status.PARTIAL and "not recorded" in snapshot.error
    assert next(n for n in nodes if n.host == model.backends[0].host).mem_used_bytes is None


def test_another_cluster_behind_the_same_address_starts_a_new_series_not_a_spike(tmp_path):
    """The README once pointed `demo` at a second emulator: its FEs, with the same names but counters
    of another lifetime, made one round of 270,305 queries/s. An FE that started before the
    previous round last heard from it did not restart in between: no rate from its counters."""
    [(before, before_nodes)] = rounds(_model(), tmp_path / "a")
    other = _model()
    for fe in other.frontends:  # started before the first cluster's previous heartbeat
        fe.started_at -= 3 * 86400
    other.advance(30)
    directory = record(other, tmp_path / "b" / str(other.now()))
    snapshot, nodes = replay(directory, PreviousRound(before.ts, before_nodes))
    assert snapshot.qps == pytest.approx(QPS, rel=0.05)  # the FEs' own gauge, not 3 days of queries in 30 s
    assert all(n.qps < 2 * QPS for n in nodes if n.role == "FE")
