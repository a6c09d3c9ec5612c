"""``falak science images`` on frames the orbiter simulator took, from files and the archive.

The orbiter model (falak.sim.orbiter) takes two 40 ms frames 6 s apart at perilune over the
south pole; its orbit goes to an OEM as the ground has it. The command, given the PGM files
with their times and exposures (or the archive's files table and CAMERA_IMAGE records),
writes map-projected products whose PDS4 labels pds4-tools reads back (shape, type), GeoTIFFs
in the south-polar projection, quick-looks, the footprints table (checked against the
simulator's boresight ground point within its pointing jitter) and a mosaic.
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from falak.cli.science_images import images_command
from falak.utctime import format_ns

EPOCH_NS = int(datetime(2028, 9, 18, tzinfo=UTC).timestamp()) * 10**9
EXPOSURE_MS = 40


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("images")(images_command)
    app.command("other")(lambda: None)  # a group, as `falak science` is
    return app


@pytest.fixture(scope="module")
def taken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from falak.dynamics.orbiter import trajectory_to_oem
    from falak.sim.orbiter import create_model

    d = tmp_path_factory.mktemp("images")
    sat = create_model(EPOCH_NS, options={"contacts": "always", "mag_rate_hz": 0})
    shots = []
    for dt_s in (0, 6):
        took = sat.execute("IMAGE_TAKE", {"EXPOSURE_MS": EXPOSURE_MS}, EPOCH_NS + dt_s * 10**9)
        rec = next(p for p in took.packets if p.container == "CAMERA_IMAGE")
        f = sat.store.files[rec.values["IMG_FILE_ID"]]
        (d / f.name).write_bytes(f.data)
        shots.append({"path": d / f.name, "rec": rec, "truth": sat.image_truth[f.file_id]})
    (d / "orbiter.oem").write_text(trajectory_to_oem(sat.track.traj), encoding="utf-8")
    return {"dir": d, "shots": shots, "sat": sat}


@pytest.mark.slow
def test_files_become_map_products_footprints_and_a_mosaic(taken: dict[str, Any]) -> None:
    import pds4_tools  # type: ignore[import-untyped]
    import rasterio

    out = taken["dir"] / "out"
    args = ["images", *(str(s["path"]) for s in taken["shots"])]
    for s in taken["shots"]:
        mid = s["rec"].time_ns - EXPOSURE_MS * 1_000_000 // 2
        args += ["--time", format_ns(mid), "--exposure-ms", str(EXPOSURE_MS)]
    args += ["--oem", str(taken["dir"] / "orbiter.oem"), "--out", str(out)]
    res = CliRunner().invoke(_app(), args)
    assert res.exit_code == 0, res.output
    assert "mosaic: 2 images, south_polar" in res.output
    assert "overlap IMG_000001 - IMG_000002" in res.output
    for stem in ("IMG_000001-map", "IMG_000002-map", "mosaic"):
        arr = pds4_tools.read(str(out / f"{stem}.xml"), quiet=True, lazy_load=True)[0]
        with rasterio.open(out / f"{stem}.tif") as src:
            tif = src.read(1)
            assert src.crs.to_dict()["proj"] == "stere"
        assert arr.data.shape == tif.shape
        assert arr.data.dtype == np.float32
        assert np.array_equal(np.asarray(arr.data), tif, equal_nan=True)
        assert (out / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
    struct = pds4_tools.read(str(out / "footprints.xml"), quiet=True, lazy_load=True)
    table = next(s for s in struct if s.is_table())
    assert len(table["latitude"]) == 2 * 32
    with (out / "footprints.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for s in taken["shots"]:
        t = s["truth"]
        pts = [r for r in rows if r["image"] == s["path"].stem]
        lat = np.array([float(r["latitude"]) for r in pts[:4]])
        lon = np.radians([float(r["longitude"]) for r in pts[:4]])
        # the frame centre (mean of the corners on the sphere) vs the simulator's boresight
        # ground point: within its 0.02° 1σ jitter (5σ) times the range
        v = np.stack([np.cos(np.radians(lat)) * np.cos(lon), np.cos(np.radians(lat)) * np.sin(lon),
                      np.sin(np.radians(lat))], 1).mean(axis=0)  # fmt: skip
        c = np.radians([t["centre_lat_deg"], t["centre_lon_deg"]])
        w = np.array([math.cos(c[0]) * math.cos(c[1]), math.cos(c[0]) * math.sin(c[1]),
                      math.sin(c[0])])  # fmt: skip
        err_m = math.acos(min(1.0, float(v @ w) / float(np.linalg.norm(v)))) * 1737.4e3
        assert err_m < math.radians(5 * 0.02) * t["centre_range_km"] * 1000


@pytest.mark.slow
def test_archived_files_and_camera_records(taken: dict[str, Any], tmp_path: Path) -> None:
    from falak.archive import open_archive
    from falak.archive.decoded import write_decoded
    from falak.sim.spacecraft import PacketBuilder
    from falak.tm.decoder import Decoder

    sat = taken["sat"]
    builder = PacketBuilder(sat.mdb)
    arch = tmp_path / "arch"
    packets = [builder.build(s["rec"], s["rec"].time_ns) for s in taken["shots"]]
    lens = np.array([len(p) for p in packets], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    with open_archive(arch, create=True, spacecraft="ORBITER") as store:
        store.append_packets(b"".join(packets), offs, lens,
                             recv_time_ns=np.full(len(packets), EPOCH_NS + 10**11, dtype=np.int64),
                             link="test")  # fmt: skip
        # the parameters as the processor archives them: decoded, stamped with packet time
        result = Decoder(sat.mdb).decode(b"".join(packets), offs, lens)
        write_decoded(store, result, np.array([s["rec"].time_ns for s in taken["shots"]]))
        for s in taken["shots"]:
            store.store_file(s["rec"].time_ns + 60 * 10**9, s["path"].name,
                             s["path"].read_bytes(), source="ORBITER (CFDP entity 2)")  # fmt: skip
    out = tmp_path / "out"
    res = CliRunner().invoke(
        _app(),
        ["images", "--archive", str(arch), "--oem", str(taken["dir"] / "orbiter.oem"),
         "--out", str(out), "--resolution", "80"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "IMG_000001: 40 ms" in res.output
    assert "cells of 80 m" in res.output
    assert (out / "mosaic.xml").is_file()


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    p = tmp_path / "IMG_000001.pgm"
    p.write_bytes(b"P5\n2 2\n255\n" + bytes(4))
    res = CliRunner().invoke(_app(), ["images", str(p), "--oem", str(tmp_path / "x.oem")])
    assert res.exit_code == 1
    assert "--time and --exposure-ms" in res.output
    res = CliRunner().invoke(
        _app(), ["images", str(p), "--time", "2028-09-18T00:00:00Z", "--exposure-ms", "900"]
    )
    assert res.exit_code == 1
    assert "1-500 ms" in res.output
    res = CliRunner().invoke(_app(), ["images", "--projection", "mercator"])
    assert res.exit_code == 1
    assert "--projection" in res.output
    res = CliRunner().invoke(_app(), ["images", "--help"])
    assert res.exit_code == 0
    assert "radiance factor" in res.output.lower()
