"""`python -m starmon alerts ...`: list alerts, silence them, send a test to a channel, and list or edit rules."""

from __future__ import annotations

import argparse
import sys
import time

from . import alert_edits, alert_store
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
    rules = verbs.add_parser("rules", help="the rules in force and where each value comes from; set or reset an edit")
    rules.add_argument("--json", action="store_true", help="print a JSON list")
    edits = rules.add_subparsers(dest="action")
    edit = edits.add_parser("set", help="edit a rule as the Alerts page does (on top of starmon.toml)")
    reset = edits.add_parser("reset", help="remove a rule's edit: starmon.toml's values apply again")
    for p in (edit, reset):
        p.add_argument("rule", choices=RULE_NAMES)
        p.add_argument("--clusters", default=alert_edits.EVERY, help='a cluster glob; "*" (every cluster) by default')
    edit.add_argument("--enabled", choices=("on", "off"))
    edit.add_argument("--for", dest="for_", metavar="DURATION", help='how long the condition must hold: "0s", "5m"')
    edit.add_argument("--repeat", metavar="DURATION", help='how often a firing alert is sent again: "4h"')
    edit.add_argument("--severity", choices=("warning", "critical"))
    edit.add_argument("--warning", type=float, help="the rule's own warning level (every cluster only)")
    edit.add_argument("--critical", type=float, help="the rule's own critical level (every cluster only)")
    edit.add_argument("--by", default="cli", help="who edits (recorded)")


def run(store: Store, config: Config, args: argparse.Namespace) -> int:
    """Carry out one `alerts` verb; the exit status (2 with one line on standard error if refused)."""
    try:
        return _run(store, config, args)
    except (LookupError, ValueError, DeliveryError) as exc:
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)  # a KeyError's str() quotes it
        print(f"starmon: {text}", file=sys.stderr)
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
    elif args.verb == "rules":
        _rules(store, config, args)
    else:
        send_test(config.alerts, args.channel)
        print(f"test message sent to {args.channel}")
    return 0


def _rules(store: Store, config: Config, args: argparse.Namespace) -> None:
    """List the rules in force, or set or reset one rule's edit for a cluster glob."""
    settings = alert_edits.load(store, config.alerts)
    if args.action == "set":
        given = {
            "enabled": None if args.enabled is None else args.enabled == "on",
            "for": None if args.for_ is None else duration(args.for_, "--for"),
            "repeat": None if args.repeat is None else duration(args.repeat, "--repeat"),
            "severity": args.severity,
            "warning": args.warning,
            "critical": args.critical,
        }
        kept = alert_edits.explain(settings, args.rule, args.clusters).edit
        raw = {**(kept.raw if kept else {}), **{k: v for k, v in given.items() if v is not None}}
        alert_edits.save(store, settings, args.rule, args.clusters, raw, args.by)
        settings = alert_edits.load(store, config.alerts)
    elif args.action == "reset":
        if not alert_edits.reset(store, args.rule, args.clusters):
            raise LookupError(f"no edit of {args.rule} for {args.clusters}")
        settings = alert_edits.load(store, config.alerts)
    rows = alert_edits.rule_rows(settings, config.cards)
    if args.action:
        rows = [r for r in rows if r["rule"] == args.rule]
    if args.json:
        print(to_json([{**r, "edited_at": _iso(r["edited_at"])} for r in rows]))
        return
    for r in rows:
        given = [r["warning"], r["critical"]]
        levels = " " + "/".join("-" if v is None else f"{v:g}" for v in given) if given != [None, None] else ""
        state = "on" if r["enabled"] else "off"
        print(
            f"{r['rule']:<22} {r['clusters']:<14} {state:<3} for {r['for']:<5} repeat {r['repeat']:<4} "
            f"{r['severity']:<8}{levels}  ({r['changed']})"
        )


def _iso(ts: float | None) -> str | None:
    return when(ts) if ts is not None else None
