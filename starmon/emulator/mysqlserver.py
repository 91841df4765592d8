"""The FE's MySQL query port, spoken through mysql-mimic.

StarRocks statements (SHOW BACKENDS, SHOW ALTER TABLE COLUMN, current_version(), the
StarRocks information_schema views) are answered here; everything a driver sends on
its own (SET, SELECT @@...) falls through to mysql-mimic's MySQL behaviour.
"""

from __future__ import annotations

import asyncio
import re

from mysql_mimic import MysqlServer, Session
from mysql_mimic.auth import IdentityProvider, NativePasswordAuthPlugin, User
from mysql_mimic.errors import MysqlError

from . import catalog, proc, sqlviews
from .model import ClusterModel, Node

_CURRENT_VERSION = re.compile(r"^\s*select\s+current_version\(\s*\)\s*(?:as\s+`?(\w+)`?)?\s*;?\s*$", re.I)
_SHOW_NODES = re.compile(r"^\s*show\s+(backends|frontends|compute\s+nodes)\s*;?\s*$", re.I)
_SHOW_PROC = re.compile(r"""^\s*show\s+proc\s+['"]([^'"]*)['"]\s*;?\s*$""", re.I)
_SHOW_DATABASES = re.compile(r"^\s*show\s+databases\s*;?\s*$", re.I)
_PROCESSLIST = re.compile(r"^\s*show\s+(full\s+)?processlist\s*;?\s*$", re.I)
_ALTER_COLUMN = re.compile(r"^\s*show\s+alter\s+table\s+column(?:\s+(?:from|in)\s+`?([^`\s;]+)`?)?.*$", re.I | re.S)


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


def _error(exc: sqlviews.SqlError) -> MysqlError:
    return MysqlError(str(exc), code=exc.code)


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
            t = model.now()
            if m := _CURRENT_VERSION.match(sql):
                return [(model.profile.version,)], [m.group(1) or "current_version()"]
            if m := _SHOW_NODES.match(sql):
                kind = m.group(1).lower().split()[0]
                path = {"backends": "/backends", "frontends": "/frontends", "compute": "/compute_nodes"}[kind]
                columns, rows = proc.show_proc(model, fe, path, t)
                return rows, list(columns)
            if m := _SHOW_PROC.match(sql):
                answer = proc.show_proc(model, fe, m.group(1), t)
                if answer is None:
                    raise MysqlError(f"Proc path '{m.group(1)}' doesn't exist", code=1064)
                return answer[1], list(answer[0])
            if _SHOW_DATABASES.match(sql):
                return [(db,) for db in ("information_schema", "sys", *catalog.DATABASES)], ["Database"]
            if _PROCESSLIST.match(sql):
                rows, columns = sqlviews.processlist(model, fe, t)
                return rows, list(columns)
            if m := _ALTER_COLUMN.match(sql):
                try:
                    rows, columns = sqlviews.show_alter_column(model, m.group(1) or self.database)
                except sqlviews.SqlError as exc:
                    raise _error(exc) from exc
                return rows, list(columns)
            if re.search(r"\binformation_schema\b", sql, re.I) or (self.database or "").lower() == "information_schema":
                try:
                    return sqlviews.query_information_schema(model, sql, t)
                except sqlviews.SqlError as exc:
                    raise _error(exc) from exc
            return await super().handle_query(sql, attrs)

    return FeSession


def mysql_server(model: ClusterModel, fe: Node, passwords: dict[str, str]) -> MysqlServer:
    return MysqlServer(session_factory=session_factory(model, fe), identity_provider=Accounts(passwords))
