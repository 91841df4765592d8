"""The emulator in a process of its own, for benchmarks and tests that need real process boundaries.

`python -m starmon.emulator` prints its control API's URL once it listens; the clusters it
serves (hosts and ports, all chosen free) are then read from that API.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

_ROOT = Path(__file__).resolve().parents[2]
_FREE_PORTS = ("--http-port", "0", "--query-port", "0", "--be-http-port", "0", "--control-port", "0")


@contextmanager
def emulator_process(*args: str, log: Path, timeout: float = 120) -> Iterator[list[dict]]:
    """Run `python -m starmon.emulator <args>` on free ports; yield its clusters as the control API
    describes them (name, fe_host, http_port, query_port, frontends, backends, ...), then stop it."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "starmon.emulator", *_FREE_PORTS, *args],
            cwd=_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + timeout
        while "control API: " not in log.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the emulator did not start:\n{log.read_text()}")
            time.sleep(0.1)
        control = log.read_text().split("control API: ")[1].split()[0]
        yield httpx.get(control + "/", timeout=30).json()["clusters"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
