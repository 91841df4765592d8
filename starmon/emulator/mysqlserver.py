"""The FE's MySQL query port, spoken through mysql-mimic.

StarRocks statements (SHOW BACKENDS, SHOW ALTER TABLE COLUMN, current_version(), the
StarRocks information_schema views) are answered by sqlviews.answer; everything a driver
sends on its own (SET, SELECT @@...) falls through to mysql-mimic's MySQL behaviour.
"""

from __future__ import annotations

import asyncio

from mysql_mimic import MysqlServer, Session
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User
from mysql_mimic.errors import MysqlError

from . import sqlviews
from .model import ClusterModel, Node


class Accounts(IdentityProvider):
    """mysql_native_password accounts matching the HTTP users."""

    def __init__(self, passwords: dict[str, str]):
        self.passwords = passwords

    async def get_user(self, username: str) -> User | None:
        if username not in self.passwords:
            # StarRocks answers an unknown user like a wrong password (1045 Access denied), not
            # mysql-mimic's 3162: an auth string no password can match gives exactly that.
            return User(name=username, auth_string="00" * 20, auth_plugin=NativePasswordAuthPlugin.name)
        password = self.passwords[username]
        auth = NativePasswordAuthPlugin.create_auth_string(password) if password else None
        return User(name=username, auth_string=auth, auth_plugin=NativePasswordAuthPlugin.name)


def session_factory(model: ClusterModel, fe: Node):
    """A mysql-mimic Session class bound to one FE of one cluster."""

    class FeSession(Session):
        def __init__(self) -> None:
            super().__init__()
            self.variables.set("version_comment", f"StarRocks version {model.profile.version.split()[0]}", force=True)
            self.variables.set("version", "5.1.0", force=True)

        async def handle_query(self, sql: str, attrs: dict[str, str]):
            if model.workload.response_ms:
                await asyncio.sleep(model.workload.response_ms / 1000)
            try:
                answer = sqlviews.answer(model, fe, sql, model.now(), self.database)
            except sqlviews.SqlError as exc:
                raise MysqlError(str(exc), code=exc.code) from exc
            return answer if answer is not None else await super().handle_query(sql, attrs)

    return FeSession


def mysql_server(model: ClusterModel, fe: Node, passwords: dict[str, str]) -> MysqlServer:
    return MysqlServer(session_factory=session_factory(model, fe), identity_provider=Accounts(passwords))
