"""A round recorded as files: a ClusterSource that reads a directory instead of a cluster.

The wire answers of one moment, as the cluster sent them, one file each, so a round can be
replayed through the real parsers, assembly and aggregation without a socket: tests feed
recorded rounds to the rules they check (in milliseconds), and a round that puzzled someone
can be kept and read again. Layout:

    cluster.json                 {"name", "fe_host", "http_port", "query_port"}
    show_proc/<path>.json        the body of /api/show_proc?path=/<path> (frontends, backends, ...)
    runtime_info.json            the body of /api/show_runtime_info
    sql.json                     {statement: rows (a list of objects) or {"error": why}}
    metrics/<fe|be>-<host>.txt   the body of a node's /metrics

An answer that is not there is a FetchError ("not recorded"), as a failed request would be.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import parse
from .config import ClusterConfig
from .fetch import FetchError


class RecordedSource:
    """The answers in one directory (see the module docstring), as a ClusterSource."""

    timeout = 1.0  # nothing here waits

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.cluster = ClusterConfig(**json.loads(self._text("cluster.json")))

    def _text(self, name: str) -> str:
        try:
            return (self.directory / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FetchError(f"not recorded: {name}") from None

    async def show_proc(self, path: str) -> list[dict[str, str]]:
        body = self._text(f"show_proc/{path.strip('/')}.json")
        try:
            return parse.proc_rows(json.loads(body), path)
        except ValueError as exc:  # JSONDecodeError too
            raise FetchError(str(exc)) from None

    async def runtime_info(self) -> dict:
        return json.loads(self._text("runtime_info.json"))

    async def sql(self, statements: list[str]) -> list[list[dict] | FetchError]:
        answers = json.loads(self._text("sql.json"))
        out: list[list[dict] | FetchError] = []
        for statement in statements:
            answer = answers.get(statement, {"error": f"not recorded: {statement}"})
            out.append(FetchError(answer["error"]) if isinstance(answer, dict) else answer)
        return out

    async def metrics(self, host: str, port: int, *, fe: bool, only: frozenset[str] | None = None) -> parse.MetricSet:
        return parse.parse_prometheus(self._text(f"metrics/{'fe' if fe else 'be'}-{host}.txt"), only)

    async def addresses(self) -> list[str]:
        return [self.cluster.fe_host]


def write(directory: Path, cluster: ClusterConfig, answers: dict[str, str | bytes | dict | list]) -> Path:
    """Record answers into `directory` under the layout above: `answers` maps each file's relative
    name to its body (text or bytes as sent; JSON-able values for the .json files)."""
    directory = Path(directory)
    fields = {"name": cluster.name, "fe_host": cluster.fe_host, "http_port": cluster.http_port}
    answers = {"cluster.json": {**fields, "query_port": cluster.query_port}, **answers}
    for name, body in answers.items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            target.write_bytes(body)
        elif isinstance(body, str):
            target.write_text(body, encoding="utf-8")
        else:
            target.write_text(json.dumps(body), encoding="utf-8")
    return directory
