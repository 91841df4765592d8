"""Run emulated clusters on loopback sockets, in a background thread or in the foreground.

Every node gets its own loopback address (127.0.0.1, 127.0.0.2, ...) and all nodes of a
role share one port, as in a real deployment. That matters: a real FE reports its *own*
http_port on every `/frontends` row, so a collector must reach each FE at that row's IP
with the shared port, and the emulator lets it do exactly that.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .handlers import Users, be_handler, fe_handler
from .httpserver import Listener, Request, Response, http_client_cb
from .model import ClusterModel, Workload
from .mysqlserver import mysql_server
from .profiles import PROFILES

log = logging.getLogger(__name__)


@dataclass
class ClusterSpec:
    """What to emulate: a name, a version profile, node counts and the workload."""

    name: str = "demo"
    profile: str = "3.3"
    fes: int = 2
    bes: int = 3
    workload: Workload = field(default_factory=Workload)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        if self.fes < 1 or self.bes < 0:
            raise ValueError("a cluster needs at least one FE and a non-negative number of BEs")


class Emulator:
    """Emulated StarRocks clusters served from one asyncio loop."""

    def __init__(
        self,
        specs: list[ClusterSpec],
        *,
        host: str = "127.0.0.1",
        http_port: int = 0,
        query_port: int = 0,
        be_http_port: int = 0,
        control_port: int = 0,
        admin_password: str = "",
        clock: Callable[[], float] = time.time,
    ):
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError("cluster names must be unique")
        self.specs = specs
        self.clock = clock  # every model's time source: tests freeze it and advance it by hand
        self.host = host
        self.users = Users(admin_password)
        self._ports = (http_port, query_port, be_http_port)
        self._control_port = control_port
        self.clusters: dict[str, ClusterModel] = {}
        self._listeners: dict[str, dict[str, list[Listener]]] = {}
        self._control: Listener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._added = 0  # nodes added by change("add_node"), for their addresses

    # -- layout ----------------------------------------------------------------------------
    def _addresses(self) -> list[list[str]]:
        first = ipaddress.IPv4Address(self.host)
        out, n = [], 0
        for spec in self.specs:
            out.append([str(first + n + i) for i in range(spec.fes + spec.bes)])
            n += spec.fes + spec.bes
        return out

    def _choose_ports(self, addresses: list[list[str]]) -> tuple[int, int, int]:
        """Use the given ports, or find ports free on every address that needs them."""
        fe_hosts = [a for spec, addrs in zip(self.specs, addresses) for a in addrs[: spec.fes]]
        be_hosts = [a for spec, addrs in zip(self.specs, addresses) for a in addrs[spec.fes :]]
        chosen = []
        for port, hosts in zip(self._ports, (fe_hosts, fe_hosts, be_hosts)):
            chosen.append(port or _free_port_on(hosts or [self.host], avoid=chosen))
        return tuple(chosen)  # type: ignore[return-value]

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Emulator:
        """Start serving in a background thread; returns once every socket is bound."""
        self._thread = threading.Thread(target=self._run, name="starmon-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._startup_error:
            raise self._startup_error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._start_all())
        except BaseException as exc:  # reported to the caller of start()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._stop_all())
        self._loop.close()

    def serve_forever(self) -> None:
        """Block the calling thread until interrupted, starting first if needed."""
        if self._thread is None:
            self.start()
        try:
            self._thread.join()
        except KeyboardInterrupt:
            self.stop()

    def stop(self) -> None:
        if self._loop and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    async def _start_all(self) -> None:
        addresses = self._addresses()
        http_port, query_port, be_http_port = self._choose_ports(addresses)
        for spec, addrs in zip(self.specs, addresses):
            model = ClusterModel(
                spec.name,
                PROFILES[spec.profile],
                addrs[: spec.fes],
                addrs[spec.fes :],
                http_port=http_port,
                query_port=query_port,
                be_http_port=be_http_port,
                workload=spec.workload,
                clock=self.clock,
            )
            self.clusters[spec.name] = model
            fe_http = [
                Listener(fe.host, http_port, http_client_cb(fe_handler(model, fe, self.users)))
                for fe in model.frontends
            ]
            fe_sql = [
                Listener(fe.host, query_port, mysql_server(model, fe, self.users.passwords)._client_connected_cb)
                for fe in model.frontends
            ]
            be_http = [Listener(be.host, be_http_port, http_client_cb(be_handler(model, be))) for be in model.backends]
            self._listeners[spec.name] = {"fe_http": fe_http, "fe_sql": fe_sql, "be_http": be_http}
            for listener in fe_http + fe_sql + be_http:
                try:
                    await listener.start()
                except OSError as exc:
                    raise OSError(
                        f"cannot listen on {listener.host}:{listener.port}: {exc.strerror}; "
                        "pass a different port, or 0 to pick a free one"
                    ) from exc
        self._control = Listener(self.host, self._control_port, http_client_cb(self._control_api))
        await self._control.start()
        self._control.port = self._control._server.sockets[0].getsockname()[1]

    async def _stop_all(self) -> None:
        for groups in self._listeners.values():
            for listeners in groups.values():
                for listener in listeners:
                    await listener.stop()
        if self._control:
            await self._control.stop()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # -- control ----------------------------------------------------------------------------
    @property
    def control_url(self) -> str:
        return f"http://{self.host}:{self._control.port}"

    def cluster(self, name: str) -> ClusterModel:
        return self.clusters[name]

    def describe(self) -> list[dict]:
        """Endpoints and state of every cluster, as the control API reports them."""
        return [_describe(model) for model in self.clusters.values()]

    def set_faults(self, name: str, changes: dict) -> dict:
        """Flip fault switches from any thread; sockets open or close before this returns."""
        return self._call(self._set_faults(name, changes))

    def restart_fe(self, name: str, index: int) -> None:
        self._call(self._restart_fe(name, index))

    def change(self, name: str, action: str, **args) -> None:
        """A change that produces events (starmon.events), from any thread: `restart` (role "FE",
        "BE" or "CN", index), `version` (role, index, version), `leader` (index), `add_node`,
        `decommission` (index) and `drop_node` (index, ending a decommission). The control API
        takes the same as POST /clusters/<name>/<action> with the arguments as a JSON object."""
        self._call(self._change(name, action, args))

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    async def _set_faults(self, name: str, changes: dict) -> dict:
        model = self.clusters[name]
        model.set_faults(changes)
        await self._apply_sockets(name)
        return model.faults.as_dict()

    async def _restart_fe(self, name: str, index: int) -> None:
        model = self.clusters[name]
        if not 0 <= index < len(model.frontends):
            raise ValueError(f"cluster {name!r} has no FE {index}")
        model.restart_fe(index)
        for group in ("fe_http", "fe_sql"):  # a restart drops every open connection
            await self._listeners[name][group][index].stop()
        await self._apply_sockets(name)

    async def _change(self, name: str, action: str, args: dict) -> None:
        model, groups = self.clusters[name], self._listeners[name]
        index = int(args.get("index", 0))
        if action == "restart":
            if args.get("role", "FE") == "FE":
                await self._restart_fe(name, index)
            else:
                model.restart_be(index)
        elif action == "version":
            model.set_version(args.get("role", "BE"), index, str(args["version"]))
        elif action == "leader":
            model.move_leader(index)
        elif action == "add_node":
            self._added += 1  # past every cluster's own addresses
            host = str(ipaddress.IPv4Address(self.host) + 200 + self._added)
            node = model.add_backend(host)
            listener = Listener(host, model.be_http_port, http_client_cb(be_handler(model, node)))
            await listener.start()
            groups["be_http"].append(listener)
        elif action == "decommission":
            model.decommission(index)
        elif action == "drop_node":
            await groups["be_http"].pop(model.drop_backend(index)).stop()
        else:
            raise KeyError(action)

    async def _apply_sockets(self, name: str) -> None:
        model, groups = self.clusters[name], self._listeners[name]
        for i, fe in enumerate(model.frontends):
            await groups["fe_http"][i].set_up(model.alive(fe))
            await groups["fe_sql"][i].set_up(model.alive(fe) and not model.faults.mysql_refused)
        for i, be in enumerate(model.backends):
            await groups["be_http"][i].set_up(model.alive(be))

    async def _control_api(self, request: Request) -> Response:
        """GET / lists clusters; POST /clusters/<name>/{faults,restart_fe,advance,workload}."""
        parts = [p for p in request.path.split("/") if p]
        try:
            if request.method == "GET" and not parts:
                return _json(200, {"clusters": self.describe()})
            if len(parts) < 2 or parts[0] != "clusters" or parts[1] not in self.clusters:
                return _json(404, {"error": f"no such cluster or route: {request.path}"})
            name, model = parts[1], self.clusters[parts[1]]
            action = parts[2] if len(parts) > 2 else ""
            if request.method == "GET" and not action:
                return _json(200, _describe(model))
            if request.method != "POST":
                return _json(405, {"error": "use POST for changes"})
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            if action == "faults":
                return _json(200, await self._set_faults(name, body))
            if action == "restart_fe":
                await self._restart_fe(name, int(body.get("index", 0)))
            elif action == "advance":
                model.advance(float(body["seconds"]))
            elif action in EVENT_ACTIONS:
                await self._change(name, action, body)
            elif action == "workload":
                for key, value in body.items():
                    if not hasattr(model.workload, key):
                        raise ValueError(f"unknown workload field {key!r}")
                    setattr(model.workload, key, type(getattr(model.workload, key))(value))
            else:
                return _json(404, {"error": f"unknown action {action!r}"})
            return _json(200, _describe(model))
        except (ValueError, KeyError, TypeError) as exc:
            return _json(400, {"error": str(exc)})


EVENT_ACTIONS = ("restart", "version", "leader", "add_node", "decommission", "drop_node")


def _describe(model: ClusterModel) -> dict:
    return {
        "name": model.name,
        "profile": model.profile.name,
        "version": model.profile.version,
        "fe_host": model.leader.host,
        "http_port": model.http_port,
        "query_port": model.query_port,
        "be_http_port": model.be_http_port,
        "frontends": [fe.host for fe in model.frontends],
        "leader": model.leader.host,
        "backends": [{"role": be.role, "host": be.host} for be in model.backends],
        "faults": model.faults.as_dict(),
        "incidents": [dataclasses.asdict(e) for e in model.episodes],  # every one switched on, oldest first
        "workload": {k: v for k, v in vars(model.workload).items()},
    }


def _json(status: int, data: object) -> Response:
    return Response(status, json.dumps(data).encode(), "application/json")


def _free_port_on(hosts: list[str], avoid: list[int]) -> int:
    """A port number that is free on every given loopback address."""
    for _ in range(50):
        probe = socket.socket()
        probe.bind((hosts[0], 0))
        port = probe.getsockname()[1]
        probe.close()
        if port in avoid:
            continue
        try:
            for host in hosts:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((host, port))
            return port
        except OSError:
            continue
    raise OSError("no port is free on every emulated address")
