"""Notifications: composed from alert moves, queued in the outbox, delivered through apprise.

The outbox is written in the same transaction as the alerts' moves, so a notification is
never lost between deciding and queueing. A `Deliverer` thread sends what is due, each
channel on its own, and retries a failing channel with backoff; collection never waits for
it. A sender claims a row by moving its `next_attempt_at` past the claim time, so two
collectors never send one row at once, and a sender that dies mid-send leaves the row to be
sent again once the claim lapses: delivery is at least once (a crash between sending and
marking sent repeats that message), never at most once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import quote

import sqlalchemy as sa

from . import schema
from .alerts import AlertSettings, Channel
from .health import format_value
from .store import DatabaseLost, Store

log = logging.getLogger("starmon.alerts")
logging.getLogger("apprise").setLevel(logging.CRITICAL)  # its messages may carry a channel's URL: starmon says why

CLAIM_SECONDS = 120.0  # a claimed row is due again after this: longer than any send may take
GIVE_UP_SECONDS = 24 * 3600.0  # a message still undelivered after a day is dropped, with its last error
SEND_TIMEOUTS = "cto=4&rto=10"  # apprise's connect and read timeouts for HTTP channels, seconds
_RANGES = ((3600, "1h"), (6 * 3600, "6h"), (86400, "24h"), (3 * 86400, "3d"), (7 * 86400, "7d"))
_VERBS = {"fire": "FIRING", "escalate": "NOW CRITICAL", "repeat": "STILL FIRING", "resolve": "RESOLVED"}


class DeliveryError(RuntimeError):
    """A channel did not take a message; the text never includes the channel's URL."""


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failures: 10 s doubling, at most 15 min."""
    return float(min(10 * 2 ** max(attempts - 1, 0), 900))


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def link(public_url: str, cluster: str, since: float, now: float) -> str:
    """The Overview of the cluster over the shortest range that shows since when."""
    label = next((label for span, label in _RANGES if now - since <= span * 0.9), "30d")
    return f"{public_url}/?cluster={quote(cluster)}&range={label}"


def line(item: dict) -> str:
    """One alert in a message: what, how bad against which level, since when."""
    verb = _VERBS[item["kind"]]
    about = f" {item['subject']}" if item["subject"] and item["subject"] not in item["message"] else ""
    text = f"[{verb}] {item['severity']} {item['rule']}{about}: {item['message']}"
    if item["value"] is not None and item["threshold"] is not None:
        value, limit = (format_value(item[k], item["unit"]) for k in ("value", "threshold"))
        if limit not in item["message"]:  # the health cards' sentences say both already
            text += f" (value {value} against {limit})"
    text += f", since {when(item['started_at'])}"
    if item["kind"] == "resolve":
        text += f", resolved {when(item['now'])}"
    return text


def compose(cluster: str, items: list[dict], public_url: str, now: float) -> tuple[str, str, str]:
    """(title, body, apprise notify type) of one message about a cluster's moves of one evaluation."""
    firing = [i for i in items if i["kind"] != "resolve"]
    resolved = len(items) - len(firing)
    counts = ", ".join(
        p for p in (f"{len(firing)} firing" if firing else "", f"{resolved} resolved" if resolved else "") if p
    )
    title = f"[starmon] {cluster}: {counts}"
    order = sorted(items, key=lambda i: (i["kind"] == "resolve", i["severity"] != "critical", i["rule"], i["subject"]))
    since = min(i["started_at"] for i in items)
    body = "\n".join([f"Cluster {cluster}", *(line(i) for i in order), link(public_url, cluster, since, now)])
    kind = "success" if not firing else "failure" if any(i["severity"] == "critical" for i in firing) else "warning"
    return title, body, kind


def send(channel: Channel, title: str, body: str, notify_type: str) -> None:
    """Send one message through apprise, within its timeouts; DeliveryError if it did not go."""
    import apprise  # imported here: only senders need it, and it is slow to import

    url = channel.url if "cto=" in channel.url else channel.url + ("&" if "?" in channel.url else "?") + SEND_TIMEOUTS
    sender = apprise.Apprise()
    if not sender.add(url):
        raise DeliveryError(f"channel {channel.name}: apprise does not understand its URL")
    if not sender.notify(title=title, body=body, notify_type=notify_type):
        raise DeliveryError(f"channel {channel.name}: the message was not accepted (refused, unreachable or timed out)")


def queue(
    conn: sa.Connection, cluster_id: int, cluster: str, items: list[dict], settings: AlertSettings, now: float
) -> int:
    """Queue one message per channel that wants any of `items` (its severity and cluster filters); how many."""
    queued = 0
    for channel in settings.channels:
        wanted = [i for i in items if channel.wants(cluster, i["severity"])]
        if not wanted:
            continue
        title, body, kind = compose(cluster, wanted, settings.public_url, now)
        conn.execute(
            schema.alert_outbox.insert().values(
                cluster_id=cluster_id,
                channel=channel.name,
                alert_ids=json.dumps(sorted({i["id"] for i in wanted})),
                notify_type=kind,
                title=title,
                body=body,
                created_at=now,
                next_attempt_at=now,
                attempts=0,
            )
        )
        queued += 1
    return queued


class Deliverer:
    """Sends due outbox rows in a thread of its own, every `poll` seconds, until stop()."""

    def __init__(
        self,
        store: Store,
        settings: AlertSettings,
        clock: Callable[[], float] = time.time,
        sender: Callable[[Channel, str, str, str], None] = send,
        poll: float = 1.0,
    ):
        self.store, self.settings, self.clock, self.sender, self.poll = store, settings, clock, sender, poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Deliverer:
        self._thread = threading.Thread(target=self._loop, name="starmon-alert-delivery", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(wait)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except DatabaseLost:
                return
            except Exception:
                log.exception("alert delivery pass failed")
            self._stop.wait(self.poll)

    def run_pending(self) -> int:
        """Send every due message, channels side by side, each channel's in order; how many went."""
        now = self.clock()
        o = schema.alert_outbox
        due = self.store.read(
            lambda conn: [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(o)
                    .where(o.c.sent_at.is_(None), o.c.given_up_at.is_(None), o.c.next_attempt_at <= now)
                    .order_by(o.c.id)
                    .limit(200)
                )
            ]
        )
        by_channel: dict[str, list[dict]] = {}
        for row in due:
            by_channel.setdefault(row["channel"], []).append(row)
        if not by_channel:
            return 0
        with ThreadPoolExecutor(min(len(by_channel), 8), thread_name_prefix="starmon-alert-send") as pool:
            return sum(pool.map(self._channel_pass, by_channel.values()))

    def _channel_pass(self, rows: list[dict]) -> int:
        """One channel's due rows in order; the first failure leaves the rest for its retry."""
        sent = 0
        for row in rows:
            if not self._claim(row["id"]):
                continue  # another collector has it
            channel = self.settings.channel(row["channel"])
            try:
                if channel is None:
                    raise DeliveryError(f"channel {row['channel']} is no longer configured")
                self.sender(channel, row["title"], row["body"], row["notify_type"])
            except Exception as exc:
                self._failed(row, exc if isinstance(exc, DeliveryError) else DeliveryError(type(exc).__name__))
                return sent
            self.mark_sent(row)
            sent += 1
        return sent

    def _claim(self, row_id: int) -> bool:
        now, o = self.clock(), schema.alert_outbox
        claimed = self.store.write(
            lambda conn: (
                conn.execute(
                    o.update()
                    .where(
                        o.c.id == row_id, o.c.sent_at.is_(None), o.c.given_up_at.is_(None), o.c.next_attempt_at <= now
                    )
                    .values(next_attempt_at=now + CLAIM_SECONDS)
                ).rowcount
            )
        )
        return claimed == 1

    def mark_sent(self, row: dict) -> None:
        """The row went out: mark it, and count it on each alert it was about."""
        now, o, a = self.clock(), schema.alert_outbox, schema.alerts

        def mark(conn: sa.Connection) -> None:
            conn.execute(o.update().where(o.c.id == row["id"]).values(sent_at=now, attempts=o.c.attempts + 1))
            ids = json.loads(row["alert_ids"])
            if ids:
                conn.execute(a.update().where(a.c.id.in_(ids)).values(notifications=a.c.notifications + 1))

        self.store.write(mark)

    def _failed(self, row: dict, error: DeliveryError) -> None:
        now, o = self.clock(), schema.alert_outbox
        attempts = row["attempts"] + 1
        give_up = now - row["created_at"] >= GIVE_UP_SECONDS
        values = {"attempts": attempts, "last_error": str(error), "next_attempt_at": now + backoff(attempts)}
        if give_up:
            values["given_up_at"] = now
        self.store.write(lambda conn: conn.execute(o.update().where(o.c.id == row["id"]).values(**values)))
        log.warning(
            "alert message %s not delivered (attempt %d): %s; %s",
            row["id"],
            attempts,
            error,
            "given up after a day" if give_up else f"next try in {backoff(attempts):.0f} s",
        )


def send_test(settings: AlertSettings, name: str) -> None:
    """Send a test message to one channel now, outside the outbox; DeliveryError or LookupError if not."""
    channel = settings.channel(name)
    if channel is None:
        known = ", ".join(c.name for c in settings.channels) or "none configured"
        raise LookupError(f"no alert channel {name!r} (known: {known})")
    send(channel, "[starmon] test message", f"A test from starmon to channel {name}.\n{settings.public_url}", "info")
