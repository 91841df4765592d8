"""Air-gapped: every page works with nothing reachable but the dashboard itself, and asks for nothing else.

Database tooling often runs where the internet is not reachable. This machine has no internet
either, so an outside request would just fail here: the browser's network is cut to everything
but 127.0.0.1 and every request that tried to leave is recorded, so an attempt is caught even
when its failure goes unnoticed on the page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from .browser import browser, needs_chromium, visit  # noqa: F401
from .fixtures import PAGES

pytestmark = needs_chromium

# The pages' addresses: the Overview at the root, the others under their names.
URL_PATH = {name: "" if name == "overview" else name for name in PAGES}


@pytest.fixture(scope="module")
def offline(browser, demo_dashboard):  # noqa: F811
    """A browser page whose requests to anywhere but the dashboard's host are refused, and the refused ones."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    outside: list[str] = []

    def only_loopback(route):
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    page = context.new_page()
    yield page, outside
    context.close()


@pytest.mark.parametrize("name", URL_PATH)
def test_every_page_asks_nothing_from_outside(demo_dashboard, offline, name):
    page, outside = offline
    outside.clear()
    visit(page, f"{demo_dashboard.url}/{URL_PATH[name]}")
    page.wait_for_timeout(3000)  # charts and icons below the fold load late
    assert page.get_by_test_id("stException").count() == 0
    assert outside == [], f"the {name} page tried to reach {outside}"


def test_icons_are_drawn_from_the_bundled_font(demo_dashboard, offline):
    """A Material icon is one glyph, as wide as its font size. Without its font the browser spells the
    ligature out in the fallback font ("dashboard", 73 px at 16 px with the font blocked), while the
    icon's box stays 16 px square: so the text itself is measured."""
    page, outside = offline
    visit(page, demo_dashboard.url)
    drawn = page.evaluate(
        """[...document.querySelectorAll("[data-testid='stIconMaterial']")].map(icon => {
            const text = document.createRange();
            text.selectNodeContents(icon);
            return [icon.textContent, text.getBoundingClientRect().width, parseFloat(getComputedStyle(icon).fontSize)];
        })"""
    )
    widths = {name: (width, size) for name, width, size in drawn}
    assert {"dashboard", "speed", "memory", "database", "dns"} <= set(widths)  # the navigation's icons
    assert all(width <= 1.1 * size for width, size in widths.values() if width), f"icons drawn as text: {drawn}"
    assert page.evaluate(
        "[...document.fonts].some(font => font.family === 'Material Symbols Rounded' && font.status === 'loaded')"
    )
    assert outside == []
