"""Links into the dashboard: ?cluster=, ?range=, ?start= and ?end=, known, unknown, hostile or malformed.

Whatever a link carries, the page draws without an exception, says what it did not understand in
a warning, and shows the default instead. The fixed cases come first, then property-based ones
(hypothesis, bounded: every example runs the page).
"""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as s
from streamlit.testing.v1 import AppTest

from starmon import schema
from starmon.read import RANGES
from starmon.store import Store

from .fixtures import (
    HOSTILE_BOLD,
    HOSTILE_COLOR,
    HOSTILE_HTML,
    HOSTILE_LINK,
    HOSTILE_MATH,
    PAGE,
    add_cluster,
    bucket,
    open_link,
    open_page,
    unescape,
)
from .strategies import shown_text

PAGES_SETTINGS = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- fixed cases -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("asked", ["nope", HOSTILE_HTML, "x" * 500])
def test_unknown_cluster_in_the_link_falls_back_with_a_warning(seeded_with_problems, asked):
    at = open_link("overview", cluster=asked)
    assert not at.exception
    warnings = [w.value for w in at.sidebar.warning]
    assert [unescape(w) for w in warnings] == [f"Unknown cluster in the link: {asked[:80]}; showing prod."]
    assert not at.toast  # said once, where it stays
    assert not any(re.search(r"(?<!\\)<img", text) for text in warnings)
    assert at.selectbox(key="cluster").value == "prod"
    assert unescape(at.header[0].value) == "Overview · prod"
    assert len(at.metric) == 15
    assert at.query_params["cluster"] == "prod"  # the bad value left the URL, the shown cluster is in it


def test_unknown_cluster_falls_back_to_the_first_cluster_by_name(seeded_with_problems):
    add_cluster(seeded_with_problems["store"], "backup", "10.0.1.1")  # sorts first, has no data yet
    at = open_link("overview", cluster="nope")
    assert not at.exception
    assert at.selectbox(key="cluster").value == "backup"
    assert any("No data collected yet for backup" in unescape(i.value) for i in at.info)


def test_the_address_names_the_cluster_even_when_it_is_the_only_one(seeded_with_problems):
    """A copied link must keep naming its cluster once a cluster sorting before it is added."""
    for page in ("overview", "performance", "data"):
        at = open_page(page)
        assert not at.exception
        assert at.query_params["cluster"] == "prod", page


def test_known_cluster_in_the_link_is_chosen(seeded_with_problems):
    add_cluster(seeded_with_problems["store"], "backup", "10.0.1.1")
    at = open_link("overview", cluster="prod")
    assert not at.exception and not at.sidebar.warning and not at.toast
    assert at.selectbox(key="cluster").value == "prod"
    assert unescape(at.header[0].value) == "Overview · prod"


@pytest.mark.parametrize("asked", ["99y", "<b>1h</b>", ""])
def test_unknown_range_in_the_link_falls_back_to_24h(seeded_with_problems, asked):
    at = open_link("overview", range=asked)
    assert not at.exception
    warnings = [unescape(w.value) for w in at.sidebar.warning]
    # An empty ?range= just means the default: no warning.
    assert warnings == ([f"Unknown range in the link: {asked}; showing 24h."] if asked else [])
    assert not any(re.search(r"(?<!\\)<b>", w.value) for w in at.sidebar.warning)
    # An empty ?range= is the binding's "clear" value: nothing is highlighted, but 24h is shown.
    assert at.segmented_control(key="range").value == ("24h" if asked else None)
    assert at.caption[0].value.endswith(("deltas over the last 24h.", "the first round in the last 24h."))
    at.switch_page(PAGE["performance"]).run()
    assert not at.exception
    assert at.caption[0].value.startswith(f"Last 24h, {bucket('24h')} s buckets")


# -- any link (property-based) ----------------------------------------------------------------------------


def _first_round(store: Store) -> float:
    with store.reader.connect() as conn:
        return conn.execute(sa.select(sa.func.min(schema.metrics_snapshots.c.ts))).scalar()


def warnings(at: AppTest) -> list[str]:
    return [unescape(w.value) for w in at.warning]  # sidebar ones included


def shown(text: str) -> str:
    """A message as Streamlit keeps it (st.warning dedents and strips its body)."""
    return textwrap.dedent(text).strip()


def shows_range(at: AppTest, page: str, words: str) -> bool:
    """The page's first caption says which range it shows: "Last 24h" / "the last 24h", or custom dates."""
    if page == "performance":
        caption = at.caption[0].value
        return caption.startswith(f"{words.removeprefix('the ').capitalize() if 'last' in words else words},")
    if not at.metric:  # the Overview of a range that ends before the first round
        return [i.value for i in at.info] == [f"No round was collected by the end of {words}."]
    return at.caption[0].value.endswith((f"deltas over {words}.", f"the first round in {words}."))


def healthy(at: AppTest, page: str, collected: bool = True) -> None:
    """The page drew; the Overview's cards, or (`collected` False: the range ends before the first round)
    a plain note that there is nothing to show as of the range's end."""
    assert not at.exception, at.exception
    assert unescape(at.header[0].value) == f"{page.capitalize()} · prod"
    if page == "overview":
        assert len(at.metric) == (15 if collected else 0)
        assert any(i.value.startswith("No round was collected by the end of") for i in at.info) != collected
    else:
        assert at.get("plotly_chart")


link_pages = s.sampled_from(["overview", "performance"])
hostile_values = s.sampled_from(
    [
        HOSTILE_HTML,
        HOSTILE_LINK,
        HOSTILE_BOLD,
        HOSTILE_COLOR,
        HOSTILE_MATH,
        "x" * 500,
        "prod ",
        " \n  prod\n \n x ",
        "PROD",
        "prod\x00",
        "../..",
        "'; DROP TABLE clusters; --",
        "%00",
        "\u202eprod",
        "a\nb",
        "\\",
        "1h",
        "custom",
    ]
)


@PAGES_SETTINGS
@given(page=link_pages, asked=s.one_of(hostile_values, shown_text(100)))
@example(page="overview", asked=" \n  prod\n \n x ")
@example(page="performance", asked=HOSTILE_HTML)
def test_link_with_an_unknown_cluster_falls_back_with_a_message(seeded_healthy, page, asked):
    at = open_link(page, cluster=asked)
    healthy(at, page)
    assert at.selectbox(key="cluster").value == "prod"
    if asked == "prod":
        assert not warnings(at)
    elif asked:
        assert shown(f"Unknown cluster in the link: {asked[:80]}; showing prod.") in warnings(at)


@PAGES_SETTINGS
@given(
    page=link_pages,
    asked=s.one_of(
        hostile_values,
        s.sampled_from(["99y", "<b>1h</b>", "1H", "-1h", "24h\n", "1e9h", "custom ", "0h", ""]),
        s.sampled_from(list(RANGES)),
        shown_text(50),
    ),
)
def test_link_with_an_unknown_range_falls_back_to_24h(seeded_healthy, page, asked):
    at = open_link(page, range=asked)
    healthy(at, page)
    if asked in RANGES:
        assert not warnings(at) and shows_range(at, page, f"the last {asked}")
    elif asked == "custom":
        assert at.date_input
    else:
        if asked:
            assert shown(f"Unknown range in the link: {asked[:40]}; showing 24h.") in warnings(at)
        assert shows_range(at, page, "the last 24h")


def _understood(text: str | None, today: date) -> bool | None:
    """How the custom-range date pickers read a URL date: True, False, or None (near the pickers' 10-year limit)."""
    if not text:
        return True  # absent: the picker's default, nothing to complain about
    for fmt in ("%Y-%m-%d", "%Y/%m/%d"):
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if day > today or day < today - timedelta(days=3700):
            return False
        return True if day >= today - timedelta(days=3000) else None
    return False


def utc_today() -> date:
    return datetime.now(UTC).date()


def url_dates():
    """Dates as links carry them, relative to the UTC day when each example is drawn (so a run
    across midnight stays consistent with the page, which reads the clock too)."""
    recent = s.integers(0, 200).map(lambda n: (utc_today() - timedelta(days=n)).isoformat())
    relative = s.sampled_from([1, -3]).map(
        lambda n: (
            (utc_today() + timedelta(days=n)).isoformat()
            if n > 0
            else (utc_today() + timedelta(days=n)).strftime("%Y/%m/%d")
        )
    )
    odd = s.sampled_from(
        [
            "garbage",
            "2026-02-30",
            "2026-13-01",
            "20261120",
            "2026-11-20T08:00",
            "1999-01-01",
            "9999-12-31",
            "0001-01-01",
            "-1",
            "",
            HOSTILE_HTML,
        ]
    )
    return s.one_of(recent, relative, odd, shown_text(20), s.none())


TODAY = utc_today()  # for the fixed examples only; tests compare with the day they run on


@PAGES_SETTINGS
@given(page=link_pages, start=url_dates(), end=url_dates())
@example(page="overview", start="garbage", end="2026-99-99")
@example(page="overview", start=(TODAY - timedelta(days=5)).isoformat(), end=(TODAY - timedelta(days=1)).isoformat())
@example(page="performance", start=(TODAY - timedelta(days=5)).isoformat(), end=TODAY.isoformat())
def test_link_with_a_custom_range(seeded_healthy, page, start, end):
    today = utc_today()
    ok_start, ok_end = _understood(start, today), _understood(end, today)
    assume(ok_start is not None and ok_end is not None)
    query = {
        "range": "custom",
        **({"start": start} if start is not None else {}),
        **({"end": end} if end is not None else {}),
    }
    at = open_link(page, **query)
    first, last = (d.value for d in at.date_input)
    assert isinstance(first, date) and isinstance(last, date) and last <= today
    valid = last >= first and (last - first).days + 1 <= 90
    range_end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC).timestamp()
    healthy(at, page, collected=not valid or _first_round(seeded_healthy["store"]) <= range_end)
    messages = warnings(at)
    for key, text, ok in (("start", start, ok_start), ("end", end, ok_end)):
        assert (
            shown(f"Ignored {key}={(text or '')[:40]} in the link: use a date like 2026-11-24, no later than today.")
            in messages
        ) == (not ok), (key, text, messages)
    if valid:
        day = lambda d: d.strftime("%b %d")  # noqa: E731
        assert shows_range(at, page, f"{day(first)} – {day(last)}"), at.caption[0].value
        assert len(messages) == (not ok_start) + (not ok_end), messages
    else:
        assert any("showing the last 24 hours" in w for w in messages), messages
        assert shows_range(at, page, "the last 24h")


def test_changing_the_dates_after_opening_a_link_is_not_reported(seeded_healthy):
    """The link is judged once: a date picked afterwards is not compared with the link's older one."""
    today = utc_today()
    at = open_link("overview", range="custom", start=(today - timedelta(days=5)).isoformat())
    assert not at.exception and not warnings(at)
    at.date_input(key="start").set_value(today - timedelta(days=3)).run()
    assert not at.exception and not warnings(at)
    day = lambda d: d.strftime("%b %d")  # noqa: E731
    assert shows_range(at, "overview", f"{day(today - timedelta(days=3))} – {day(today)}")
