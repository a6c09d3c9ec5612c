"""falak.science.lunar_images against the orbiter simulator's own truth (issue 17, images).

The simulator (falak.sim.orbiter, orbiter_instruments; docs/orbiter.md section 7) renders two
frames 6 s apart at the 200 km perilune over the south pole (about 10 km apart on the ground,
half a frame), keeping its truth: the camera position and pointing (with its 0.02° jitter),
the ground point of every pixel and the noise-free render. Checked here:

(a) footprint corners against an independent ray/sphere intersection written out below with
    plain numpy from the truth position and pointing (|p0 + t d| = R, the near root; e.g.
    Hartley & Zisserman, *Multiple View Geometry*, for the pinhole ray), and every pixel's ground
    point against the simulator's own;
(b) the map-projected radiance factor registers on the simulator's truth, resampled onto the
    same map from the simulator's own per-pixel ground points (k-d tree and the local
    Jacobian of those points; no code of the pipeline), within a pixel by phase correlation;
(c) the mosaic of the two frames is seamless: their difference over the overlap is noise.

The ground's a-priori geometry (OEM orbit + nadir attitude, no jitter) is checked against the
truth pointing to the simulator's stated jitter. Projections are checked against Snyder,
*Map Projections — A Working Manual* (USGS PP 1395, 1987), numerical example of the polar
stereographic (p. 315, sphere) scaled to the Moon's radius, and against falak.terrain.dem.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from falak.dynamics.moonframes import MOON_RADIUS_KM
from falak.errors import InputError
from falak.science import lunar_images as li

EPOCH_NS = int(datetime(2028, 9, 18, tzinfo=UTC).timestamp()) * 10**9
EXPOSURE_MS = 40
CAM = li.FrameCamera()


@pytest.fixture(scope="module")
def shots() -> dict[str, Any]:
    from falak.dynamics.oem import parse_oem
    from falak.dynamics.orbiter import trajectory_from_oem, trajectory_to_oem
    from falak.sim.orbiter import create_model

    sat = create_model(EPOCH_NS, options={"contacts": "always", "mag_rate_hz": 0})
    frames = []
    for dt_s in (0, 6):
        took = sat.execute("IMAGE_TAKE", {"EXPOSURE_MS": EXPOSURE_MS}, EPOCH_NS + dt_s * 10**9)
        assert took.ok, took.message
        rec = next(p for p in took.packets if p.container == "CAMERA_IMAGE")
        fid = rec.values["IMG_FILE_ID"]
        data = sat.store.files[fid].data
        frames.append({"rec": rec, "data": data, "truth": sat.image_truth[fid]})
    traj = trajectory_from_oem(parse_oem(trajectory_to_oem(sat.track.traj)))
    return {"frames": frames, "traj": traj}


def _truth_geometry(truth: dict[str, Any]) -> li.ImageGeometry:
    return li.ImageGeometry(truth["time_ns"], truth["position_me_km"], truth["camera_to_me"])


def _independent_ground(p0: np.ndarray, cam_to_me: np.ndarray, u: float, v: float) -> np.ndarray:
    """Plain ray/sphere: d = C (u, v, 1)/|.|, |p0 + t d|² = R², t the smaller root."""
    d = cam_to_me @ np.array([u, v, 1.0])
    d = d / math.sqrt(d @ d)
    b = float(d @ p0)
    c = float(p0 @ p0) - MOON_RADIUS_KM**2
    t = -b - math.sqrt(b * b - c)
    return p0 + t * d


def _arc_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * MOON_RADIUS_KM * 1000 * np.arcsin(np.sqrt(h))


def test_camera_model_is_the_simulators() -> None:
    from falak.sim import orbiter_instruments as oi

    assert CAM.size == oi.IMAGE_SIZE
    assert CAM.ifov_rad == pytest.approx(oi.IFOV_RAD, rel=1e-15)
    assert CAM.dn_per_ms == pytest.approx(oi.DN_PER_MS, rel=1e-15)
    assert CAM.fov_deg == pytest.approx(oi.FOV_DEG, rel=1e-12)
    # docs/orbiter.md section 7 says 5.73° (0.1 rad); 2 atan(256 ifov) is 5.725°
    assert CAM.fov_deg == pytest.approx(5.73, abs=0.01)


def test_read_pgm_matches_the_simulators_files_and_rejects_others() -> None:
    from falak.sim.orbiter_instruments import pgm_bytes, read_pgm

    img = np.arange(512 * 512, dtype=np.uint32).reshape(512, 512).astype(np.uint8)
    img[0, 0] = 10  # a newline byte first: the header parser must not eat it
    data = pgm_bytes(img)
    assert np.array_equal(li.read_pgm(data), read_pgm(data))
    with pytest.raises(InputError, match="PGM"):
        li.read_pgm(b"P6\n2 2\n255\n" + bytes(12))
    with pytest.raises(InputError, match="truncated"):
        li.read_pgm(data[:-5])


@pytest.mark.slow  # the simulator's model and frames: ~15 s for the module
def test_radiometric_correction_recovers_the_noise_free_signal(shots: dict[str, Any]) -> None:
    f = shots["frames"][0]
    dn = li.read_pgm(f["data"])
    rf = li.radiometric_correction(dn, EXPOSURE_MS, CAM)
    truth = f["truth"]["expected_dn"] / (EXPOSURE_MS * CAM.dn_per_ms)
    ok = np.isfinite(rf) & (f["truth"]["expected_dn"] > 20)
    assert ok.mean() > 0.3
    ratio = float(np.sum(rf[ok]) / np.sum(truth[ok]))
    assert ratio == pytest.approx(1.0, abs=0.005)  # no bias: rounding and noise average out
    # residuals are the photon + read noise: sigma_DN = sqrt(DN/20 + 1 + 1/12)
    sig = np.sqrt(f["truth"]["expected_dn"][ok] / 20 + 1 + 1 / 12)
    z = (rf[ok] - truth[ok]) * EXPOSURE_MS * CAM.dn_per_ms / sig
    assert np.std(z) == pytest.approx(1.0, abs=0.05)
    assert np.all(np.isnan(rf[dn == 255]))
    with pytest.raises(InputError, match="exposure"):
        li.radiometric_correction(dn, 0, CAM)


@pytest.mark.slow  # the simulator's model and frames: ~15 s for the module
def test_footprint_corners_agree_with_an_independent_ray_intersection(
    shots: dict[str, Any],
) -> None:
    """Acceptance: footprints agree with the orbit geometry within a pixel at periapsis."""
    for f in shots["frames"]:
        t = f["truth"]
        fp = li.footprint(_truth_geometry(t), CAM)
        h = CAM.size / 2 * CAM.ifov_rad
        for k, (u, v) in enumerate([(-h, -h), (h, -h), (h, h), (-h, h)]):
            p = _independent_ground(t["position_me_km"], t["camera_to_me"], u, v)
            lat = math.degrees(math.asin(p[2] / MOON_RADIUS_KM))
            lon = math.degrees(math.atan2(p[1], p[0]))
            err_px = _arc_m(fp.lat_deg[k], fp.lon_deg[k], lat, lon) / t["pixel_scale_m"]
            assert err_px < 0.01, (k, err_px)
        # every pixel centre's ground point against the simulator's own (float32 lat/lon)
        rr, cc = np.mgrid[0 : CAM.size : 7, 0 : CAM.size : 7]
        lat, lon = li.ground_points(_truth_geometry(t), CAM, rr, cc)
        err = _arc_m(lat, lon, t["lat_deg"][rr, cc].ravel(), t["lon_deg"][rr, cc].ravel())
        assert np.max(err) / t["pixel_scale_m"] < 0.05
        # the frame is 20 km across at perilune (docs/orbiter.md): 512 pixels of 39 m
        side = _arc_m(fp.lat_deg[0], fp.lon_deg[0], fp.lat_deg[1], fp.lon_deg[1])
        assert side == pytest.approx(512 * t["pixel_scale_m"], rel=0.002)


@pytest.mark.slow  # the simulator's model and frames: ~15 s for the module
def test_ground_geometry_from_the_oem_is_the_simulators_within_its_jitter(
    shots: dict[str, Any],
) -> None:
    from falak.dynamics.lunar_orbit import utc_times
    from falak.dynamics.moonframes import icrf_to_moon_me
    from falak.dynamics.orbiter import interpolate_state

    traj = shots["traj"]
    epoch_ns = int(traj.times[0].astype(np.int64))
    for f in shots["frames"]:
        t = f["truth"]
        # the ground knows the CAMERA_IMAGE packet's time: the end of the exposure
        mid = f["rec"].time_ns - EXPOSURE_MS * 1_000_000 // 2
        assert mid == t["time_ns"]
        ts = np.array([(mid - epoch_ns) / 1e9])
        r, v = interpolate_state(traj, ts)
        geo = li.geometry_from_state(mid, r[0], v[0], icrf_to_moon_me(utc_times(traj.epoch, ts))[0])
        assert np.linalg.norm(geo.position_me_km - t["position_me_km"]) < 1e-3  # km
        bore = geo.camera_to_me[:, 2] @ t["camera_to_me"][:, 2]
        off_deg = math.degrees(math.acos(min(1.0, bore)))
        assert off_deg < 5 * 0.02  # the simulator's 0.02° 1σ jitter per axis
        # the footprint moves by the jitter angle times the range, nothing more
        fp_g, fp_t = li.footprint(geo, CAM), li.footprint(_truth_geometry(t), CAM)
        shift_m = _arc_m(fp_g.lat_deg[:4], fp_g.lon_deg[:4], fp_t.lat_deg[:4], fp_t.lon_deg[:4])
        expect_m = math.radians(off_deg) * t["centre_range_km"] * 1000
        assert np.all(np.abs(shift_m - expect_m) < 0.05 * expect_m + 2.0)


def _truth_map(truth: dict[str, Any], grid: li.MapGrid) -> np.ndarray:
    """The simulator's noise-free radiance factor on ``grid``, from its per-pixel ground points.

    Uses only the simulator's truth: each cell's nearest pixel ground point (k-d tree), the
    local Jacobian of the truth's ground points over (row, column) to get the fractional pixel,
    and bilinear interpolation of the noise-free render there.
    """
    from scipy.ndimage import map_coordinates
    from scipy.spatial import cKDTree

    from falak.terrain.dem import latlon_to_xy

    x, y = latlon_to_xy(truth["lat_deg"].astype(float), truth["lon_deg"].astype(float))
    n = x.shape[0]
    dx_dc, dx_dr = np.gradient(x, axis=1), np.gradient(x, axis=0)
    dy_dc, dy_dr = np.gradient(y, axis=1), np.gradient(y, axis=0)
    xx, yy = grid.cell_centres()
    _dist, k = cKDTree(np.column_stack([x.ravel(), y.ravel()])).query(
        np.column_stack([xx.ravel(), yy.ravel()])
    )
    r0, c0 = np.divmod(k, n)
    ex, ey = xx.ravel() - x.ravel()[k], yy.ravel() - y.ravel()[k]
    a, b = dx_dr.ravel()[k], dx_dc.ravel()[k]
    c, d = dy_dr.ravel()[k], dy_dc.ravel()[k]
    det = a * d - b * c
    rows = r0 + (d * ex - b * ey) / det
    cols = c0 + (-c * ex + a * ey) / det
    r = truth["expected_dn"].astype(float) / (truth["exposure_ms"] * li.FrameCamera().dn_per_ms)
    val = map_coordinates(r, [rows, cols], order=1, mode="nearest")
    inside = (rows >= 0) & (rows <= n - 1) & (cols >= 0) & (cols <= n - 1)
    return np.where(inside, val, np.nan).reshape(grid.shape)


@pytest.mark.slow  # the simulator's model and frames: ~15 s for the module
def test_projected_image_registers_on_the_simulators_truth(shots: dict[str, Any]) -> None:
    f = shots["frames"][0]
    t = f["truth"]
    geo = _truth_geometry(t)
    fp = li.footprint(geo, CAM)
    grid = li.choose_grid([fp], 40.0)
    assert grid.projection == "south_polar"
    rf = li.radiometric_correction(li.read_pgm(f["data"]), EXPOSURE_MS, CAM)
    mapped = li.project(rf, geo, CAM, grid)
    truth_map = _truth_map(t, grid)
    shift = li.register_shift(mapped, truth_map)
    assert np.hypot(*shift) < 0.2, shift  # cells of 40 m ≈ 1 pixel of 39 m: well within one
    both = np.isfinite(mapped) & np.isfinite(truth_map)
    assert both.sum() > 0.9 * 512 * 512 * (39.05 / 40) ** 2
    resid = (mapped - truth_map)[both]
    assert abs(np.median(resid)) < 0.002
    # the ground's own a-priori geometry (no jitter known): the shift is the jitter, and
    # registration measures it (in the truth's pointing error, cells)
    mapped_nominal = li.project(rf, _ground_geometry(shots, f), CAM, grid)
    shift_nominal = li.register_shift(mapped_nominal, truth_map)
    fp_n = li.footprint(_ground_geometry(shots, f), CAM)
    xn, yn = grid.to_xy(fp_n.lat_deg[:4], fp_n.lon_deg[:4])
    xt, yt = grid.to_xy(fp.lat_deg[:4], fp.lon_deg[:4])
    expect = np.array([np.mean(yn - yt), -np.mean(xn - xt)]) / grid.resolution_m
    assert np.allclose(shift_nominal, expect, atol=0.3), (shift_nominal, expect)


def _ground_geometry(shots: dict[str, Any], f: dict[str, Any]) -> li.ImageGeometry:
    from falak.dynamics.lunar_orbit import utc_times
    from falak.dynamics.moonframes import icrf_to_moon_me
    from falak.dynamics.orbiter import interpolate_state

    traj = shots["traj"]
    mid = f["rec"].time_ns - EXPOSURE_MS * 1_000_000 // 2
    ts = np.array([(mid - int(traj.times[0].astype(np.int64))) / 1e9])
    r, v = interpolate_state(traj, ts)
    return li.geometry_from_state(mid, r[0], v[0], icrf_to_moon_me(utc_times(traj.epoch, ts))[0])


@pytest.mark.slow  # the simulator's model and frames: ~15 s for the module
def test_mosaic_of_two_overlapping_frames_is_seamless(shots: dict[str, Any]) -> None:
    frames = shots["frames"]
    geos = [_truth_geometry(f["truth"]) for f in frames]
    rfs = [li.radiometric_correction(li.read_pgm(f["data"]), EXPOSURE_MS, CAM) for f in frames]
    prints = [li.footprint(g, CAM) for g in geos]
    grid = li.choose_grid(prints, 40.0)
    mos, projected = li.mosaic(rfs, geos, CAM, grid)
    (_i, _j, n, med, rms) = mos.overlap_diff[0]
    assert n > 0.3 * 512 * 512 * (39.05 / 40) ** 2  # half a frame overlaps
    level = float(np.nanmean(mos.values))
    # the same ground seen twice: the difference is noise, no offset
    assert abs(med) < 0.01 * level
    truth_maps = [_truth_map(f["truth"], grid) for f in frames]
    both = (mos.count == 2) & np.isfinite(truth_maps[0]) & np.isfinite(truth_maps[1])
    noise_free = (truth_maps[0] - truth_maps[1])[both]
    noisy = (projected[0] - projected[1])[both]
    # what the two renders differ by without noise (the simulator's own), plus the noise
    assert rms < 0.5 * level, (rms, level)
    assert np.sqrt(np.mean(noisy**2)) < np.sqrt(np.mean(noise_free**2)) + 0.1 * level
    # no seam: along the edge of frame 2 inside frame 1, the mosaic steps no more than the
    # truth does across the same cells
    err = mos.values - np.where(np.isfinite(truth_maps[0]), truth_maps[0], truth_maps[1])
    one = (mos.count == 1) & np.isfinite(err)
    assert abs(np.nanmedian(err[both])) < 0.01 * level
    assert abs(np.nanmedian(err[one])) < 0.01 * level


def test_projections_against_snyder_and_the_dem() -> None:
    from falak.terrain.dem import latlon_to_xy

    # Snyder p. 315 (sphere, R = 1, k0 = 1 at the pole, south polar): φ = −75°, λ = 150°
    # (central meridian −100°) gives x = −0.1693936, y = 0.2005601 ... for R = 1. Here the
    # central meridian is 0°, so λ − λ0 = 250°: rescale to the Moon (x, y times R).
    g = li.MapGrid("south_polar", 0.0, 0.0, 100.0, (1, 1))
    x, y = g.to_xy(-75.0, 150.0 - (-100.0))
    rho = 2 * math.tan(math.radians(45 - 75 / 2))
    assert x == pytest.approx(1737400 * rho * math.sin(math.radians(250)), rel=1e-12)
    assert y == pytest.approx(1737400 * rho * math.cos(math.radians(250)), rel=1e-12)
    lat = np.array([-89.9, -88.2, -85.0])
    lon = np.array([10.0, -120.0, 179.0])
    xd, yd = latlon_to_xy(lat, lon)
    xs, ys = g.to_xy(lat, lon)
    assert np.allclose(xs, xd)
    assert np.allclose(ys, yd)
    for proj in li.PROJECTIONS:
        grid = li.MapGrid(proj, 0.0, 0.0, 100.0, (1, 1), lon0_deg=40.0)
        la = np.array([-89.0, -60.0, 0.5, 60.0, 89.0])
        lo = np.array([-170.0, -20.0, 40.0, 100.0, 170.0])
        if proj == "south_polar":
            la = -np.abs(la)
        if proj == "north_polar":
            la = np.abs(la)
        back = grid.to_latlon(*grid.to_xy(la, lo))
        assert np.allclose(back[0], la)
        assert np.allclose(back[1], lo)


def test_equatorial_frame_projects_equirectangular_pixel_for_pixel() -> None:
    """Away from the pole: a synthetic frame (value = its column) maps back to its columns."""
    r = MOON_RADIUS_KM + 150.0
    p = np.array([r * math.cos(math.radians(20)), r * math.sin(math.radians(20)), 0.0])
    v = np.array([0.0, 0.0, 1.6])
    geo = li.geometry_from_state(0, p, v, np.eye(3))
    fp = li.footprint(geo, CAM)
    assert np.all(np.abs(fp.lat_deg) < 1)
    assert np.all(np.abs(fp.lon_deg - 20) < 1)
    # +X along the velocity (north): the first image row's corners are west, columns go north
    assert fp.lat_deg[1] > fp.lat_deg[0]
    grid = li.choose_grid([fp], 30.0)
    assert grid.projection == "equirectangular"
    assert grid.lon0_deg == pytest.approx(20, abs=0.01)
    cols = np.tile(np.arange(CAM.size, dtype=float), (CAM.size, 1))
    mapped = li.project(cols, geo, CAM, grid)
    # independently: each cell's ground point, ray back to the camera, column = u/w/ifov + 255.5
    xx, yy = grid.cell_centres()
    lat, lon = grid.to_latlon(xx, yy)
    ph, la = np.radians(lat), np.radians(lon)
    q = MOON_RADIUS_KM * np.stack(
        [np.cos(ph) * np.cos(la), np.cos(ph) * np.sin(la), np.sin(ph)], -1
    )
    dc = (q - p) @ geo.camera_to_me
    col = dc[..., 0] / dc[..., 2] / CAM.ifov_rad + (CAM.size - 1) / 2
    ok = np.isfinite(mapped) & (col > 0) & (col < CAM.size - 1)
    assert ok.sum() > 0.8 * (CAM.size * 150 * CAM.ifov_rad * 1000 / 30) ** 2
    assert np.max(np.abs(mapped[ok] - col[ok])) < 1e-3  # float32 map values


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(InputError, match="inside"):
        li.geometry_from_state(0, [1000.0, 0, 0], [0, 1, 0], np.eye(3))
    with pytest.raises(InputError, match="projection"):
        li.MapGrid("mercator", 0, 0, 10, (1, 1))
    with pytest.raises(InputError, match="shape"):
        li.radiometric_correction(np.zeros((4, 4)), 10, CAM)
    # a camera looking away from the Moon has no footprint
    geo = li.ImageGeometry(0, np.array([2000.0, 0, 0]), np.eye(3))
    with pytest.raises(InputError, match="misses"):
        li.footprint(geo, CAM)


def test_products_read_back_in_pds4_tools_and_rasterio(tmp_path: Path) -> None:
    import pds4_tools  # type: ignore[import-untyped]
    import rasterio

    from falak.science.pds4 import write_array

    grid = li.MapGrid("south_polar", -12_000.0, 9_000.0, 40.0, (30, 50))
    values = np.linspace(0, 0.05, 1500, dtype=np.float32).reshape(30, 50)
    values[0, 0] = np.nan
    write_array(tmp_path / "m", values, unit=None, axes=("line", "sample"), title="test map",
                lid="urn:falak:orbiter:images:test", start=0, stop=1, mission="Falak ORBITER",
                instrument="camera", target="Moon", host="ORBITER")  # fmt: skip
    arr = pds4_tools.read(str(tmp_path / "m.xml"), quiet=True, lazy_load=True)[0]
    assert arr.data.shape == (30, 50)
    assert arr.data.dtype == np.float32
    assert np.array_equal(np.asarray(arr.data), values, equal_nan=True)
    li.write_geotiff(tmp_path / "m.tif", values, grid)
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.crs.to_dict()["proj"] == "stere"
        assert float(src.crs.to_dict()["R"]) == pytest.approx(1737400)
        assert tuple(src.transform)[:6] == pytest.approx(grid.transform)
        assert np.array_equal(src.read(1), values, equal_nan=True)
    png = li.write_quicklook(tmp_path / "m.png", values, grid, "test")
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
