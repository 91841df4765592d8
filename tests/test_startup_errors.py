"""An unusable secret key or key file stops every entry point with one line and exit status 2.

The key encrypts the cluster passwords stored through the dashboard. A malformed
STARMON_SECRET_KEY, a key file that is garbage, a directory, unreadable, or whose folder
cannot be made, must be named as what it is, never as a traceback, never blamed on the
wrong one, and must leave the key file as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .fixtures import ROOT, free_port


def bad_key(case: str, tmp_path: Path) -> tuple[dict, str]:
    """The environment that sets up `case`, and what the one line must say."""
    key = tmp_path / "keys" / "secret.key"
    key.parent.mkdir()
    if case == "malformed STARMON_SECRET_KEY":
        return {"STARMON_SECRET_KEY": "not-a-fernet-key"}, "STARMON_SECRET_KEY is not a valid Fernet key"
    if case == "garbage key file":
        key.write_text("garbage\n")
        return {"STARMON_SECRET_KEY_FILE": str(key)}, f"the key file {key} is not a valid Fernet key"
    if case == "key file is a directory":
        key.mkdir()
        return {"STARMON_SECRET_KEY_FILE": str(key)}, f"cannot read the key file {key}: Is a directory"
    if case == "unreadable key file":
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        key.write_text("x")
        key.chmod(0)
        return {"STARMON_SECRET_KEY_FILE": str(key)}, f"cannot read the key file {key}: Permission denied"
    blocker = tmp_path / "keys" / "not-a-folder"  # the key file's folder cannot be made: a file has its name
    blocker.write_text("")
    return (
        {"STARMON_SECRET_KEY_FILE": str(blocker / "secret.key")},
        f"cannot create the key file {blocker / 'secret.key'}: Not a directory ({blocker})",
    )


def run(command: list[str], tmp_path: Path, env: dict) -> subprocess.CompletedProcess:
    config = tmp_path / "starmon.toml"
    config.write_text('[[clusters]]\nname = "x"\nfe_host = "127.0.0.1"\n')
    base = {k: v for k, v in os.environ.items() if not k.startswith("STARMON_")}
    return subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        env={
            **base,
            "STARMON_DB_URL": f"sqlite:///{tmp_path / 'starmon.db'}",
            "STARMON_CONFIG": str(config),
            "STARMON_DEMO": "0",
            **env,
        },
    )


ENTRY_POINTS = {
    "collector --once": ["collector.py", "--once"],
    "collector loop": ["collector.py"],
    "dashboard": ["-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address", "127.0.0.1"],
}
CASES = [
    "malformed STARMON_SECRET_KEY",
    "garbage key file",
    "key file is a directory",
    "unreadable key file",
    "key file folder cannot be made",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_a_bad_key_is_one_line_and_exit_2(tmp_path, entry, case):
    env, message = bad_key(case, tmp_path)
    before = {str(p): p.read_bytes() for p in (tmp_path / "keys").rglob("*") if p.is_file()}
    command = ENTRY_POINTS[entry] + (["--server.port", str(free_port())] if entry == "dashboard" else [])
    result = run(command, tmp_path, env)
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    [line] = result.stderr.strip().splitlines()
    assert message in line, line
    assert line.startswith("starmon")
    if case != "malformed STARMON_SECRET_KEY":
        assert "STARMON_SECRET_KEY is" not in line, line  # not blamed on the variable
    assert {str(p): p.read_bytes() for p in (tmp_path / "keys").rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("entry", list(ENTRY_POINTS) + ["python -m starmon"])
def test_a_config_path_that_is_a_directory_is_one_line_and_exit_2(tmp_path, entry):
    folder = tmp_path / "conf.d"
    folder.mkdir()
    if entry == "python -m starmon":
        command = ["-m", "starmon", "users", "list"]
    else:
        command = ENTRY_POINTS[entry] + (["--server.port", str(free_port())] if entry == "dashboard" else [])
    result = run(command, tmp_path, {"STARMON_CONFIG": str(folder)})
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("starmon") and f"config file {folder} cannot be read: Is a directory" in line, line
