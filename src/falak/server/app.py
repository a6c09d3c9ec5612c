"""The FastAPI application: routes under ``/api/v1``, WebSockets, error handlers.

Errors: falak's own exceptions become 4xx answers whose ``detail`` says what was wrong —
:class:`~falak.errors.CommandRejected` → 422 (with ``argument`` naming the bad argument),
an unknown name in the mission database → 404, other :class:`~falak.errors.MdbError` and
:class:`~falak.errors.InputError` → 400. Nothing a client sends should give a 500.

Limits: a request without a valid token is refused (401) before its body is read
(:class:`~falak.server.guard.AuthGuard`); a body above ``limits.max_body_bytes`` of the
server config (1 MiB by default; the login body above 16 KiB) is refused with 413 as soon
as its ``Content-Length`` or its streamed size shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from falak.errors import CommandRejected, FalakError, MdbError
from falak.server.guard import AuthGuard, GuardStats
from falak.server.runtime import Runtime
from falak.server.schemas import ErrorOut

__all__ = ["API_PREFIX", "SPACECRAFT_PREFIX", "create_app", "uvicorn_config"]

API_PREFIX = "/api/v1"
SPACECRAFT_PREFIX = API_PREFIX + "/spacecraft/{sc}"
"""Where every per-spacecraft route is served again for the spacecraft named ``sc``."""


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"detail": " ".join(message.split())}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status)


def create_app(runtime: Runtime, *, science_products_dir: str | Path | None = None) -> FastAPI:
    """Build the app around ``runtime`` (the caller starts and stops the runtime).

    ``science_products_dir`` (config ``science: {products_dir: PATH}``) is what
    ``/api/v1/science/products`` lists and serves (None: those routes answer 404)."""
    from falak import __version__
    from falak.server import ws
    from falak.server.console import add_console
    from falak.server.docs import add_docs
    from falak.server.routes import (
        alarms,
        archive,
        auth,
        commands,
        console_extra,
        links,
        maps,
        mdb,
        plots,
        science,
        spacecraft,
        stacks,
        telemetry,
        timeline,
        uplink,
    )
    from falak.server.routes.deps import spacecraft_path

    app = FastAPI(
        title="falak",
        version=__version__,
        description="falak ground system API: mission database, telemetry, alarms, links, "
        "commanding, archive. Authenticate with POST /api/v1/auth/token. Every route of a "
        "spacecraft is served under /api/v1/spacecraft/{sc}/... and, for the first "
        "configured spacecraft, under /api/v1/... as well.",
        docs_url=None,  # served from the package by add_docs, not from a CDN
        redoc_url=None,  # ReDoc, too, would load from a CDN
    )
    add_docs(app)
    add_console(app)
    app.state.runtime = runtime
    app.state.guard = GuardStats()
    app.add_middleware(
        AuthGuard,
        tokens=runtime.tokens,
        max_body_bytes=runtime.limits.max_body_bytes,
        stats=app.state.guard,
    )

    @app.exception_handler(CommandRejected)
    async def _rejected(request: Request, exc: CommandRejected) -> JSONResponse:
        return _error(422, str(exc), argument=exc.argument)

    @app.exception_handler(MdbError)
    async def _mdb(request: Request, exc: MdbError) -> JSONResponse:
        return _error(404 if exc.message.startswith("no ") else 400, str(exc))

    @app.exception_handler(FalakError)
    async def _falak(request: Request, exc: FalakError) -> JSONResponse:
        text = str(exc)
        return _error(404 if text.startswith("no ") else 400, text)

    @app.get("/health", tags=["status"])
    def health() -> dict[str, Any]:
        """Liveness (no authentication): are the processors (of every spacecraft) running."""
        running = all(sc.processor.running for sc in runtime.spacecraft.values())
        return {"status": "ok", "processor_running": running}

    errors: dict[int | str, dict[str, Any]] = {
        400: {"model": ErrorOut, "description": "bad request (the detail says what)"},
        401: {"model": ErrorOut, "description": "no valid bearer token"},
        403: {"model": ErrorOut, "description": "the user's roles do not allow this"},
        404: {"model": ErrorOut, "description": "unknown name or id"},
        413: {"model": ErrorOut, "description": "request body above the server's limit"},
        422: {"model": ErrorOut, "description": "invalid request or rejected command"},
    }
    app.include_router(auth.router, prefix=API_PREFIX, responses=errors)
    app.include_router(spacecraft.router, prefix=API_PREFIX, responses=errors)
    app.include_router(timeline.clock_router, prefix=API_PREFIX, responses=errors)
    app.state.science_products_dir = science_products_dir
    app.include_router(science.router, prefix=API_PREFIX, responses=errors)
    # one router per resource, served twice: for the default spacecraft and under its name
    per_spacecraft = (
        mdb,
        telemetry,
        alarms,
        links,
        commands,
        stacks,
        archive,
        console_extra,
        plots,
        maps,
        timeline,
        uplink,
    )
    for module in per_spacecraft:
        app.include_router(module.router, prefix=API_PREFIX, responses=errors)
    app.include_router(ws.router, prefix=API_PREFIX)
    named = [Depends(spacecraft_path)]
    for module in per_spacecraft:
        app.include_router(
            module.router, prefix=SPACECRAFT_PREFIX, responses=errors, dependencies=named
        )
    app.include_router(ws.router, prefix=SPACECRAFT_PREFIX, dependencies=named)
    return app


def uvicorn_config(app: FastAPI, *, ws_deflate: bool = False, **options: Any) -> Any:
    """The ``uvicorn.Config`` falak serves ``app`` with (``falak serve`` and the benchmarks).

    WebSocket per-message compression is off unless ``ws_deflate``: at telemetry rates
    deflating every frame for every subscriber costs more CPU than the bandwidth it saves on
    a ground-segment LAN (measured in ``benchmarks/websocket.py``: p99 latency 5.8 s with
    it, 1.2 s without, 50 subscribers). ``options`` go to ``uvicorn.Config``.
    """
    import uvicorn

    kw: dict[str, Any] = {"log_level": "warning", "lifespan": "off"} | options
    return uvicorn.Config(app, ws_per_message_deflate=ws_deflate, **kw)
