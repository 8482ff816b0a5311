"""A real Radicale CalDAV server on loopback for tests, and the `radicale` fixture that shares one.

Use it from a test module with `from tests.calendars.radicale import radicale_fixture  # noqa: F401`
and a test parameter named `radicale`: the server starts once per session, whichever modules
import it, and stops when the session ends.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import caldav
import pytest

_STARTUP_SECONDS = 10.0
_STASH_KEY = pytest.StashKey["RadicaleServer"]()

_CONFIG = """\
[server]
hosts = 127.0.0.1:{port}
delay_on_error = 0
[auth]
type = htpasswd
htpasswd_filename = {users}
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = {collections}
[web]
type = none
[logging]
level = warning
"""


class RadicaleServer:
    """A Radicale subprocess on 127.0.0.1 with plain htpasswd users and owner-only rights.

    The htpasswd file is read on every login, so users can be added while it runs.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.passwords: dict[str, str] = {}
        self._users = root / "users"
        self._users.touch()
        self._log = root / "radicale.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> RadicaleServer:
        # A port found free can be taken before Radicale binds it: try a few.
        for _ in range(3):
            self.port = _free_port()
            config = self.root / "config"
            config.write_text(
                _CONFIG.format(
                    port=self.port, users=self._users, collections=self.root / "collections"
                )
            )
            with self._log.open("ab") as log:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "radicale", "--config", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            if self._wait_until_listening():
                return self
        raise RuntimeError(f"Radicale did not start; see {self._log}:\n{self._log.read_text()}")

    def _wait_until_listening(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.02)
            else:
                return True
        self.stop()
        return False

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> RadicaleServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def add_user(self, username: str, password: str) -> None:
        """Adds a login; adding the same user again with the same password does nothing."""
        known = self.passwords.get(username)
        if known == password:
            return
        if known is not None:
            raise ValueError(f"{username} already has another password")
        self.passwords[username] = password
        with self._users.open("a") as users:
            users.write(f"{username}:{password}\n")

    def client(self, username: str) -> caldav.DAVClient:
        return caldav.DAVClient(self.url, username=username, password=self.passwords[username])

    def make_calendar(
        self,
        username: str,
        name: str,
        password: str = "secret",
        components: Sequence[str] | None = None,
    ) -> str:
        """Creates the calendar `name` of `username` (added if new) and returns its URL;
        `components` (e.g. ["VTODO"]) restricts what it holds.

        >>> server.make_calendar("maria", "work")  # doctest: +SKIP
        'http://127.0.0.1:40123/maria/work/'
        """
        self.add_user(username, password)
        with self.client(username) as client:
            calendar = caldav.Principal(client).make_calendar(
                name=name, cal_id=name, supported_calendar_component_set=components
            )
            return str(calendar.url)

    def save_event(self, calendar_url: str, ical: str) -> str:
        """Writes one iCalendar object into the calendar, as its owner; returns the resource URL.

        The owner is the first segment of the calendar's path, as with Radicale's owner_only
        rights.
        """
        owner = urlsplit(calendar_url).path.strip("/").split("/")[0]
        with self.client(owner) as client:
            return str(caldav.Calendar(client, url=calendar_url).save_event(ical).url)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(name="radicale", scope="session")
def radicale_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RadicaleServer]:
    """One Radicale for the whole session: each importing module gets its own fixture
    definition, so the server itself is kept in the session's stash."""
    stash = request.config.stash
    if _STASH_KEY not in stash:
        server = RadicaleServer(tmp_path_factory.mktemp("radicale")).start()
        stash[_STASH_KEY] = server
        request.config.add_cleanup(server.stop)
    yield stash[_STASH_KEY]
