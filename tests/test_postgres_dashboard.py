"""The dashboard and the embedded service run unchanged on PostgreSQL (when one is configured)."""

from __future__ import annotations

import os
import time

import pytest
from streamlit.testing.v1 import AppTest

from starmon.store import Store

from .fixtures import MAIN, PAGE, add_cluster, clear_caches, fresh_url, use_dashboard

pytestmark = pytest.mark.skipif(not os.environ.get("STARMON_TEST_PG_URL"), reason="no STARMON_TEST_PG_URL")


def test_every_page_renders_on_postgresql(tmp_path, monkeypatch):
    url = fresh_url("postgresql", tmp_path)
    (tmp_path / "starmon.toml").write_text("")
    use_dashboard(monkeypatch, url, tmp_path / "starmon.toml")
    monkeypatch.setenv("STARMON_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    store = Store(url)
    cid = add_cluster(store)
    now = time.time()
    store.write_rounds(
        cid,
        [
            (
                {
                    "ts": now - 3600 + i * 60,
                    "status": "ok",
                    "collect_ms": 5,
                    "qps": 10.0 + i,
                    "disk_usage_pct": 40.0,
                    "backend_total": 3,
                    "backend_alive": 3,
                    "tablet_count": 900,
                },
                [
                    {
                        "role": "BE",
                        "host": "10.0.0.2",
                        "alive": True,
                        "cpu_pct": 20.0,
                        "disk_used_bytes": 10**12,
                        "disk_total_bytes": 2 * 10**12,
                    }
                ],
            )
            for i in range(60)
        ],
    )
    store.close()
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    assert not at.exception
    cards = {m.label.split(" ", 1)[1]: m.value for m in at.metric}
    assert cards["QPS"] == "69.0/s" and cards["Tablets"] == "900" and cards["Avg memory"] == "n/a"
    for page in ("performance", "resources", "data", "clusters"):
        at.switch_page(PAGE[page]).run()
        assert not at.exception, page
    clear_caches()
