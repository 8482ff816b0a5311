"""The share page in real headless Chromium (Debian's), served by a real uvicorn.

A missing browser fails the test (it never skips): run ``make test-tools``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from tests.conftest import Client
from tests.share.conftest import DemoSeries

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Nothing leaves loopback: every other address goes to a proxy on 127.0.0.1 that is not
    # there (Chromium never proxies loopback itself), so a page that asks another origin for
    # anything gets a failed request, seen by the tests, and no traffic goes out.
    "--proxy-server=http://127.0.0.1:9",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HINT = "run `make test-tools` (installs Debian's chromium and the dev extra with playwright)"


@pytest.fixture(scope="session")
def server(shared_app: FastAPI) -> Iterator[str]:
    """The test app on a free port of 127.0.0.1, same database as the ASGI test client."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        shared_app, lifespan="off", ws="none", log_level="warning", access_log=False
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


# Module scope, not session: while playwright's sync API is open, the main thread has a
# running event loop, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - depends on the environment
        pytest.fail(f"The playwright package is not installed; {HINT}.")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Headless Chromium is missing ({CHROMIUM} not found); {HINT}.")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=_browser_env()
        )
        yield instance
        instance.close()


def _browser_env() -> dict[str, str | float | bool]:  # the type playwright's launch(env=) takes
    """Chromium's environment: ours without libfaketime (``make test-any-date``).

    Under libfaketime Chromium runs about a hundred times slower (a script of 10^7 additions:
    0.12 s, then 13.8 s; /docs never loads in 30 s). Its pages get the moved wall clock from
    Playwright's clock instead (``Watched``), so they see the same date as the service.
    """
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}


class Watched:
    """A page that records console errors, uncaught exceptions and failed requests."""

    def __init__(self, browser: Any, width: int = 1200, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        # The page's Date is this process's wall clock (moved, under make test-any-date), and
        # runs on from there; see _browser_env.
        self.context.clock.install(time=time.time())
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))

    def close(self) -> None:
        self.context.close()


def _check_ribbons(page: Any, demo: DemoSeries) -> None:
    slots: list[float] = []
    for name, person in demo.people.items():
        ribbon = page.locator(f'svg.ribbon[data-participant="{person["id"]}"]')
        assert ribbon.count() == 1, name
        assert ribbon.get_attribute("role") == "img"
        label_ids = ribbon.get_attribute("aria-labelledby").split()
        title = page.locator(f"#{label_ids[0]}").text_content()
        assert name in title
        bar = ribbon.locator("rect.bar").bounding_box()
        assert bar is not None and bar["width"] > 300, name
        work = [r.bounding_box() for r in ribbon.locator("rect.work").all()]
        assert all(b is not None and b["width"] > 0 for b in work), name
        # Working hours are shaded, except for someone away all that day.
        assert work or ribbon.locator("rect.away").count(), name
        slot = ribbon.locator("rect.slot").bounding_box()
        assert slot is not None and slot["width"] > 5, name
        slots.append(slot["x"])
        row = page.locator(f'.ribbon-row[data-participant="{person["id"]}"]')
        assert row.locator(".local-time").text_content().strip(), name
    assert max(slots) - min(slots) < 1, "the slot is at the same UTC place on every ribbon"


def test_share_page_in_chromium(browser: Any, server: str, demo: DemoSeries) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    watched = Watched(browser)
    page = watched.page
    try:
        response = page.goto(server + demo.path)
        assert response is not None and response.status == 200
        assert page.title().startswith("Weekly operations review")
        assert page.locator("h2#week").text_content() == "Week of Mon 19 Oct 2026"
        _check_ribbons(page, demo)
        for key in ("people", "parties"):
            chart = page.locator(f'figure[data-chart="{key}"] svg.chart')
            assert chart.get_attribute("role") == "img"
            lines = chart.locator("polyline.line")
            assert lines.count() == (len(demo.people) if key == "people" else 3)
            assert chart.bounding_box()["height"] > 150
        page.screenshot(path=str(ARTIFACTS / "share-page.png"), full_page=True)

        # Keyboard: focus the "next week" link, press Enter; then back with "previous".
        page.focus('nav a[rel="next"]')
        assert page.evaluate("document.activeElement.getAttribute('rel')") == "next"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid", "focused links show a visible outline"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("?week=2026-10-26")
        assert page.locator("h2#week").text_content() == "Week of Mon 26 Oct 2026"
        priya = demo.people["Priya Shah"]["id"]
        away = page.locator(f'svg.ribbon[data-participant="{priya}"] rect.away')
        assert away.count() >= 1 and away.first.bounding_box()["width"] > 0
        _check_ribbons(page, demo)
        page.screenshot(path=str(ARTIFACTS / "share-page-2026-10-26.png"), full_page=True)
        ribbons = page.locator("figure.ribbons").bounding_box()
        top = {"x": 0, "y": 0, "width": 1200, "height": ribbons["y"] + ribbons["height"] + 16}
        page.screenshot(path=str(ARTIFACTS / "share-page-top.png"), clip=top, full_page=True)

        page.focus('nav a[rel="prev"]')
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("?week=2026-10-19")

        # Progressive enhancement: the arrow keys do the same.
        page.locator("h1").click()
        with page.expect_navigation():
            page.keyboard.press("ArrowRight")
        assert page.url.endswith("?week=2026-10-26")
        assert watched.problems == []
    finally:
        watched.close()


def test_share_page_on_a_phone(browser: Any, server: str, demo: DemoSeries) -> None:
    watched = Watched(browser, width=375, height=800)
    page = watched.page
    try:
        response = page.goto(server + demo.path)
        assert response is not None and response.status == 200
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, "nothing sticks out sideways on a phone"
        _check_ribbons(page, demo)
        page.screenshot(path=str(ARTIFACTS / "share-page-phone.png"), full_page=True)
        page.emulate_media(media="print")
        assert page.locator("nav.weeks").is_hidden()
        pdf_like = page.locator("details[open]").count()
        assert pdf_like == 0  # opened only by the beforeprint event of a real print
        assert watched.problems == []
    finally:
        watched.close()


def test_revoked_link_in_chromium(browser: Any, server: str, demo: DemoSeries) -> None:
    api: Client = demo.api
    assert api.delete(f"/v1/series/{demo.series['id']}/shares/{demo.share['id']}").status_code
    watched = Watched(browser)
    try:
        response = watched.page.goto(server + demo.path)
        assert response is not None and response.status == 404
        assert watched.page.locator("h1").text_content() == "This link does not work"
        # The 404 status itself is reported as a failed resource load; nothing else may be.
        assert all("404" in p for p in watched.problems), watched.problems
    finally:
        watched.close()


def test_api_docs_render_with_no_other_origin_reachable(browser: Any, server: str) -> None:
    """As offline or behind a strict proxy (CHROMIUM_ARGS: no other origin is reachable): the
    page asks no other origin for anything."""
    watched = Watched(browser)
    elsewhere: list[str] = []

    def only_ours(request: Any) -> None:
        if not request.url.startswith((server + "/", "data:")):
            elsewhere.append(request.url)

    try:
        watched.page.on("request", only_ours)
        response = watched.page.goto(server + "/docs")
        assert response is not None and response.status == 200
        title = watched.page.locator(".swagger-ui .info .title").first
        title.wait_for(timeout=15_000)
        assert "Governance meeting scheduler" in (title.text_content() or "")
        assert elsewhere == [], elsewhere
        assert not [p for p in watched.problems if p.startswith(("failed", "page error"))], (
            watched.problems
        )
    finally:
        watched.close()


def test_pages_read_the_same_wall_clock_as_the_service(browser: Any, server: str) -> None:
    """Under make test-any-date Chromium runs without libfaketime: its pages still see the
    moved date, and time runs on from it."""
    watched = Watched(browser)
    try:
        watched.page.goto(server + "/healthz")
        first = watched.page.evaluate("Date.now()") / 1000
        assert abs(first - time.time()) < 5, (first, time.time())
        watched.page.wait_for_timeout(300)
        assert watched.page.evaluate("Date.now()") / 1000 > first
    finally:
        watched.close()
