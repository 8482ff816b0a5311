"""app.calendars.fetch: which addresses are refused, and that nothing refused is ever connected.

No test sends traffic anywhere but loopback (some private and metadata addresses accept
connections on the machines we run on): ``loopback_only`` fails a test that tries.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import caldav
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.calendars import fetch as fetch_module
from app.calendars.fetch import (
    USER_AGENT,
    FetchFailed,
    Refused,
    check_url,
    fetch,
    guarded_session,
    normalize_url,
    refused_address,
)
from tests.calendars.ics_server import IcsServer

MB = 1024 * 1024


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every attempt to connect anywhere but loopback, each also failing the test at once."""
    attempts: list[Any] = []

    def guard(connect: Callable[[socket.socket, Any], Any]) -> Callable[[socket.socket, Any], Any]:
        def guarded(self: socket.socket, address: Any) -> Any:
            if isinstance(address, tuple):
                host = str(address[0]).split("%")[0]
                if not ipaddress.ip_address(host).is_loopback:
                    attempts.append(address)
                    raise AssertionError(f"a test tried to connect to {address}")
            return connect(self, address)

        return guarded

    monkeypatch.setattr(socket.socket, "connect", guard(socket.socket.connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(socket.socket.connect_ex))
    yield attempts
    assert attempts == []


@pytest.fixture
def server() -> Iterator[IcsServer]:
    with IcsServer() as running:
        yield running


@pytest.fixture
def allow_exactly_loopback_v4(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let 127.0.0.1 stand in for a public address; every other decision stays as it is.

    The loopback server is then a "public" site whose redirects are checked by the real
    rules (test_ssrf_netns.py does the same with no such hook, in a network namespace).
    """
    real = fetch_module.refused_address

    def decide(ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        return None if str(ip) == "127.0.0.1" else real(ip)

    monkeypatch.setattr(fetch_module, "refused_address", decide)


def resolver(names: dict[str, list[str]]) -> Callable[[str], list[str]]:
    def resolve(host: str) -> list[str]:
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return names[host]

    return resolve


class Get(Protocol):
    def __call__(self, url: str, **limits: Any) -> tuple[int, bytes]: ...


def via_fetch(url: str, **limits: Any) -> tuple[int, bytes]:
    got = fetch(url, **limits)
    return got.status, got.body


def via_session(url: str, **limits: Any) -> tuple[int, bytes]:
    with guarded_session(**limits) as session:
        response = session.get(url)
        return response.status_code, response.content


@pytest.fixture(params=[via_fetch, via_session], ids=["fetch", "session"])
def get(request: pytest.FixtureRequest) -> Get:
    """Both ways out: fetch (httpx) and guarded_session (requests, for caldav)."""
    function: Get = request.param
    return function


# --- the decision -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.5", "a private address"),
        ("172.16.0.1", "a private address"),
        ("172.31.255.255", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("100.127.255.254", "a shared (carrier-grade NAT) address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("fc00::1", "a private address"),
        ("fd00:ec2::254", "a private address"),  # the metadata service over IPv6
        ("192.0.2.1", "a private address"),  # documentation
        ("2001:db8::1", "a private address"),
        ("::10.0.0.1", "a reserved address"),  # IPv4-compatible, deprecated
    ],
)
def test_refused_addresses_say_what_they_are(ip: str, kind: str) -> None:
    address = ipaddress.ip_address(ip)
    assert refused_address(ip) == refused_address(address) == f"{address} is {kind}"


@pytest.mark.parametrize(
    ("ip", "inner", "kind"),
    [
        ("::ffff:10.0.0.1", "10.0.0.1", "a private address"),
        ("::ffff:127.0.0.1", "127.0.0.1", "a loopback address"),
        ("::ffff:169.254.169.254", "169.254.169.254", "the cloud metadata address"),
        ("2002:a00:1::", "10.0.0.1", "a private address"),  # 6to4
        ("64:ff9b::a9fe:a9fe", "169.254.169.254", "the cloud metadata address"),  # NAT64
    ],
)
def test_ipv6_forms_of_ipv4_addresses_are_judged_as_ipv4(ip: str, inner: str, kind: str) -> None:
    address = ipaddress.ip_address(ip)
    assert refused_address(ip) == f"{address} is {inner} in IPv6 form, and {inner} is {kind}"


@pytest.mark.parametrize(
    "ip",
    ["93.184.216.34", "8.8.8.8", "2606:4700::1", "::ffff:93.184.216.34", "64:ff9b::5db8:d822"],
)
def test_public_addresses_are_allowed(ip: str) -> None:
    assert refused_address(ip) is None


# --- the URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("webcal://example.com/a.ics", "https://example.com/a.ics"),
        ("  WEBCALS://example.com/a.ics?x=1\n", "https://example.com/a.ics?x=1"),
        ("http://example.com:8080/a.ics", "http://example.com:8080/a.ics"),
        ("HTTPS://example.com/", "https://example.com/"),
    ],
)
def test_normalize_url(url: str, normalized: str) -> None:
    assert normalize_url(url) == normalized


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "not file:"),
        ("ftp://example.com/a.ics", "not ftp:"),
        ("gopher://example.com/", "not gopher:"),
        ("javascript:alert(1)", "not javascript:"),
        ("example.com/a.ics", "must start with https://"),
        ("http:///a.ics", "no host name"),
        ("http://user:pass@example.com/a.ics", "user name or password"),
        ("http://user@example.com/a.ics", "user name or password"),
        ("http://example.com:99999/", "invalid port"),
        ("https://example.com/" + "a" * 2000, "longer than 2000 characters"),
    ],
)
def test_urls_that_are_refused_before_any_lookup(get: Get, url: str, reason: str) -> None:
    def no_lookups(host: str) -> list[str]:
        raise AssertionError(host)

    with pytest.raises(Refused, match=reason):
        normalize_url(url)
    with pytest.raises(Refused, match=reason):
        check_url(url, allow_private=True, resolve=no_lookups)
    with pytest.raises(Refused, match=reason):
        get(url, allow_private=True, resolve=no_lookups)


def test_check_url_resolves_and_refuses_if_any_address_is_refused() -> None:
    resolve = resolver(
        {"calendar.example": ["93.184.216.34"], "mixed.example": ["93.184.216.34", "10.0.0.5"]}
    )
    assert check_url("webcal://calendar.example/a.ics", allow_private=False, resolve=resolve) == (
        "https://calendar.example/a.ics"
    )
    with pytest.raises(Refused) as refused:
        check_url("https://mixed.example/a.ics", allow_private=False, resolve=resolve)
    assert refused.value.reason == (
        "mixed.example resolves to 10.0.0.5, and 10.0.0.5 is a private address; "
        "calendars can only be read from public internet addresses."
    )
    assert check_url("https://mixed.example/", allow_private=True, resolve=resolve)
    with pytest.raises(Refused, match=re.escape("127.0.0.1 is a loopback address")):
        check_url("http://127.0.0.1:8080/", allow_private=False)
    with pytest.raises(Refused, match="::1 is a loopback address"):
        check_url("http://[::1]:8080/", allow_private=False)


def test_a_name_that_does_not_resolve_is_a_fetch_failure(get: Get) -> None:
    resolve = resolver({"empty.example": []})
    for host in ("nowhere.example", "empty.example"):
        with pytest.raises(FetchFailed, match=f"{host} could not be found") as failed:
            check_url(f"https://{host}/", allow_private=False, resolve=resolve)
        assert failed.value.status is None
        with pytest.raises(FetchFailed, match=f"{host} could not be found"):
            get(f"https://{host}/", allow_private=False, resolve=resolve)


def test_a_slow_lookup_counts_against_the_time_limit(get: Get) -> None:
    def slow(host: str) -> list[str]:
        time.sleep(2)
        return ["93.184.216.34"]

    started = time.monotonic()
    with pytest.raises(
        FetchFailed, match=re.escape("Looking up slow.example took longer than 0.3 s")
    ):
        get("http://slow.example/", allow_private=False, timeout=0.3, resolve=slow)
    assert time.monotonic() - started < 1.5


# --- refused before connecting ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://calendar.example/a.ics", "10.0.0.5 is a private address"),
        ("http://metadata.example/latest/meta-data/", "169.254.169.254 is the cloud metadata"),
        ("https://six.example/a.ics", "::1 is a loopback address"),
        ("https://mapped.example/a.ics", "is 10.0.0.1 in IPv6 form"),
        ("http://mixed.example/a.ics", "10.0.0.5 is a private address"),
        ("http://10.1.2.3/a.ics", "10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is the cloud metadata"),
        ("http://[::ffff:a9fe:a9fe]/latest/meta-data/", "in IPv6 form"),
        ("http://0.0.0.0:80/", "0.0.0.0 is an unspecified address"),
        ("webcal://calendar.example/a.ics", "10.0.0.5 is a private address"),
    ],
)
def test_refused_addresses_are_never_connected(
    get: Get, loopback_only: list[Any], url: str, why: str
) -> None:
    resolve = resolver(
        {
            "calendar.example": ["10.0.0.5"],
            "metadata.example": ["169.254.169.254"],
            "six.example": ["::1"],
            "mapped.example": ["::ffff:10.0.0.1"],
            "mixed.example": ["93.184.216.34", "10.0.0.5"],  # the public one is not tried
        }
    )
    with pytest.raises(Refused, match=why):
        get(url, allow_private=False, resolve=resolve)
    assert loopback_only == []


def test_the_address_is_checked_when_connecting_not_only_when_the_url_was_given(
    get: Get, loopback_only: list[Any]
) -> None:
    """DNS rebinding: the name was public when checked, and private when it mattered."""
    answers = iter([["93.184.216.34"], ["10.0.0.5"]])

    def rebinding(host: str) -> list[str]:
        return next(answers)

    check_url("http://rebind.example/a.ics", allow_private=False, resolve=rebinding)
    with pytest.raises(Refused, match=re.escape("rebind.example resolves to 10.0.0.5")):
        get("http://rebind.example/a.ics", allow_private=False, resolve=rebinding)
    assert loopback_only == []


def test_loopback_is_refused_by_default(get: Get, server: IcsServer) -> None:
    server.put("/a.ics")
    with pytest.raises(Refused, match=re.escape("127.0.0.1 is a loopback address")):
        get(server.url("/a.ics"), allow_private=False)
    assert server.hits() == 0


@pytest.mark.parametrize(
    "target",
    [
        "http://10.1.2.3/",
        "http://169.254.169.254/latest/meta-data/",
        "http://internal.example/a.ics",
        "http://[::1]:9/",
    ],
)
@pytest.mark.usefixtures("allow_exactly_loopback_v4")
def test_a_redirect_to_a_refused_address_is_refused_before_connecting(
    get: Get, server: IcsServer, loopback_only: list[Any], target: str
) -> None:
    server.redirect("/go", target)
    resolve = resolver({"public.example": ["127.0.0.1"], "internal.example": ["10.0.0.5"]})
    url = f"http://public.example:{server.port}/go"
    with pytest.raises(Refused) as refused:
        get(url, allow_private=False, resolve=resolve)
    assert server.hits("/go") == 1  # the first hop was allowed and read
    assert "127.0.0.1" not in refused.value.reason
    assert any(part in refused.value.reason for part in ("10.0.0.5", "10.1.2.3", "169.254", "::1"))
    assert loopback_only == []


@pytest.mark.usefixtures("allow_exactly_loopback_v4")
def test_a_redirect_names_where_it_went(server: IcsServer) -> None:
    server.redirect("/go", "http://10.1.2.3/a.ics")
    with pytest.raises(Refused) as refused:
        fetch(server.url("/go"), allow_private=False)
    assert refused.value.reason == (
        f"{server.url('/go')} redirects to http://10.1.2.3/a.ics: 10.1.2.3 is a private "
        "address; calendars can only be read from public internet addresses."
    )


def test_a_redirect_to_another_scheme_is_refused(get: Get, server: IcsServer) -> None:
    server.redirect("/go", "file:///etc/passwd")
    with pytest.raises(Refused, match="not file:"):
        get(server.url("/go"), allow_private=True)


def test_proxies_from_the_environment_are_not_used(
    get: Get, server: IcsServer, monkeypatch: pytest.MonkeyPatch, loopback_only: list[Any]
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://10.9.9.9:3128")
    server.put("/a.ics", b"direct")
    assert get(server.url("/a.ics"), allow_private=True) == (200, b"direct")
    assert loopback_only == []


# --- against a real server on loopback ----------------------------------------------------


def test_ipv6_loopback_is_read_when_private_addresses_are_allowed(get: Get) -> None:
    with IcsServer("::1") as server:
        server.put("/a.ics", b"six")
        assert get(server.url("/a.ics"), allow_private=True) == (200, b"six")
        with pytest.raises(Refused, match="::1 is a loopback address"):
            get(server.url("/a.ics"), allow_private=False)


def test_fetch_reads_the_body_and_its_validators(server: IcsServer) -> None:
    modified = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    server.put("/a.ics", b"BEGIN:VCALENDAR", etag='"v1"', last_modified=modified)
    got = fetch(server.url("/a.ics"), allow_private=True)
    assert (got.status, got.body, got.etag) == (200, b"BEGIN:VCALENDAR", '"v1"')
    assert got.last_modified == "Mon, 30 Nov 2026 08:00:00 GMT"
    assert got.url == server.url("/a.ics")
    headers = server.headers("/a.ics")
    assert headers is not None
    assert headers["User-Agent"] == USER_AGENT
    assert "If-None-Match" not in headers


def test_an_unchanged_etag_is_a_304(server: IcsServer) -> None:
    server.put("/a.ics", b"one", etag='"v1"')
    first = fetch(server.url("/a.ics"), allow_private=True)
    again = fetch(server.url("/a.ics"), allow_private=True, etag=first.etag)
    assert (again.status, again.body, again.etag) == (304, b"", '"v1"')
    headers = server.headers("/a.ics")
    assert headers is not None and headers["If-None-Match"] == '"v1"'
    server.put("/a.ics", b"two", etag='"v2"')
    changed = fetch(server.url("/a.ics"), allow_private=True, etag=first.etag)
    assert (changed.status, changed.body, changed.etag) == (200, b"two", '"v2"')


def test_an_unchanged_last_modified_is_a_304(server: IcsServer) -> None:
    server.put("/a.ics", b"one", last_modified=datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    first = fetch(server.url("/a.ics"), allow_private=True)
    again = fetch(server.url("/a.ics"), allow_private=True, last_modified=first.last_modified)
    assert (again.status, again.body) == (304, b"")
    headers = server.headers("/a.ics")
    assert headers is not None and headers["If-Modified-Since"] == first.last_modified
    server.put("/a.ics", b"two", last_modified=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    changed = fetch(server.url("/a.ics"), allow_private=True, last_modified=first.last_modified)
    assert (changed.status, changed.body) == (200, b"two")


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_an_http_error_is_a_fetch_failure_with_its_status(server: IcsServer, status: int) -> None:
    server.fail("/a.ics", status)
    with pytest.raises(FetchFailed, match=f"answered {status}") as failed:
        fetch(server.url("/a.ics"), allow_private=True)
    assert failed.value.status == status


def test_the_session_leaves_http_statuses_to_its_caller(server: IcsServer) -> None:
    assert via_session(server.url("/missing"), allow_private=True)[0] == 404


def test_a_closed_port_is_a_fetch_failure(get: Get) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(FetchFailed, match="Could not read") as failed:
        get(f"http://127.0.0.1:{port}/", allow_private=True)
    assert failed.value.status is None


def test_a_trickling_body_is_stopped_at_the_time_limit(get: Get, server: IcsServer) -> None:
    server.put("/a.ics", b"x" * 200)
    server.slow("/a.ics", 0.05)  # 10 s in all, yet every read is answered within 0.05 s
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="took longer than 1 s"):
        get(server.url("/a.ics"), allow_private=True, timeout=1.0)
    assert 0.9 < time.monotonic() - started < 2.0


def test_the_time_limit_covers_lookups_redirects_and_bodies_together(
    get: Get, server: IcsServer
) -> None:
    def slow(host: str) -> list[str]:
        time.sleep(0.35)
        return ["127.0.0.1"]

    server.put("/b.ics", b"x" * 20)
    server.slow("/b.ics", 0.03)  # 0.6 s
    server.redirect("/go", f"http://b.example:{server.port}/b.ics")
    started = time.monotonic()
    with pytest.raises(FetchFailed, match="took longer than 1 s"):  # 0.35 + 0.35 + 0.6
        get(f"http://a.example:{server.port}/go", allow_private=True, timeout=1.0, resolve=slow)
    assert time.monotonic() - started < 1.5
    assert server.hits("/b.ics") == 1
    assert get(server.url("/b.ics"), allow_private=True, timeout=1.0) == (200, b"x" * 20)


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_body_over_max_bytes_is_a_fetch_failure(
    get: Get, server: IcsServer, declare_length: bool
) -> None:
    server.oversize("/a.ics", 5000, declare_length=declare_length)
    with pytest.raises(FetchFailed, match="larger than 1000 bytes") as failed:
        get(server.url("/a.ics"), allow_private=True, max_bytes=1000)
    assert failed.value.status is None
    server.oversize("/small.ics", 500)
    assert get(server.url("/small.ics"), allow_private=True, max_bytes=1000) == (200, b"X" * 500)


def test_a_body_just_over_10_mb_is_stopped_at_the_default_limit(
    get: Get, server: IcsServer
) -> None:
    server.oversize("/big.ics", 10 * MB + 1)
    with pytest.raises(FetchFailed, match="larger than 10 MB"):
        get(server.url("/big.ics"), allow_private=True)


def test_a_body_of_exactly_10_mb_is_read(server: IcsServer) -> None:
    server.oversize("/big.ics", 10 * MB)
    assert len(fetch(server.url("/big.ics"), allow_private=True).body) == 10 * MB


def test_the_session_refuses_a_compressed_body_it_did_not_ask_for(server: IcsServer) -> None:
    server.put("/a.ics", b"\x1f\x8b...", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchFailed, match="sent a gzip body"):
        via_session(server.url("/a.ics"), allow_private=True)
    headers = server.headers("/a.ics")
    assert headers is not None and headers["Accept-Encoding"] == "identity"


def test_three_redirects_are_followed_and_a_fourth_is_not(get: Get, server: IcsServer) -> None:
    server.put("/a.ics", b"here")
    for n in range(4):
        server.redirect(f"/r{n}", f"/r{n + 1}" if n < 3 else "/a.ics")
        server.redirect(f"/s{n}", f"/s{n + 1}" if n < 3 else "/r0")
    assert get(server.url("/r1"), allow_private=True) == (200, b"here")  # r1 r2 r3 a
    assert server.hits("/a.ics") == 1
    with pytest.raises(FetchFailed, match="redirects more than 3 times"):
        get(server.url("/r0"), allow_private=True)  # r0 r1 r2 r3 a
    assert server.hits("/a.ics") == 1
    assert get(server.url("/r0"), allow_private=True, max_redirects=4) == (200, b"here")


def test_fetch_tells_the_final_url(server: IcsServer) -> None:
    server.put("/a.ics", b"here")
    server.redirect("/old", "/a.ics", status=301)
    assert fetch(server.url("/old"), allow_private=True).url == server.url("/a.ics")


def test_credentials_do_not_follow_a_redirect_to_another_site(server: IcsServer) -> None:
    with IcsServer() as other:
        other.put("/a.ics", b"there")
        server.put("/a.ics", b"here")
        server.redirect("/here", "/a.ics")
        server.redirect("/away", other.url("/a.ics"))
        fetch(server.url("/here"), allow_private=True, auth=("maria", "secret"))
        fetch(
            server.url("/away"),
            allow_private=True,
            auth=("maria", "secret"),
            headers={"Authorization": "Bearer token"},
        )
        here, there = server.headers("/a.ics"), other.headers("/a.ics")
        assert here is not None and here["Authorization"].startswith("Basic ")
        assert there is not None and "Authorization" not in there


def test_the_session_sends_our_user_agent_even_when_asked_for_another(server: IcsServer) -> None:
    server.put("/a.ics", b"here")
    with guarded_session(allow_private=True) as session:
        response = session.get(server.url("/a.ics"), headers={"User-Agent": "python-caldav/1"})
    assert response.content == b"here"
    headers = server.headers("/a.ics")
    assert headers is not None and headers["User-Agent"] == USER_AGENT


def test_caldav_sees_a_refusal_as_refused(loopback_only: list[Any]) -> None:
    client = caldav.DAVClient(url="https://dav.example/calendars/maria/")
    client.session = guarded_session(
        allow_private=False, resolve=resolver({"dav.example": ["10.0.0.5"]})
    )
    with pytest.raises(Refused, match=re.escape("dav.example resolves to 10.0.0.5")):
        client.principal()  # type: ignore[no-untyped-call]
    assert loopback_only == []


# --- https --------------------------------------------------------------------------------


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``name`` that is its own authority, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2100, 1, 1, tzinfo=UTC))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.parametrize(
    ("certified", "trusted", "outcome"),
    [
        ("calendar.example", True, "200"),
        ("other.example", True, "certificate verify failed"),  # the name is checked, not the IP
        ("calendar.example", False, "certificate verify failed"),  # verification is on
    ],
)
@pytest.mark.parametrize("client", ["fetch", "session"])
def test_https_goes_to_the_checked_address_and_verifies_the_host_name(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client: str,
    certified: str,
    trusted: bool,
    outcome: str,
) -> None:
    cert_file, key_file = self_signed(tmp_path, certified)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    tls.sni_callback = lambda sock, name, context: names.append(name)
    if trusted:
        context = ssl.create_default_context(cafile=cert_file)
        monkeypatch.setattr(fetch_module, "_ssl_context", lambda: context)
    resolve = resolver({"calendar.example": ["127.0.0.1"]})
    with IcsServer(tls=tls) as server:
        server.put("/a.ics", b"secure")
        url = f"https://calendar.example:{server.port}/a.ics"
        try:
            if client == "fetch":
                got = str(fetch(url, allow_private=True, resolve=resolve).status)
            else:
                with guarded_session(allow_private=True, resolve=resolve) as session:
                    verify = str(cert_file) if trusted else True
                    got = str(session.get(url, verify=verify).status_code)
        except FetchFailed as exc:
            got = exc.reason
    assert outcome in got.lower()
    assert names == ["calendar.example"]
