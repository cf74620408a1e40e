"""Admission control in front of every route: body size and requests in flight.

Pure ASGI (not ``BaseHTTPMiddleware``) so that a refusal costs no body read, no task and no
thread: an oversized body is refused from its Content-Length or as soon as the streamed bytes
pass the limit, and a request beyond the in-flight limit is answered 503 at once rather than
queued, so that under a flood the API's memory stays bounded and the client knows to retry.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNLIMITED_PATHS = frozenset({"/healthz"})
"""Served even when the API is busy: a supervisor must see that it is alive."""


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit; an HTTPException so that
    FastAPI's body reading lets it through and it is answered 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes; the limit is {limit}")
        self.limit = limit


class AdmissionMiddleware:
    """413 for a body over ``max_body_bytes``; 503 with Retry-After beyond ``max_inflight``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_inflight: int, retry_after_s: int):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_inflight = max_inflight
        self.retry_after_s = retry_after_s
        self.inflight = 0  # only touched on the event loop, between awaits: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            detail = f"the request body is {declared} bytes; the limit is {self.max_body_bytes}"
            body = {"detail": detail, "limit": self.max_body_bytes}
            await _reply(send, 413, body, {"Connection": "close"})  # the body stays unread
            return
        if scope["path"] in UNLIMITED_PATHS:
            await self._admitted(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            detail = (
                f"the API is busy ({self.inflight} requests in progress); "
                f"retry after {self.retry_after_s} s"
            )
            body = {"detail": detail, "retry_after_s": self.retry_after_s}
            await _reply(send, 503, body, {"Retry-After": str(self.retry_after_s)})
            return
        self.inflight += 1
        try:
            await self._admitted(scope, receive, send)
        finally:
            self.inflight -= 1

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with a ``receive`` that counts the body; answer 413 when it overflows
        before anything was sent (after that, the connection can only be dropped)."""
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as exc:
            if started:
                raise
            body = {"detail": exc.detail, "limit": exc.limit}
            await _reply(send, 413, body, {"Connection": "close"})


def _content_length(scope: Scope) -> int | None:
    """The declared body size; None when absent or unreadable (the streamed count decides)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reply(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    payload = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})
