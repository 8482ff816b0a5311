"""Swagger UI's assets, as the fastapi-offline package ships them, served from memory.

One answer per file, its bytes read once: Starlette's StaticFiles reads a file in 64 kB
chunks on worker threads, a thread hop each (24 for the 1.5 MB bundle), for every request.
"""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from pathlib import Path

import fastapi_offline
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


@cache
def _asset(name: str) -> tuple[bytes, str, str] | None:
    """(bytes, content type, strong ETag) of a file of the package's static folder."""
    folder = Path(fastapi_offline.__file__).parent / "static"
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        return None
    body = path.read_bytes()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return body, kind, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


async def docs_assets(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app mounted at the docs' asset path: GET/HEAD, 304 on If-None-Match."""
    request = Request(scope, receive)
    found = _asset(scope.get("path", "").rsplit("/", 1)[-1])
    if found is None or request.method not in ("GET", "HEAD"):
        status = 405 if found is not None else 404
        await Response(status_code=status)(scope, receive, send)
        return
    body, kind, etag = found
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        await Response(status_code=304, headers=headers)(scope, receive, send)
        return
    await Response(body, media_type=kind, headers=headers)(scope, receive, send)
