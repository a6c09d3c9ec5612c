"""The console's map routes (``/map``, ``/map/groundtrack``, ``/map/site``, the PNGs) on a
server hosting TIANGONG (``orbit.tle``) and ROVER (``site:`` and a planned route)."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from falak.server import create_app
from falak.server.maps import EARTH_MEAN_RADIUS_KM, png_bytes
from tests.server.conftest import login
from tests.server.maps_config import CSS_TLE, SITE_SEED, MapsGround, maps_ground

TRACK = "/api/v1/spacecraft/TIANGONG/map/groundtrack"
SITE = "/api/v1/spacecraft/ROVER/map/site"


@pytest.fixture(scope="module")
def ground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapsGround]:
    with maps_ground(tmp_path_factory.mktemp("maps")) as g:
        yield g


@pytest.fixture(scope="module")
def client(ground: MapsGround) -> Iterator[TestClient]:
    with TestClient(create_app(ground.runtime)) as c:
        yield c


@pytest.fixture(scope="module")
def viewer(client: TestClient) -> dict[str, str]:
    return login(client, "vera")


def _png(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


# -- kinds -------------------------------------------------------------------------------


def test_map_kind_follows_the_config(client: TestClient, viewer: dict[str, str]) -> None:
    earth = client.get("/api/v1/spacecraft/TIANGONG/map", headers=viewer).json()
    assert earth["kind"] == "earth"
    assert earth["groundtrack"] == "spacecraft/TIANGONG/map/groundtrack"
    # css.tle line 2 mean motion 15.61907922 rev/day → 1440/15.61907922 = 92.195 min
    assert earth["tle"]["period_min"] == pytest.approx(92.195, abs=1e-3)
    assert earth["tle"]["epoch"].startswith("2023-09-07T14:28:39")  # day 250.60323094 of 2023
    site = client.get("/api/v1/spacecraft/ROVER/map", headers=viewer).json()
    assert site["kind"] == "site"
    assert site["image"] == "spacecraft/ROVER/map/site.png"
    # the default spacecraft's routes under /api/v1 answer the same
    assert client.get("/api/v1/map", headers=viewer).json()["kind"] == "earth"


def test_a_spacecraft_without_a_map_is_told_what_to_configure(
    client: TestClient, viewer: dict[str, str]
) -> None:
    r = client.get("/api/v1/spacecraft/ROVER/map/groundtrack", headers=viewer)
    assert r.status_code == 404
    assert r.json()["detail"] == (
        "no ground track for ROVER: its config has no orbit: {tle: FILE} or orbit: {oem: FILE}"
    )
    r = client.get("/api/v1/spacecraft/TIANGONG/map/site", headers=viewer)
    assert r.status_code == 404
    assert "its config has no 'site:'" in r.json()["detail"]


# -- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/map", "/map/groundtrack", "/map/site", "/map/site.png", "/map/site/lit.png"],
)
def test_map_routes_need_a_token(client: TestClient, path: str) -> None:
    r = client.get("/api/v1/spacecraft/ROVER" + path)
    assert r.status_code == 401


def test_a_user_without_a_role_on_the_spacecraft_is_refused(client: TestClient) -> None:
    r = client.post("/api/v1/auth/token", json={"username": "sam", "password": "sam-pw"})
    sam = {"Authorization": f"Bearer {r.json()['access_token']}"}  # TIANGONG's viewer only
    assert client.get(TRACK, headers=sam).status_code == 200
    r = client.get(SITE + ".png", headers=sam)
    assert r.status_code == 403
    assert r.json()["detail"] == (
        "user sam (no roles) may not do this on ROVER: it needs the role viewer there"
    )


# -- the ground track --------------------------------------------------------------------


def test_ground_track_matches_an_independent_sgp4_evaluation(
    client: TestClient, viewer: dict[str, str]
) -> None:
    """Reference: the sgp4 package's SGP4 through skyfield's EarthSatellite (its own TEME →
    ITRS rotation with UT1 from its built-in ΔT table, and its own WGS84 geodetic latitude).
    1 km: falak rotates with UTC for UT1 (|UT1−UTC| ≤ 0.9 s: ≤ 0.42 km at the equator) and
    both leave out polar motion (≤ 15 m); everything else is the same SGP4."""
    from skyfield.api import EarthSatellite, load, wgs84

    start, end = "2023-09-08T06:00:00Z", "2023-09-08T09:00:00Z"
    r = client.get(TRACK, headers=viewer, params={"start": start, "end": end, "step_s": 60})
    assert r.status_code == 200, r.text
    track = r.json()
    assert track["count"] == 181  # 3 h every 60 s, both ends included
    assert track["errors"] == {}
    line1, line2 = CSS_TLE.read_text().splitlines()[1:3]
    ts = load.timescale(builtin=True)
    sat = EarthSatellite(line1, line2, "CSS", ts)
    # minutes past the start (no leap second in these 3 h; POSIX seconds since 1970 would
    # be read by skyfield as SI seconds, 27 leap seconds off)
    times = ts.utc(2023, 9, 8, 6, np.arange(181))
    geo = wgs84.geographic_position_of(sat.at(times))
    lat_ref, lon_ref, h_ref = geo.latitude.degrees, geo.longitude.degrees, geo.elevation.km
    lat = np.radians(np.array(track["lat_deg"]))
    lon = np.radians(np.array(track["lon_deg"]))
    la, lo = np.radians(lat_ref), np.radians(lon_ref)
    # great-circle distance on the mean sphere (haversine)
    hav = np.sin((lat - la) / 2) ** 2 + np.cos(lat) * np.cos(la) * np.sin((lon - lo) / 2) ** 2
    distance_km = 2 * EARTH_MEAN_RADIUS_KM * np.arcsin(np.sqrt(hav))
    assert distance_km.max() < 1.0
    assert np.abs(np.array(track["height_km"]) - h_ref).max() < 1.0
    # the inclination (css.tle line 2: 41.4752°) bounds the geocentric latitude; the geodetic
    # one is up to 0.19° higher there: atan(tan 41.4752° / (1 − e²)) = 41.66° (WGS84 e²)
    assert 41.3 < max(abs(v) for v in track["lat_deg"]) < 41.67


def test_ground_track_refuses_too_many_points_with_the_step_that_fits(
    client: TestClient, viewer: dict[str, str]
) -> None:
    params: dict[str, str | int] = {
        "start": "2023-09-08T00:00:00Z",
        "end": "2023-09-10T00:00:00Z",
        "step_s": 1,
    }
    r = client.get(TRACK, headers=viewer, params=params)
    assert r.status_code == 400
    assert r.json()["detail"] == (
        "172801 points from start to end every 1 s: at most 20000; use step_s=9 or a shorter span"
    )
    params = {"start": "2023-09-08T02:00:00Z", "end": "2023-09-08T01:00:00Z"}
    r = client.get(TRACK, headers=viewer, params=params)
    assert r.status_code == 400
    assert r.json()["detail"].startswith("end must be after start")


def test_default_track_spans_an_orbit_back_and_two_ahead_of_the_run_clock(
    client: TestClient, viewer: dict[str, str], ground: MapsGround
) -> None:
    track = client.get(TRACK, headers=viewer).json()
    period_s = 92.195 * 60
    assert (track["now_ns"] - track["start_ns"]) / 1e9 == pytest.approx(period_s, abs=1.0)
    assert track["count"] == int(3 * period_s // 30) + 1
    assert abs(track["now_ns"] - ground.runtime.clock.now_ns()) < 60e9
    pos = track["position"]
    assert -41.6 < pos["lat_deg"] < 41.6
    assert 300 < pos["height_km"] < 450  # css.tle: ~380 km


def test_station_circles_have_the_spherical_earth_radius(
    client: TestClient, viewer: dict[str, str]
) -> None:
    """Coverage half-angle on a spherical Earth (Wertz and Larson, Space Mission Analysis and
    Design, 3rd ed., §5.2, eqs. 5-16..5-18): sin η = R cos ε / (R + h), λ = 90° − ε − η.
    Checked two ways: the formula, and from first principles — a spacecraft at height h above
    each circle point is seen from the station at elevation ε (vector geometry)."""
    track = client.get(TRACK, headers=viewer).json()
    h = track["circle_height_km"]
    assert h == pytest.approx(track["position"]["height_km"], abs=1e-2)
    r_km = 6371.0
    names = {s["name"] for s in track["stations"]}
    assert {"Islamabad", "Karachi", "Kashi", "Sanya", "Neuquén"} <= names
    for st in track["stations"]:
        eps = math.radians(st["min_elevation_deg"])
        eta = math.asin(r_km * math.cos(eps) / (r_km + h))
        lam = 90.0 - st["min_elevation_deg"] - math.degrees(eta)
        assert st["half_angle_deg"] == pytest.approx(lam, abs=1e-3)

        # first principles: elevation of the point (R + h)·û(circle point) from R·û(station)
        def unit(lat_deg: float, lon_deg: float) -> np.ndarray:
            la, lo = math.radians(lat_deg), math.radians(lon_deg)
            return np.array(
                [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]
            )

        up = unit(st["lat_deg"], st["lon_deg"])
        for la, lo in zip(st["circle_lat_deg"], st["circle_lon_deg"], strict=True):
            los = (r_km + h) * unit(la, lo) - r_km * up
            elevation = math.degrees(math.asin(np.dot(los, up) / np.linalg.norm(los)))
            # circle points are rounded to 0.001° (0.11 km): ≤ 0.02° of elevation
            assert elevation == pytest.approx(st["min_elevation_deg"], abs=0.02)
    # Islamabad, 10° above its horizon, ISS-like 380 km: λ ≈ 11.7° (≈ 1300 km)
    isb = next(s for s in track["stations"] if s["name"] == "Islamabad")
    assert isb["min_elevation_deg"] == 10
    assert 11.0 < isb["half_angle_deg"] < 12.5


def test_circle_elevation_limit_can_be_given(client: TestClient, viewer: dict[str, str]) -> None:
    track = client.get(TRACK, headers=viewer, params={"min_elevation_deg": 0}).json()
    h = track["circle_height_km"]
    # ε = 0: λ = arccos(R / (R + h)) (the horizon circle)
    expected = math.degrees(math.acos(6371.0 / (6371.0 + h)))
    assert all(s["half_angle_deg"] == pytest.approx(expected, abs=1e-3) for s in track["stations"])


# -- the site ----------------------------------------------------------------------------


def test_site_frame_and_route_are_the_simulators_terrain_and_the_plan(
    client: TestClient, viewer: dict[str, str], ground: MapsGround
) -> None:
    from falak.terrain.site import site_terrain

    dem, _ = site_terrain({}, SITE_SEED)  # what `falak sim rover --seed 11` flies on
    site = client.get(SITE, headers=viewer).json()
    t = dem.transform
    assert site["bounds_m"] == {
        "x_min": t.c, "x_max": t.c + 256 * t.a, "y_min": t.f + 256 * t.e, "y_max": t.f,
    }  # fmt: skip
    assert site["shape"] == [256, 256]
    assert site["resolution_m"] == 2.0
    assert "+proj=stere +lat_0=-90" in site["crs"]["proj4"]
    plan = json.loads(ground.route.read_text())
    (feature,) = site["route"]["features"]  # the windows plan is not a route
    assert feature["geometry"] == plan["geometry"]
    assert feature["properties"]["file"] == "route.geojson"
    assert feature["properties"]["length_m"] == plan["properties"]["length_m"]
    assert [o["name"] for o in site["overlays"]] == ["lit", "earth"]
    assert site["pose"] == {
        "x_m": "/ROVER/ROV_EST_X_M",
        "y_m": "/ROVER/ROV_EST_Y_M",
        "heading_deg": "/ROVER/ROV_EST_HEADING_DEG",
    }


def test_site_png_is_the_dems_hillshade(client: TestClient, viewer: dict[str, str]) -> None:
    from falak.terrain.preview import hillshade
    from falak.terrain.site import site_terrain

    r = client.get(SITE + ".png", headers=viewer)
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    image = _png(r.content)  # decoded by Pillow, not by falak
    assert image.mode == "L"
    assert image.size == (256, 256)  # (width, height) = the DEM's (nx, ny)
    dem, _ = site_terrain({}, SITE_SEED)
    expected = np.round(30 + 215 * hillshade(dem.height_m, dem.resolution_m))
    assert np.array_equal(np.asarray(image), expected.astype(np.uint8))


def test_overlays_show_the_sun_and_the_earth_of_their_time_bucket(
    client: TestClient, viewer: dict[str, str]
) -> None:
    from falak.terrain.illumination import illumination_maps
    from falak.terrain.site import site_terrain

    when = "2023-09-08T06:07:00Z"  # bucket 06:00:00 (10-minute buckets)
    lit = _png(client.get(SITE + "/lit.png", headers=viewer, params={"time": when}).content)
    earth = _png(client.get(SITE + "/earth.png", headers=viewer, params={"time": when}).content)
    assert lit.mode == earth.mode == "RGBA"
    assert lit.size == earth.size == (256, 256)
    dem, hz = site_terrain({}, SITE_SEED)
    maps = illumination_maps(dem, hz, [np.datetime64("2023-09-08T06:00:00", "ns")])
    sunny = np.asarray(lit)[..., 0] == 255  # yellow (255, 225, 110) where the Sun is up
    assert np.array_equal(sunny, maps.lit_percent > 0)
    assert 0 < sunny.sum() < sunny.size  # this hour has both light and shadow
    seen = np.asarray(earth)[..., 1] == 220  # cyan (40, 220, 255) where the Earth is up
    assert np.array_equal(seen, maps.earth_percent > 0)
    r = client.get(SITE + "/relay.png", headers=viewer)
    assert r.status_code == 404
    assert r.json()["detail"] == "no overlay named 'relay'; overlays: lit, earth"


def test_png_writer_round_trips_through_pillow() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    assert np.array_equal(np.asarray(_png(png_bytes(grey))), grey)
    rgba = np.arange(3 * 2 * 4, dtype=np.uint8).reshape(3, 2, 4)
    assert np.array_equal(np.asarray(_png(png_bytes(rgba))), rgba)


def test_plan_that_is_not_json_is_named(tmp_path: Path) -> None:
    from falak.errors import InputError
    from falak.server.maps import route_collection

    bad = tmp_path / "route.geojson"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(InputError, match=r"plan .*route.geojson cannot be read as JSON"):
        route_collection([bad])


# -- the Moon: a lunar orbiter's track from its OEM -----------------------------------------


@pytest.fixture(scope="module")
def moon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """A server hosting ORBITER (``orbit: {oem: ...}``) with an OEM that ``falak orbiter
    propagate`` wrote: a 100 km polar orbit (a = 1837.4 km) from the maps config's epoch."""
    from typer.testing import CliRunner

    from falak.cli.app import app
    from falak.server import Runtime, load_config
    from tests.server.conftest import USERS
    from tests.server.maps_config import EPOCH, MISSIONS

    d = tmp_path_factory.mktemp("moon")
    oem = d / "orbiter.oem"
    res = CliRunner().invoke(app, [
        "orbiter", "propagate", "--elements", "1837.4,0.0,90,30,0,0", "--epoch", EPOCH,
        "--days", "0.2", "--degree", "0", "--no-third-bodies", "--step", "60",
        "--out", str(oem),
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    imaging = d / "imaging.json"
    window = {"start": "2023-09-08T06:20:00Z", "stop": "2023-09-08T06:20:10Z",
              "duration_s": 10.0, "min_off_nadir_deg": 1.0}  # fmt: skip
    imaging.write_text(json.dumps([window]))
    users = "\n".join(
        f"  - {{name: {n}, roles: [{role}], password: {pw}}}" for n, (pw, role) in USERS.items()
    )
    config = d / "server.yaml"
    config.write_text(f"""archive: ./archive
clock: {{epoch: "{EPOCH}", speed: 1.0}}
users:
{users}
spacecraft:
  - name: ORBITER
    mdb: {MISSIONS / "orbiter" / "mdb.yaml"}
    links: [udp://127.0.0.1:0]
    orbit: {{oem: {oem.name}}}
    plans: [{imaging.name}]
""")  # fmt: skip
    rt = Runtime.from_config(load_config(config))
    rt.start()
    try:
        with TestClient(create_app(rt)) as c:
            yield c, oem
    finally:
        rt.stop()


def _sub_point_skyfield(oem: Path, when: str) -> tuple[float, float]:
    """Independent sub-orbiter point: the OEM's nearest state (60 s apart, exact at a record)
    rotated by skyfield's own MOON_ME_DE421 frame (lunarsky's kernels, skyfield's
    PlanetaryConstants.build_frame_named, not falak's Chebyshev evaluation)."""
    from skyfield.api import load as sf_load

    from falak.dynamics.moonframes import planetary_constants
    from falak.dynamics.oem import read_oem

    e = read_oem(oem)
    k = int(np.argmin(np.abs(e.times - np.datetime64(when.rstrip("Z"), "ns"))))
    t = sf_load.timescale(builtin=True).from_datetime(
        e.times[k].astype("datetime64[us]").item().replace(tzinfo=UTC)
    )
    frame = planetary_constants().build_frame_named("MOON_ME_DE421")
    r = frame.rotation_at(t) @ e.r_km[k]
    return (math.degrees(math.asin(r[2] / np.linalg.norm(r))),
            math.degrees(math.atan2(r[1], r[0])))  # fmt: skip


def test_moon_track_is_the_oem_in_moon_me(moon: tuple[TestClient, Path]) -> None:
    client, oem = moon
    viewer = login(client, "vera")
    kind = client.get("/api/v1/spacecraft/ORBITER/map", headers=viewer).json()
    assert kind["kind"] == "moon"
    assert kind["oem"] == "orbiter.oem"
    start = "2023-09-08T06:10:00Z"  # on an OEM record (60 s steps from 06:00)
    r = client.get(
        "/api/v1/spacecraft/ORBITER/map/groundtrack",
        params={"start": start, "end": "2023-09-08T07:10:00Z", "step_s": 600},
        headers=viewer,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "moon"
    assert body["count"] == 7
    for i in range(body["count"]):
        when = f"2023-09-08T{6 + (10 + 10 * i) // 60:02d}:{(10 + 10 * i) % 60:02d}:00Z"
        lat, lon = _sub_point_skyfield(oem, when)
        # 1e-3 deg = 30 m on the 1737.4 km sphere (the answer's 3 decimals are 17 m)
        assert body["lat_deg"][i] == pytest.approx(lat, abs=1e-3), when
        d_lon = (body["lon_deg"][i] - lon + 180) % 360 - 180
        assert abs(d_lon) * math.cos(math.radians(lat)) < 1e-3, when
    # point-mass circular orbit: height a - R = 100 km
    assert all(h == pytest.approx(100.0, abs=0.5) for h in body["height_km"])
    assert body["position"]["height_km"] == pytest.approx(100.0, abs=0.5)
    assert [m["name"] for m in body["landmarks"]] == ["South pole", "Shackleton"]
    assert len(body["imaging"]) == 1
    assert body["imaging"][0]["centre"]["lat_deg"] is not None
    # outside the OEM (0.2 days from 06:00): no points, not extrapolated
    late = client.get(
        "/api/v1/spacecraft/ORBITER/map/groundtrack",
        params={"start": "2023-09-09T06:00:00Z", "end": "2023-09-09T06:10:00Z", "step_s": 300},
        headers=viewer,
    ).json()
    assert late["lat_deg"] == [None, None, None]
