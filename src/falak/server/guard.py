"""Authenticate a request from its headers before any byte of its body is read; cap bodies.

FastAPI reads and parses a request's body before it runs the route's dependencies, the
bearer-token check among them, so without this guard anybody could make the server read
(and hold) a body of any size. :class:`AuthGuard` is a pure ASGI middleware: for every HTTP
request but those to :data:`OPEN_PATHS` (and under :data:`OPEN_PREFIXES`) it checks the
``Authorization: Bearer`` header first and answers 401 without receiving the body. The
routes still check the token (and the roles) themselves.

Then it caps the body at ``max_body_bytes`` (:class:`~falak.server.config.Limits`; the
login body at :data:`LOGIN_BODY_BYTES`): a ``Content-Length`` above it is answered 413 at
once, and a chunked body is counted while it streams in and cut off with 413 as soon as it
passes the cap. (FastAPI's own ``max_body_size`` runs outside user middleware, so it would
act before authentication, and it answers in plain text.) Whenever a response starts before
its request's body was read to the end (a refusal, or a route that takes no body), the
guard adds ``Connection: close``, so the server stops reading the rest instead of draining
it.

WebSockets authenticate in their handshake (:mod:`falak.server.ws`).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from falak.server.auth import TokenStore, bearer_user

__all__ = [
    "LOGIN_BODY_BYTES",
    "OPEN_PATHS",
    "OPEN_PREFIXES",
    "AuthGuard",
    "BodyTooLarge",
    "GuardStats",
]

OPEN_PATHS = frozenset({"/health", "/api/v1/auth/token", "/docs", "/openapi.json", "/", "/console"})
"""Paths that need no token: liveness, login, the API description, the way to the console."""
OPEN_PREFIXES = ("/static/swagger/", "/console/")
"""Path prefixes that need no token (the vendored Swagger UI files, the console's files)."""
LOGIN_PATH = "/api/v1/auth/token"
LOGIN_BODY_BYTES = 16_384
"""The login body's cap (a user name and a password; it is read before anyone is known)."""


class BodyTooLarge(HTTPException):
    """413: the request body passed its cap (raised from ``receive`` while it streams in;
    FastAPI passes HTTP exceptions on, so its handler answers with this detail)."""

    def __init__(self, limit: int, why: str) -> None:
        super().__init__(
            413,
            f"request body too large: at most {limit} bytes here ({why})",
            headers={"Connection": "close"},
        )


@dataclass
class GuardStats:
    """Counters of the guard (for tests and status displays)."""

    body_bytes_received: int = 0
    """Request body bytes handed to the app (after authentication)."""
    refused_unauthenticated: int = 0
    refused_too_large: int = 0
    """Refused up front (``Content-Length``) or outside a route; 413s answered by a route
    are not counted here."""


class AuthGuard:
    """The pure ASGI middleware (see the module doc); ``tokens`` are the server's."""

    def __init__(
        self,
        app: ASGIApp,
        tokens: TokenStore,
        max_body_bytes: int,
        stats: GuardStats | None = None,
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes
        self.stats = stats if stats is not None else GuardStats()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        has_body = "transfer-encoding" in headers or (length is not None and length != "0")
        body_done = not has_body
        started = False
        stats = self.stats
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if path == LOGIN_PATH:
            limit, why = LOGIN_BODY_BYTES, "a login"
        else:
            limit, why = self.max_body_bytes, "limits.max_body_bytes in the server config"
        size = 0

        async def counting_receive() -> Message:
            nonlocal body_done, size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise BodyTooLarge(limit, why)
                stats.body_bytes_received += len(message.get("body", b""))
                body_done = body_done or not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                body_done = True
            return message

        async def closing_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body_done:
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"connection", b"close")],
                    }
            await send(message)

        async def answer(status: int, detail: str, extra: dict[str, str]) -> None:
            response = JSONResponse({"detail": detail}, status_code=status, headers=extra)
            await response(scope, receive, closing_send)

        if path not in OPEN_PATHS and not path.startswith(OPEN_PREFIXES):
            user = bearer_user(self.tokens, headers.get("authorization"))
            if isinstance(user, str):
                stats.refused_unauthenticated += 1
                await answer(401, user, {"WWW-Authenticate": "Bearer"})
                return
        if length is not None and length.isdigit() and int(length) > limit:
            stats.refused_too_large += 1
            await answer(413, str(BodyTooLarge(limit, why).detail), {})
            return
        try:
            await self.app(scope, counting_receive, closing_send)
        except BodyTooLarge as exc:  # not answered inside (read outside a route)
            stats.refused_too_large += 1
            if started:
                raise
            await answer(413, str(exc.detail), {})
