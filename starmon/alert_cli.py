"""`python -m starmon alerts ...`: list alerts, silence them, and send a test to a channel."""

from __future__ import annotations

import argparse
import sys
import time

from . import alert_store
from .alert_delivery import DeliveryError, send_test, when
from .alerts import RULE_NAMES, duration
from .config import Config
from .export import to_json
from .store import Store

_TIMES = ("started_at", "fired_at", "resolved_at", "last_seen_at", "last_sent_at")
_SHOWN = ("cluster", "rule", "subject", "state", "severity", "message", "value", "threshold", "unit", "peak")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("alerts", help="alerts firing and past, silences, and a test message to a channel")
    verbs = parser.add_subparsers(dest="verb", required=True)
    ls = verbs.add_parser("list", help="alerts firing and pending now, worst first")
    ls.add_argument("--history", metavar="DAYS", type=float, help="also the resolved ones that started in these days")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    silence = verbs.add_parser("silence", help="hold back notifications of a cluster, a rule or both (still recorded)")
    silence.add_argument("--cluster", help="cluster name; all clusters when absent")
    silence.add_argument("--rule", choices=RULE_NAMES, help="rule; all rules when absent")
    silence.add_argument("--for", dest="span", required=True, help='how long: "2h", "30m", "1d"')
    silence.add_argument("--reason", required=True)
    silence.add_argument("--by", default="cli", help="who silences (recorded)")
    verbs.add_parser("silences", help="silences in force")
    unsilence = verbs.add_parser("unsilence", help="end a silence now")
    unsilence.add_argument("id", type=int)
    test = verbs.add_parser("test", help="send a test message to a channel of starmon.toml now")
    test.add_argument("channel")


def run(store: Store, config: Config, args: argparse.Namespace) -> int:
    """Carry out one `alerts` verb; the exit status (2 with one line on standard error if refused)."""
    try:
        return _run(store, config, args)
    except (LookupError, ValueError, DeliveryError) as exc:
        print(f"starmon: {str(exc).strip(chr(39))}", file=sys.stderr)
        return 2


def _run(store: Store, config: Config, args: argparse.Namespace) -> int:
    now = time.time()
    if args.verb == "list":
        states = ("firing", "pending") + (("resolved",) if args.history else ())
        since = now - args.history * 86400 if args.history else None
        rows = alert_store.list_alerts(store, states=states, since=since)
        out = [
            {**{k: r[k] for k in _SHOWN}, **{k: _iso(r[k]) for k in _TIMES}}
            | {"notifications": r["notifications"], "silenced": r["silenced"]}
            for r in rows
        ]
        if args.json:
            print(to_json(out))
        else:
            for a in out:
                head = f"{a['severity']:<8} {a['state']:<8} {a['cluster']}: {a['rule']}"
                print(f"{head} {a['message']} (since {a['started_at']})")
            if not out:
                print("no alert firing", file=sys.stderr)
    elif args.verb == "silence":
        cluster_id = None
        if args.cluster:
            ids = store.cluster_ids()
            if args.cluster not in ids:
                raise LookupError(f"no cluster {args.cluster!r} (known: {', '.join(sorted(ids)) or 'none'})")
            cluster_id = ids[args.cluster]
        until = now + duration(args.span, "--for")
        sid = alert_store.add_silence(store, cluster_id, args.rule, until, args.reason, args.by, now)
        what = " ".join(x for x in (args.cluster, args.rule) if x)
        print(f"silence {sid}: {what} until {when(until)}")
    elif args.verb == "silences":
        for s in alert_store.silences(store, now):
            print(f"{s.id}\t{s.cluster or '*'}\t{s.rule or '*'}\tuntil {when(s.until)}\t{s.created_by}: {s.reason}")
    elif args.verb == "unsilence":
        if not alert_store.end_silence(store, args.id, now):
            raise LookupError(f"no silence {args.id} in force")
        print(f"silence {args.id} ended")
    else:
        send_test(config.alerts, args.channel)
        print(f"test message sent to {args.channel}")
    return 0


def _iso(ts: float | None) -> str | None:
    return when(ts) if ts is not None else None
