"""The web console: its static files, served from the package at ``/console/`` (``/`` leads
there).

The console is plain HTML, CSS and ES modules under ``falak/server/static/console/`` with
its JavaScript libraries vendored (``js/vendor/README.md``: versions, licences, hashes): no
build step, no CDN, it works on a control-room network without Internet access. These files
need no token (:data:`falak.server.guard.OPEN_PREFIXES`): they hold no data. Everything the
console shows comes from the API, which stays authenticated; the console logs in with
``POST /api/v1/auth/token`` like any other client.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["CONSOLE_PATH", "FILES", "add_console"]

CONSOLE_PATH = "/console"
FILES = Path(__file__).parent / "static" / "console"
"""The console's files inside the package."""


def add_console(app: FastAPI) -> None:
    """Serve the console's files under :data:`CONSOLE_PATH` and send ``/`` there."""
    app.mount(CONSOLE_PATH, StaticFiles(directory=FILES, html=True), name="console")

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> RedirectResponse:
        base = str(request.scope.get("root_path", "")).rstrip("/")
        return RedirectResponse(f"{base}{CONSOLE_PATH}/", status_code=307)
