"""The interactive API docs (``/docs``): Swagger UI served from files inside the package.

FastAPI's default page loads Swagger UI from a CDN, which leaves it blank on a ground-segment
network without Internet access. The ``swagger-ui-dist`` files are vendored under
``falak/server/static/swagger/`` (version, licence and hashes in its ``README.md``) and served
at :data:`STATIC_PATH`. The online spec validator badge (a request to validator.swagger.io)
is off. These routes need no token: they hold no data, only the API description.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["DOCS_PATH", "STATIC_PATH", "SWAGGER_UI_VERSION", "add_docs"]

DOCS_PATH = "/docs"
STATIC_PATH = "/static/swagger"
SWAGGER_UI_VERSION = "5.36.0"
"""The vendored ``swagger-ui-dist`` release."""

_FILES = Path(__file__).parent / "static" / "swagger"


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` with its assets from the package (build ``app`` with
    ``docs_url=None`` so FastAPI's CDN page is not added)."""
    app.mount(STATIC_PATH, StaticFiles(directory=_FILES), name="swagger-ui")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        static = root + STATIC_PATH
        return get_swagger_ui_html(
            openapi_url=root + str(app.openapi_url),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None},
        )
