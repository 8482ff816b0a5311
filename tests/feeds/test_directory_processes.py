"""Two services (separate processes, as two hosts behind a load balancer would be) on one
PostgreSQL database: a change made through one reaches the polls answered by the other,
although the other serves known tokens from its feed directory without the database."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.serving import fresh_postgres, serve, tries_until

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "directory-admin-token-0123456789abcdef"
REACHES_WITHIN = 2.0  # seconds


def _directory_hits(c: httpx.Client) -> int:
    metrics = c.get("/metrics").text
    found = re.search(r'^scheduler_feed_lookups_total\{source="directory"\} (\S+)$', metrics, re.M)
    return int(float(found[1])) if found else 0


def test_changes_through_one_service_reach_the_others_directory(tmp_path: Path) -> None:
    with fresh_postgres("directory") as url:
        dsn = url.render_as_string(hide_password=False)
        with (
            serve(dsn, ADMIN_TOKEN, tmp_path / "a.log") as a,
            serve(dsn, ADMIN_TOKEN, tmp_path / "b.log") as b,
            httpx.Client(base_url=a.base, timeout=10) as ca,
            httpx.Client(base_url=b.base, timeout=10) as cb,
        ):
            r = ca.post(
                "/v1/workspaces", json={"name": "Acme"}, headers={"X-Admin-Token": ADMIN_TOKEN}
            )
            assert r.status_code == 201, r.text
            ca.headers["Authorization"] = f"Bearer {r.json()['api_key']}"
            feed = ca.post("/v1/feeds", json={"scope": "workspace"}).json()
            path = "/feeds/" + feed["url"].rsplit("/feeds/", 1)[1]

            first = cb.get(path)
            assert first.status_code == 200 and "X-WR-CALNAME:Acme" in first.text
            hits = _directory_hits(cb)
            assert cb.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
            assert _directory_hits(cb) == hits + 1, "B answered the poll from its directory"

            assert ca.patch("/v1/workspace", json={"name": "Acme Corp"}).status_code == 200
            tries_until(lambda: "X-WR-CALNAME:Acme Corp" in cb.get(path).text, REACHES_WITHIN)

            assert ca.delete(f"/v1/feeds/{feed['id']}").status_code == 204
            tries_until(lambda: cb.get(path).status_code == 404, REACHES_WITHIN)
            assert ca.get(path).status_code == 404
