"""``GET /api/v1/science/products`` and ``/science/products/{path}``: listing, serving, access.

The products directory holds a PDS4 product as ``falak science`` writes it (a CSV table and
its label by :func:`falak.science.pds4.write_table`) and a quick-look; a file outside it must
stay unreachable whatever the path says (``..``, encoded, absolute, a symbolic link).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pds4_tools
import pytest
from fastapi.testclient import TestClient

from falak.science.pds4 import write_table
from falak.server import create_app
from falak.server.config import load_config
from tests.server.conftest import Ground, login

T0 = 1_852_848_000 * 1_000_000_000


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sci")
    root = base / "products"
    write_table(
        root / "orbiter-mag-track",
        {"b_total": (np.array([1.5, 2.25]), "nT", "Field magnitude")},
        title="ORBITER magnetometer along track", lid="urn:falak:orbiter:magnetometer:track",
        start=T0, stop=T0 + 4_000_000_000, mission="Falak ORBITER",
        instrument="Fluxgate magnetometer", target="Moon", host="ORBITER",
    )  # fmt: skip
    (root / "orbiter-mag-track.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    (root / "dose").mkdir()
    (root / "dose" / "rover-dose-rate.csv").write_text("a\r\n1\r\n")
    (base / "secret.txt").write_text("not a product")
    (root / "link.txt").symlink_to(base / "secret.txt")
    return root


@pytest.fixture(scope="module")
def sci(live: Ground, products: Path) -> Iterator[TestClient]:
    with TestClient(create_app(live.runtime, science_products_dir=products)) as c:
        yield c


def test_lists_products_with_pipeline_size_and_label(sci: TestClient, products: Path) -> None:
    h = login(sci, "vera")  # a viewer: any logged-in user may read
    r = sci.get("/api/v1/science/products", headers=h)
    assert r.status_code == 200, r.text
    got = {p["path"]: p for p in r.json()["products"]}
    assert set(got) == {
        "orbiter-mag-track.csv",
        "orbiter-mag-track.xml",
        "orbiter-mag-track.png",
        "dose/rover-dose-rate.csv",
    }  # fmt: skip  (the link out is not listed)
    csv = got["orbiter-mag-track.csv"]
    assert csv["pipeline"] == "mag"
    assert csv["size_bytes"] == (products / "orbiter-mag-track.csv").stat().st_size
    assert csv["pds4_label"] == "orbiter-mag-track.xml"
    assert csv["kind"] == "data"
    assert got["orbiter-mag-track.png"]["kind"] == "quicklook"
    assert got["dose/rover-dose-rate.csv"] == got["dose/rover-dose-rate.csv"] | {
        "pipeline": "dose", "pds4_label": None}  # fmt: skip


def test_serves_a_product_that_pds4_tools_reads_back(sci: TestClient, tmp_path: Path) -> None:
    h = login(sci, "otto")
    for name in ("orbiter-mag-track.xml", "orbiter-mag-track.csv"):
        r = sci.get(f"/api/v1/science/products/{name}", headers=h)
        assert r.status_code == 200, r.text
        (tmp_path / name).write_bytes(r.content)
    assert (
        sci.get("/api/v1/science/products/orbiter-mag-track.xml", headers=h)
        .headers["content-type"]
        .startswith("application/xml")
    )
    table = pds4_tools.read(str(tmp_path / "orbiter-mag-track.xml"), quiet=True)[
        "orbiter_magnetometer_along_track"
    ]
    np.testing.assert_array_equal(table.data["b_total"], [1.5, 2.25])
    r = sci.get("/api/v1/science/products/dose/rover-dose-rate.csv", headers=h)
    assert r.status_code == 200
    assert r.content == b"a\r\n1\r\n"


@pytest.mark.parametrize(
    "path",
    ["../secret.txt", "%2e%2e/secret.txt", "..%2fsecret.txt", "dose/../../secret.txt",
     "link.txt", "/etc/passwd", "%2fetc%2fpasswd", "nothing.csv", "dose"],
)  # fmt: skip
def test_no_path_leaves_the_products_directory(sci: TestClient, path: str) -> None:
    r = sci.get(f"/api/v1/science/products/{path}", headers=login(sci, "vera"))
    assert r.status_code == 404, (path, r.status_code, r.text)
    assert b"not a product" not in r.content


def test_needs_a_login(sci: TestClient) -> None:
    assert sci.get("/api/v1/science/products").status_code == 401
    assert sci.get("/api/v1/science/products/orbiter-mag-track.csv").status_code == 401


def test_without_a_products_dir_the_routes_say_how_to_set_one(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    r = client.get("/api/v1/science/products", headers=auth["vera"])
    assert r.status_code == 404
    assert "science: {products_dir: PATH}" in r.json()["detail"]


def test_the_config_key(tmp_path: Path) -> None:
    from falak.errors import InputError

    mdb = Path(__file__).resolve().parents[2] / "src/falak/missions/testsat/mdb.yaml"
    cfg = tmp_path / "server.yaml"
    cfg.write_text(f"archive: a\nmdb: {mdb}\nscience: {{products_dir: prod}}\n")
    assert load_config(cfg).science_products_dir == (tmp_path / "prod").resolve()
    cfg.write_text(f"archive: a\nmdb: {mdb}\n")
    assert load_config(cfg).science_products_dir is None
    cfg.write_text(f"archive: a\nmdb: {mdb}\nscience: {{dir: prod}}\n")
    with pytest.raises(InputError, match="science must be a mapping"):
        load_config(cfg)
