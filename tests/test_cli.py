"""The README's commands, run as a user runs them: real processes, real sockets."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from .fixtures import ROOT


@pytest.fixture
def emulator_process(tmp_path):
    """`python -m starmon.emulator` on free ports; yields the starmon.toml entry it prints."""
    log = tmp_path / "emulator.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "starmon.emulator",
                "--http-port",
                "0",
                "--query-port",
                "0",
                "--be-http-port",
                "0",
                "--control-port",
                "0",
                "--host",
                "127.0.0.1",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.time() + 30
    while "[[clusters]]" not in log.read_text() or not log.read_text().rstrip().endswith('"root"'):
        assert proc.poll() is None and time.time() < deadline, log.read_text()
        time.sleep(0.1)
    entry = log.read_text()[log.read_text().index("[[clusters]]") :]
    yield entry
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _run(args, tmp_path, config_text=None, **env):
    if config_text is not None:
        (tmp_path / "starmon.toml").write_text(config_text)
    environ = {**os.environ, "STARMON_DB_URL": f"sqlite:///{tmp_path / 'data' / 'starmon.db'}", **env}
    return subprocess.run(
        [sys.executable, "collector.py", *args],
        cwd=ROOT,
        env={**environ, "STARMON_CONFIG": str(tmp_path / "starmon.toml")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _snapshots(tmp_path):
    with sqlite3.connect(tmp_path / "data" / "starmon.db") as db:
        return db.execute("SELECT status, qps, backend_alive FROM metrics_snapshots ORDER BY id").fetchall()


def _stored_yet(tmp_path) -> bool:
    """Whether a running collector has stored its first round (the file can exist before its tables)."""
    if not (tmp_path / "data" / "starmon.db").exists():
        return False
    try:
        return bool(_snapshots(tmp_path))
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return False
        raise


def test_once_against_the_emulator(emulator_process, tmp_path):
    result = _run(["--once", "--statistics"], tmp_path, emulator_process)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"demo: ok in \d+ ms\n", result.stdout), result.stdout
    [(status, qps, alive)] = _snapshots(tmp_path)
    assert status == "ok" and qps > 0 and alive == 3
    with sqlite3.connect(tmp_path / "data" / "starmon.db") as db:
        assert db.execute("SELECT count(*) FROM data_statistics WHERE status = 'ok'").fetchone()[0] == 1


def test_once_records_a_down_cluster_and_exits_zero(emulator_process, tmp_path):
    dead = '[[clusters]]\nname = "gone"\nfe_host = "127.0.0.1"\nhttp_port = 1\nquery_port = 1\n'
    result = _run(["--once"], tmp_path, emulator_process + dead)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"demo: ok in \d+ ms", lines[0])
    assert re.fullmatch(r"gone: down in \d+ ms \(.*connection refused\)", lines[1]), lines[1]


@pytest.mark.parametrize(
    "config_text, env, message",
    [
        ('[[clusters]]\nname = "x"\nfe_host = ""\n', {}, "'fe_host' must be a non-empty"),
        ("", {}, "no clusters to collect"),
        ('[[clusters]]\nname = "x"\nfe_host = "h"\n', {"STARMON_DB_URL": "sqlite:////proc/no/x.db"}, "cannot"),
    ],
)
def test_once_fails_with_one_clear_line(tmp_path, config_text, env, message):
    result = _run(["--once"], tmp_path, config_text, **env)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_loop_mode_and_a_second_collector_stays_idle(emulator_process, tmp_path):
    config = "interval_seconds = 1\nstatistics_interval_seconds = 600\n" + emulator_process
    (tmp_path / "starmon.toml").write_text(config)
    env = {
        **os.environ,
        "STARMON_DB_URL": f"sqlite:///{tmp_path / 'data' / 'starmon.db'}",
        "STARMON_CONFIG": str(tmp_path / "starmon.toml"),
    }
    first = subprocess.Popen([sys.executable, "collector.py"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while not _stored_yet(tmp_path):
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.2)
    started = time.monotonic()
    second = _run(["--once"], tmp_path)
    assert second.returncode == 3 and "another collector" in second.stderr
    third_log = tmp_path / "third.log"
    with third_log.open("w") as log:
        third = subprocess.Popen([sys.executable, "collector.py"], cwd=ROOT, env=env, stderr=log, text=True)
    deadline = time.time() + 30
    while "staying idle" not in third_log.read_text():
        assert time.time() < deadline and third.poll() is None, third_log.read_text()
        time.sleep(0.2)
    time.sleep(2)  # the idle collector keeps idling while the first writes
    for proc in (third, first):
        proc.send_signal(signal.SIGINT)
    first.communicate(timeout=20)
    third.wait(20)
    elapsed = time.monotonic() - started
    rows = _snapshots(tmp_path)
    assert 3 <= len(rows) <= elapsed + 2, (len(rows), elapsed)  # one writer at ~1 round a second
    with sqlite3.connect(tmp_path / "data" / "starmon.db") as db:
        ts = [r[0] for r in db.execute("SELECT ts FROM metrics_snapshots ORDER BY ts")]
        assert all(b - a >= 0.5 for a, b in zip(ts, ts[1:])), ts
        assert db.execute("SELECT count(*) FROM data_statistics").fetchone()[0] == 1
