"""PDS3 ``.IMG`` + ``.LBL`` DEMs as LOLA publishes its polar GDRs, read beside the GeoTIFF path.

The label below follows LDEM_875S_5M.LBL (LOLA GDR, LRO-L-LOLA-4-GDR-V1.0; Neumann 2011, LOLA
RDR/GDR SIS): an UNCOMPRESSED_FILE holding an IMAGE of 16-bit LSB integers, SCALING_FACTOR 0.5
and OFFSET 1737400 (the reference radius), and an IMAGE_MAP_PROJECTION in polar stereographic
with MAP_SCALE and LINE/SAMPLE_PROJECTION_OFFSET (pixels from the first pixel's centre to the
pole). Cell centres: x = (sample − SAMPLE_PROJECTION_OFFSET − 1) · MAP_SCALE,
y = (LINE_PROJECTION_OFFSET + 1 − line) · MAP_SCALE, 1-based (DSMAP_POLAR.CAT).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from falak.errors import InputError
from falak.terrain.dem import (
    Dem,
    is_lola_south_polar,
    read_dem,
    read_window,
    write_dem,
)
from falak.terrain.synth import synthesize

NULL = -32768  # the PDS null of 16-bit signed samples (GDAL's PDS driver default)

LABEL = """PDS_VERSION_ID            = "PDS3"
DATA_SET_ID               = "LRO-L-LOLA-4-GDR-V1.0"
PRODUCT_ID                = "{product}"
TARGET_NAME               = MOON
OBJECT                    = UNCOMPRESSED_FILE
 FILE_NAME                = "{image}"
 RECORD_TYPE              = FIXED_LENGTH
 FILE_RECORDS             = {lines}
 RECORD_BYTES             = {record_bytes}
 ^IMAGE                   = "{image}"
 OBJECT                   = IMAGE
  NAME                    = HEIGHT
  DESCRIPTION             = "Each sample represents height relative to a
    reference radius (OFFSET) and is generated using preliminary LOLA data."
  LINES                   = {lines}
  LINE_SAMPLES            = {samples}
  SAMPLE_TYPE             = LSB_INTEGER
  SAMPLE_BITS             = 16
  UNIT                    = METER
  SCALING_FACTOR          = 0.5
  OFFSET                  = 1737400.
 END_OBJECT               = IMAGE
END_OBJECT                = UNCOMPRESSED_FILE
OBJECT                    = IMAGE_MAP_PROJECTION
 ^DATA_SET_MAP_PROJECTION     = "DSMAP_POLAR.CAT"
 MAP_PROJECTION_TYPE          = "{projection}"
 KEYWORD_LATITUDE_TYPE        = "PLANETOCENTRIC"
 A_AXIS_RADIUS                = 1737.4 <km>
 B_AXIS_RADIUS                = 1737.4 <km>
 C_AXIS_RADIUS                = 1737.4 <km>
 CENTER_LATITUDE              = -90 <deg>
 CENTER_LONGITUDE             = 0 <deg>
 LINE_FIRST_PIXEL             = 1
 LINE_LAST_PIXEL              = {lines}
 SAMPLE_FIRST_PIXEL           = 1
 SAMPLE_LAST_PIXEL            = {samples}
 MAP_PROJECTION_ROTATION      = 0.0
 MAP_SCALE                    = {scale:g} <m/pix>
 LINE_PROJECTION_OFFSET       = {line_offset} <pix>
 SAMPLE_PROJECTION_OFFSET     = {sample_offset} <pix>
 COORDINATE_SYSTEM_TYPE       = "BODY-FIXED ROTATING"
 COORDINATE_SYSTEM_NAME       = "MEAN EARTH/POLAR AXIS OF DE421"
END_OBJECT                    = IMAGE_MAP_PROJECTION
END
"""


def write_lola_pds3(
    dem: Dem, folder: Path, name: str = "LDEM_TEST", projection: str = "POLAR STEREOGRAPHIC"
) -> tuple[Path, Path, np.ndarray]:
    """Write ``dem`` as LOLA does: int16 half-metre DNs + a detached label; return the DNs."""
    ny, nx = dem.shape
    res = dem.resolution_m
    dn = np.round(dem.height_m.astype(np.float64) / 0.5)
    dn = np.where(np.isfinite(dn), dn, NULL).astype("<i2")
    image = folder / f"{name}.IMG"
    dn.tofile(image)
    # pole offsets from the first pixel's centre (DSMAP_POLAR.CAT): x_left = -(SPO + 0.5)·scale
    sample_offset = -dem.transform.c / res - 0.5
    line_offset = dem.transform.f / res - 0.5
    label = folder / f"{name}.LBL"
    label.write_text(
        LABEL.format(
            product=name, image=image.name, lines=ny, samples=nx, record_bytes=2 * nx,
            projection=projection, scale=res, line_offset=f"{line_offset:.1f}",
            sample_offset=f"{sample_offset:.1f}",
        ),
        "ascii",
    )  # fmt: skip
    return label, image, dn


def _pole_aligned(dem: Dem) -> Dem:
    """The same heights on a grid whose cell edges fall on whole cells from the pole, as LOLA's."""
    t = dem.transform
    res = dem.resolution_m
    grid = Affine(res, 0.0, round(t.c / res) * res, 0.0, -res, round(t.f / res) * res)
    return Dem(dem.height_m.copy(), grid)


@pytest.fixture
def site(tmp_path: Path) -> tuple[Dem, Path, Path, np.ndarray]:
    synth = synthesize((48, 40), 5.0, center_lat_lon=(-89.6, 30.0), seed=5)
    dem = _pole_aligned(synth)
    dem.height_m[3:5, 7:9] = np.nan
    label, image, dn = write_lola_pds3(dem, tmp_path)
    return dem, label, image, dn


def test_rasterio_gdal_has_the_pds_driver() -> None:
    import rasterio

    with rasterio.Env() as env:
        assert "PDS" in env.drivers()


def test_heights_georeferencing_and_projection_match_the_geotiff_path(site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dem, label, image, dn = site
    expected = np.where(dn == NULL, np.nan, dn * 0.5).astype(np.float32)
    tif = write_dem(Dem(expected, dem.transform), tmp_path / "same.tif")
    from_tif = read_dem(tif)
    for path in (label, image):  # the label, or the image with its label beside it
        got = read_dem(path)
        # heights: DN · SCALING_FACTOR (OFFSET = the 1737.4 km radius is taken off), exactly
        np.testing.assert_array_equal(got.height_m, expected)
        np.testing.assert_array_equal(got.height_m, from_tif.height_m)
        assert np.isnan(got.height_m[3:5, 7:9]).all()  # the null DN is no data, not −16 km
        # heights within the 0.25 m quantisation of the truth
        valid = np.isfinite(dem.height_m)
        assert np.abs(got.height_m[valid] - dem.height_m[valid]).max() <= 0.25 + 1e-4
        # georeferencing: the same grid as the GeoTIFF, and the label's formula per cell
        assert got.transform.almost_equals(from_tif.transform, precision=1e-6)
        lines = np.arange(1, dem.shape[0] + 1)
        samples = np.arange(1, dem.shape[1] + 1)
        sample_offset = -dem.transform.c / 5.0 - 0.5
        line_offset = dem.transform.f / 5.0 - 0.5
        np.testing.assert_allclose(got.x_m, (samples - sample_offset - 1) * 5.0, atol=1e-6)
        np.testing.assert_allclose(got.y_m, (line_offset + 1 - lines) * 5.0, atol=1e-6)
        lat, lon = got.latlon_deg()
        lat_t, lon_t = from_tif.latlon_deg()
        np.testing.assert_allclose(lat, lat_t, atol=1e-12)
        np.testing.assert_allclose(lon, lon_t, atol=1e-12)


def test_projection_is_read_as_lolas(site) -> None:  # type: ignore[no-untyped-def]
    import rasterio

    _, label, _, _ = site
    with rasterio.open(label) as src:
        assert src.driver == "PDS"
        assert is_lola_south_polar(src.crs)
        assert (src.scales[0], src.offsets[0]) == (0.5, 1737400.0)


def test_windows_of_a_pds3_dem(site) -> None:  # type: ignore[no-untyped-def]
    _, label, _, _ = site
    whole = read_dem(label)
    part = read_window(label, 10, 5, 20, 30)
    np.testing.assert_array_equal(part.height_m, whole.height_m[10:30, 5:35])
    assert part.x_m[0] == whole.x_m[5]
    assert part.y_m[0] == whole.y_m[10]


def test_other_projection_is_a_clear_error(tmp_path: Path) -> None:
    dem = _pole_aligned(synthesize(16, 5.0, seed=1))
    label, _, _ = write_lola_pds3(dem, tmp_path, projection="EQUIRECTANGULAR")
    with pytest.raises(InputError, match="is not the one falak expects: LOLA south-polar"):
        read_dem(label)


def test_image_without_its_label_is_a_clear_error(site) -> None:  # type: ignore[no-untyped-def]
    _, label, image, _ = site
    label.unlink()
    with pytest.raises(InputError, match=r"expected a GeoTIFF, or a PDS3 \.IMG with its \.LBL"):
        read_dem(image)


def test_cli_takes_a_pds3_dem(site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from falak.cli.app import app

    _, _, image, _ = site
    result = CliRunner().invoke(
        app, ["terrain", "hazards", "--dem", str(image), "--out-dir", str(tmp_path / "hz")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("hazard model: strategic (5 m cells > the 0.5 m wheel base")
    assert "no data 0.2 %" in result.output  # the 4 null cells of 1920
