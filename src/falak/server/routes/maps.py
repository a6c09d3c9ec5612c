"""``/map``: what the console's Maps page draws for a spacecraft (:mod:`falak.server.maps`).

- ``GET /map``: the kind of map, from the spacecraft's config: ``earth`` (``orbit.tle``: an
  Earth orbiter), ``moon`` (``orbit.oem``: a lunar orbiter), ``site`` (``site:``: a surface
  spacecraft) or ``none`` (neither; the answer says what to configure).
- ``GET /map/groundtrack?start&end&step_s``: sub-satellite latitudes and longitudes (SGP4),
  the spacecraft's position now (run clock) and each catalogue station's visibility circle
  at the spacecraft's height now; for a lunar orbiter the sub-orbiter selenocentric
  latitudes/longitudes in MOON_ME from the OEM (:func:`falak.server.maps.moon_track`), the
  position now, the south-polar landmarks and the imaging windows among the plans.
- ``GET /map/site``: the site's bounds (projected metres), CRS, the route(s) among the plans
  and the overlay images' URLs for now; ``/map/site.png`` the hillshade,
  ``/map/site/{lit|earth}.png?time=ISO`` the overlays.

Read-only: any role that may view the spacecraft. URLs in answers are relative to
``/api/v1`` and name the spacecraft (``spacecraft/ROVER/map/site.png``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response

from falak.errors import InputError, MdbError
from falak.server import maps
from falak.server.config import SpacecraftConfig
from falak.server.routes.deps import SpacecraftDep
from falak.server.runtime import SpacecraftRuntime
from falak.server.schemas import iso
from falak.utctime import datetime_to_ns, parse_ns

__all__ = ["POSE_PARAMETERS", "router"]

router = APIRouter(tags=["maps"])

POSE_PARAMETERS = {
    "x_m": "ROV_EST_X_M",
    "y_m": "ROV_EST_Y_M",
    "heading_deg": "ROV_EST_HEADING_DEG",
}
"""The rover's estimated pose in its housekeeping (missions/rover/mdb.yaml, ROVER_HK): the
parameters the site map follows live, when the spacecraft's MDB has them."""

DEFAULT_STEP_S = 30.0
PNG_CACHE = "private, max-age=3600"


def _config(sc: SpacecraftRuntime) -> SpacecraftConfig | None:
    """The spacecraft's config entry (None: a runtime built in code, without one)."""
    return sc.config


def _base(sc: SpacecraftRuntime) -> str:
    return f"spacecraft/{quote(sc.name, safe='')}/map"


_TLES: dict[tuple[str, int, int], Any] = {}
_TLES_LOCK = threading.Lock()


def _tle(path: Path) -> Any:
    """The first element set of the config's TLE file (re-read when the file changes)."""
    from falak.dynamics.tle import read_tle_file

    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"orbit.tle {path}: {exc.strerror}; fix the server config") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _TLES_LOCK:
        if key not in _TLES:
            tles = read_tle_file(path)
            if not tles:
                raise InputError(f"orbit.tle {path} holds no element set; give a TLE file")
            _TLES[key] = tles[0]
        return _TLES[key]


_OEMS: dict[tuple[str, int, int], Any] = {}


def _oem(path: Path) -> Any:
    """The config's OEM as a Trajectory (re-read when the file changes)."""
    from falak.dynamics.oem import read_oem
    from falak.dynamics.orbiter import trajectory_from_oem

    try:
        st = path.stat()
    except OSError as exc:
        raise InputError(f"orbit.oem {path}: {exc.strerror}; fix the server config") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _TLES_LOCK:
        if key not in _OEMS:
            _OEMS.clear()
            _OEMS[key] = trajectory_from_oem(read_oem(path))
        return _OEMS[key]


MOON_LANDMARKS = (
    {"name": "South pole", "lat_deg": -90.0, "lon_deg": 0.0},
    {"name": "Shackleton", "lat_deg": -89.66, "lon_deg": 129.20},
)
"""Landmarks drawn on the Moon map: the pole and Shackleton crater (89.66°S 129.20°E, as
falak.terrain.synth places it; ``falak terrain synth --shackleton``)."""


def _imaging_windows(plans: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The imaging windows among the plans: JSON lists of ``falak orbiter imaging --json``
    windows (``start``, ``stop``, ``min_off_nadir_deg``)."""
    import json

    out = []
    for path in plans:
        if path.suffix.lower() != ".json":
            continue
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, list):
            for w in doc:
                if isinstance(w, dict) and "min_off_nadir_deg" in w and "start" in w:
                    out.append({"start": w["start"], "stop": w.get("stop"), "file": path.name})
    return out


def _moon_point(traj: Any, t_ns: int) -> dict[str, Any]:
    p = maps.moon_track(traj, t_ns, t_ns, 1.0)
    return {
        "time": iso(t_ns),
        "lat_deg": maps.finite_or_none(p.lat_deg, 4)[0],
        "lon_deg": maps.finite_or_none(p.lon_deg, 4)[0],
        "height_km": maps.finite_or_none(p.height_km, 3)[0],
    }


def _moon_groundtrack(
    sc: SpacecraftRuntime,
    cfg: SpacecraftConfig,
    start: str | None,
    end: str | None,
    step_s: float,
) -> dict[str, Any]:
    assert cfg.orbit_oem is not None
    traj = _oem(cfg.orbit_oem)
    now_ns = sc.clock.now_ns()
    span = 2 * 3600 * 10**9  # about one 2 h low lunar orbit before now, two after
    start_ns = parse_ns(start, "start", zone_required=True) if start else now_ns - span // 2
    end_ns = parse_ns(end, "end", zone_required=True) if end else now_ns + span
    track = maps.moon_track(traj, start_ns, end_ns, step_s)
    imaging = []
    for w in _imaging_windows(cfg.plans):
        try:
            a = parse_ns(w["start"], "start", zone_required=True)
            b = parse_ns(w["stop"], "stop", zone_required=True) if w["stop"] else a
        except InputError:
            continue
        imaging.append({**w, "centre": _moon_point(traj, (a + b) // 2)})
    return {
        "kind": "moon",
        "spacecraft": sc.name,
        "frame": "MOON_ME (MOON_ME_DE421), selenocentric latitude, east longitude",
        "oem": cfg.orbit_oem.name,
        "now": iso(now_ns),
        "now_ns": now_ns,
        "speed": _speed(sc),
        "start": iso(start_ns),
        "start_ns": start_ns,
        "step_s": step_s,
        "count": int(track.time_ns.size),
        "lat_deg": maps.finite_or_none(track.lat_deg, 3),
        "lon_deg": maps.finite_or_none(track.lon_deg, 3),
        "height_km": maps.finite_or_none(track.height_km, 2),
        "position": _moon_point(traj, now_ns),
        "moon_radius_km": 1737.4,
        "landmarks": list(MOON_LANDMARKS),
        "imaging": imaging,
        "stations": [],
    }  # fmt: skip


def _site(sc: SpacecraftRuntime) -> maps.SiteMap:
    cfg = _config(sc)
    if cfg is None or cfg.site is None:
        raise InputError(
            f"no site map for {sc.name}: its config has no 'site:' (give site: {{dem: "
            "synthetic, options: {...}, seed: N}, the rover simulator's)"
        )
    return maps.site_map(cfg.site.dem, cfg.site.options, cfg.site.seed)


def _pose(sc: SpacecraftRuntime) -> dict[str, str] | None:
    out = {}
    for key, name in POSE_PARAMETERS.items():
        try:
            out[key] = sc.mdb.parameter(name).qualified_name
        except MdbError:  # the MDB has no such parameter: no live pose
            return None
    return out


@router.get("/map")
def map_kind(sc: SpacecraftDep) -> dict[str, Any]:
    """Which map the console draws for this spacecraft, and where its data is."""
    cfg = _config(sc)
    base = _base(sc)
    clock = {"now": iso(sc.clock.now_ns()), "now_ns": sc.clock.now_ns(), "speed": _speed(sc)}
    if cfg is not None and cfg.orbit_tle is not None:
        tle = _tle(cfg.orbit_tle)
        return {
            "kind": "earth",
            "spacecraft": sc.name,
            "tle": {
                "name": tle.name,
                "norad": tle.norad,
                "epoch": iso(datetime_to_ns(tle.epoch)),
                "period_min": round(tle.period_min, 3),
            },
            "groundtrack": f"{base}/groundtrack",
            **clock,
        }
    if cfg is not None and cfg.orbit_oem is not None:
        return {
            "kind": "moon",
            "spacecraft": sc.name,
            "oem": cfg.orbit_oem.name,
            "groundtrack": f"{base}/groundtrack",
            **clock,
        }
    if cfg is not None and cfg.site is not None:
        return {
            "kind": "site",
            "spacecraft": sc.name,
            "site": f"{base}/site",
            "image": f"{base}/site.png",
            **clock,
        }
    return {
        "kind": "none",
        "spacecraft": sc.name,
        "detail": f"{sc.name} has no map: give its server config entry orbit: {{tle: FILE}} "
        "(an Earth orbiter), orbit: {oem: FILE} (a lunar orbiter) or "
        "site: {dem: synthetic, options: {...}} (a surface spacecraft)",
        **clock,
    }


def _speed(sc: SpacecraftRuntime) -> float:
    return float(getattr(sc.clock, "speed", 1.0))


@router.get("/map/groundtrack")
def groundtrack(
    sc: SpacecraftDep,
    start: Annotated[
        str | None, Query(description="ISO 8601 UTC; default one orbit before now")
    ] = None,
    end: Annotated[
        str | None, Query(description="ISO 8601 UTC; default two orbits after now")
    ] = None,
    step_s: Annotated[float, Query(gt=0, le=3600, description="Seconds between points")] = (
        DEFAULT_STEP_S
    ),
    min_elevation_deg: Annotated[
        float | None,
        Query(ge=-5, lt=90, description="Circles' elevation limit; default each station's own"),
    ] = None,
) -> dict[str, Any]:
    """The ground track (SGP4 on the config's TLE) and the stations' visibility circles.

    ``lat_deg``/``lon_deg``/``height_km`` are on ``start_ns + k * step_s`` (null where SGP4
    failed, counted in ``errors``); ``position`` is the spacecraft's sub-point now (run
    clock); each station's circle is where it sees the spacecraft above its elevation
    limit at the spacecraft's height now (spherical Earth, SMAD §5.2; ``half_angle_deg``).
    """
    from falak.dynamics.stations import load_stations

    cfg = _config(sc)
    if cfg is not None and cfg.orbit_tle is None and cfg.orbit_oem is not None:
        return _moon_groundtrack(sc, cfg, start, end, step_s)
    if cfg is None or cfg.orbit_tle is None:
        raise InputError(
            f"no ground track for {sc.name}: its config has no orbit: {{tle: FILE}} or "
            "orbit: {oem: FILE}"
        )
    tle = _tle(cfg.orbit_tle)
    now_ns = sc.clock.now_ns()
    period_ns = int(tle.period_min * 60e9)
    start_ns = parse_ns(start, "start", zone_required=True) if start else now_ns - period_ns
    end_ns = parse_ns(end, "end", zone_required=True) if end else now_ns + 2 * period_ns
    track = maps.ground_track(tle, start_ns, end_ns, step_s)
    here = maps.ground_track(tle, now_ns, now_ns + 1, 1.0)
    height = float(here.height_km[0])
    if not height > 0:  # SGP4 failed now: the track's mean height
        finite = track.height_km[track.height_km == track.height_km]
        height = float(finite.mean()) if finite.size else float("nan")
    stations = []
    if height > 0:
        for st in load_stations().values():
            eps = st.min_elevation_deg if min_elevation_deg is None else min_elevation_deg
            half = maps.coverage_half_angle_deg(height, eps)
            lat, lon = maps.visibility_circle(st, half)
            stations.append(
                {
                    "name": st.name,
                    "lat_deg": st.lat_deg,
                    "lon_deg": st.lon_deg,
                    "min_elevation_deg": eps,
                    "half_angle_deg": round(half, 4),
                    "circle_lat_deg": maps.finite_or_none(lat, 3),
                    "circle_lon_deg": maps.finite_or_none(lon, 3),
                }
            )
    return {
        "spacecraft": sc.name,
        "tle": tle.name,
        "now": iso(now_ns),
        "now_ns": now_ns,
        "speed": _speed(sc),
        "start": iso(start_ns),
        "start_ns": start_ns,
        "step_s": step_s,
        "count": int(track.time_ns.size),
        "lat_deg": maps.finite_or_none(track.lat_deg, 3),
        "lon_deg": maps.finite_or_none(track.lon_deg, 3),
        "height_km": maps.finite_or_none(track.height_km, 2),
        "errors": track.error_counts(),
        "position": {
            "time": iso(now_ns),
            "lat_deg": maps.finite_or_none(here.lat_deg, 4)[0],
            "lon_deg": maps.finite_or_none(here.lon_deg, 4)[0],
            "height_km": maps.finite_or_none(here.height_km, 3)[0],
        },
        "circle_height_km": round(height, 3) if height > 0 else None,
        "earth_radius_km": maps.EARTH_MEAN_RADIUS_KM,
        "stations": stations,
    }


@router.get("/map/site")
def site(sc: SpacecraftDep) -> dict[str, Any]:
    """The site map's frame (bounds in projected metres, CRS), routes and overlay URLs."""
    from falak.terrain.dem import LOLA_SOUTH_POLE_PROJ4

    s = _site(sc)
    cfg = _config(sc)
    assert cfg is not None  # _site checked it
    now_ns = sc.clock.now_ns()
    bucket = s.bucket_ns(now_ns)
    base = _base(sc)
    ny, nx = s.dem.shape
    return {
        "spacecraft": sc.name,
        "crs": {"name": "LOLA south-polar stereographic (Moon, 1737.4 km sphere)",
                "proj4": LOLA_SOUTH_POLE_PROJ4},
        "bounds_m": s.bounds_m,
        "resolution_m": s.dem.resolution_m,
        "shape": [ny, nx],
        "image": f"{base}/site.png",
        "route": maps.route_collection(cfg.plans),
        "overlays": [
            {
                "name": name,
                "label": label,
                "url": f"{base}/site/{name}.png?time={quote(iso(bucket) or '')}",
                "time": iso(bucket),
            }
            for name, label in maps.OVERLAYS.items()
        ],
        "overlay_bucket_s": maps.OVERLAY_BUCKET_S,
        "now": iso(now_ns),
        "now_ns": now_ns,
        "speed": _speed(sc),
        "pose": _pose(sc),
    }  # fmt: skip


@router.get(
    "/map/site.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "8-bit grey PNG"}},
)
def site_png(sc: SpacecraftDep) -> Response:
    """The site's hillshade, one pixel per DEM cell, row 0 at the top (largest y)."""
    return Response(_site(sc).hillshade_png(), media_type="image/png",
                    headers={"Cache-Control": PNG_CACHE})  # fmt: skip


@router.get(
    "/map/site/{overlay}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "8-bit RGBA PNG"}},
)
def overlay_png(
    sc: SpacecraftDep,
    overlay: str,
    time: Annotated[str | None, Query(description="ISO 8601 UTC; default now")] = None,
) -> Response:
    """An overlay (``lit``: the Sun; ``earth``: the Earth in view) on the DEM's grid, for the
    start of the 10-minute bucket that holds ``time``."""
    t_ns = parse_ns(time, "time", zone_required=True) if time else sc.clock.now_ns()
    png = _site(sc).overlay_png(overlay, t_ns)
    return Response(png, media_type="image/png", headers={"Cache-Control": PNG_CACHE})
