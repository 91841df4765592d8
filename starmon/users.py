"""Dashboard accounts: scrypt-hashed passwords, two roles, and per-user sign-in rate limiting.

With no account configured the dashboard stays open (the README says so). Once one exists,
everyone signs in; `viewer` sees everything, `admin` may also change clusters. That sign-in
was turned on is also remembered outside the database (a marker file beside the key file),
so a lost or replaced database closes the dashboard instead of opening it to everyone.
Failed sign-ins are counted per user name in the database, so the limit holds across
sessions, reruns and dashboard replicas.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from . import schema
from .store import Store

log = logging.getLogger(__name__)

ROLES = ("viewer", "admin")
MAX_FAILURES = 5
FAILURE_WINDOW_SECONDS = 300
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]{0,63}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~50 ms and 16 MB per check: slow for guessing, fine for people
_MARKER_TEXT = """\
starmon: sign-in was turned on for the dashboard whose key file is beside this file.
While this file exists, a database without accounts admits nobody instead of everyone.
Add an account with `python -m starmon users add NAME`, or open the dashboard to
everyone with `python -m starmon users open` (which removes this file).
"""


class UserError(ValueError):
    """An account change or sign-in that was refused; the message is safe to show."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_password(password: str) -> str:
    """A salted scrypt hash in one self-describing string."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether the password matches the stored hash, in constant time."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def add(store: Store, name: str, role: str, password: str) -> User:
    if not _NAME.match(name or ""):
        raise UserError("a user name is 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")
    try:  # first, so that no account exists without it
        _remember(store)
    except OSError as exc:
        raise UserError(f"cannot write {marker(store)}: {exc.strerror}") from exc

    def insert(conn: sa.Connection) -> None:
        if conn.execute(sa.select(schema.users.c.id).where(schema.users.c.name == name)).first():
            raise UserError(f"user {name!r} already exists")
        conn.execute(
            schema.users.insert().values(
                name=name, role=role, password_hash=hash_password(password), created_at=time.time()
            )
        )

    store.write(insert)
    return User(name, role)


def set_password(store: Store, name: str, password: str) -> None:
    if len(password) < 8:
        raise UserError("a password needs at least 8 characters")

    def update(conn: sa.Connection) -> int:
        change = schema.users.update().where(schema.users.c.name == name)
        _end_sessions(conn, name)  # a new password (after a leak, say) signs out every browser
        return conn.execute(change.values(password_hash=hash_password(password))).rowcount

    if not store.write(update):
        raise UserError(f"no user {name!r}")


def set_role(store: Store, name: str, role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")

    def update(conn: sa.Connection) -> None:
        if not conn.execute(schema.users.update().where(schema.users.c.name == name).values(role=role)).rowcount:
            raise UserError(f"no user {name!r}")

    store.write(update)


def delete(store: Store, name: str) -> None:
    def remove(conn: sa.Connection) -> None:
        if not conn.execute(schema.users.delete().where(schema.users.c.name == name)).rowcount:
            raise UserError(f"no user {name!r}")
        _end_sessions(conn, name)  # else a new account of the same name would inherit them

    store.write(remove)


def _end_sessions(conn: sa.Connection, name: str) -> None:
    """Delete the account's browser sessions (starmon/sessions.py), in the caller's transaction."""
    conn.execute(schema.web_sessions.delete().where(schema.web_sessions.c.user_name == name))


def list_users(store: Store) -> list[User]:
    query = sa.select(schema.users.c.name, schema.users.c.role).order_by(schema.users.c.name)
    return store.read(lambda conn: [User(r.name, r.role) for r in conn.execute(query)])


def find(store: Store, name: str) -> User | None:
    """The account as the database has it now, or None when it is gone.

    The dashboard asks on every run, so deleting an account or lowering its role takes
    effect on the next click of anyone signed in with it, not when their session ends.
    """
    query = sa.select(schema.users.c.name, schema.users.c.role).where(schema.users.c.name == name)
    row = store.read(lambda conn: conn.execute(query).first())
    return User(row.name, row.role) if row else None


def any_users(store: Store) -> bool:
    return store.read(lambda conn: conn.execute(sa.select(schema.users.c.id).limit(1)).first()) is not None


def marker(store: Store) -> Path:
    """The file that says sign-in was turned on: beside the key file, outside the database."""
    return store.key_file().with_name("sign-in.required")


def _remember(store: Store) -> None:
    path = marker(store)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_MARKER_TEXT)


def access(store: Store) -> str:
    """How the dashboard admits visitors: "sign-in", "open", or "closed".

    "closed" means sign-in was turned on here but this database has no account: it was lost,
    replaced, or STARMON_DB_URL now names another. Nobody gets in until `users add` or
    `users open`. A dashboard that finds accounts writes the marker itself when it is missing
    (accounts added before the marker existed, or by a replica on another host).
    """
    if any_users(store):
        try:
            _remember(store)
        except OSError as exc:
            log.warning(
                "cannot write %s (%s): a lost database would open the dashboard to everyone",
                marker(store),
                exc.strerror,
            )
        return "sign-in"
    return "closed" if marker(store).exists() else "open"


def open_to_everyone(store: Store) -> None:
    """Turn sign-in off: only when no account exists, since accounts always mean signing in."""
    if any_users(store):
        raise UserError("accounts exist, so everyone signs in; delete them first to open the dashboard")
    marker(store).unlink(missing_ok=True)


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(hash_password(os.urandom(16).hex()))
    return _DUMMY[0]


def sign_in(store: Store, name: str, password: str, now: float | None = None) -> User:
    """The user for a correct name and password; UserError otherwise, and while rate-limited.

    The attempt is written down before the password is checked, in the same write transaction
    that counts the recent ones, and that transaction is serialised per name (BEGIN IMMEDIATE
    on SQLite, an advisory lock on PostgreSQL). So however many sessions or dashboard replicas
    guess at once, at most MAX_FAILURES guesses per window reach the password check. A correct
    password clears the count; a refused attempt is not counted. The same message answers an
    unknown name and a wrong password, so names cannot be probed.
    """
    now = time.time() if now is None else now
    key = name[:64]  # the column's width: longer names must share the limit, not escape it
    f = schema.sign_in_failures

    def attempt(conn: sa.Connection) -> sa.Row | None:
        count, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(f.c.ts)).where(
                f.c.name == key, f.c.ts > now - FAILURE_WINDOW_SECONDS
            )
        ).one()
        if count >= MAX_FAILURES:
            wait = int(oldest + FAILURE_WINDOW_SECONDS - now) + 1
            raise UserError(f"too many failed sign-ins for this user; try again in {wait} s")
        conn.execute(f.insert().values(name=key, ts=now))
        conn.execute(f.delete().where(f.c.ts <= now - FAILURE_WINDOW_SECONDS))
        return conn.execute(sa.select(schema.users).where(schema.users.c.name == name)).first()

    row = store.write(attempt, lock=("sign-in", key))
    # An unknown name costs one hash check too, so timing does not tell which names exist.
    if not verify_password(password, row.password_hash if row else _dummy_hash()) or row is None:
        raise UserError("wrong user name or password")
    store.write(lambda conn: conn.execute(f.delete().where(f.c.name == key)))
    return User(row.name, row.role)
