"""The collector's single-writer lock: a file lock the OS releases when its holder dies.

On SQLite one collector process writes a database (starmon.scheduler.SoleWriter): a second
one (a `collector.py` beside a dashboard's embedded collector) finds the lock taken and stays
idle until the holder stops; `collector.py` started alone says who holds it and exits.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class WriterLock:
    """A non-blocking exclusive file lock; the OS releases it if the holder dies."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if free; False when another process holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """The pid written by the current holder, for messages."""
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
