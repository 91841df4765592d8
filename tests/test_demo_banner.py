"""The demo banner: on every page it says the cluster is emulated and where to add a real one; on
the Clusters page itself it does not send the user to the page they are on."""

from __future__ import annotations

import pytest

from .fixtures import add_cluster, open_page, seed_rounds, unescape


@pytest.fixture
def demo_cluster(env):
    cid = add_cluster(env["store"], "demo", "127.0.0.1")
    env["store"].write(lambda conn: conn.exec_driver_sql("UPDATE clusters SET source = 'demo'"))
    seed_rounds(env["store"], cid, hours=0.1, dead=None)
    return env


def _banner(at) -> str:
    [text] = [unescape(m.value) for m in at.markdown if "You are looking at" in m.value]
    return text


def _links(at) -> list[str]:
    return [link.proto.label for link in at.get("page_link")]


@pytest.mark.parametrize("page", ["overview", "performance", "data"])
def test_the_banner_links_to_the_clusters_page(demo_cluster, page):
    at = open_page(page)
    assert not at.exception
    assert _banner(at).endswith("Add your own cluster and the demo stops.")
    assert "Add a cluster on the Clusters page" in _links(at)


def test_on_the_clusters_page_the_banner_points_below(demo_cluster):
    at = open_page("clusters")
    assert not at.exception
    assert _banner(at).endswith("Add your own cluster below and the demo stops.")
    assert "Add a cluster on the Clusters page" not in _links(at)
