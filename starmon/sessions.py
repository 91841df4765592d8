"""Browser sessions for local accounts: a random id in a signed cookie, its hash in `web_sessions`.

The session lives on the server so that signing out, deleting an account or changing its
password ends it everywhere at once, and so that nothing in the browser says who it is
signed in as. The database keeps only the SHA-256 of the id: a copy of it signs nobody in.
The cookie also carries an HMAC of the id under a key derived from starmon's secret key, so a
forged or tampered cookie is refused before it costs a query, and rotating the key ends every
session. The account is read again with every lookup: a lowered role acts at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import sqlalchemy as sa

from . import schema
from .store import Store
from .users import User

COOKIE = "starmon_session"
KEY_PURPOSE = "starmon web sessions"  # what the cookie key is derived for (Secrets.derive)
_SEPARATOR = "."


def create(store: Store, key: bytes, user_name: str, hours: float, now: float | None = None) -> str:
    """A new session for the account, as the signed cookie value; expired sessions are pruned on the way."""
    now = time.time() if now is None else now
    session_id = secrets.token_urlsafe(32)
    rows = schema.web_sessions

    def insert(conn: sa.Connection) -> None:
        conn.execute(rows.delete().where(rows.c.expires_at <= now))
        conn.execute(
            rows.insert().values(
                id_hash=_hash(session_id), user_name=user_name, created_at=now, expires_at=now + hours * 3600
            )
        )

    store.write(insert)
    return session_id + _SEPARATOR + _signature(key, session_id)


def find(store: Store, key: bytes, cookie: str | None, now: float | None = None) -> User | None:
    """The account a cookie is signed in as, with its role as it is now; None for a missing, forged,
    expired or revoked session, or an account that no longer exists."""
    session_id = _verified(key, cookie)
    if session_id is None:
        return None
    now = time.time() if now is None else now
    rows, accounts = schema.web_sessions, schema.users
    query = (
        sa.select(accounts.c.name, accounts.c.role)
        .select_from(rows.join(accounts, accounts.c.name == rows.c.user_name))
        .where(rows.c.id_hash == _hash(session_id), rows.c.expires_at > now)
    )
    row = store.read(lambda conn: conn.execute(query).first())
    return User(row.name, row.role) if row else None


def revoke(store: Store, key: bytes, cookie: str | None) -> None:
    """End the session a cookie names (sign-out); a forged or unknown cookie changes nothing."""
    session_id = _verified(key, cookie)
    if session_id is not None:
        rows = schema.web_sessions
        store.write(lambda conn: conn.execute(rows.delete().where(rows.c.id_hash == _hash(session_id))))


def token(key: bytes, purpose: str, bound_to: str) -> str:
    """A form's CSRF token: an HMAC of what it is bound to (a pre-session nonce, or the session cookie)."""
    return _signature(key, f"{purpose}:{bound_to}")


def token_ok(key: bytes, purpose: str, bound_to: str | None, given: str | None) -> bool:
    """Whether `given` is the token for `bound_to`, compared in constant time."""
    return bool(bound_to and given) and hmac.compare_digest(token(key, purpose, bound_to).encode(), given.encode())


def _signature(key: bytes, value: str) -> str:
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _verified(key: bytes, cookie: str | None) -> str | None:
    """The session id of a cookie whose signature is right, else None."""
    session_id, _, signature = (cookie or "").rpartition(_SEPARATOR)
    if not session_id or not hmac.compare_digest(_signature(key, session_id).encode(), signature.encode()):
        return None
    return session_id


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
