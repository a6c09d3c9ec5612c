"""Sunlight, eclipse and contact windows of the station orbit, for the campaign planner.

Eclipses come from SGP4 (TEME) and the DE421 Sun (skyfield, rotated into TEME), evaluated on a
whole time grid at once; crossings are located by linear interpolation of a signed shadow
function between grid points (the 20 s grid puts edges within ~0.1 s for a LEO).

Shadow models (Earth a sphere of radius 6378.137 km, WGS84 equatorial; Sun radius 695,700 km,
IAU 2015 nominal):

- ``cylindrical``: in shadow when behind the Earth (r·ŝ < 0) and within one Earth radius of
  the Earth-Sun line;
- ``conical``: in eclipse when any part of the solar disc is hidden, i.e. the angle θ between
  the Earth's and the Sun's centres seen from the station is below the sum of their apparent
  radii (umbra and penumbra both count as eclipse: conservative for a power budget).

Contact windows come from :func:`falak.dynamics.passes.find_passes` over the chosen stations.
All windows are returned as (start, end) minutes since the campaign start, merged and sorted.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from falak.dynamics.tle import Tle
from falak.errors import InputError

__all__ = [
    "DEFAULT_DOWNLINK_STATIONS",
    "DEFAULT_SUPPORT_STATIONS",
    "EARTH_RADIUS_KM",
    "SUN_RADIUS_KM",
    "Environment",
    "build_environment",
    "eclipse_intervals",
    "merge_windows",
    "shadow_function",
]

EARTH_RADIUS_KM = 6378.137  # WGS84 equatorial radius
SUN_RADIUS_KM = 695_700.0  # IAU 2015 Resolution B3 nominal solar radius
DEFAULT_DOWNLINK_STATIONS = ("Islamabad", "Karachi", "Lahore", "Kashi", "Jiamusi", "Sanya")
DEFAULT_SUPPORT_STATIONS = ("Islamabad", "Karachi", "Lahore")

Window = tuple[float, float]


@dataclass(frozen=True)
class Environment:
    """Windows for one campaign, minutes since its start: eclipses, contacts, support passes."""

    eclipses_min: tuple[Window, ...]
    contacts_min: tuple[Window, ...]
    support_passes_min: tuple[Window, ...]

    def to_json(self) -> dict[str, list[list[float]]]:
        """Return the windows as plain lists (for plan files and Gantt charts)."""
        return {
            "eclipses_min": [list(w) for w in self.eclipses_min],
            "contacts_min": [list(w) for w in self.contacts_min],
            "support_passes_min": [list(w) for w in self.support_passes_min],
        }


def merge_windows(windows: Sequence[Window]) -> tuple[Window, ...]:
    """Sort windows and merge those that overlap or touch."""
    out: list[list[float]] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def shadow_function(
    r_km: NDArray[np.float64], sun_km: NDArray[np.float64], model: str = "conical"
) -> NDArray[np.float64]:
    """Return a signed shadow function, negative in eclipse and positive in sunlight.

    Parameters
    ----------
    r_km
        Station positions from the Earth's centre, shape (N, 3), any inertial frame.
    sun_km
        Sun positions from the Earth's centre in the same frame, shape (N, 3).
    model
        ``conical`` (radians: θ − (α_sun + α_earth)) or ``cylindrical`` (km: distance from the
        shadow axis − Earth radius behind the Earth, |r| − Earth radius in front).
    """
    r = np.asarray(r_km, dtype=np.float64)
    s = np.asarray(sun_km, dtype=np.float64)
    if model == "cylindrical":
        s_hat = s / np.linalg.norm(s, axis=-1, keepdims=True)
        along = np.sum(r * s_hat, axis=-1)
        perp = np.linalg.norm(r - along[:, None] * s_hat, axis=-1)
        f: NDArray[np.float64] = np.where(
            along < 0.0, perp - EARTH_RADIUS_KM, np.linalg.norm(r, axis=-1) - EARTH_RADIUS_KM
        )
        return f
    if model != "conical":
        raise InputError(f"shadow model must be 'conical' or 'cylindrical', got {model!r}")
    to_earth = -r
    to_sun = s - r
    d_e = np.linalg.norm(to_earth, axis=-1)
    d_s = np.linalg.norm(to_sun, axis=-1)
    cos_t = np.sum(to_earth * to_sun, axis=-1) / (d_e * d_s)
    theta = np.arccos(np.clip(cos_t, -1.0, 1.0))
    a_sun = np.arcsin(np.clip(SUN_RADIUS_KM / d_s, 0.0, 1.0))
    a_earth = np.arcsin(np.clip(EARTH_RADIUS_KM / d_e, 0.0, 1.0))
    out: NDArray[np.float64] = theta - (a_sun + a_earth)
    return out


def _sun_teme_km(times: NDArray[np.datetime64]) -> NDArray[np.float64]:
    """Geometric Sun position from the Earth's centre in TEME (km), DE421, shape (N, 3)."""
    from skyfield.sgp4lib import TEME

    from falak.dynamics.moonframes import ephemeris, timescale

    eph = ephemeris()
    ts = timescale()
    unix_s = (times.astype("datetime64[ns]").astype(np.int64) / 1e9).astype(np.float64)
    t = ts.utc(1970, 1, 1, 0, 0, unix_s)
    pos = (eph["sun"] - eph["earth"]).at(t)
    xyz: NDArray[np.float64] = np.asarray(pos.frame_xyz(TEME).km, dtype=np.float64).T
    return xyz


def eclipse_intervals(
    tle: Tle,
    start: _dt.datetime,
    stop: _dt.datetime,
    model: str = "conical",
    step_s: float = 20.0,
) -> list[tuple[_dt.datetime, _dt.datetime]]:
    """Return the eclipses of a satellite between ``start`` and ``stop`` (aware UTC datetimes).

    Eclipses in progress at ``start`` or ``stop`` are clipped to the window.
    """
    from falak.dynamics.tle import jd_split, propagate_teme

    if stop <= start:
        raise InputError(f"eclipse window stop {stop} is not after start {start}")
    t0 = np.datetime64(start.astimezone(_dt.UTC).replace(tzinfo=None), "ns")
    span_s = (stop - start).total_seconds()
    n = int(np.ceil(span_s / step_s)) + 1
    offs_s = np.minimum(np.arange(n, dtype=np.float64) * step_s, span_s)
    times = t0 + (offs_s * 1e9).astype("timedelta64[ns]")
    jd, fr = jd_split(times)
    r, _, err = propagate_teme(tle, jd, fr)
    if (err != 0).any():
        raise InputError(
            f"SGP4 failed for {tle.name} during the campaign (error code "
            f"{int(err[err != 0][0])}); use a fresher element set"
        )
    # The Sun moves ~0.04°/h seen from the Earth: computed hourly and interpolated linearly, the
    # direction is off by < 1e-7 rad (chord error (0.0007 rad)²/8), far below the 0.27° solar
    # radius; it spares skyfield's IAU 2000A nutation at every 20 s point.
    coarse_s = np.arange(0.0, span_s + 3600.0, 3600.0)
    coarse_t = t0 + (coarse_s * 1e9).astype("timedelta64[ns]")
    sun_c = _sun_teme_km(coarse_t)
    sun = np.stack([np.interp(offs_s, coarse_s, sun_c[:, i]) for i in range(3)], axis=-1)
    f = shadow_function(r[0], sun, model)
    dark = f < 0.0
    edges = np.flatnonzero(dark[1:] != dark[:-1])
    # linear interpolation of the crossing between grid points i and i+1
    frac = f[edges] / (f[edges] - f[edges + 1])
    cross_s = offs_s[edges] + frac * (offs_s[edges + 1] - offs_s[edges])
    starts = list(cross_s[~dark[edges]])  # sunlit -> dark
    ends = list(cross_s[dark[edges]])
    if dark[0]:
        starts.insert(0, 0.0)
    if dark[-1]:
        ends.append(span_s)
    return [
        (start + _dt.timedelta(seconds=float(a)), start + _dt.timedelta(seconds=float(b)))
        for a, b in zip(starts, ends, strict=True)
    ]


def build_environment(campaign: object) -> Environment:
    """Compute (or take from the YAML) the eclipses, contacts and support passes of a campaign.

    Windows given explicitly in the campaign's ``windows`` section win; otherwise they are
    computed from the campaign's TLE. Without either, the station is always sunlit, always in
    contact (relay) and never over Pakistan.
    """
    from falak.planning.campaign.model import Campaign

    if not isinstance(campaign, Campaign):
        raise TypeError("build_environment needs a Campaign")
    c = campaign
    stop = c.start + _dt.timedelta(minutes=c.horizon_min)
    tle: Tle | None = None
    if c.tle_path is not None:
        from falak.dynamics.tle import read_tle_file

        tles = read_tle_file(c.tle_path)
        if not tles:
            raise InputError(f"{c.tle_path}: no element set found")
        tle = tles[0]

    def minutes(ws: Sequence[tuple[_dt.datetime, _dt.datetime]]) -> tuple[Window, ...]:
        return merge_windows([(c.to_minute(a), c.to_minute(b)) for a, b in ws])

    if c.eclipses_min is not None:
        eclipses = merge_windows(c.eclipses_min)
    elif tle is not None:
        eclipses = minutes(eclipse_intervals(tle, c.start, stop, c.eclipse_model))
    else:
        eclipses = ()

    relay = [(float(a), float(b)) for a, b in c.relay_windows_min]
    support: tuple[Window, ...]
    if tle is not None and (c.contacts_min is None or c.support_passes_min is None):
        from falak.dynamics.passes import find_passes
        from falak.dynamics.stations import load_stations

        all_st = load_stations()
        down = c.downlink_stations or DEFAULT_DOWNLINK_STATIONS
        supp = c.support_stations or DEFAULT_SUPPORT_STATIONS
        for name in (*down, *supp):
            if name not in all_st:
                raise InputError(
                    f"unknown ground station {name!r}; known: {', '.join(sorted(all_st))}"
                )
        wanted = {n: all_st[n] for n in {*down, *supp}}
        passes = find_passes(tle, wanted, c.start, stop, c.min_elevation_deg)
        computed_contacts = minutes([(p.rise, p.set) for p in passes if p.station in down])
        computed_support = minutes([(p.rise, p.set) for p in passes if p.station in supp])
    else:
        computed_contacts, computed_support = (), ()

    if c.contacts_min is not None:
        contacts = merge_windows([*c.contacts_min, *relay])
    elif tle is not None:
        contacts = merge_windows([*computed_contacts, *relay])
    elif relay:
        contacts = merge_windows(relay)
    else:
        contacts = ((0.0, float(c.horizon_min)),)
    if c.support_passes_min is not None:
        support = merge_windows(c.support_passes_min)
    else:
        support = computed_support
    return Environment(eclipses, contacts, support)
