"""``/docs`` works offline: Swagger UI's page names no external host and its assets are
served from the package (src/falak/server/static/swagger/)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fastapi.testclient import TestClient

import falak.server
from falak.server.docs import SWAGGER_UI_VERSION

STATIC = Path(falak.server.__file__).parent / "static" / "swagger"


def test_docs_page_names_no_external_host(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    r = client.get("/docs")  # no token: the page holds no data
    assert r.status_code == 200
    html = r.text
    assert "swagger-ui" in html
    refs = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html)
    assert sorted(refs) == [
        "/openapi.json",
        "/static/swagger/favicon-32x32.png",
        "/static/swagger/swagger-ui-bundle.js",
        "/static/swagger/swagger-ui.css",
    ]
    assert "//" not in "".join(refs)
    assert "http" not in html.lower()  # no CDN, no online validator badge
    assert '"validatorUrl": null' in html
    assert client.get("/redoc", headers=auth["vera"]).status_code == 404  # it needs a CDN


def test_swagger_assets_are_served_from_the_package(client: TestClient) -> None:
    for name, media in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ]:
        r = client.get(f"/static/swagger/{name}")
        assert r.status_code == 200, name
        assert media in r.headers["content-type"]
        assert r.content == (STATIC / name).read_bytes()
    assert client.get("/static/swagger/nope.js").status_code == 404


def test_vendored_version_and_licence_are_recorded() -> None:
    readme = (STATIC / "README.md").read_text()
    assert f"`swagger-ui-dist` **{SWAGGER_UI_VERSION}**" in readme
    assert "Apache License" in (STATIC / "LICENSE").read_text()
    bundle = (STATIC / "swagger-ui-bundle.js").read_bytes()
    assert hashlib.sha256(bundle).hexdigest() in readme
