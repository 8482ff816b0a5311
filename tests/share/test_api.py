"""Share links through HTTP: create, list, revoke; the page behind them; tenancy; 404s."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine

from tests.api.conftest import error_of
from tests.conftest import PUBLIC_BASE, Client, counting_rows
from tests.share.conftest import DemoSeries, make_demo_series

PAGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-robots-tag": "noindex, nofollow",
    "cache-control": "private, no-cache",
}


def _token(share: dict[str, Any]) -> str:
    token: str = share["url"].rsplit("/", 1)[-1]
    return token


def _html(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    for name, value in PAGE_HEADERS.items():
        assert r.headers[name] == value, name
    csp = r.headers["content-security-policy"]
    for directive in ("default-src 'none'", "style-src 'unsafe-inline'", "img-src data:"):
        assert directive in csp
    return r.text


def test_create_list_and_revoke(demo: DemoSeries) -> None:
    api, sid = demo.api, demo.series["id"]
    first = demo.share
    assert set(first) == {"id", "series_id", "url", "created_at"}
    assert first["series_id"] == sid
    assert first["url"].startswith(f"{PUBLIC_BASE}/share/")
    assert len(_token(first)) >= 43  # 256 random bits, URL-safe base64

    r = api.post(f"/v1/series/{sid}/share")
    assert r.status_code == 201, r.text
    second = r.json()
    assert _token(second) != _token(first)

    r = api.get(f"/v1/series/{sid}/shares")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [first["id"], second["id"]]
    assert all(set(i) == {"id", "series_id", "created_at"} for i in items)  # no URL, no token
    page = api.get(f"/v1/series/{sid}/shares", params={"limit": 1}).json()
    assert [i["id"] for i in page["items"]] == [first["id"]] and page["next_cursor"]

    _html(api.get(f"/share/{_token(first)}"), 200)
    r = api.delete(f"/v1/series/{sid}/shares/{first['id']}")
    assert r.status_code == 204, r.text
    assert [i["id"] for i in api.get(f"/v1/series/{sid}/shares").json()["items"]] == [second["id"]]
    _html(api.get(f"/share/{_token(first)}"), 404)
    _html(api.get(f"/share/{_token(second)}"), 200)
    error_of(api.delete(f"/v1/series/{sid}/shares/{first['id']}"), 404, "not_found")


def test_unknown_and_revoked_links_look_the_same(demo: DemoSeries, client: Client) -> None:
    api, sid = demo.api, demo.series["id"]
    assert api.delete(f"/v1/series/{sid}/shares/{demo.share['id']}").status_code == 204
    revoked = client.get(f"/share/{_token(demo.share)}")
    unknown = client.get("/share/" + "A" * 43)
    too_long = client.get("/share/" + "A" * 500)
    odd = client.get("/share/%C3%A9t%C3%A9")
    bodies = {_html(r, 404) for r in (revoked, unknown, too_long, odd)}
    assert len(bodies) == 1
    body = bodies.pop()
    assert "does not exist, or its link was revoked" in body
    assert "Weekly operations review" not in body


def test_another_workspace_never_sees_the_series(demo: DemoSeries, other_api: Client) -> None:
    sid, share_id = demo.series["id"], demo.share["id"]
    error_of(other_api.post(f"/v1/series/{sid}/share"), 404, "not_found")
    error_of(other_api.get(f"/v1/series/{sid}/shares"), 404, "not_found")
    error_of(other_api.delete(f"/v1/series/{sid}/shares/{share_id}"), 404, "not_found")

    # Its own series cannot reach the other's link either.
    mine = make_demo_series(other_api, schedule=False)
    error_of(
        other_api.delete(f"/v1/series/{mine.series['id']}/shares/{share_id}"), 404, "not_found"
    )
    listed = other_api.get(f"/v1/series/{mine.series['id']}/shares").json()["items"]
    assert [i["id"] for i in listed] == [mine.share["id"]]
    # The link still works: nothing of the above revoked it.
    _html(demo.api.get(demo.path), 200)


def test_share_routes_need_a_key(demo: DemoSeries, client: Client) -> None:
    sid = demo.series["id"]
    error_of(client.post(f"/v1/series/{sid}/share"), 401, "unauthorized")
    error_of(client.get(f"/v1/series/{sid}/shares"), 401, "unauthorized")
    error_of(client.delete(f"/v1/series/{sid}/shares/{demo.share['id']}"), 401, "unauthorized")


def test_bad_ids_are_validation_errors(demo: DemoSeries) -> None:
    api = demo.api
    error_of(api.post("/v1/series/not-a-uuid/share"), 422)
    error_of(api.delete(f"/v1/series/{demo.series['id']}/shares/x"), 422)
    # An unknown series is answered first, whatever else the path holds.
    unknown = "/v1/series/00000000-0000-0000-0000-000000000000"
    error_of(api.post(f"{unknown}/share"), 404)
    error_of(api.delete(f"{unknown}/shares/x"), 404)


def test_deleting_the_series_kills_its_links(demo: DemoSeries) -> None:
    assert demo.api.delete(f"/v1/series/{demo.series['id']}").status_code == 204
    _html(demo.api.get(demo.path), 404)


def test_the_page_writes_nothing(demo: DemoSeries, engine: Engine) -> None:
    with counting_rows(engine):
        _html(demo.api.get(demo.path), 200)
        _html(demo.api.get(demo.path, params={"week": "2026-11-02"}), 200)


def test_head_answers_as_get_without_the_body(client: Client, demo: DemoSeries) -> None:
    def same(path: str) -> httpx.Response:
        head, get = client.head(path), client.get(path)
        assert head.content == b""
        kept = [{k: v for k, v in r.headers.items() if k != "x-request-id"} for r in (head, get)]
        assert (head.status_code, kept[0]) == (get.status_code, kept[1])
        return get

    page = same(demo.path)
    _html(page, 200)
    assert int(page.headers["content-length"]) == len(page.content)
    assert same(demo.path + "?week=2026-11-02").status_code == 200
    assert same(demo.path + "?week=someday").status_code == 422
    unknown = same("/share/" + "A" * 43)
    _html(unknown, 404)
    share_id = demo.share["id"]
    assert demo.api.delete(f"/v1/series/{demo.series['id']}/shares/{share_id}").status_code == 204
    revoked = same(demo.path)
    assert revoked.status_code == 404 and revoked.text == unknown.text
