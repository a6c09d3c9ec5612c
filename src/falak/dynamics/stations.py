"""Ground stations: a YAML catalogue of sites with elevation limits and horizon masks.

Positions are geodetic on the WGS84 ellipsoid (a = 6378.137 km, f = 1/298.257223563); the
ITRS position and the local east-north-up axes follow from them. The packaged catalogue
(``stations.yaml``) holds city-level coordinates wherever the antenna site is not public (SUPARCO
does not publish its antenna coordinates); users add or replace stations with their own YAML.
"""

from __future__ import annotations

import importlib.resources
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError

__all__ = [
    "WGS84_A_KM",
    "WGS84_F",
    "Station",
    "get_station",
    "itrs_to_geodetic",
    "load_stations",
    "parse_site",
]

WGS84_A_KM = 6378.137
WGS84_F = 1.0 / 298.257223563

_MaskTable = tuple[tuple[float, float], ...]


def itrs_to_geodetic(
    xyz_km: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Return geodetic latitude, east longitude (degrees) and height (km) on WGS84.

    ``xyz_km``: ITRS positions, shape (..., 3). Bowring's closed form (Bowring 1976, Survey
    Review 23:323; error well under 1 m at LEO heights).
    """
    x, y, z = xyz_km[..., 0], xyz_km[..., 1], xyz_km[..., 2]
    a = WGS84_A_KM
    b = a * (1.0 - WGS84_F)
    e2 = WGS84_F * (2.0 - WGS84_F)
    ep2 = e2 / (1.0 - e2)
    p = np.hypot(x, y)
    th = np.arctan2(z * a, p * b)
    lat = np.arctan2(z + ep2 * b * np.sin(th) ** 3, p - e2 * a * np.cos(th) ** 3)
    n = a / np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
    height = p / np.cos(lat) - n
    return np.degrees(lat), np.degrees(np.arctan2(y, x)), np.asarray(height, dtype=np.float64)


def _finite(value: Any, what: str, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"station {name!r}: {what} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise InputError(f"station {name!r}: {what} {value!r} is not a finite number")
    return x


@dataclass(frozen=True)
class Station:
    """A ground station.

    ``lat_deg``/``lon_deg`` geodetic WGS84 (north/east positive), ``height_m`` above the
    ellipsoid, ``min_elevation_deg`` the lowest usable elevation. ``mask`` is an optional
    horizon mask, pairs (azimuth_deg, min_elevation_deg) with azimuth from north through east;
    between points it is linear in azimuth and wraps through north. The usable elevation at an
    azimuth is the larger of the mask and ``min_elevation_deg``.
    """

    name: str
    lat_deg: float
    lon_deg: float
    height_m: float = 0.0
    min_elevation_deg: float = 0.0
    mask: _MaskTable | None = None
    note: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        n = self.name
        lat = _finite(self.lat_deg, "latitude", n)
        lon = _finite(self.lon_deg, "longitude", n)
        h = _finite(self.height_m, "height", n)
        el = _finite(self.min_elevation_deg, "min_elevation_deg", n)
        if not -90.0 <= lat <= 90.0:
            raise InputError(
                f"station {n!r}: latitude {lat:g}° is outside -90..90° (geodetic, north positive)"
            )
        if not -180.0 <= lon <= 360.0:
            raise InputError(
                f"station {n!r}: longitude {lon:g}° is outside -180..360° (east positive)"
            )
        if not -500.0 <= h <= 9000.0:
            raise InputError(
                f"station {n!r}: height {h:g} m is outside -500..9000 m above the WGS84 "
                "ellipsoid (give metres, not km)"
            )
        if not -90.0 < el < 90.0:
            raise InputError(f"station {n!r}: min_elevation_deg {el:g} is outside -90..90°")
        object.__setattr__(self, "lat_deg", lat)
        object.__setattr__(self, "lon_deg", (lon + 180.0) % 360.0 - 180.0)
        object.__setattr__(self, "height_m", h)
        object.__setattr__(self, "min_elevation_deg", el)
        if self.mask is not None:
            object.__setattr__(self, "mask", _check_mask(self.mask, n))

    @property
    def itrs_km(self) -> NDArray[np.float64]:
        """Earth-fixed (ITRS) position, km, shape (3,)."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        e2 = WGS84_F * (2.0 - WGS84_F)
        n = WGS84_A_KM / math.sqrt(1.0 - e2 * math.sin(lat) ** 2)
        h = self.height_m / 1000.0
        return np.array(
            [
                (n + h) * math.cos(lat) * math.cos(lon),
                (n + h) * math.cos(lat) * math.sin(lon),
                (n * (1.0 - e2) + h) * math.sin(lat),
            ]
        )

    @property
    def enu_matrix(self) -> NDArray[np.float64]:
        """Rows are the local east, north and up unit vectors in ITRS (geodetic up)."""
        lat, lon = math.radians(self.lat_deg), math.radians(self.lon_deg)
        sl, cl, so, co = math.sin(lat), math.cos(lat), math.sin(lon), math.cos(lon)
        return np.array([[-so, co, 0.0], [-sl * co, -sl * so, cl], [cl * co, cl * so, sl]])

    def min_elevation_at(self, azimuth_deg: ArrayLike) -> NDArray[np.float64]:
        """Return the usable minimum elevation (degrees) at the given azimuths (degrees)."""
        az = np.asarray(azimuth_deg, dtype=np.float64)
        base = np.full(az.shape, self.min_elevation_deg)
        if not self.mask:
            return base
        table = np.array(self.mask)
        xp = np.concatenate([table[:, 0], [table[0, 0] + 360.0]])
        fp = np.concatenate([table[:, 1], [table[0, 1]]])
        a = np.mod(az - table[0, 0], 360.0) + table[0, 0]
        out: NDArray[np.float64] = np.maximum(base, np.interp(a, xp, fp))
        return out

    @property
    def lowest_elevation_deg(self) -> float:
        """The lowest usable elevation over all azimuths, degrees."""
        if not self.mask:
            return self.min_elevation_deg
        return max(self.min_elevation_deg, min(e for _, e in self.mask))


def _check_mask(mask: Any, name: str) -> _MaskTable:
    try:
        pairs = tuple((float(a), float(e)) for a, e in mask)
    except (TypeError, ValueError):
        raise InputError(
            f"station {name!r}: mask must be a list of [azimuth_deg, min_elevation_deg] pairs, "
            f"found {mask!r}"
        ) from None
    if not pairs:
        raise InputError(f"station {name!r}: mask is empty; omit it or give at least one pair")
    azs = [a for a, _ in pairs]
    if any(not 0.0 <= a < 360.0 for a in azs) or any(b <= a for a, b in pairwise(azs)):
        raise InputError(
            f"station {name!r}: mask azimuths {azs} must increase strictly within 0..360°"
        )
    if any(not -90.0 < e < 90.0 for _, e in pairs):
        raise InputError(f"station {name!r}: mask elevations must be within -90..90°")
    return pairs


def _fold(name: str) -> str:
    """Case- and accent-insensitive key: 'Neuquén' and 'neuquen' match."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def _stations_from_yaml(text: str, source: str) -> dict[str, Station]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("stations"), Mapping):
        raise InputError(
            f"{source}: expected a mapping 'stations:' of name -> {{lat_deg, lon_deg, "
            "height_m, min_elevation_deg, mask}"
        )
    out: dict[str, Station] = {}
    allowed = {"lat_deg", "lon_deg", "height_m", "min_elevation_deg", "mask", "note"}
    for name, entry in doc["stations"].items():
        name = str(name)
        if not isinstance(entry, Mapping):
            raise InputError(f"{source}: station {name!r} must be a mapping of its fields")
        unknown = set(entry) - allowed
        if unknown:
            raise InputError(
                f"{source}: station {name!r} has unknown field(s) {sorted(unknown)}; "
                f"allowed: {sorted(allowed)}"
            )
        missing = [k for k in ("lat_deg", "lon_deg") if k not in entry]
        if missing:
            raise InputError(f"{source}: station {name!r} is missing {', '.join(missing)}")
        try:
            out[name] = Station(
                name=name,
                lat_deg=entry["lat_deg"],
                lon_deg=entry["lon_deg"],
                height_m=entry.get("height_m", 0.0),
                min_elevation_deg=entry.get("min_elevation_deg", 0.0),
                mask=entry.get("mask"),
                note=str(entry.get("note", "")),
            )
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
    return out


def _read_yaml(path: str | Path) -> dict[str, Station]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read stations file {str(p)!r}: {exc.strerror}") from None
    return _stations_from_yaml(text, str(p))


def load_stations(
    path: str | Path | None = None,
    extra: str | Path | Mapping[str, Station] | Iterable[Station] | None = None,
) -> dict[str, Station]:
    """Load a station catalogue, name → :class:`Station`.

    Parameters
    ----------
    path
        A catalogue YAML file; None loads falak's packaged ``stations.yaml``.
    extra
        Stations added on top (same names replace): another YAML file, a mapping of
        name → Station, or an iterable of Station.
    """
    if path is None:
        text = (importlib.resources.files("falak.dynamics") / "stations.yaml").read_text(
            encoding="utf-8"
        )
        stations = _stations_from_yaml(text, "falak/dynamics/stations.yaml")
    else:
        stations = _read_yaml(path)
    if extra is None:
        return stations
    if isinstance(extra, str | Path):
        more = _read_yaml(extra)
    elif isinstance(extra, Mapping):
        more = dict(extra)
    else:
        more = {s.name: s for s in extra}
    folded = {_fold(k): k for k in stations}
    for name, st in more.items():
        old = folded.get(_fold(name))
        if old is not None:
            del stations[old]
        stations[name] = st
    return stations


def get_station(name: str, stations: Mapping[str, Station] | None = None) -> Station:
    """Return the station called ``name`` (case- and accent-insensitive).

    Raises :class:`~falak.errors.InputError` listing the known names when there is none.
    """
    catalogue = load_stations() if stations is None else stations
    wanted = _fold(name)
    for key, st in catalogue.items():
        if _fold(key) == wanted:
            return st
    known = ", ".join(sorted(catalogue, key=_fold))
    raise InputError(
        f"unknown station {name!r}; known stations: {known} "
        "(or give --site LAT,LON,HEIGHT_M, or add yours with a stations YAML file)"
    )


def parse_site(text: str, min_elevation_deg: float = 0.0) -> Station:
    """Build a station from ``"LAT,LON,HEIGHT_M"`` (degrees, degrees, metres)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3:
        raise InputError(
            f"site {text!r} must be LAT,LON,HEIGHT_M: geodetic latitude -90..90°, longitude "
            "-180..360° east, height in metres, e.g. 33.68,73.05,540"
        )
    try:
        lat, lon, h = (float(p) for p in parts)
    except ValueError:
        raise InputError(
            f"site {text!r} must be three numbers LAT,LON,HEIGHT_M, e.g. 33.68,73.05,540"
        ) from None
    name = f"site({lat:g},{lon:g},{h:g}m)"
    try:
        return Station(name, lat, lon, h, min_elevation_deg)
    except InputError as exc:
        detail = str(exc).split(": ", 1)[-1]
        raise InputError(f"site {text!r}: {detail}") from None
