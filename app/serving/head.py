"""``HEAD`` is ``GET`` without the body (RFC 9110 9.3.2): same status, same headers.

Routes that take HEAD run as for GET; this middleware drops the body on the way out and
keeps every header, ``Content-Length`` included (the length the GET body would have).
Starlette sends a body for HEAD unless the server drops it; uvicorn does, other servers and
in-process clients may not.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadWithoutBody:
    """ASGI middleware: every HEAD answer leaves without its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the last, empty part below ends the response
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app(scope, receive, without_body)
