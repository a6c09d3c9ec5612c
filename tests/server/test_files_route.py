"""``/archive/files``: files received from the spacecraft, listed and downloaded (issue 15)."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from tests.server.conftest import Ground

T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z


def test_files_are_listed_and_downloaded_byte_for_byte(
    live: Ground, client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    data = bytes(range(256)) * 40
    archive = live.runtime.archive
    fid = archive.store_file(
        T0, "images/nac 0001.pgm", data, source="TESTSAT", checksum="modular:12345678",
        camera="NAC",
    )  # fmt: skip
    part = archive.store_file(
        T0 + 1, "mag/0002.csv", b"t,b", source="TESTSAT", complete=False, missing=[(3, 99)]
    )
    r = client.get("/api/v1/archive/files", headers=auth["vera"])
    assert r.status_code == 200, r.text
    listed = {f["id"]: f for f in r.json()}
    assert listed[fid] == {
        "id": fid, "time": "2025-11-24T16:00:00.000000Z", "name": "images/nac 0001.pgm",
        "source": "TESTSAT", "size": len(data), "checksum": "modular:12345678",
        "sha256": hashlib.sha256(data).hexdigest(), "complete": True, "missing": [],
        "attrs": {"camera": "NAC"},
    }  # fmt: skip
    assert listed[part]["missing"] == [[3, 99]]
    r = client.get(f"/api/v1/archive/files/{fid}", headers=auth["vera"])
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-disposition"] == 'attachment; filename="nac_0001.pgm"'
    assert r.headers["x-falak-sha256"] == hashlib.sha256(data).hexdigest()
    assert r.headers["x-falak-complete"] == "true"
    r = client.get(f"/api/v1/archive/files/{part}", headers=auth["vera"])
    assert r.headers["x-falak-complete"] == "false"
    # the spacecraft-prefixed path is the same route
    r = client.get(f"/api/v1/spacecraft/TESTSAT/archive/files/{fid}", headers=auth["vera"])
    assert r.content == data


def test_files_need_a_token_and_unknown_ids_are_404(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    assert client.get("/api/v1/archive/files").status_code == 401
    assert client.get("/api/v1/archive/files/1").status_code == 401
    r = client.get("/api/v1/archive/files/987654", headers=auth["vera"])
    assert r.status_code == 404
    assert (
        r.json()["detail"] == "no file 987654 in the archive (ids are those of its list of files)"
    )
