"""Reading user-supplied calendar URLs without turning the server against its own network.

- Only http and https (webcal and webcals are read as https); no credentials in the URL.
- Every host is resolved here and EVERY resolved address must be public (no loopback,
  private, link-local, multicast, reserved, unspecified, shared 100.64/10, cloud metadata,
  nor IPv6 forms of those) before anything connects; the connection then goes to exactly
  the checked address (TLS still verifies the host name). This happens inside the HTTP
  library's connect step, so it holds for every redirect (at most 3) and no URL-parser
  difference can sneak a host past it. ``allow_private=True`` lifts the address rule.
- 10 s of wall time a fetch, redirects, DNS and slowly trickling bodies included, and 10 MB
  a body; proxies and other settings from the environment are ignored.

``fetch`` (httpx) reads ICS feeds; ``guarded_session`` (requests) is for the caldav library.
"""

from __future__ import annotations

import contextvars
import http.client
import io
import ipaddress
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx
import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

USER_AGENT = "meeting-scheduler (calendar sync)"
MAX_BYTES = 10 * 1024 * 1024
MAX_URL_LENGTH = 2000

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str], Iterable[str]]
"""A host name to its addresses, e.g. ``lambda host: ["93.184.216.34"]``; IP literals skip it."""


class Refused(Exception):
    """The URL, or an address it leads to, is not allowed; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FetchFailed(Exception):
    """The URL could not be read; ``status`` is the HTTP status when that was the failure."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Fetched:
    status: int  # 2xx (normally 200) or 304
    body: bytes  # b"" on 304
    etag: str | None
    last_modified: str | None
    url: str  # after redirects


def normalize_url(url: str) -> str:
    """``" webcal://example.com/a.ics"`` → ``"https://example.com/a.ics"``; refuses the rest."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"The calendar URL is longer than {MAX_URL_LENGTH} characters.")
    parts = urlsplit(url)
    scheme = {"webcal": "https", "webcals": "https"}.get(parts.scheme.lower(), parts.scheme)
    if scheme.lower() not in ("http", "https"):
        if not parts.scheme:
            raise Refused("The calendar URL must start with https:// (or http:// or webcal://).")
        raise Refused(f"Only http, https and webcal calendar URLs can be read, not {scheme}:.")
    if not parts.hostname:
        raise Refused("The calendar URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise Refused(
            "The calendar URL contains a user name or password; remove it from the URL "
            "and give the credentials separately."
        )
    try:
        parts.port  # noqa: B018 (it raises for a port out of range)
    except ValueError:
        raise Refused("The calendar URL has an invalid port.") from None
    return urlunsplit(parts._replace(scheme=scheme.lower()))


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; not "private" to Python
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = ipaddress.ip_address("169.254.169.254")


def _kind(address: IPAddress) -> str | None:
    if address == _METADATA:
        return "the cloud metadata address"
    for refused, kind in (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address in _SHARED, "a shared (carrier-grade NAT) address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public internet address"),
    ):
        if refused:
            return kind
    return None


def refused_address(ip: str | IPAddress) -> str | None:
    """None if ``ip`` may be connected to, else why not: ``"10.0.0.5 is a private address"``.

    An IPv6 address that carries an IPv4 one (``::ffff:10.0.0.1``, 6to4, NAT64) is judged
    by the IPv4 address. Raises ValueError for what is not an IP address.
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    inner = None
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if inner is not None:
        why = refused_address(inner)
        return None if why is None else f"{address} is {inner} in IPv6 form, and {why}"
    kind = _kind(address)
    return None if kind is None else f"{address} is {kind}"


def _system_resolve(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class _Guard:
    """What one fetch may do: which addresses, until when (``started``), how many bytes."""

    allow_private: bool
    resolve: Resolve
    timeout: float
    max_bytes: int
    deadline: float = math.inf
    url: str = ""  # the one asked for, for the reasons

    def started(self, url: str) -> _Guard:
        return replace(self, deadline=time.monotonic() + self.timeout, url=url)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def too_slow(self, url: str) -> FetchFailed:
        return FetchFailed(f"Reading {url} took longer than {self.timeout:g} s.")

    def addresses(self, host: str) -> list[str]:
        """The addresses to connect to for ``host``, all checked; raises Refused/FetchFailed."""
        host = host.strip("[]").rstrip(".")
        try:
            found, named = [str(ipaddress.ip_address(host))], False
        except ValueError:
            found, named = self._lookup(host), True
        if not self.allow_private:
            for ip in found:
                why = refused_address(ip)
                if why is not None:
                    via = f"{host} resolves to {ip}, and " if named else ""
                    raise Refused(
                        f"{via}{why}; calendars can only be read from public internet addresses."
                    )
        return found

    def _lookup(self, host: str) -> list[str]:
        # getaddrinfo has no timeout of its own, so it runs in a thread that can be left behind.
        result: Future[list[str]] = Future()

        def run() -> None:
            try:
                result.set_result(list(self.resolve(host)))
            except Exception as exc:
                result.set_exception(exc)

        threading.Thread(target=run, name=f"resolve {host}", daemon=True).start()
        try:
            found = result.result(timeout=max(self.left(), 0.0))
        except TimeoutError:
            raise FetchFailed(f"Looking up {host} took longer than {self.timeout:g} s.") from None
        except (OSError, UnicodeError) as exc:
            raise FetchFailed(f"{host} could not be found ({exc}).") from exc
        if not found:
            raise FetchFailed(f"{host} could not be found (no addresses).")
        return found


def check_url(url: str, *, allow_private: bool, resolve: Resolve | None = None) -> str:
    """The normalized URL, if it may be read now; raises Refused, or FetchFailed for DNS.

    Only an early answer for the person typing the URL: ``fetch`` checks again on connecting.
    """
    normalized = normalize_url(url)
    guard = _Guard(allow_private, resolve or _system_resolve, 10.0, MAX_BYTES).started(url)
    guard.addresses(urlsplit(normalized).hostname or "")
    return normalized


_T = TypeVar("_T")


def _connect_checked(
    guard: _Guard,
    host: str,
    timeout: float | None,
    connect: Callable[[str, float], _T],
    errors: tuple[type[Exception], ...],
    too_late: type[Exception],
) -> _T:
    """The first of ``host``'s addresses that accepts, all checked before any is tried."""
    failure: Exception | None = None
    for ip in guard.addresses(host):
        left = guard.left()
        if left <= 0:
            failure = too_late("the time for this fetch is up")
            break
        try:
            return connect(ip, left if timeout is None else min(timeout, left))
        except errors as exc:
            failure = exc
    assert failure is not None  # addresses() returns at least one
    raise failure


def _size(n: int) -> str:
    return f"{n // 2**20} MB" if n % 2**20 == 0 else f"{n} bytes"


def _too_big(url: str, max_bytes: int) -> FetchFailed:
    return FetchFailed(f"{url} is larger than {_size(max_bytes)}.")


# --- httpx: fetch() -------------------------------------------------------------------------


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the guard's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, guard: _Guard) -> None:
        self._stream, self._guard = stream, guard

    def _timeout(self, timeout: float | None, error: type[Exception]) -> float:
        left = self._guard.left()
        if left <= 0:
            raise error("the time for this fetch is up")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._timeout(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._timeout(timeout, httpcore.WriteTimeout))

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self._timeout(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, timeout), self._guard
        )

    def close(self) -> None:
        self._stream.close()

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    def __init__(self, guard: _Guard) -> None:
        self._guard = guard

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        connect = super().connect_tcp
        stream = _connect_checked(
            self._guard,
            host,
            timeout,
            lambda ip, seconds: connect(ip, port, seconds, local_address, socket_options),
            (httpcore.ConnectError, httpcore.ConnectTimeout),
            httpcore.ConnectTimeout,
        )
        return _DeadlineStream(stream, self._guard)


@cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context(trust_env=False)


def _client(guard: _Guard) -> httpx.Client:
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx has no public hook for the network backend; its transport is a thin adapter
    # over this pool (httpx 0.27–0.29), so the pool is replaced by one using ours.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=_ssl_context(), network_backend=_GuardedBackend(guard)
    )
    return httpx.Client(
        transport=transport, trust_env=False, follow_redirects=False, timeout=guard.timeout
    )


def fetch(
    url: str,
    *,
    allow_private: bool = False,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 10.0,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = 3,
    headers: Mapping[str, str] | None = None,
    auth: tuple[str, str] | None = None,
    resolve: Resolve | None = None,
) -> Fetched:
    """GET ``url`` by the rules above; a 304 (``etag``/``last_modified`` sent) is a result.

    Raises Refused, or FetchFailed (HTTP 4xx/5xx with ``.status``, DNS, connection, time,
    size, more than ``max_redirects`` redirects).
    """
    first = target = normalize_url(url)
    guard = _Guard(allow_private, resolve or _system_resolve, timeout, max_bytes).started(first)
    sent = {"User-Agent": USER_AGENT, **(headers or {})}
    if etag:
        sent["If-None-Match"] = etag
    if last_modified:
        sent["If-Modified-Since"] = last_modified
    hops = 0
    with _client(guard) as client:
        while True:
            try:
                current = normalize_url(target)
                if _origin(current) != _origin(first):  # credentials stay with their site
                    auth = None
                    sent = {k: v for k, v in sent.items() if k.lower() != "authorization"}
                return _get(client, current, sent, auth, guard)
            except _Redirect as redirect:
                target = redirect.location
            except Refused as exc:
                if hops == 0:
                    raise
                raise Refused(f"{first} redirects to {target}: {exc.reason}") from None
            hops += 1
            if hops > max_redirects:
                raise FetchFailed(f"{first} redirects more than {max_redirects} times.")


class _Redirect(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port


def _get(
    client: httpx.Client,
    url: str,
    headers: Mapping[str, str],
    auth: tuple[str, str] | None,
    guard: _Guard,
) -> Fetched:
    try:
        with client.stream("GET", url, headers=headers, auth=auth) as response:
            status = response.status_code
            if response.has_redirect_location:
                raise _Redirect(str(response.url.join(response.headers["Location"])))
            if status == 304:
                return _fetched(response, b"")
            if not 200 <= status < 300:
                raise FetchFailed(f"{url} answered {status} {response.reason_phrase}.", status)
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > guard.max_bytes:
                raise _too_big(url, guard.max_bytes)
            return _fetched(response, _read(response.iter_bytes(), url, guard.max_bytes))
    except httpx.TimeoutException:
        raise guard.too_slow(url) from None
    except httpx.InvalidURL as exc:
        raise Refused(f"{url} is not a valid URL ({exc}).") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"Could not read {url} ({exc}).") from exc


def _read(chunks: Iterator[bytes], url: str, max_bytes: int) -> bytes:
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            raise _too_big(url, max_bytes)
    return bytes(body)


def _fetched(response: httpx.Response, body: bytes) -> Fetched:
    return Fetched(
        status=response.status_code,
        body=body,
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        url=str(response.url),
    )


# --- requests: guarded_session() ------------------------------------------------------------

_active: contextvars.ContextVar[_Guard] = contextvars.ContextVar("calendar_fetch_guard")


def _active_guard() -> _Guard:
    guard = _active.get(None)
    if guard is None:  # fail closed: these connections only work inside _GuardedSession.send
        raise RuntimeError("a guarded connection was used outside guarded_session()")
    return guard


class _GuardedBody(io.RawIOBase):
    """The socket as the response reads it: each read ends by the deadline; max_bytes in all."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, guard: _Guard) -> None:
        self._raw, self._sock, self._guard = raw, sock, guard
        self._read_timeout = sock.gettimeout()
        self._count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._guard.left()
        if left <= 0:
            raise TimeoutError("the time for this fetch is up")
        self._sock.settimeout(left if self._read_timeout is None else min(self._read_timeout, left))
        n = self._raw.readinto(buffer)
        self._count += n or 0
        if self._count > self._guard.max_bytes:  # headers included; identity was asked for
            raise _too_big(self._guard.url, self._guard.max_bytes)
        return n

    def close(self) -> None:
        self._raw.close()  # gives back the socket's reference, as http.client expects
        super().close()


class _GuardedResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        raw = self.fp.detach()  # sock.makefile("rb") unbuffered; nothing is read yet
        self.fp = io.BufferedReader(_GuardedBody(raw, sock, _active_guard()))


class _GuardedHTTPConnection(HTTPConnection):
    response_class = _GuardedResponse

    def _new_conn(self) -> socket.socket:
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        return _connect_checked(
            _active_guard(),
            self._dns_host,
            timeout,
            self._connect_to,
            (NewConnectionError, ConnectTimeoutError),
            TimeoutError,
        )

    def _connect_to(self, ip: str, timeout: float) -> socket.socket:
        # urllib3 connects to _dns_host and keeps .host for Host, SNI and the certificate.
        host, self._dns_host, self.timeout = self._dns_host, ip, timeout
        try:
            return super()._new_conn()
        finally:
            self._dns_host = host


class _GuardedHTTPSConnection(_GuardedHTTPConnection, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        # A proxy would be connected to instead of the checked address, so none is used.
        timeout = self._timeout if timeout is None else timeout
        return super().send(request, stream, timeout, verify, cert, proxies=None)

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        # Identity was asked for: a compressed body could inflate far past max_bytes.
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        declared = resp.headers.get("Content-Length", "")
        guard = _active_guard()
        if encoding not in ("", "identity") or (
            declared.isdigit() and int(declared) > guard.max_bytes
        ):
            resp.close()
            resp.release_conn()
            if encoding not in ("", "identity"):
                raise FetchFailed(f"{req.url} sent a {encoding} body though asked not to.")
            raise _too_big(str(req.url), guard.max_bytes)
        return super().build_response(req, resp)


class _GuardedSession(requests.Session):
    def __init__(self, rules: _Guard, max_redirects: int) -> None:
        super().__init__()
        self._rules = rules
        self.trust_env = False  # no proxies, .netrc or CA bundles from the environment
        self.max_redirects = max_redirects
        self.headers["User-Agent"] = USER_AGENT
        self.headers["Accept-Encoding"] = "identity"
        adapter = _GuardedAdapter(rules.timeout)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def get_adapter(self, url: str) -> BaseAdapter:
        normalize_url(url)  # refuses file:, credentials, … for redirect targets too
        return super().get_adapter(url)

    def request(
        self, method: str | bytes, url: Any, *args: Any, **kwargs: Any
    ) -> requests.Response:
        url = normalize_url(str(url))  # webcal: as https:, and our refusals, not requests' errors
        try:
            return super().request(method, url, *args, **kwargs)
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
            raise Refused(f"{url} is not a valid URL ({exc}).") from None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """One deadline for a request with its redirects; Refused or FetchFailed, nothing else."""
        url = str(request.url)
        request.headers["User-Agent"] = USER_AGENT  # caldav sends its own
        outer = _active.get(None)
        if outer is not None:  # a redirect, sent from within the first request's send
            try:
                return super().send(request, **kwargs)
            except Refused as exc:
                if url == outer.url:
                    raise
                raise Refused(f"{outer.url} redirects to {url}: {exc.reason}") from None
        guard = self._rules.started(url)
        token = _active.set(guard)
        try:
            return super().send(request, **kwargs)
        except requests.TooManyRedirects:
            raise FetchFailed(f"{url} redirects more than {self.max_redirects} times.") from None
        except requests.RequestException as exc:
            if guard.left() <= 0:
                raise guard.too_slow(url) from None
            raise FetchFailed(f"Could not read {url} ({exc}).") from exc
        finally:
            _active.reset(token)


def guarded_session(
    *,
    allow_private: bool,
    timeout: float = 10.0,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = 3,
    resolve: Resolve | None = None,
) -> requests.Session:
    """A requests session under the same rules as ``fetch``, for ``caldav.DAVClient.session``.

    Each ``session.request`` (redirects and auth retries included) gets ``timeout`` seconds
    of wall time and ``max_bytes`` a response, and raises Refused or FetchFailed, never a
    requests exception. HTTP statuses are the caller's (caldav answers a 401 itself). Read
    bodies inside the call (``stream=False``, the default); proxies are never used.
    """
    rules = _Guard(allow_private, resolve or _system_resolve, timeout, max_bytes)
    return _GuardedSession(rules, max_redirects)
