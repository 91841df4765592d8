"""`python -m starmon.emulator`: serve emulated StarRocks clusters until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import sys

from .model import Faults, Workload
from .profiles import PROFILES
from .server import ClusterSpec, Emulator


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m starmon.emulator", description=__doc__)
    p.add_argument("--profile", default="3.3", choices=sorted(PROFILES), help="StarRocks version profile")
    p.add_argument("--clusters", type=int, default=1, help="number of clusters to serve (named NAME-1, NAME-2, ...)")
    p.add_argument("--name", default="demo", help="cluster name (prefix when --clusters > 1)")
    p.add_argument("--fes", type=int, default=2, help="FEs per cluster")
    p.add_argument("--bes", type=int, default=3, help="BEs per cluster (compute nodes for the shared-data profile)")
    p.add_argument("--host", default="127.0.0.1", help="first loopback address; each node takes the next one")
    p.add_argument("--http-port", type=int, default=8030, help="FE HTTP port (0 picks a free one)")
    p.add_argument("--query-port", type=int, default=9030, help="FE MySQL port (0 picks a free one)")
    p.add_argument("--be-http-port", type=int, default=8040, help="BE HTTP port (0 picks a free one)")
    p.add_argument("--control-port", type=int, default=8099, help="control API port (0 picks a free one)")
    p.add_argument("--password", default="", help="password of the admin user 'root' (default: empty)")
    p.add_argument("--qps", type=float, default=Workload.qps, help="queries per second per cluster, daily mean")
    p.add_argument("--seed", type=int, default=Workload.seed, help="seed for noise and events")
    p.add_argument(
        "--response-ms",
        type=float,
        default=0.0,
        help="milliseconds every answer takes, to model network latency and FE work (default 0)",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SWITCH=VALUE",
        help=f"start with a fault on; switches: {', '.join(Faults.SWITCHES)} "
        "(e.g. be_down=0, slow_seconds=3, http_500=true, bad_body=truncated, latency_spike=6, "
        "fail_loads=true, mv_refresh_failing=sales.mv_daily_revenue, schema_change=start, disk_spurt=5)",
    )
    return p


def _fault(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"--fault needs SWITCH=VALUE, got {text!r}")
    if key in ("fe_down", "be_down"):
        return key, [int(v) for v in value.split(",") if v]
    if key in ("http_500", "proc_forbidden", "mysql_refused", "fail_loads"):
        return key, value.lower() in ("1", "true", "yes", "on")
    if key == "mv_refresh_failing" and value.lower() in ("1", "true", "yes", "on"):
        return key, True
    return key, value


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    names = [args.name] if args.clusters == 1 else [f"{args.name}-{i + 1}" for i in range(args.clusters)]
    try:
        faults = dict(_fault(f) for f in args.fault)
        specs = [
            ClusterSpec(
                n,
                args.profile,
                args.fes,
                args.bes,
                Workload(qps=args.qps, seed=args.seed + i, response_ms=args.response_ms),
            )
            for i, n in enumerate(names)
        ]
        emulator = Emulator(
            specs,
            host=args.host,
            http_port=args.http_port,
            query_port=args.query_port,
            be_http_port=args.be_http_port,
            control_port=args.control_port,
            admin_password=args.password,
        ).start()
        for name in names:
            emulator.set_faults(name, faults)
    except (ValueError, OSError) as exc:
        print(f"starmon emulator: {exc}", file=sys.stderr)
        return 2
    for c in emulator.describe()[:3]:
        print(
            f"cluster {c['name']} (StarRocks {c['version']}, profile {c['profile']}): "
            f"FE {', '.join(c['frontends'])} http:{c['http_port']} mysql:{c['query_port']}; "
            f"{len(c['backends'])} {'CN' if args.profile == 'shared-data' else 'BE'}s "
            f"http:{c['be_http_port']}",
            flush=True,
        )
    if len(names) > 3:
        print(f"... and {len(names) - 3} more clusters", flush=True)
    print(
        f"control API: {emulator.control_url}  (GET / lists clusters; "
        "POST /clusters/NAME/faults with a JSON object flips faults)",
        flush=True,
    )
    first = emulator.describe()[0]
    print(
        "starmon.toml entry for the first cluster:\n"
        f'[[clusters]]\nname = "{first["name"]}"\nfe_host = "{first["fe_host"]}"\n'
        f'http_port = {first["http_port"]}\nquery_port = {first["query_port"]}\nuser = "root"\n',
        flush=True,
    )
    emulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
