"""DEM GeoTIFF input/output in LOLA's south-polar stereographic projection."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from falak.errors import InputError
from falak.terrain.dem import (
    LOLA_SOUTH_POLE_PROJ4,
    fill_holes,
    is_lola_south_polar,
    iter_blocks,
    latlon_to_xy,
    read_dem,
    read_window,
    write_dem,
    xy_to_latlon,
)
from falak.terrain.synth import synthesize


def test_round_trip_keeps_heights_transform_and_features(tmp_path):
    dem = synthesize(64, 5.0, seed=3)
    path = write_dem(dem, tmp_path / "dem.tif")
    back = read_dem(path)
    np.testing.assert_array_equal(back.height_m, dem.height_m)
    assert back.transform == dem.transform
    np.testing.assert_array_equal(back.rocks.diameter_m, dem.rocks.diameter_m)
    np.testing.assert_array_equal(back.craters.age_ga, dem.craters.age_ga)


def test_crs_compared_by_meaning_not_string(tmp_path):
    """GDAL writes +k=1 back as +lat_ts=-90 (ENVIRONMENT.md); both mean the LOLA projection."""
    path = write_dem(synthesize(16, 5.0, seed=0, relief=False), tmp_path / "d.tif")
    with rasterio.open(path) as src:
        written = src.crs
    assert "lat_ts" in written.to_proj4()
    assert is_lola_south_polar(written)
    assert is_lola_south_polar(CRS.from_proj4(LOLA_SOUTH_POLE_PROJ4))
    north = LOLA_SOUTH_POLE_PROJ4.replace("lat_0=-90", "lat_0=90")
    assert not is_lola_south_polar(CRS.from_proj4(north))
    earth = LOLA_SOUTH_POLE_PROJ4.replace("+R=1737400", "+R=6371000")
    assert not is_lola_south_polar(CRS.from_proj4(earth))


def test_projection_matches_proj():
    """Our closed-form stereographic equals PROJ's (via rasterio.warp) to 1 µm / 1e-9°."""
    from rasterio.warp import transform

    lat = np.array([-90.0, -89.9, -89.5, -88.0, -85.0, -80.0])
    lon = np.array([0.0, 45.0, 129.2, -170.0, 90.0, -30.0])
    x, y = latlon_to_xy(lat, lon)
    geo = CRS.from_proj4("+proj=longlat +R=1737400 +no_defs")
    px, py = transform(geo, CRS.from_proj4(LOLA_SOUTH_POLE_PROJ4), lon, lat)
    np.testing.assert_allclose(x, px, atol=1e-6)
    np.testing.assert_allclose(y, py, atol=1e-6)
    lat2, lon2 = xy_to_latlon(x[1:], y[1:])
    np.testing.assert_allclose(lat2, lat[1:], atol=1e-9)
    np.testing.assert_allclose(lon2, lon[1:], atol=1e-9)


def test_nodata_becomes_nan_never_zero(tmp_path):
    heights = np.full((20, 20), 100.0, dtype=np.float32)
    heights[5:8, 5:8] = -32768.0
    path = tmp_path / "holes.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=20, height=20, count=1, dtype="float32",
        crs=CRS.from_proj4(LOLA_SOUTH_POLE_PROJ4), transform=Affine(5, 0, 0, 0, -5, 3100),
        nodata=-32768.0,
    ) as dst:  # fmt: skip
        dst.write(heights, 1)
    dem = read_dem(path)
    assert np.isnan(dem.height_m[5:8, 5:8]).all()
    assert np.nanmin(dem.height_m) == 100.0
    filled, mask = fill_holes(dem.height_m)
    assert mask.sum() == 9
    np.testing.assert_allclose(filled, 100.0)


def test_fill_holes_spans_a_slope():
    """Laplace fill of a hole in a plane reproduces the plane (harmonic function), to 1 cm."""
    yy, xx = np.mgrid[0:30, 0:30]
    plane = (0.5 * xx + 0.2 * yy).astype(np.float32)
    holed = plane.copy()
    holed[10:14, 12:16] = np.nan
    filled, _ = fill_holes(holed, iterations=500)
    np.testing.assert_allclose(filled, plane, atol=0.01)


def test_all_nodata_is_an_error():
    with pytest.raises(InputError, match="no valid height"):
        fill_holes(np.full((4, 4), np.nan))


def test_no_georeferencing_is_a_clear_error(tmp_path):
    path = tmp_path / "plain.tif"
    with warnings.catch_warnings():
        # Writing a TIFF with no CRS/transform on purpose makes rasterio warn; that is the test.
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(
            path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32"
        ) as dst:
            dst.write(np.zeros((4, 4), np.float32), 1)
    with pytest.raises(InputError) as info:
        read_dem(path)
    assert str(path) in str(info.value)
    assert "no georeferencing" in str(info.value)
    assert "+proj=stere +lat_0=-90" in str(info.value)


def test_unknown_projection_is_a_clear_error(tmp_path):
    path = tmp_path / "ll.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
        crs=CRS.from_epsg(4326), transform=Affine(0.1, 0, 0, 0, -0.1, -80),
    ) as dst:  # fmt: skip
        dst.write(np.zeros((4, 4), np.float32), 1)
    with pytest.raises(InputError, match=r"ll\.tif: projection .* is not the one falak expects"):
        read_dem(path)


def test_not_a_raster_is_a_clear_error(tmp_path):
    path = tmp_path / "text.tif"
    path.write_text("hello")
    with pytest.raises(InputError, match="cannot read as a raster"):
        read_dem(path)


def test_windows_and_blocks_reassemble_the_file(tmp_path):
    dem = synthesize(300, 5.0, seed=2)
    path = write_dem(dem, tmp_path / "big.tif")
    window = read_window(path, 100, 50, 40, 60)
    np.testing.assert_array_equal(window.height_m, dem.height_m[100:140, 50:110])
    np.testing.assert_allclose(window.x_m, dem.x_m[50:110])
    np.testing.assert_allclose(window.y_m, dem.y_m[100:140])
    out = np.full(dem.shape, np.nan, dtype=np.float32)
    blocks = 0
    for (r0, c0, rows, cols), block in iter_blocks(path, block_size=128, halo=8):
        row_in = r0 - max(0, r0 - 8)
        col_in = c0 - max(0, c0 - 8)
        out[r0 : r0 + rows, c0 : c0 + cols] = block.height_m[
            row_in : row_in + rows, col_in : col_in + cols
        ]
        blocks += 1
    assert blocks == 9
    np.testing.assert_array_equal(out, dem.height_m)


def test_dem_repr_and_cell_lookup():
    dem = synthesize(16, 10.0, seed=0, relief=False)
    assert repr(dem).startswith("Dem(16x16 cells at 10 m")
    row, col = dem.cell_of(dem.x_m[3], dem.y_m[5])
    assert (int(row[0]), int(col[0])) == (5, 3)
    with pytest.raises(InputError, match="outside the DEM"):
        dem.cell_of(0.0, 0.0)
