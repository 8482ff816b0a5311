"""A request body over a limit gets 413 in the error envelope before any of it is parsed."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import status_response


class BodySizeLimit:
    """ASGI middleware: a body over ``max_bytes`` gets 413 in the envelope before any of it is
    parsed (a declared Content-Length at once; a streamed body when it passes the limit).

    FastAPI's own ``max_body_size`` answers a declared oversize length in plain text.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> StarletteHTTPException:
        return StarletteHTTPException(
            413, f"The request body is over {self.max_bytes} bytes, more than any request needs."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            exc = self._too_large()
            await status_response(413, exc.detail)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise self._too_large()  # FastAPI re-raises HTTPException; the handler renders it
            return message

        await self.app(scope, counting_receive, send)
