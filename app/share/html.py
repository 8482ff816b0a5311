"""The share page's HTML: the Jinja2 environment (autoescaped, strict), the one inline
script and the headers that go with it (a Content-Security-Policy that allows nothing else)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files

from jinja2 import Environment, PackageLoader, StrictUndefined

from app.scheduling.wording import day_label, hours
from app.share.page import SharePage
from app.share.render import (
    PALETTE_SIZE,
    PLOT_HEIGHT,
    PLOT_TOP,
    PLOT_WIDTH,
    build_view,
    working_hours_text,
)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("app.share", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["hours"] = hours
    env.filters["day_label"] = day_label
    env.filters["working_hours"] = working_hours_text
    env.globals["palette_size"] = PALETTE_SIZE
    env.globals["plot_height"] = PLOT_HEIGHT
    env.globals["plot_top"] = PLOT_TOP
    env.globals["plot_width"] = PLOT_WIDTH
    return env


@lru_cache(maxsize=1)
def shortcuts_script() -> str:
    """The one inline script (arrow keys for weeks, open data tables when printing)."""
    return files("app.share").joinpath("templates/shortcuts.js.j2").read_text("utf-8").strip()


def content_security_policy() -> str:
    """Nothing may load from anywhere; the inline script is allowed by its hash."""
    digest = hashlib.sha256(shortcuts_script().encode()).digest()
    script = "'sha256-" + base64.b64encode(digest).decode() + "'"
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src {script}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-cache",
    "X-Frame-Options": "DENY",
}


def page_headers() -> dict[str, str]:
    return {"Content-Security-Policy": content_security_policy(), **SECURITY_HEADERS}


def render_page(page: SharePage) -> str:
    view = build_view(page)
    return (
        environment()
        .get_template("page.html.j2")
        .render(view=view, page=page, series=page.series, script=shortcuts_script())
    )


def render_message(title: str, message: str) -> str:
    """A small page for errors (unknown link, bad week)."""
    return environment().get_template("message.html.j2").render(title=title, message=message)
