"""`python -m starmon overview ...` (the overview for scripts), `python -m starmon events ...` (what
changed), `python -m starmon users ...` (accounts) and `python -m starmon tokens ...` (the HTTP API's
bearer tokens)."""

from __future__ import annotations

import argparse
import getpass
import sys

from . import alert_cli, queries, timeline, tokens, users
from .config import ConfigError, load_config
from .export import to_json
from .forecast import describe
from .health import format_delta, format_value
from .overview_json import overview
from .read import RANGES, Reader, _iso
from .store import Store, StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m starmon", description="starmon command line")
    sub = parser.add_subparsers(dest="command", required=True)
    ov = sub.add_parser("overview", help="health cards and range aggregates of one cluster")
    ov.add_argument("--cluster", required=True, help="cluster name")
    ov.add_argument(
        "--range", default="24h", help=f"one of {', '.join(RANGES)} (default 24h), or custom with --start and --end"
    )
    ov.add_argument(
        "--start",
        help="with --range custom: where the range starts, an ISO date or time "
        "(UTC unless it carries an offset), e.g. 2026-11-20 or 2026-11-20T08:00",
    )
    ov.add_argument("--end", help="with --range custom: where it ends (a date means that day's midnight)")
    ov.add_argument("--json", action="store_true", help="print JSON instead of text")
    ev = sub.add_parser("events", help="what changed in one cluster: nodes down, restarts, upgrades, leader moves ...")
    ev.add_argument("--cluster", required=True, help="cluster name")
    ev.add_argument("--range", default="24h", help=f"one of {', '.join(RANGES)} (default 24h), or custom")
    ev.add_argument("--start", help="with --range custom: where the range starts, as for overview")
    ev.add_argument("--end", help="with --range custom: where it ends")
    ev.add_argument("--json", action="store_true", help="print [{ts, kind, subject, severity, details}]")
    qu = sub.add_parser("queries", help="the workload from the audit log: top tables, slow queries, active users")
    qu.add_argument("--cluster", required=True, help="cluster name")
    qu.add_argument("--range", default="24h", help=f"one of {', '.join(RANGES)} (default 24h), or custom")
    qu.add_argument("--start", help="with --range custom: where the range starts, as for overview")
    qu.add_argument("--end", help="with --range custom: where it ends")
    qu.add_argument("--json", action="store_true", help="print JSON (top_tables_by_access, slow_queries, ...)")
    alert_cli.add_parser(sub)
    accounts = sub.add_parser("users", help="dashboard accounts (once one exists, everyone signs in)")
    verbs = accounts.add_subparsers(dest="verb", required=True)
    add = verbs.add_parser("add", help="add an account; prompts for the password")
    add.add_argument("name")
    add.add_argument("--role", choices=users.ROLES, default="viewer")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    passwd = verbs.add_parser("passwd", help="set an account's password; prompts for it")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    role = verbs.add_parser("role", help="change an account's role (acts on its open sessions at once)")
    role.add_argument("name")
    role.add_argument("role", choices=users.ROLES)
    verbs.add_parser("list", help="list accounts and roles")
    verbs.add_parser("open", help="with no account left, open the dashboard to everyone (no sign-in)")
    remove = verbs.add_parser("delete", help="delete an account")
    remove.add_argument("name")
    keys = sub.add_parser("tokens", help="bearer tokens for the HTTP API (/api), needed once accounts exist")
    key_verbs = keys.add_subparsers(dest="verb", required=True)
    key_add = key_verbs.add_parser("add", help="create a token and print it, once: only its hash is kept")
    key_add.add_argument("name")
    key_add.add_argument("--role", choices=users.ROLES, default="viewer", help="admin tokens may also refresh")
    key_verbs.add_parser("list", help="list tokens: name, role, created, last used")
    key_revoke = key_verbs.add_parser("revoke", help="delete a token; calls with it are refused at once")
    key_revoke.add_argument("name")
    args = parser.parse_args(argv)
    try:
        config = load_config()
        store = Store(config.db_url)
    except (ConfigError, StoreError) as exc:
        print(f"starmon: {exc}", file=sys.stderr)
        return 2
    if args.command == "alerts":
        try:
            return alert_cli.run(store, config, args)
        finally:
            store.close()
    if args.command == "users":
        try:
            return _users(store, args)
        except users.UserError as exc:
            print(f"starmon: {exc}", file=sys.stderr)
            return 2
        finally:
            store.close()
    if args.command == "tokens":
        try:
            return _tokens(store, args)
        except tokens.TokenError as exc:
            print(f"starmon: {exc}", file=sys.stderr)
            return 2
        finally:
            store.close()
    if args.command == "events":
        try:
            return _events(store, args)
        finally:
            store.close()
    if args.command == "queries":
        try:
            return _queries(store, args)
        finally:
            store.close()
    try:
        if args.range != "custom" and (args.start or args.end):
            raise ValueError("--start and --end need --range custom")
        data = overview(
            Reader(store),
            args.cluster,
            args.range,
            config,
            start=args.start,
            end=args.end,
        )
    except (LookupError, ValueError) as exc:
        print(f"starmon: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if args.json:
        print(to_json(data))
    else:
        print(f"{data['cluster']}: {data['status'] or 'no data yet'} (collected {data['collected_at'] or 'never'})")
        since = f" since {data['deltas_since']}" if data["deltas_since"] else ""
        for card in data["health_cards"]:
            delta = f"  {format_delta(card['delta'], card['unit'])}{since}" if card["delta"] is not None else ""
            print(f"  {card['title']:<22} {card['display']:>14}  {card['status']:<8}{delta}")
        for problem in data["problems"]:
            print(f"  ! {problem}")
        print(f"  over {data['range']['start']} – {data['range']['end']}:")
        for key, value in data["aggregates"].items():
            print(f"    {key:<20} {format_value(value, data['aggregate_units'][key]):>14}")
        print(f"  disk forecast: {describe(data['forecast'])}")
    if data["collected_at"] is None:  # every value is null: say why, and let a script tell
        print(f"starmon: no round of {args.cluster} was stored by the end of the range", file=sys.stderr)
        return 1
    return 0


def _events(store: Store, args) -> int:
    try:
        if args.range != "custom" and (args.start or args.end):
            raise ValueError("--start and --end need --range custom")
        _cluster, _tr, found = timeline.events_of(
            Reader(store), args.cluster, args.range, start=args.start, end=args.end
        )
    except (LookupError, ValueError) as exc:
        print(f"starmon: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(to_json(found))
        return 0
    for event in found:
        details = ", ".join(f"{k}={v}" for k, v in event["details"].items() if v is not None)
        print(f"{event['ts']}  {event['severity']:<8} {event['kind']:<22} {event['subject'] or '(cluster)'}  {details}")
    return 0


def _queries(store: Store, args) -> int:
    try:
        if args.range != "custom" and (args.start or args.end):
            raise ValueError("--start and --end need --range custom")
        data = queries.report(Reader(store), args.cluster, args.range, start=args.start, end=args.end)
    except (LookupError, ValueError) as exc:
        print(f"starmon: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(to_json(data))
        return 0
    print(
        f"{data['cluster']}: audit log {data['audit']}"
        + (f": {data['audit_message']}" if data["audit_message"] else "")
    )
    print(f"  active users: {data['active_users_1h']} in the last hour, {data['active_users_24h']} in 24 h")
    for row in data["top_tables_by_access"]:
        print(f"  {row['access_count']:>9,}  {row['database']}.{row['table']}  {row['unique_users']} users")
    for row in data["slow_queries"][:5]:
        print(f"  {row['query_ms']:>9,} ms  {row['user_name']}  {row['stmt'][:80]!r}")
    return 0


def _read_password(from_stdin: bool) -> str:
    """A new password: from standard input, or typed twice at a prompt that does not echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise users.UserError("the passwords differ")
    return first


def _users(store: Store, args) -> int:
    if args.verb == "add":
        user = users.add(store, args.name, args.role, _read_password(args.password_stdin))
        print(f"added {user.name} ({user.role})")
    elif args.verb == "passwd":
        users.set_password(store, args.name, _read_password(args.password_stdin))
        print(f"password of {args.name} changed")
    elif args.verb == "role":
        users.set_role(store, args.name, args.role)
        print(f"{args.name} is now {args.role}")
    elif args.verb == "delete":
        users.delete(store, args.name)
        print(f"deleted {args.name}")
        if not users.any_users(store):
            print(
                "no account is left: the dashboard admits nobody until `users add` adds one "
                "or `users open` opens it to everyone"
            )
    elif args.verb == "open":
        users.open_to_everyone(store)
        print("the dashboard is open: anyone who can reach it may see and change everything")
    else:
        accounts = users.list_users(store)
        for user in accounts:
            print(f"{user.name}\t{user.role}")
        if not accounts:
            print(f"starmon: no accounts: the dashboard is {_WITHOUT_ACCOUNTS[users.access(store)]}", file=sys.stderr)
    return 0


def _tokens(store: Store, args) -> int:
    if args.verb == "add":
        token = tokens.create(store, args.name, args.role)
        print(token)
        print(f"added token {args.name} ({args.role}); it is shown only now, so keep it", file=sys.stderr)
    elif args.verb == "revoke":
        tokens.revoke(store, args.name)
        print(f"revoked {args.name}")
    else:
        when = lambda ts: _iso(ts) if ts is not None else "never"  # noqa: E731
        listed = tokens.list_tokens(store)
        for token in listed:
            print(f"{token.name}\t{token.role}\tcreated {when(token.created_at)}\tlast used {when(token.last_used_at)}")
        if not listed:
            print("starmon: no tokens (`tokens add NAME --role viewer|admin` creates one)", file=sys.stderr)
    return 0


_WITHOUT_ACCOUNTS = {
    "open": "open to everyone (`users add NAME --role admin` turns sign-in on)",
    "closed": "closed: sign-in was turned on, so add an account (`users add`) or open it (`users open`)",
}


if __name__ == "__main__":
    sys.exit(main())
