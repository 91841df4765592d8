"""`python -m starmon overview --cluster NAME --range 24h --json`: the overview for scripts."""

from __future__ import annotations

import argparse
import json
import sys

from .config import ConfigError, load_config
from .forecast import describe
from .read import RANGES, Reader, overview
from .store import Store, StoreError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m starmon", description="starmon command line")
    sub = parser.add_subparsers(dest="command", required=True)
    ov = sub.add_parser("overview", help="health cards and range aggregates of one cluster")
    ov.add_argument("--cluster", required=True, help="cluster name")
    ov.add_argument("--range", default="24h", help=f"one of {', '.join(RANGES)} (default 24h)")
    ov.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        config = load_config()
        store = Store(config.db_url)
    except (ConfigError, StoreError) as exc:
        print(f"starmon: {exc}", file=sys.stderr)
        return 2
    try:
        if args.range not in RANGES:
            raise ValueError(f"unknown range {args.range!r}; choose {', '.join(RANGES)}")
        data = overview(Reader(store), args.cluster, args.range, config.cards,
                        forecast_days=config.forecast_window_days)
    except (LookupError, ValueError) as exc:
        print(f"starmon: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"{data['cluster']}: {data['status'] or 'no data yet'} (collected {data['collected_at'] or 'never'})")
    for card in data["health_cards"]:
        print(f"  {card['title']:<22} {card['display']:>14}  {card['status']}")
    for problem in data["problems"]:
        print(f"  ! {problem}")
    print(f"  disk forecast: {describe(data['forecast'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
