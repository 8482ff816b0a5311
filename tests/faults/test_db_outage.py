"""The database goes away and comes back while clients read and write.

The real service (``python -m app serve``, 2 uvicorn workers) talks to a fresh PostgreSQL
database through a TCP proxy owned by this test. Cutting the proxy closes every connection
and stops accepting new ones; restoring it listens again on the same port. Checked:

* during the outage every database-backed request is answered 503 with ``Retry-After``,
  none hanging: each within a few times the 1 s connect timeout the service is given (the
  client gives up after 5 s; on an idle machine they take well under a second, but on a
  loaded one, or under libfaketime, one in twenty took two), while ``/healthz`` stays 200;
* after the restore the service recovers on its own within 5 s;
* no write that was answered 2xx is lost: each is looked up in the database directly.

Needs PostgreSQL: the server of ``SCHEDULER_TEST_DATABASE_URL`` when set (CI), else
127.0.0.1:5432; the test fails, saying so, when neither answers.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import URL

from tests.serving import Service, fresh_postgres, libpq, serve

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "faults-admin-token-0123456789abcdef"
CLIENTS = 4
CLIENT_TIMEOUT = 5.0  # a request slower than this counts as hanging
ANSWER_WITHIN = 4.0  # seconds for the 503 during the outage: bounded, not hanging
RECOVER_WITHIN = 5.0  # seconds after the restore
MAX_REQUESTS_PER_PHASE = 2000
LISTENER_NOTICES = 0.5  # seconds: a feed directory must stop being trusted within this


# --- PostgreSQL -------------------------------------------------------------------------


@pytest.fixture
def database() -> Iterator[URL]:
    """A fresh database on the server (direct URL, not through the proxy); dropped after."""
    with fresh_postgres("faults") as url:
        yield url


# --- the proxy --------------------------------------------------------------------------


class Proxy:
    """127.0.0.1:<port> → the database server, in an event loop on its own thread."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> None:
        """Listen (again, on the same port after a cut)."""
        self._call(self._start())

    def cut(self) -> None:
        """Stop accepting (the listening socket closes: connects are refused) and close
        every open connection at once."""
        self._call(self._cut())

    def stop(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._relay, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for pair in list(self._pairs):
            for writer in pair:
                writer.transport.abort()
        self._pairs.clear()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        if self._server is None:  # cut while connecting
            client_w.transport.abort()
            up_w.transport.abort()
            return
        pair = (client_w, up_w)
        self._pairs.add(pair)
        try:
            await asyncio.gather(_pump(client_r, up_w), _pump(up_r, client_w))
        finally:
            self._pairs.discard(pair)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.transport.abort()


@pytest.fixture
def proxy(database: URL) -> Iterator[Proxy]:
    p = Proxy(database.host or "127.0.0.1", database.port or 5432)
    p.start()
    try:
        yield p
    finally:
        p.stop()


# --- the service ------------------------------------------------------------------------


@pytest.fixture
def service(database: URL, proxy: Proxy, tmp_path: Path) -> Iterator[Service]:
    through_proxy = database.set(host="127.0.0.1", port=proxy.port)
    with serve(
        through_proxy.render_as_string(hide_password=False),
        ADMIN_TOKEN,
        tmp_path / "service.log",
        workers=2,
        database_connect_timeout="1",
        feed_burst="100000",
    ) as svc:
        yield svc


# --- the client loop --------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    started: float
    elapsed: float
    status: int | None  # None: no answer within CLIENT_TIMEOUT, or the connection failed
    retry_after: str | None = None
    error: str | None = None


@dataclass
class Acknowledged:
    """Writes answered 2xx: each must be in the database afterwards."""

    time_off_ids: list[str] = field(default_factory=list)
    # participant id -> (version, name) of the newest acknowledged rename
    names: dict[str, tuple[int, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class World:
    key: str
    party_id: str
    participants: list[str]  # one per client thread: its renames never race
    feed_path: str


def _setup(base: str) -> World:
    with httpx.Client(base_url=base, timeout=10) as c:
        r = c.post(
            "/v1/workspaces", json={"name": "Outage"}, headers={"X-Admin-Token": ADMIN_TOKEN}
        )
        assert r.status_code == 201, r.text
        key = r.json()["api_key"]
        auth = {"Authorization": f"Bearer {key}"}
        party = c.post(
            "/v1/parties",
            headers=auth,
            json={
                "name": "Vendor",
                "role": "vendor",
                "timezone": "Asia/Manila",
                "working_hours": [{"days": ["mon", "tue"], "start": "09:00", "end": "17:00"}],
            },
        )
        assert party.status_code == 201, party.text
        people = []
        for i in range(CLIENTS):
            p = c.post(
                "/v1/participants",
                headers=auth,
                json={"name": f"Client {i}", "party_id": party.json()["id"]},
            )
            assert p.status_code == 201, p.text
            people.append(p.json()["id"])
        feed = c.post("/v1/feeds", headers=auth, json={"scope": "workspace"})
        assert feed.status_code == 201, feed.text
        path = "/feeds/" + feed.json()["url"].rsplit("/feeds/", 1)[1]
    return World(key, party.json()["id"], people, path)


def _drive(base: str, world: World, me: int, until: float, acked: Acknowledged) -> list[Outcome]:
    """One client: a mix of reads and writes until ``until`` (monotonic)."""
    pid = world.participants[me]
    auth = {"Authorization": f"Bearer {world.key}"}
    outcomes: list[Outcome] = []
    n = 0
    with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT) as c:
        while time.monotonic() < until and n < MAX_REQUESTS_PER_PHASE // CLIENTS:
            n += 1
            kind = ("read", "feed", "rename", "time_off", "list", "healthz", "readyz")[n % 7]
            started = time.monotonic()
            try:
                if kind == "read":
                    r = c.get(f"/v1/participants/{pid}", headers=auth)
                elif kind == "list":
                    r = c.get("/v1/parties", headers=auth)
                elif kind == "feed":
                    r = c.get(world.feed_path)
                elif kind == "healthz":
                    r = c.get("/healthz")
                elif kind == "readyz":
                    r = c.get("/readyz")
                elif kind == "rename":
                    name = f"Client {me} #{n}"
                    r = c.patch(f"/v1/participants/{pid}", headers=auth, json={"name": name})
                    if r.status_code == 200:
                        etag = re.fullmatch(r'W/"[^"]+-(\d+)"', r.headers["etag"])
                        assert etag is not None, r.headers["etag"]
                        version = int(etag[1])
                        with acked.lock:
                            if version > acked.names.get(pid, (0, ""))[0]:
                                acked.names[pid] = (version, name)
                else:
                    day = f"2027-{1 + n % 12:02d}-{1 + n % 28:02d}"
                    r = c.post(
                        f"/v1/participants/{pid}/time-off",
                        headers=auth,
                        json={"start_date": day, "end_date": day, "note": f"client {me}"},
                    )
                    if r.status_code == 201:
                        with acked.lock:
                            acked.time_off_ids.append(r.json()["id"])
                outcomes.append(
                    Outcome(
                        kind,
                        started,
                        time.monotonic() - started,
                        r.status_code,
                        r.headers.get("retry-after"),
                    )
                )
            except httpx.HTTPError as exc:
                elapsed = time.monotonic() - started
                outcomes.append(Outcome(kind, started, elapsed, None, error=repr(exc)))
                time.sleep(0.05)
            time.sleep(0.005)
    return outcomes


def _phase(base: str, world: World, seconds: float, acked: Acknowledged) -> list[Outcome]:
    until = time.monotonic() + seconds
    with ThreadPoolExecutor(CLIENTS) as pool:
        runs = [pool.submit(_drive, base, world, i, until, acked) for i in range(CLIENTS)]
        return sorted((o for run in runs for o in run.result()), key=lambda o: o.started)


def _show(outcomes: list[Outcome], t0: float) -> str:
    return "\n".join(
        f"  +{o.started - t0:6.2f}s {o.kind:8} {o.status} in {o.elapsed * 1000:.0f} ms"
        f"{' ' + o.error if o.error else ''}"
        for o in outcomes[:25]
    )


# --- the test ---------------------------------------------------------------------------


def _answered_during_outage(o: Outcome, cut_at: float) -> bool:
    """503 with Retry-After, fast. A feed poll may also be answered from this worker's
    feed directory in the moment before its change listener sees the connection go (no
    database is needed for it, and no change can commit while the database is away); after
    that moment the directory is not trusted, so feed polls get 503 like the rest."""
    if o.elapsed >= ANSWER_WITHIN:
        return False
    if o.kind == "feed" and o.status in (200, 304) and o.started < cut_at + LISTENER_NOTICES:
        return True
    return o.status == 503 and (o.retry_after or "").isdigit() and int(o.retry_after or 0) >= 1


def test_outage_answers_503_fast_recovers_and_loses_no_acknowledged_write(
    database: URL, proxy: Proxy, service: Service
) -> None:
    world = _setup(service.base)
    acked = Acknowledged()

    before = _phase(service.base, world, 2.0, acked)
    failed = [o for o in before if o.status is None or o.status >= 400]
    assert not failed, f"failures before the outage:\n{_show(failed, before[0].started)}"

    proxy.cut()
    cut_at = time.monotonic()
    during = _phase(service.base, world, 3.0, acked)
    liveness = [o for o in during if o.kind == "healthz"]
    assert liveness and all(o.status == 200 for o in liveness), "/healthz must not need the DB"
    backed = [o for o in during if o.kind != "healthz"]
    assert len(backed) >= 20, f"too few requests during the outage: {len(backed)}"
    wrong = [o for o in backed if not _answered_during_outage(o, cut_at)]
    assert not wrong, (
        f"during the outage every request must get 503 + Retry-After in < {ANSWER_WITHIN} s; "
        f"{len(wrong)} of {len(backed)} did not:\n{_show(wrong, cut_at)}\n"
        f"service log:\n{service.log_tail()}"
    )

    proxy.start()
    restored_at = time.monotonic()
    after = _phase(service.base, world, RECOVER_WITHIN + 2.0, acked)
    failures = [o for o in after if o.status is None or o.status >= 400]
    recovered_at = max((o.started + o.elapsed for o in failures), default=restored_at)
    late = [o for o in after if o.started >= restored_at + RECOVER_WITHIN]
    assert len(late) >= 20, f"too few requests after recovery: {len(late)}"
    assert recovered_at - restored_at <= RECOVER_WITHIN, (
        f"still failing {recovered_at - restored_at:.1f} s after the restore:\n"
        f"{_show(failures[-25:], restored_at)}\nservice log:\n{service.log_tail()}"
    )

    # Every acknowledged write is in the database (read directly, not through the service).
    assert acked.time_off_ids and acked.names, "the client loop acknowledged no writes"
    with psycopg.connect(libpq(database)) as conn:
        stored = {
            str(row[0])
            for row in conn.execute(
                "SELECT id FROM time_off WHERE id = ANY(%s)",
                [[uuid.UUID(i) for i in acked.time_off_ids]],
            )
        }
        lost = sorted(set(acked.time_off_ids) - stored)
        assert not lost, f"{len(lost)} acknowledged time-off rows are missing: {lost[:5]}"
        for pid, (version, name) in acked.names.items():
            row = conn.execute(
                "SELECT version, name FROM participant WHERE id = %s", [uuid.UUID(pid)]
            ).fetchone()
            assert row is not None
            # A later rename may have committed and lost only its answer; never an older one.
            assert row[0] >= version, f"participant {pid}: version {row[0]} < acked {version}"
            if row[0] == version:
                assert row[1] == name
