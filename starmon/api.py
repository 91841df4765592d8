"""The HTTP API: the overview and its parts as JSON, for scripts, other dashboards and on-call tools.

app.py mounts `create_app(service)` at /api on the dashboard's own server (st.App routes), so
there is no second process or port. FastAPI validates requests and answers against the models
in api_models.py and derives /api/openapi.json from the same models. Every number comes from
starmon.read, the pages' and the CLI's read path.

Who may call: while the dashboard is open (no account, no single sign-on) the API is open and
read-only; otherwise every call needs `Authorization: Bearer <token>` (starmon.tokens), and only
an admin token may start a round. Failed calls are limited per client address. Answers carry a
weak ETag made from the newest round (and statistics pass), so `If-None-Match` gets a 304
without reading anything else.
"""

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from . import api_models as m
from . import clusters as registry
from . import overview_json, queries, read, size_history, timeline, tokens, users, workload, wrong_now
from .answers import SharedAnswers
from .columns import NODE_USAGE_COLUMNS, PERFORMANCE_COLUMNS
from .config import Config
from .read import Reader, TimeRange
from .round import REFRESH_COOLDOWN_SECONDS, collect_now
from .secrets import Secrets
from .store import Store, StoreError

log = logging.getLogger(__name__)

RangeLabel = Literal["1h", "6h", "24h", "3d", "7d", "30d", "90d", "custom"]
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}
_ERRORS = {status: {"model": m.Error, "description": CODES[status].replace("_", " ")} for status in CODES}
READ_ERRORS = {s: _ERRORS[s] for s in (400, 401, 403, 404, 422, 429)}
ClusterKey = Annotated[str, Path(alias="id", description="the cluster's id or its name (a name wins)", max_length=63)]


class ApiError(HTTPException):
    """An answer other than success, with the message the client reads."""


class RangeQuery:
    """The range every read takes, as the pages and `python -m starmon overview` take it."""

    def __init__(
        self,
        range: Annotated[RangeLabel, Query(description="the window; custom needs start and end")] = "24h",
        start: Annotated[str | None, Query(description="custom: ISO date or time, UTC unless an offset")] = None,
        end: Annotated[str | None, Query(description="custom: ISO date or time; a date is its midnight")] = None,
    ):
        self.label, self.start, self.end = range, start, end

    def parse(self, now: float) -> TimeRange:
        if self.label != "custom" and (self.start or self.end):
            raise ApiError(400, "start and end need range=custom")
        try:
            return read.parse_range(self.label, now, self.start, self.end)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    body = {"error": {"code": CODES.get(status, "error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def _range(tr: TimeRange) -> dict:
    return {"label": tr.label, "start": read._iso(tr.start), "end": read._iso(tr.end)}


def _node_series(df, tr: TimeRange) -> list[dict]:
    out = []
    for (role, host), part in df.groupby(["role", "host"], sort=True):
        out.append({"role": role, "host": host} | overview_json.series_json(part.drop(columns=["role", "host"]), tr))
    return out


def _rows(df) -> list[dict]:
    """Stored rows as JSON objects, a missing value as null (pandas reads NULL as NaN)."""
    return df.astype(object).where(df.notna(), None).to_dict("records")


WORKLOAD_KEYS = ("audit", "audit_message", "top_tables_by_access", "slow_queries", "active_users_1h")
WORKLOAD_KEYS += ("active_users_24h", "top_users")


def _data_stats(reader: Reader, cluster: dict, stats: dict | None, tr: TimeRange, limit: int, now: float) -> dict:
    """The Data page's numbers (the API's answer adds the cluster and range): the newest statistics
    pass, and table sizes and growth over the range; with the workload the Queries page and
    `python -m starmon queries` show (one read, queries.summary, so the three agree)."""
    work = queries.summary(reader, cluster, tr, now)
    stats = stats or {}
    first, last = size_history.growth_span(reader, cluster["id"], tr)
    tables = size_history.table_growth(reader, cluster["id"], tr)
    growing = tables[tables["growth_bytes"].notna()].sort_values("growth_bytes", ascending=False, kind="stable")
    keys = ("database_count", "table_count", "total_data_bytes", "total_rows", "status", "error")
    keys += ("mv_total", "mv_active", "mv_inactive", "mv_failed", "schema_change_running", "schema_change_pending")
    return {k: stats.get(k) for k in keys} | {
        "collected_at": read._iso(stats["ts"]) if stats else None,
        "growth_since": read._iso(first) if first is not None and first != last else None,
        "largest_tables": _rows(tables.head(limit)),
        "fastest_growing": _rows(growing.head(limit)),
        "materialized_views": stats.get("materialized_views") or [],
        "schema_changes": stats.get("schema_changes") or [],
        **{k: work[k] for k in WORKLOAD_KEYS},
    }


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names this (weak) ETag, or is `*`."""
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag.removeprefix("W/") in tags


def create_app(
    store: Store,
    config: Config,
    secrets: Secrets,
    *,
    oidc: Callable[[], bool] = lambda: False,
    limiter: tokens.FailureLimiter | None = None,
) -> FastAPI:
    """The API over one store. `oidc` tells whether the dashboard signs people in through single
    sign-on (st.secrets [auth]), which closes the API as accounts do; tokens are the API's only key."""
    reader = Reader(store)
    limiter = limiter or tokens.FailureLimiter()
    refreshing: dict[int, threading.Lock] = {}
    answers = SharedAnswers()  # by ETag: callers asking the same question share one read
    app = FastAPI(
        title="starmon",
        version="1",
        summary="StarRocks cluster overviews as JSON",
        description=(
            "Times are ISO 8601 in UTC. A value starmon could not read is null, never 0. Ranges are "
            "bucketed to at most 1,500 points per series. While the dashboard has no account the API "
            "is open and read-only; otherwise send `Authorization: Bearer <token>` "
            "(`python -m starmon tokens add NAME --role viewer|admin`)."
        ),
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN; starmon runs offline
        redoc_url=None,
    )
    bearer = HTTPBearer(auto_error=False, scheme_name="token", description="a token from `starmon tokens add`")

    def caller(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> tokens.Token | None:
        """The token making the call; None while the API is open. Refuses, and counts, failures."""
        client = request.client.host if request.client else "unknown"
        wait = limiter.retry_after(client)
        if wait:
            raise ApiError(
                429, f"too many failed calls from this address; try again in {wait} s", {"Retry-After": str(wait)}
            )
        if not oidc() and users.access(store) == "open":
            request.state.client = client
            return None
        found = tokens.verify(store, credentials.credentials) if credentials else None
        if found is None:
            limiter.failed(client)
            message = "this token is unknown or revoked" if credentials else "send Authorization: Bearer <token>"
            raise ApiError(401, message, {"WWW-Authenticate": "Bearer"})
        request.state.client = client
        return found

    Caller = Annotated[tokens.Token | None, Depends(caller)]

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc, ApiError) else {404: "no such path in the API"}.get(exc.status_code)
        return _error(exc.status_code, str(message or exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        said = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}" for e in exc.errors())
        return _error(422, said[:1000])

    @app.exception_handler(StoreError)
    async def lost(_request: Request, exc: StoreError) -> JSONResponse:
        return _error(503, str(exc))

    @app.exception_handler(Exception)
    async def failed(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("API call failed")
        return JSONResponse({"error": {"code": "internal", "message": "internal error; see the server log"}}, 500)

    def cluster_of(key: str) -> dict:
        try:
            return read.find_cluster(reader, key)
        except LookupError as exc:
            raise ApiError(404, str(exc)) from None

    def cached(request: Request, response: Response, parts: tuple) -> bool:
        """Set the ETag made of `parts` (the newest round and the question); True if the client has it."""
        etag = 'W/"' + hashlib.sha256(repr((request.url.path, *parts)).encode()).hexdigest()[:32] + '"'
        request.state.etag = etag  # names the answer too: see `answers`
        response.headers["ETag"] = etag
        response.headers["Cache-Control"] = "private, no-cache"
        return _matches(request.headers.get("if-none-match"), etag)

    def window(tr: TimeRange, now: float) -> tuple:
        """What names the range in an ETag: a custom one by its bounds, a relative one by the bucket
        it ends in, since its answer also changes as time moves, not only with new rounds."""
        return (tr.label, int(now // tr.bucket)) if tr.label in read.RANGES else (tr.start, tr.end)

    def not_modified(response: Response) -> Response:
        return Response(status_code=304, headers={k: response.headers[k] for k in ("ETag", "Cache-Control")})

    @app.get("/clusters", response_model=list[m.Cluster], responses=READ_ERRORS, summary="every cluster")
    def list_clusters(request: Request, response: Response, _who: Caller):
        rows = reader.clusters()
        newest = [reader.latest(c["id"]) for c in rows]
        if cached(request, response, tuple((c["id"], c["updated_at"], s and s["id"]) for c, s in zip(rows, newest))):
            return not_modified(response)
        return [
            {
                "id": c["id"],
                "name": c["name"],
                "enabled": c["enabled"],
                "source": c["source"],
                "status": s and s["status"],
                "version": s and s["version"],
                "collected_at": s and read._iso(s["ts"]),
            }
            for c, s in zip(rows, newest)
        ]

    def answer(request, response, key: str, span: RangeQuery, read_fn, *version, shared: bool = False):
        """One read's answer: resolve the cluster (id or name) and the range; 304 when the client's
        copy is current (the ETag: cluster, newest round, range window and `version`); else the
        cluster's id and name and the range with what `read_fn(cluster, range, now)` reads. `shared`
        lets callers asking the same question share one read (SharedAnswers, by ETag)."""
        now = time.time()
        tr = span.parse(now)
        cluster = cluster_of(key)
        if cached(request, response, (cluster["id"], reader.newest_id(cluster["id"]), window(tr, now), *version)):
            return not_modified(response)

        def compute() -> dict:
            return {"cluster_id": cluster["id"], "cluster": cluster["name"], "range": _range(tr)} | read_fn(
                cluster, tr, now
            )

        return answers.get(request.state.etag, compute) if shared else compute()

    @app.get(
        "/clusters/{id}/overview",
        response_model=m.Overview,
        responses=READ_ERRORS,
        summary="the Overview: health cards, problems, the newest round, trends, aggregates, forecast",
    )
    def overview(
        request: Request, response: Response, key: ClusterKey, span: Annotated[RangeQuery, Depends()], _who: Caller
    ):
        def read_overview(cluster: dict, _tr: TimeRange, now: float) -> dict:
            data = overview_json.overview(
                reader,
                cluster["id"],
                span.label,
                config,
                now,
                span.start,
                span.end,
                detail=True,
            )
            data["aggregated"] = data.pop("aggregates")
            return data | {"timestamp": data["collected_at"]}

        return answer(request, response, key, span, read_overview, shared=True)

    @app.get(
        "/clusters/{id}/overview/health", response_model=m.Health, responses=READ_ERRORS, summary="the health cards"
    )
    def health(
        request: Request, response: Response, key: ClusterKey, span: Annotated[RangeQuery, Depends()], _who: Caller
    ):
        def read_health(cluster: dict, tr: TimeRange, now: float) -> dict:
            state = read.health_at(reader, cluster["id"], tr, config.cards)
            found = wrong_now.problems(reader, cluster, state, config, tr, now)
            data = overview_json.health_json(state, found)
            return data | {"timestamp": data["collected_at"]}

        return answer(request, response, key, span, read_health)

    @app.get(
        "/clusters/{id}/overview/performance",
        response_model=m.Performance,
        responses=READ_ERRORS,
        summary="QPS, RPS, latency percentiles, error and timeout rates, connections, running queries, "
        "transaction and load rates, routine-load lag, and per FE",
    )
    def performance(
        request: Request, response: Response, key: ClusterKey, span: Annotated[RangeQuery, Depends()], _who: Caller
    ):
        def read_performance(cluster: dict, tr: TimeRange, _now: float) -> dict:
            fes = reader.node_series(cluster["id"], tr, ["qps", "query_latency_p99"], "FE")
            return {
                "cluster_series": overview_json.series_json(reader.series(cluster["id"], tr, PERFORMANCE_COLUMNS), tr),
                "per_fe": _node_series(fes, tr),
            }

        return answer(request, response, key, span, read_performance)

    @app.get(
        "/clusters/{id}/overview/resources",
        response_model=m.Resources,
        responses=READ_ERRORS,
        summary="CPU, memory, disk, disk I/O, network, compaction and tablets per node with the cluster average, "
        "JVM heap and GC, capacity forecast",
    )
    def resources(
        request: Request, response: Response, key: ClusterKey, span: Annotated[RangeQuery, Depends()], _who: Caller
    ):
        def read_resources(cluster: dict, tr: TimeRange, now: float) -> dict:
            cid = cluster["id"]
            workers = reader.node_series(cid, tr, NODE_USAGE_COLUMNS)
            workers = workers[workers["role"] != "FE"]
            workers = workers.assign(disk_pct=100 * workers["disk_used_bytes"] / workers["disk_total_bytes"])
            heap = reader.node_series(
                cid, tr, ["jvm_heap_used_bytes", "jvm_heap_max_bytes", "jvm_gc_ms_per_second"], "FE"
            )
            heap = heap.assign(heap_pct=100 * heap["jvm_heap_used_bytes"] / heap["jvm_heap_max_bytes"])
            newest = reader.latest(cid, before=tr.end)
            nodes = reader.nodes(newest["id"]) if newest else None
            average = reader.series(cid, tr, ["avg_cpu_usage", "avg_memory_usage", "disk_usage_pct"])
            return {
                "average": overview_json.series_json(average, tr),
                "per_node": _node_series(workers, tr),
                "jvm_heap": _node_series(heap, tr),
                "nodes": _rows(nodes) if nodes is not None else [],
                "forecast": read.forecast(reader, cid, config.forecast_window_days, now).headline,
            }

        return answer(request, response, key, span, read_resources)

    @app.get(
        "/clusters/{id}/overview/data-stats",
        response_model=m.DataStats,
        responses=READ_ERRORS,
        summary="databases, tables and their sizes, largest and fastest-growing tables, MVs, schema changes, "
        "and the workload: tables by access, slow queries, active and top users (README: Queries)",
    )
    def data_stats(
        request: Request,
        response: Response,
        key: ClusterKey,
        span: Annotated[RangeQuery, Depends()],
        _who: Caller,
        limit: Annotated[int, Query(ge=1, le=size_history.TABLES_SHOWN, description="tables per list")] = 100,
    ):
        cluster = cluster_of(key)
        stats = reader.statistics(cluster["id"])
        audited = workload.status(store, cluster["id"]).get("checked_at")  # the audit pass lands after its stats
        read_stats = lambda cluster, tr, now: _data_stats(reader, cluster, stats, tr, limit, now)  # noqa: E731
        return answer(request, response, key, span, read_stats, stats and stats["id"], audited, limit)

    @app.get(
        "/clusters/{id}/events",
        response_model=m.Events,
        responses=READ_ERRORS,
        summary="what changed: nodes down, back, restarted, upgraded, leader moves, gaps, MVs (README: Events)",
    )
    def cluster_events(
        request: Request, response: Response, key: ClusterKey, span: Annotated[RangeQuery, Depends()], _who: Caller
    ):
        newest = timeline.newest_event_id(reader, cluster_of(key)["id"])  # a statistics pass adds events too
        read_events = lambda cluster, tr, _now: {  # noqa: E731
            "events": [timeline.event_json(row) for row in timeline.events_in(reader, cluster["id"], tr)]
        }
        return answer(request, response, key, span, read_events, newest)

    @app.post(
        "/clusters/{id}/refresh",
        response_model=m.Refreshed,
        responses={s: _ERRORS[s] for s in (401, 403, 404, 409, 422, 429)},
        summary=f"collect the cluster now (admin; at most every {REFRESH_COOLDOWN_SECONDS} s)",
    )
    def refresh(request: Request, key: ClusterKey, who: Caller):
        if who is None or not who.is_admin:
            limiter.failed(request.state.client)
            raise ApiError(
                403,
                "the API is read-only while the dashboard is open to everyone: add an account "
                "(`python -m starmon users add NAME --role admin`) and call with an admin token"
                if who is None
                else f"token {who.name!r} is a viewer token; refreshing needs an admin token",
            )
        cluster = cluster_of(key)
        newest = reader.latest(cluster["id"])
        since = time.time() - newest["ts"] if newest else None
        if since is not None and since < REFRESH_COOLDOWN_SECONDS:
            wait = max(1, int(REFRESH_COOLDOWN_SECONDS - since + 0.999))
            raise ApiError(
                429,
                f"{cluster['name']} was collected {since:.0f} s ago; refresh again in {wait} s",
                {"Retry-After": str(wait)},
            )
        lock = refreshing.setdefault(cluster["id"], threading.Lock())
        if not lock.acquire(blocking=False):
            raise ApiError(
                429, f"a refresh of {cluster['name']} is running", {"Retry-After": str(REFRESH_COOLDOWN_SECONDS)}
            )
        try:
            targets = [c for cid, c in registry.collectable(store, secrets, config.clusters) if cid == cluster["id"]]
            if not targets:
                why = f"its {registry.UNDECRYPTABLE}" if cluster["enabled"] else "it is disabled"
                raise ApiError(409, f"{cluster['name']} is not collected: {why}")
            result = collect_now(store, config, cluster["id"], targets[0])
        finally:
            lock.release()
        return {
            "cluster_id": cluster["id"],
            "cluster": cluster["name"],
            "status": result.status,
            "collect_ms": result.collect_ms,
            "reason": result.reason,
        }

    for route in app.routes:
        if isinstance(route, APIRoute):  # the token is needed only once accounts exist: `{}` says so
            route.openapi_extra = {"security": [{}]}  # appended to FastAPI's [{"token": []}]
    return app


class _Mount(Mount):
    """Starlette's Mount, also for paths with a newline (`%0A`) below it: its `.*` stops at one,
    and such a path fell through to Streamlit's plain-text 404 instead of the API's JSON one."""

    def __init__(self, path: str, app) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)


def routes(service, *, oidc: Callable[[], bool] = lambda: False) -> list[Mount]:
    """The API for st.App's routes: mounted at /api, over the Service's store, config and key."""
    return [_Mount("/api", create_app(service.store, service.config, service.secrets, oidc=oidc))]
