"""The emulator serves what the official StarRocks dashboard and alert rules read (issue 18).

Rendered in-process from a model per profile (no sockets): every family of
starmon/emulator/families.py with the label values it is read with, from the releases that
have it and not from the others; `promtool check metrics` accepts every answer; and the two
known faults stay fixed.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from starmon.emulator import exposition
from starmon.emulator.families import FAMILIES, serves
from starmon.emulator.model import ClusterModel
from starmon.emulator.profiles import PROFILES
from starmon.parse import parse_prometheus


def _model(profile: str) -> ClusterModel:
    fes = ["127.0.0.1", "127.0.0.2"]
    bes = ["127.0.0.3", "127.0.0.4", "127.0.0.5"]
    return ClusterModel("demo", PROFILES[profile], fes, bes, http_port=8030, query_port=9030, be_http_port=8040)


def _answers(profile: str) -> dict[str, str]:
    """The leader's, a follower's and a BE's /metrics bodies, an hour after the start."""
    model = _model(profile)
    t = model.now() + 3600
    return {
        "leader": exposition.fe_metrics(model, model.leader, t),
        "follower": exposition.fe_metrics(model, model.frontends[1], t),
        "be": exposition.be_metrics(model, model.backends[0], t),
    }


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_family_the_dashboard_and_rules_read_is_served_by_releases_that_have_it(profile):
    answers = _answers(profile)
    leader, be = parse_prometheus(answers["leader"]), parse_prometheus(answers["be"])
    assert leader.bad_lines == be.bad_lines == 0
    for family in FAMILIES:
        metrics = leader if family.role == "FE" else be
        wanted = dict(family.labels)
        found = [labels for labels, _ in metrics.series(family.name) if wanted.items() <= labels.items()]
        if serves(PROFILES[profile], family):
            assert found, f"{profile}: {family.name}{wanted} missing ({family.source})"
        else:
            assert not metrics.series(family.name), f"{profile}: {family.name} is not in this release"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_load_jobs_cover_every_type_and_state_pair(profile):
    leader = parse_prometheus(_answers(profile)["leader"])
    pairs = {(lb["type"], lb["state"]) for lb, _ in leader.series("starrocks_fe_job") if lb.get("job") == "load"}
    assert len(pairs) == 7 * 7 and ("MINI", "PENDING") not in pairs


def test_be_answer_has_a_real_bes_shape():
    text = _answers("3.3")["be"]
    assert 700 <= text.count("\n") <= 2000
    be = parse_prometheus(text)
    assert {lb["type"] for lb, _ in be.series("starrocks_be_engine_requests_total")} >= {"publish", "clone"}
    assert {lb["device"] for lb, _ in be.series("starrocks_be_disk_io_time_ms")} == {"vda", "vdb", "vdc"}
    assert 0 <= be.get("starrocks_be_max_disk_io_util_percent") <= 100


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_jvm_young_generation_never_holds_more_than_its_maximum(profile):
    model = _model(profile)
    for step in range(0, 5400, 7):
        fe = parse_prometheus(exposition.fe_metrics(model, model.leader, model.now() + step))
        young = {k: fe.get("jvm_young_size_bytes", type=k) for k in ("used", "max")}
        old = {k: fe.get("jvm_old_size_bytes", type=k) for k in ("used", "max")}
        assert 0 <= young["used"] <= young["max"] and 0 <= old["used"] <= old["max"]
        assert young["used"] + old["used"] == fe.get("jvm_heap_size_bytes", type="used")


def test_latency_quantiles_rise_and_98_is_its_own():
    model = _model("3.3")
    fe = parse_prometheus(exposition.fe_metrics(model, model.leader, model.now()))
    q = [fe.get("starrocks_fe_query_latency_ms", quantile=k) for k in ("0.75", "0.95", "0.98", "0.99", "0.999")]
    assert q == sorted(q) and q[1] < q[2] < q[3]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_promtool_accepts_every_answer(profile):
    """Real nodes fail promtool's lint (counters without _total, BEs without HELP), so the
    emulator must too; a parse error is what must never happen."""
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`; .ci/run installs it)")
    for who, text in _answers(profile).items():
        done = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False)
        # exit 3 is lint problems only; a text that does not parse exits 1 with "error while linting"
        assert done.returncode in (0, 3), f"{profile} {who}: {done.stderr or done.stdout}"
        assert "error while linting" not in done.stdout + done.stderr
