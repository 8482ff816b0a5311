"""/docs works without the internet: every asset it loads is served by us. (No /redoc:
ReDoc's page loads its vendor's logo from a CDN.)"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tests.conftest import Client

CONTENT_TYPES = {
    ".js": ("application/javascript", "text/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


class _References(HTMLParser):
    """Every URL a page loads: src and href attributes, and the spec URL in its script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.urls += re.findall(r"""\burl:\s*['"]([^'"]+)['"]""", data)
            self.urls += re.findall(r"""https?://[^\s'"]+""", data)


def test_docs_load_only_same_origin_assets(client: Client) -> None:
    r = client.get("/docs")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "://" not in r.text, "the page names another origin"
    parser = _References()
    parser.feed(r.text)
    assert any(u.endswith(".js") for u in parser.urls), parser.urls
    assert "/openapi.json" in parser.urls, parser.urls
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, (url, asset.status_code)
        suffix = url[url.rfind(".") :]
        media = asset.headers["content-type"].split(";")[0]
        assert media in CONTENT_TYPES[suffix], (url, media)
        assert len(asset.content) > 1000, url


def test_there_is_no_redoc_page(client: Client) -> None:
    assert client.get("/redoc").status_code == 404


def test_swagger_ui_bundle_is_a_release_that_reads_openapi_3_1(client: Client) -> None:
    # FastAPI writes OpenAPI 3.1; Swagger UI 4 renders it as "no valid version field".
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")
    parser = _References()
    parser.feed(client.get("/docs").text)
    bundle = next(u for u in parser.urls if u.endswith("swagger-ui-bundle.js"))
    assert "isOAS31" in client.get(bundle).text
