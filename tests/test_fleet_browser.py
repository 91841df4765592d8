"""The Fleet page in Chromium (issue 16): the landing page with two clusters, worst first, and a click
that opens the cluster's Overview with the range kept."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from starmon.config import ClusterConfig
from starmon.store import Store

from .browser import browser, dashboard_env, dashboard_server, needs_chromium, page, settle, visit  # noqa: F401
from .fixtures import seed_rounds

pytestmark = needs_chromium


def test_the_fleet_lands_first_and_a_click_opens_the_overview_with_the_range(tmp_path, page):
    env = dashboard_env(tmp_path, demo=False, collector=False)
    store = Store(env["STARMON_DB_URL"])
    store.sync_clusters((ClusterConfig("dead-be", "127.0.0.1", 1, 1), ClusterConfig("fine", "127.0.0.1", 2, 2)))
    ids = store.cluster_ids()
    seed_rounds(store, ids["fine"], dead=None)
    seed_rounds(store, ids["dead-be"])  # a BE down for the last rounds
    store.close()
    with dashboard_server(tmp_path, env) as url:
        visit(page, f"{url}/?range=7d")
        expect(page.get_by_role("heading", name="Fleet")).to_be_visible()
        cards = page.get_by_test_id("stPageLink")
        expect(cards).to_have_count(1)  # only dead-be needs attention
        expect(page.get_by_text("1 node dead.")).to_be_visible()
        cards.get_by_text("dead-be").click()
        page.wait_for_url(re.compile(r"/overview\?.*cluster=dead-be"), timeout=15000)
        settle(page)
        assert "range=7d" in page.url
        expect(page.get_by_role("heading", name=re.compile("Overview · dead-be"))).to_be_visible()
        expect(page.get_by_text("BE 10.0.0.3 down").first).to_be_visible()
        # Back to the Fleet through the top bar: the cluster in the address does not send it back.
        page.get_by_test_id("stTopNavLink").filter(has_text="Fleet").click()
        settle(page)
        expect(page.get_by_role("heading", name="Fleet")).to_be_visible()
        assert "range=7d" in page.url
