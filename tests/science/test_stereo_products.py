"""Surface-mapping products: GeoTIFF + PDS4 label (falak.science.geotiff), the mosaic's
absolute registration to the base DEM, and ``falak science mapping`` on simulator images.

The GeoTIFF is read back by rasterio (GDAL) and falak's own DEM reader (projection checked
by meaning), and its PDS4 label by pds4-tools (the PDS Small Bodies Node's reader): the
same pixels, shape, data type, unit and missing constant as written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pds4_tools
import pytest
import rasterio
import typer
from affine import Affine
from typer.testing import CliRunner

from falak.errors import InputError
from falak.science import stereo as st
from falak.science.geotiff import NODATA_F32, write_geotiff
from falak.terrain.dem import is_lola_south_polar, read_dem

sys.path.insert(0, str(Path(__file__).parent))
from test_stereo import _pairs

META = {"start": 0, "stop": 10**9, "mission": "Falak ROVER", "instrument": "Navcam",
        "host": "ROVER"}  # fmt: skip


def test_geotiff_and_its_pds4_label_read_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(-1200.0, 3.0, (7, 11))
    a[2, 3] = np.nan
    t = Affine(0.1, 0.0, 120.0, 0.0, -0.1, 3050.0)
    tif, xml = write_geotiff(tmp_path / "p" / "dem", a, t, unit="m", title="Stop DEM",
                             lid="urn:falak:rover:mapping:dem_1", **META)  # fmt: skip
    with rasterio.open(tif) as src:
        assert is_lola_south_polar(src.crs)
        assert src.transform == t
        assert src.units == ("m",)
        assert src.compression is None
        assert src.dtypes == ("float32",)
        band = src.read(1, masked=True)
    assert band.mask[2, 3]
    assert band.mask.sum() == 1
    np.testing.assert_array_equal(band.filled(np.nan), a.astype(np.float32))
    dem = read_dem(tif)  # falak's reader: nodata -> NaN
    assert np.isnan(dem.height_m[2, 3])
    assert dem.transform == t
    struct = pds4_tools.read(str(xml), quiet=True)
    arr = struct["stop_dem"]
    assert arr.data.shape == (7, 11)
    assert arr.data.dtype == np.float32
    got = np.asarray(arr.data)
    assert got[2, 3] == np.float32(NODATA_F32)
    ok = np.isfinite(a)
    np.testing.assert_array_equal(got[ok], a.astype(np.float32)[ok])
    assert arr.meta_data["Element_Array"]["unit"] == "m"
    assert arr.meta_data["Element_Array"]["data_type"] == "IEEE754LSBSingle"
    axes = arr.meta_data["Axis_Array"]
    assert [(x["axis_name"], int(x["elements"])) for x in axes] == [("Line", 7), ("Sample", 11)]
    assert float(arr.meta_data["Special_Constants"]["missing_constant"]) == NODATA_F32


def test_geotiff_rejects_bad_input(tmp_path: Path) -> None:
    t = Affine(1.0, 0.0, 5.0, 0.0, -1.0, 9.0)
    with pytest.raises(InputError, match="2-D"):
        write_geotiff(tmp_path / "x", np.zeros(3), t, unit="m", title="x",
                      lid="urn:falak:x:y", **META)  # fmt: skip
    with pytest.raises(InputError, match="dtype"):
        write_geotiff(tmp_path / "x", np.zeros((2, 2), np.int64), t, unit=None, title="x",
                      lid="urn:falak:x:y", **META)  # fmt: skip
    with pytest.raises(InputError, match="URN"):
        write_geotiff(tmp_path / "x", np.zeros((2, 2)), t, unit="m", title="x", lid="bad",
                      **META)  # fmt: skip


@pytest.fixture(scope="module")
def pairs():  # type: ignore[no-untyped-def]
    return _pairs()


def test_mosaic_registers_absolutely_to_the_base_dem_within_one_pixel(pairs) -> None:  # type: ignore[no-untyped-def]
    """The panorama's mosaic, built with a pose wrong by a known offset (and with the true
    one), is found by registration against the base DEM (the simulator's true terrain) at the
    true place: the shift found undoes the offset within one base-DEM pixel (2 m), absolutely
    (not relative to another registration). Measured errors (dx, dy): (-0.25, -2.0) m true
    pose, (-0.5, -1.5) m and (-0.25, -0.25) m with the offsets: a weak minimum on a 2 m
    bilinear DEM, within a pixel but not by much."""
    model, stops = pairs
    base = model.site.dem
    pixel = base.resolution_m
    for off in ((0.0, 0.0), (1.5, -1.0), (-2.0, 1.0)):
        dems = [
            st.local_dem(l_, r_, (x + off[0], y + off[1], h), base, max_range_m=8.0).dem
            for l_, r_, (x, y, h) in stops
        ]
        m = st.mosaic(dems, 0.1)
        dx, dy, _dz, res = st.register(m, base, search_m=3.0, step_m=0.25)
        assert abs(dx + off[0]) <= pixel, (off, dx, dy)
        assert abs(dy + off[1]) <= pixel, (off, dx, dy)
        assert res < 0.1  # heights agree once laid on the base DEM (m)


@pytest.mark.slow  # about 25 s: 9 PNG quick-looks and 5 registrations on a loaded machine
def test_falak_science_mapping_on_simulator_images(pairs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from falak.cli.science_mapping import mapping_command
    from falak.tm.images import Image, write_images

    model, stops = pairs
    images = []
    for (key, cam), tr in sorted(model.navcam_truth.items()):
        x, y, h = tr.est_pose
        images.append(Image(key, cam, tr.time_ns, tr.width, tr.height, 24, tr.pixels,
                            pose={"x_m": x, "y_m": y, "heading_deg": h}))  # fmt: skip
    write_images(images, tmp_path / "images")
    app = typer.Typer()
    app.command()(mapping_command)
    out = tmp_path / "mapping"
    res = CliRunner().invoke(app, ["--images", str(tmp_path / "images"), "--option",
                                   "dem_size=64", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "wrote 4 stereo DEMs" in res.output
    for k in range(1, 5):
        for kind in ("dem", "ortho"):
            assert (out / f"navcam-{k:05d}-{kind}.tif").exists()
            assert (out / f"navcam-{k:05d}-{kind}.xml").exists()
    dem = read_dem(out / "navcam-00001-dem.tif")
    z = dem.height_m[np.isfinite(dem.height_m)]
    gx, gy = np.meshgrid(dem.x_m, dem.y_m)
    ok = np.isfinite(dem.height_m)
    truth = st.bilinear(model.site.dem, gx[ok], gy[ok])
    assert np.median(np.abs(z - truth)) < st.height_error_bound_m(8.0, 1.0, st.NavcamModel())
    table = pds4_tools.read(str(out / "track.xml"), quiet=True)["rover_navcam_stops"]
    assert table.data["x"].tolist() == pytest.approx([s[2][0] for s in stops])
    m = pds4_tools.read(str(out / "mosaic-dem.xml"), quiet=True)["rover_navcam_stereo_mosaic"]
    assert m.data.shape == read_dem(out / "mosaic-dem.tif").shape
    assert (out / "mosaic-dem.png").stat().st_size > 10_000
    bad = CliRunner().invoke(app, ["--out", str(out)])
    assert bad.exit_code == 1
    assert "give --archive or --images" in bad.output


@pytest.mark.slow  # about 10 s on a loaded machine: the site DEM and its registrations
def test_falak_science_mapping_reads_the_archived_navcam_packets(tmp_path: Path) -> None:
    """One pair's NAVCAM_IMAGE packets as the simulator sends them, archived raw; the command
    rebuilds the images (falak.tm.images) and maps them with the pose they carry."""
    from falak.archive import open_archive
    from falak.cli.science_mapping import mapping_command
    from falak.sim.rover import create_model
    from falak.sim.spacecraft import PacketBuilder

    s = 1_000_000_000
    t0 = 1_830_297_600 * s
    model = create_model(t0, seed=0, options={"contacts": "always", "dem_size": 64})
    pair = model.execute("NAVCAM_CAPTURE", {"EXPOSURE_MS": 20}, t0)
    builder = PacketBuilder(model.mdb)
    packets = [builder.build(p, p.time_ns) for p in pair.packets]
    lens = np.array([len(p) for p in packets], dtype=np.int64)
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    archive = tmp_path / "archive"
    with open_archive(archive, create=True, spacecraft="ROVER") as store:
        store.append_packets(b"".join(packets), offs, lens, recv_time_ns=np.int64(t0), link="t")
    app = typer.Typer()
    app.command()(mapping_command)
    out = tmp_path / "mapping"
    res = CliRunner().invoke(app, ["--archive", str(archive), "--spacecraft", "ROVER",
                                   "--option", "dem_size=64", "--out", str(out),
                                   "--no-png"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert not list(out.glob("*.png"))
    left, right = (
        np.frombuffer(model.navcam_truth[(1, c)].pixels, np.uint8).reshape(192, 256)
        for c in ("LEFT", "RIGHT")
    )
    track = pds4_tools.read(str(out / "track.xml"), quiet=True)["rover_navcam_stops"].data
    pose = (float(track["x"][0]), float(track["y"][0]), float(track["heading"][0]))
    # the packets carry the estimated pose in the MDB's PositionM / HeadingDeg encodings (cm)
    assert pose == pytest.approx((model.est_x, model.est_y, model.est_heading), abs=0.01)
    want = st.local_dem(left, right, pose, model.site.dem, max_range_m=8.0)
    got = read_dem(out / "navcam-00001-dem.tif")
    np.testing.assert_array_equal(got.height_m, want.dem.height_m)
    assert got.transform == want.dem.transform
    empty = CliRunner().invoke(app, ["--archive", str(archive), "--start", "2029-01-01T00:00Z",
                                     "--option", "dem_size=64", "--out", str(out)])  # fmt: skip
    assert empty.exit_code == 1
    assert "no complete LEFT+RIGHT navcam pair" in empty.output
