"""Bearer tokens for the HTTP API: shown once at creation, stored only as a SHA-256 hash.

A token is 32 random bytes, so one unsalted SHA-256 is enough to store it: unlike a
password it cannot be guessed from a dictionary, and a fast hash lets every API call look
it up by its hash in one indexed query. Roles are the dashboard's: a `viewer` token reads,
an `admin` token may also start a collection round. Failed calls are counted per client
address in memory (FailureLimiter), so guessing tokens is slow as well as hopeless.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

import sqlalchemy as sa

from . import schema
from .store import Store
from .users import ROLES

PREFIX = "smt_"  # makes a leaked token recognisable to secret scanners and people
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$")
LAST_USED_RESOLUTION = 60  # seconds: last_used_at is written at most this often per token


class TokenError(ValueError):
    """A token change that was refused; the message is safe to show."""


@dataclass(frozen=True)
class Token:
    name: str
    role: str
    created_at: float
    last_used_at: float | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(store: Store, name: str, role: str, now: float | None = None) -> str:
    """A new token for `name`: returned once, never stored or retrievable afterwards."""
    if not _NAME.match(name or ""):
        raise TokenError("a token name is 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    t = schema.api_tokens

    def insert(conn: sa.Connection) -> None:
        if conn.execute(sa.select(t.c.id).where(t.c.name == name)).first():
            raise TokenError(f"a token named {name!r} already exists; revoke it first")
        conn.execute(
            t.insert().values(
                name=name, role=role, token_hash=digest(token), created_at=time.time() if now is None else now
            )
        )

    store.write(insert)
    return token


def list_tokens(store: Store) -> list[Token]:
    t = schema.api_tokens
    query = sa.select(t.c.name, t.c.role, t.c.created_at, t.c.last_used_at).order_by(t.c.name)
    return store.read(lambda conn: [Token(*row) for row in conn.execute(query)])


def revoke(store: Store, name: str) -> None:
    """Delete the token: the next call with it is refused."""

    def remove(conn: sa.Connection) -> None:
        if not conn.execute(schema.api_tokens.delete().where(schema.api_tokens.c.name == name)).rowcount:
            raise TokenError(f"no token named {name!r}")

    store.write(remove)


def verify(store: Store, token: str, now: float | None = None) -> Token | None:
    """The token's record, or None for a token that is unknown or revoked.

    The lookup is by hash, so the comparison never touches the token itself. last_used_at is
    written at most once a minute per token: a write per call would contend with the collector.
    """
    now = time.time() if now is None else now
    t = schema.api_tokens
    hashed = digest(token)
    query = sa.select(t.c.name, t.c.role, t.c.created_at, t.c.last_used_at).where(t.c.token_hash == hashed)
    row = store.read(lambda conn: conn.execute(query).first())
    if row is None:
        return None
    found = Token(*row)
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
        store.write(lambda conn: conn.execute(t.update().where(t.c.token_hash == hashed).values(last_used_at=now)))
    return found


class FailureLimiter:
    """At most `limit` failed calls per `window` seconds per client; in memory, per process.

    Kept in memory rather than in the database: a refused call must cost the server nothing
    but a lookup, and tokens are too long to guess, so a limit per replica is enough to keep a
    misconfigured script or a scanner from hammering the store.
    """

    def __init__(self, limit: int = 10, window: float = 60.0, clock=time.monotonic):
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may now."""
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            if not times:
                self._failures.pop(client, None)
            if len(times) < self.limit:
                return 0
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            times.append(now)
            self._failures[client] = times
            if len(self._failures) > 10_000:  # a scan from many addresses must not grow memory without bound
                for stale in [c for c, ts in self._failures.items() if not ts or ts[-1] <= now - self.window]:
                    del self._failures[stale]
