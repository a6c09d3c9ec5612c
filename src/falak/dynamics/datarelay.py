"""Geostationary data-relay satellites for a low-Earth orbiter: line of sight and light time.

A relay (Tianlian-like, as the Chinese space station is served by; TDRS for the ISS) sits at a
fixed longitude on the geostationary ring, r = 42,164.17 km from the Earth's centre (the
radius where a circular orbit takes one sidereal day, 86,164.0905 s, with GM = 398,600.4418
km³/s²: derived, ``GEO_RADIUS_KM``). It relays the spacecraft to a ground terminal that sees it
all the time. The spacecraft can use the relay when the straight line between them clears the
Earth (a sphere of the WGS84 equatorial radius, 6378.137 km) by ``grazing_height_km``
(default 100 km, to keep the beam out of the dense atmosphere). Relay antenna slew limits and
the spacecraft's own antenna field of view are not modelled.

The relays are catalogue data (the ``data_relays:`` section of ``stations.yaml``), so their
slots can be changed without code: longitudes there are approximate public-report values.

Windows are found on a time grid (default 10 s) of SGP4 positions; the clearance (miss
distance minus the limit) is smooth, and crossings are placed by linear interpolation between
grid points, which for a LEO puts an edge within ~0.1 s of the exact one. Each window carries
its mean one-way light time spacecraft → relay → ground terminal.
"""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import yaml
from numpy.typing import NDArray

from falak.dynamics.stations import WGS84_A_KM, Station, get_station, load_stations
from falak.dynamics.tle import Tle, jd_split, propagate_teme, teme_to_itrs
from falak.errors import InputError

__all__ = [
    "GEO_RADIUS_KM",
    "SPEED_OF_LIGHT_KM_S",
    "DataRelay",
    "RelayWindow",
    "load_relays",
    "los_clearance_km",
    "relay_itrs_km",
    "relay_windows",
]

GEO_RADIUS_KM = 42164.17
"""Geostationary radius (GM 398,600.4418 km³/s², sidereal day 86,164.0905 s; derived)."""
SPEED_OF_LIGHT_KM_S = 299_792.458

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class DataRelay:
    """A geostationary relay: its slot and the catalogue station its downlink lands at."""

    name: str
    lon_deg: float
    ground_station: str
    note: str = ""

    def __post_init__(self) -> None:
        if not math.isfinite(self.lon_deg) or not -180.0 <= self.lon_deg <= 360.0:
            raise InputError(
                f"data relay {self.name!r}: lon_deg {self.lon_deg!r} must be -180..360° east"
            )


@dataclass(frozen=True)
class RelayWindow:
    """A stretch of time when a spacecraft sees a relay (aware UTC datetimes)."""

    relay: str
    start: datetime
    stop: datetime
    light_time_s: float
    """Mean one-way light time spacecraft → relay → ground terminal over the window."""


def relay_itrs_km(relay: DataRelay) -> F64:
    """Return the relay's ITRS position, km (on the equator at ``GEO_RADIUS_KM``)."""
    lon = math.radians(relay.lon_deg)
    return np.array([GEO_RADIUS_KM * math.cos(lon), GEO_RADIUS_KM * math.sin(lon), 0.0])


def los_clearance_km(sat_km: F64, relay_km: F64, grazing_height_km: float = 100.0) -> F64:
    """Return how far the segment satellite → relay passes above the grazing limit, km.

    ``sat_km`` is (N, 3) and ``relay_km`` (3,) in one Earth-fixed (or inertial) frame; the
    result is the segment's closest approach to the Earth's centre minus (6378.137 km +
    ``grazing_height_km``): positive where the line of sight is clear.
    """
    d = relay_km[None, :] - sat_km
    u = np.clip(-np.einsum("ni,ni->n", sat_km, d) / np.einsum("ni,ni->n", d, d), 0.0, 1.0)
    closest = sat_km + u[:, None] * d
    out: F64 = np.sqrt(np.einsum("ni,ni->n", closest, closest)) - (WGS84_A_KM + grazing_height_km)
    return out


def _relays_from_yaml(text: str, source: str) -> dict[str, DataRelay]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {exc}") from None
    section = doc.get("data_relays") if isinstance(doc, Mapping) else None
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise InputError(
            f"{source}: 'data_relays:' must map relay name -> {{lon_deg, ground_station, note}}"
        )
    out: dict[str, DataRelay] = {}
    allowed = {"lon_deg", "ground_station", "note"}
    for name, entry in section.items():
        if not isinstance(entry, Mapping) or "lon_deg" not in entry:
            raise InputError(f"{source}: data relay {name!r} needs at least lon_deg")
        unknown = set(entry) - allowed
        if unknown:
            raise InputError(
                f"{source}: data relay {name!r} has unknown field(s) {sorted(unknown)}; "
                f"allowed: {sorted(allowed)}"
            )
        if "ground_station" not in entry:
            raise InputError(
                f"{source}: data relay {name!r} needs ground_station (the catalogue station "
                "that receives its downlink)"
            )
        try:
            lon = float(entry["lon_deg"])
        except (TypeError, ValueError):
            raise InputError(
                f"{source}: data relay {name!r}: lon_deg {entry['lon_deg']!r} is not a number"
            ) from None
        out[str(name)] = DataRelay(
            str(name), lon, str(entry["ground_station"]), str(entry.get("note", ""))
        )
    return out


def load_relays(path: str | Path | None = None) -> dict[str, DataRelay]:
    """Load the data relays of a catalogue file (``data_relays:``), name → :class:`DataRelay`.

    ``path`` None reads falak's packaged ``stations.yaml``.
    """
    if path is None:
        text = (importlib.resources.files("falak.dynamics") / "stations.yaml").read_text(
            encoding="utf-8"
        )
        return _relays_from_yaml(text, "falak/dynamics/stations.yaml")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read relay catalogue {str(p)!r}: {exc.strerror}") from None
    return _relays_from_yaml(text, str(p))


def _terminal_leg_km(relay: DataRelay, stations: Mapping[str, Station]) -> float:
    """Return the relay → ground-terminal range, km; refuse a terminal that cannot see it."""
    st = get_station(relay.ground_station, stations)
    v = relay_itrs_km(relay) - st.itrs_km
    rng = float(np.linalg.norm(v))
    up = st.enu_matrix @ (v / rng)
    el = math.degrees(math.asin(max(-1.0, min(1.0, float(up[2])))))
    az = math.degrees(math.atan2(float(up[0]), float(up[1]))) % 360.0
    lowest = float(st.min_elevation_at(np.array([az]))[0])
    if el < lowest:
        raise InputError(
            f"data relay {relay.name!r} at {relay.lon_deg:g}°E is {el:.1f}° above the horizon "
            f"of its ground station {st.name!r} (needs ≥ {lowest:g}°); choose a terminal "
            "nearer its longitude"
        )
    return rng


def relay_windows(
    tle: Tle,
    relays: Iterable[DataRelay] | Mapping[str, DataRelay],
    start: datetime,
    stop: datetime,
    *,
    stations: Mapping[str, Station] | None = None,
    grazing_height_km: float = 100.0,
    step_s: float = 10.0,
) -> list[RelayWindow]:
    """Return the windows in which the satellite sees each relay, sorted by start.

    Parameters
    ----------
    tle
        The satellite's element set.
    relays
        Relays (as from :func:`load_relays`).
    start, stop
        Aware UTC datetimes; windows in progress at the edges are clipped to them.
    stations
        Catalogue in which the relays' ground terminals are looked up (default: falak's).
    grazing_height_km
        Height above the Earth the line of sight must clear, km.
    step_s
        Grid step, seconds (edges by linear interpolation between grid points).
    """
    if start.tzinfo is None or stop.tzinfo is None:
        raise InputError("relay_windows: start and stop must be timezone-aware UTC datetimes")
    if stop <= start:
        raise InputError(f"relay_windows: stop {stop.isoformat()} is not after start")
    relay_list = list(relays.values()) if isinstance(relays, Mapping) else list(relays)
    if not relay_list:
        return []
    catalogue = load_stations() if stations is None else stations
    span_s = (stop - start).total_seconds()
    n = max(2, math.ceil(span_s / step_s) + 1)
    offs = np.linspace(0.0, span_s, n)
    t0 = np.datetime64(start.astimezone(UTC).replace(tzinfo=None), "ns")
    times = t0 + (offs * 1e9).astype("timedelta64[ns]")
    jd, fr = jd_split(times)
    r, _, _ = propagate_teme(tle, jd, fr)
    sat, _ = teme_to_itrs(r[0], jd, fr)
    out: list[RelayWindow] = []
    for relay in relay_list:
        leg_km = _terminal_leg_km(relay, catalogue)
        pos = relay_itrs_km(relay)
        c = los_clearance_km(sat, pos, grazing_height_km)
        c = np.where(np.isfinite(c), c, -1.0)  # SGP4 failure: no contact
        up = c >= 0.0
        edges = np.flatnonzero(up[1:] != up[:-1])
        frac = c[edges] / (c[edges] - c[edges + 1])
        cross = offs[edges] + frac * (offs[edges + 1] - offs[edges])
        rises = list(cross[~up[edges]])
        sets = list(cross[up[edges]])
        if up[0]:
            rises.insert(0, 0.0)
        if up[-1]:
            sets.append(span_s)
        rng = np.linalg.norm(sat - pos[None, :], axis=-1)
        for a, b in zip(rises, sets, strict=True):
            inside = (offs >= a) & (offs <= b)
            up_km = float(np.mean(rng[inside])) if inside.any() else float(np.nanmean(rng))
            out.append(
                RelayWindow(
                    relay.name,
                    start + timedelta(seconds=float(a)),
                    start + timedelta(seconds=float(b)),
                    (up_km + leg_km) / SPEED_OF_LIGHT_KM_S,
                )
            )
    out.sort(key=lambda w: (w.start, w.relay))
    return out
