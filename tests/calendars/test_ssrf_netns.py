"""Default settings, end to end, in a network namespace of our own (``unshare -rn``).

Inside, only loopback exists, and 10.0.0.1, 169.254.169.254 and a stand-in public address
(93.184.216.34) are put on it with servers listening: a fetch that got past the rules would
connect and be counted, rather than fail for want of a route. Nothing can leave the
namespace. This module is also the script run inside it (``python -m``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "93.184.216.34"  # not the real one: an address on this namespace's loopback
FORBIDDEN = ["10.0.0.1", "169.254.169.254"]

# case → the exception it must end in, and words of its reason (the same for both clients)
EXPECTED: dict[str, tuple[str, str]] = {
    "public": ("ok", "200"),
    "public by name": ("ok", "200"),
    "loopback": ("Refused", "127.0.0.1 is a loopback address"),
    "localhost": ("Refused", "is a loopback address"),
    "0.0.0.0": ("Refused", "0.0.0.0 is an unspecified address"),
    "decimal loopback": ("Refused", "127.0.0.1 is a loopback address"),
    "ipv6 loopback": ("Refused", "::1 is a loopback address"),
    "private": ("Refused", "10.0.0.1 is a private address"),
    "metadata": ("Refused", "169.254.169.254 is the cloud metadata address"),
    "mapped private": ("Refused", "is 10.0.0.1 in IPv6 form, and 10.0.0.1 is a private"),
    "name for private": ("Refused", "internal.example resolves to 10.0.0.1"),
    "redirect to loopback": ("Refused", "127.0.0.1 is a loopback address"),
    "redirect to ipv6 loopback": ("Refused", "::1 is a loopback address"),
    "redirect to private": ("Refused", "10.0.0.1 is a private address"),
    "redirect to metadata": ("Refused", "169.254.169.254 is the cloud metadata address"),
    "redirect to name for private": ("Refused", "internal.example resolves to 10.0.0.1"),
    "redirect to file": ("Refused", "not file:"),
    "file": ("Refused", "not file:"),
    "huge body": ("FetchFailed", "larger than 10 MB"),
}


def test_default_settings_reach_nothing_but_the_public_internet() -> None:
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True)
    assert probe.returncode == 0, (
        "This test needs `unshare -rn` (an unprivileged user and network namespace), which "
        f"this machine refused: {probe.stderr.strip()!r}. Allow user namespaces "
        "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, or a "
        "container run with --security-opt seccomp=unconfined); the test is not skipped."
    )
    inside = subprocess.run(
        ["unshare", "-rn", sys.executable, "-m", "tests.calendars.test_ssrf_netns"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert inside.returncode == 0, inside.stderr
    report = json.loads(inside.stdout.splitlines()[-1])
    wrong = {
        f"{client} {case}": got
        for client, outcomes in report["outcomes"].items()
        for case, got in outcomes.items()
        if got[0] != EXPECTED[case][0]
        or EXPECTED[case][1] not in got[1]
        or (case.startswith("redirect") and " redirects to " not in got[1])
    }
    assert wrong == {}
    assert set(report["outcomes"]["fetch"]) == set(EXPECTED)
    assert report["forbidden_hits"] == 0
    assert report["forbidden_connects"] == []
    assert report["public_hits"] >= 4  # the allowed fetches and the first hop of redirects


# --- inside the namespace -----------------------------------------------------------------


def _bring_up_loopback(*aliases: str) -> None:
    """lo up, with ``aliases`` on it as /32s: ioctl, since `ip` may not be installed."""
    up, get_flags, set_flags, set_address, set_netmask = 0x1, 0x8913, 0x8914, 0x8916, 0x891C
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16s16x", b"lo")
        (flags,) = struct.unpack_from("H", fcntl.ioctl(s, get_flags, request), 16)
        fcntl.ioctl(s, set_flags, struct.pack("16sH14x", b"lo", flags | up))
        for n, ip in enumerate(aliases, 1):
            name = struct.pack("16s", f"lo:{n}".encode())
            for command, address in ((set_address, ip), (set_netmask, "255.255.255.255")):
                sockaddr = struct.pack("HH4s8x", socket.AF_INET, 0, socket.inet_aton(address))
                fcntl.ioctl(s, command, name + sockaddr)


def _inside() -> dict[str, Any]:
    _bring_up_loopback(*FORBIDDEN, PUBLIC)  # first: urllib3 looks for IPv6 on import
    from app.calendars.fetch import FetchFailed, Refused, fetch, guarded_session
    from tests.calendars.ics_server import IcsServer

    connects: list[str] = []
    connect = socket.socket.connect

    def recorded(self: socket.socket, address: Any) -> None:
        connects.append(str(address[0]))
        connect(self, address)

    socket.socket.connect = recorded  # type: ignore[method-assign, assignment]

    with contextlib.ExitStack() as stack:
        public = stack.enter_context(IcsServer(PUBLIC, 80))
        loopback = stack.enter_context(IcsServer("127.0.0.1"))
        loopback6 = stack.enter_context(IcsServer("::1"))
        forbidden = [stack.enter_context(IcsServer(ip, 80)) for ip in FORBIDDEN]
        for server in (loopback, loopback6, *forbidden):
            server.put("/")
            server.put("/latest/meta-data/", b"iam/security-credentials/\n")
        public.put("/cal.ics")
        public.oversize("/huge.ics", 10 * 1024 * 1024 + 1)
        targets = {
            "loopback": loopback.url("/"),
            "ipv6 loopback": loopback6.url("/"),
            "private": "http://10.0.0.1/",
            "metadata": "http://169.254.169.254/latest/meta-data/",
            "name for private": "http://internal.example/",
            "file": "file:///etc/passwd",
        }
        for name, target in targets.items():
            public.redirect(f"/to/{name.replace(' ', '-')}", target)
        cases = {
            "public": f"http://{PUBLIC}/cal.ics",
            "public by name": "http://public.example/cal.ics",
            "localhost": f"http://localhost:{loopback.port}/",
            "0.0.0.0": f"http://0.0.0.0:{loopback.port}/",
            "decimal loopback": f"http://2130706433:{loopback.port}/",
            "mapped private": "http://[::ffff:10.0.0.1]/",
            "huge body": "http://public.example/huge.ics",
            **targets,
            **{
                f"redirect to {name}": f"http://public.example/to/{name.replace(' ', '-')}"
                for name in targets
            },
        }
        names = {"public.example": [PUBLIC], "internal.example": ["10.0.0.1"]}

        def resolve(host: str) -> list[str]:
            if host in names:
                return names[host]
            return [str(info[4][0]) for info in socket.getaddrinfo(host, None)]

        def via_fetch(url: str) -> str:
            return str(fetch(url, resolve=resolve).status)

        def via_session(url: str) -> str:
            with guarded_session(allow_private=False, resolve=resolve) as session:
                return str(session.get(url).status_code)

        outcomes: dict[str, dict[str, tuple[str, str]]] = {}
        for client, read in (("fetch", via_fetch), ("session", via_session)):
            outcomes[client] = {}
            for case, url in cases.items():
                try:
                    outcomes[client][case] = ("ok", read(url))
                except (Refused, FetchFailed) as exc:
                    outcomes[client][case] = (type(exc).__name__, exc.reason)
                except Exception as exc:  # reported, so the test shows it
                    outcomes[client][case] = (type(exc).__name__, str(exc))
        return {
            "outcomes": outcomes,
            "forbidden_hits": sum(s.hits() for s in (loopback, loopback6, *forbidden)),
            "forbidden_connects": [ip for ip in connects if ip != PUBLIC],
            "public_hits": public.hits(),
        }


if __name__ == "__main__":
    print(json.dumps(_inside()))
