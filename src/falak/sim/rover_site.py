"""The rover simulator's world: the true terrain, its hazards, and the Sun and Earth over it.

:class:`Site` holds what :mod:`falak.sim.rover` needs to know about the ground and the sky,
precomputed so that a step of the model costs microseconds:

- **terrain**: the DEM *is* the true terrain (heights bilinear between cell centres, holes
  filled as :func:`~falak.terrain.dem.fill_holes` does); slopes and steps are those of
  :func:`falak.terrain.hazards.hazards` (plane fit over the rover's footprint); rocks are the
  synthetic DEM's rock list (height D/2). Steps from the DEM count only where its cells are
  no larger than the wheel base (it resolves them); rocks count at any resolution. The
  ground's map (:meth:`Site.map_hazard_at`, what a planner and the rover's map check know)
  has the hazard map's rock cells instead of the rocks themselves.
- **sky**: Sun direction, Sun radius, Earth (and relay) positions in MOON_ME from
  :func:`falak.terrain.illumination.target_geometry` (DE421, apparent) on a table of epochs
  every ``table_step_s`` (60 s), one simulated day at a time; per DEM cell, the visible share
  of the solar disk over the terrain horizon and whether the Earth (relay) is above it, from
  falak's illumination kernel over the :class:`~falak.terrain.horizons.Horizons` of the DEM,
  computed when the rover first needs that cell in that day (so the simulator and falak's
  illumination maps agree by construction) and interpolated linearly in time.

Horizons come from the DEM alone: terrain beyond its edge is unknown (on the real Moon distant
massifs cast long shadows; give a DEM large enough, or a horizons file computed on one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from falak.dynamics.moonsky import SPEED_OF_LIGHT_KM_S
from falak.errors import InputError
from falak.terrain.dem import MOON_RADIUS_M, Dem, fill_holes
from falak.terrain.hazards import Rover, hazards
from falak.terrain.horizons import Horizons

if TYPE_CHECKING:
    from falak.terrain.illumination import TargetGeometry

__all__ = ["DAY_NS", "Site", "SkyDay"]

_NS = 1_000_000_000
DAY_NS = 86_400 * _NS


@dataclass
class SkyDay:
    """Sun/Earth/relay geometry for one simulated day, on the table's epochs."""

    start_ns: int
    step_ns: int
    geometry: TargetGeometry
    relay_sees_earth: NDArray[np.bool_]  # (N,) or (0,)


class Site:
    """The true terrain and sky of the rover's site (see the module doc).

    Parameters
    ----------
    dem
        The DEM, also the true terrain.
    horizons
        Horizons on the DEM's grid.
    rover
        Rover geometry (wheel base, clearance, design slope limit) for the hazard maps.
    relay
        Relay orbit (:class:`~falak.dynamics.relay.KeplerElements`) or None.
    table_step_s
        Step of the Sun/Earth tables, seconds.
    """

    def __init__(
        self,
        dem: Dem,
        horizons: Horizons,
        rover: Rover,
        *,
        relay: Any = None,
        table_step_s: float = 60.0,
    ) -> None:
        if horizons.elevation_deg.shape[1:] != dem.shape or horizons.transform != dem.transform:
            raise InputError(f"horizons {horizons!r} are not on the grid of {dem!r}")
        self.dem = dem
        self.horizons = horizons
        self.rover = rover
        self.relay = relay
        self.step_ns = round(table_step_s * _NS)
        filled, no_data = fill_holes(dem.height_m)
        self.height = filled.astype(np.float64)
        self.no_data = no_data
        maps = hazards(dem, rover)
        self.slope_deg = maps.slope_deg.astype(np.float64)
        self.rock_map = np.asarray(maps.rock, dtype=bool)  # the ground's map of rock cells
        self.resolves_steps = dem.resolution_m <= rover.wheel_base_m
        step = np.nan_to_num(maps.step_m.astype(np.float64), nan=0.0)
        self.step_m = step if self.resolves_steps else np.zeros_like(step)
        res = dem.resolution_m
        gy_rows, gx = np.gradient(self.height, res)
        self.gx: NDArray[np.float64] = np.asarray(gx, dtype=np.float64)  # dh/dx along columns
        self.gy: NDArray[np.float64] = -np.asarray(gy_rows, dtype=np.float64)  # dh/dy: y is up
        lat, lon = dem.latlon_deg()
        self.lat_rad = np.radians(lat)
        self.lon_rad = np.radians(lon)
        # rocks sorted by their cell's linear index, looked up with searchsorted
        self.rock_x = np.zeros(0)
        self.rock_y = np.zeros(0)
        self.rock_d = np.zeros(0)
        self._rock_keys = np.zeros(0, dtype=np.int64)
        if dem.rocks is not None and len(dem.rocks):
            x = np.asarray(dem.rocks.x_m, dtype=float)
            y = np.asarray(dem.rocks.y_m, dtype=float)
            r, c = self._rowcol_unchecked(x, y)
            keys = r.astype(np.int64) * dem.shape[1] + c
            order = np.argsort(keys, kind="stable")
            self._rock_keys = keys[order]
            self.rock_x, self.rock_y = x[order], y[order]
            self.rock_d = np.asarray(dem.rocks.diameter_m, dtype=float)[order]
        self.max_rock_d = float(self.rock_d.max()) if self.rock_d.size else 0.0
        # per cell, the tallest rock whose footprint disc (wheel base / 2 + D / 2) overlaps it:
        # an upper bound that spares the exact search on most cells
        self.rock_bound_m = np.zeros(dem.shape)
        if self.rock_d.size:
            t = dem.transform
            reach = self.rover.wheel_base_m / 2 + self.rock_d / 2
            c_lo = np.floor((self.rock_x - reach - t.c) / t.a).astype(np.intp)
            c_hi = np.floor((self.rock_x + reach - t.c) / t.a).astype(np.intp)
            r_lo = np.floor((self.rock_y + reach - t.f) / t.e).astype(np.intp)
            r_hi = np.floor((self.rock_y - reach - t.f) / t.e).astype(np.intp)
            spans = np.maximum(c_hi - c_lo, r_hi - r_lo)
            order = np.argsort(-spans, kind="stable")  # widest first: offset k needs a prefix
            spans, c_lo, c_hi, r_lo, r_hi = (a[order] for a in (spans, c_lo, c_hi, r_lo, r_hi))
            height = self.rock_d[order] / 2
            ny, nx = dem.shape
            for dr in range(int(spans[0]) + 1):
                for dc in range(int(spans[0]) + 1):
                    n = int(np.searchsorted(-spans, -max(dr, dc), "right"))  # span >= offset
                    r, c = r_lo[:n] + dr, c_lo[:n] + dc
                    ok = (r <= r_hi[:n]) & (c <= c_hi[:n]) & (r >= 0) & (r < ny) & (c >= 0)
                    ok &= c < nx
                    np.maximum.at(self.rock_bound_m, (r[ok], c[ok]), height[:n][ok])
        self._days: dict[int, SkyDay] = {}
        self._cells: dict[tuple[int, int, int], tuple[Any, Any, Any]] = {}

    # -- terrain ------------------------------------------------------------------------------

    def _rowcol_unchecked(
        self, x: NDArray[np.float64], y: NDArray[np.float64]
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        t = self.dem.transform
        col = np.floor((np.asarray(x) - t.c) / t.a).astype(np.intp)
        row = np.floor((np.asarray(y) - t.f) / t.e).astype(np.intp)
        return row, col

    def cell(self, x_m: float, y_m: float) -> tuple[int, int] | None:
        """(row, col) of the cell holding (x, y), or None outside the DEM."""
        t = self.dem.transform
        col = math.floor((x_m - t.c) / t.a)
        row = math.floor((y_m - t.f) / t.e)
        ny, nx = self.dem.shape
        if 0 <= row < ny and 0 <= col < nx:
            return row, col
        return None

    def inside(self, x_m: float, y_m: float, margin_cells: int = 2) -> bool:
        """Whether (x, y) is on the DEM at least ``margin_cells`` from its edge."""
        rc = self.cell(x_m, y_m)
        if rc is None:
            return False
        ny, nx = self.dem.shape
        r, c = rc
        m = margin_cells
        return m <= r < ny - m and m <= c < nx - m

    def height_at(self, x_m: float, y_m: float) -> float:
        """True terrain height (bilinear between cell centres), m."""
        t = self.dem.transform
        fc = (x_m - t.c) / t.a - 0.5
        fr = (y_m - t.f) / t.e - 0.5
        ny, nx = self.dem.shape
        c0 = min(max(math.floor(fc), 0), nx - 2)
        r0 = min(max(math.floor(fr), 0), ny - 2)
        wc = min(max(fc - c0, 0.0), 1.0)
        wr = min(max(fr - r0, 0.0), 1.0)
        h = self.height
        top = h[r0, c0] * (1 - wc) + h[r0, c0 + 1] * wc
        bottom = h[r0 + 1, c0] * (1 - wc) + h[r0 + 1, c0 + 1] * wc
        return float(top * (1 - wr) + bottom * wr)

    def heights(self, x_m: NDArray[np.float64], y_m: NDArray[np.float64]) -> NDArray[np.float64]:
        """True heights at many points (bilinear, clamped at the edge), m."""
        t = self.dem.transform
        fc = (x_m - t.c) / t.a - 0.5
        fr = (y_m - t.f) / t.e - 0.5
        ny, nx = self.dem.shape
        c0 = np.clip(np.floor(fc).astype(np.intp), 0, nx - 2)
        r0 = np.clip(np.floor(fr).astype(np.intp), 0, ny - 2)
        wc = np.clip(fc - c0, 0.0, 1.0)
        wr = np.clip(fr - r0, 0.0, 1.0)
        h = self.height
        top = h[r0, c0] * (1 - wc) + h[r0, c0 + 1] * wc
        bottom = h[r0 + 1, c0] * (1 - wc) + h[r0 + 1, c0 + 1] * wc
        out: NDArray[np.float64] = top * (1 - wr) + bottom * wr
        return out

    def tilt_deg(self, x_m: float, y_m: float, heading_deg: float) -> tuple[float, float]:
        """(pitch, roll) of the rover on the true terrain: nose up and right side down positive."""
        rc = self.cell(x_m, y_m)
        if rc is None:
            return 0.0, 0.0
        gx, gy = float(self.gx[rc]), float(self.gy[rc])
        h = math.radians(heading_deg)
        forward = gx * math.sin(h) + gy * math.cos(h)
        right = gx * math.cos(h) - gy * math.sin(h)
        return math.degrees(math.atan(forward)), -math.degrees(math.atan(right))

    def hazard_at(self, x_m: float, y_m: float, max_slope_deg: float, max_step_m: float) -> str:
        """Why the rover may not stand at (x, y): "" (it may), SLOPE, STEP or OFF_MAP."""
        if not self.inside(x_m, y_m):
            return "OFF_MAP"
        rc = self.cell(x_m, y_m)
        assert rc is not None
        if self.no_data[rc]:
            return "OFF_MAP"
        if self.slope_deg[rc] > max_slope_deg:
            return "SLOPE"
        if self.step_m[rc] > max_step_m:
            return "STEP"
        if self.rock_bound_m[rc] > max_step_m and self.rock_step_m(x_m, y_m) > max_step_m:
            return "STEP"
        return ""

    def map_hazard_at(self, x_m: float, y_m: float, max_slope_deg: float, max_step_m: float) -> str:
        """As :meth:`hazard_at` on the ground's hazard map: its rock cells instead of rock sizes."""
        if not self.inside(x_m, y_m):
            return "OFF_MAP"
        rc = self.cell(x_m, y_m)
        assert rc is not None
        if self.no_data[rc]:
            return "OFF_MAP"
        if self.slope_deg[rc] > max_slope_deg:
            return "SLOPE"
        if self.step_m[rc] > max_step_m or self.rock_map[rc]:
            return "STEP"
        return ""

    def rock_step_m(self, x_m: float, y_m: float) -> float:
        """Height of the tallest rock under the rover's footprint at (x, y), m (0: none)."""
        if not self._rock_keys.size:
            return 0.0
        rc = self.cell(x_m, y_m)
        if rc is None or self.rock_bound_m[rc] == 0.0:
            return 0.0
        reach = self.rover.wheel_base_m / 2 + self.max_rock_d / 2
        n = math.ceil(reach / self.dem.resolution_m)
        d = np.arange(-n, n + 1)
        rows = rc[0] + d[:, None]
        cols = rc[1] + d[None, :]
        keys = (rows * self.dem.shape[1] + cols).ravel()
        lo = np.searchsorted(self._rock_keys, keys, "left")
        hi = np.searchsorted(self._rock_keys, keys, "right")
        hit = np.flatnonzero(hi > lo)
        if not hit.size:
            return 0.0
        idx = np.concatenate([np.arange(lo[i], hi[i]) for i in hit])
        dist = np.hypot(self.rock_x[idx] - x_m, self.rock_y[idx] - y_m)
        under = dist < self.rover.wheel_base_m / 2 + self.rock_d[idx] / 2
        return float(self.rock_d[idx][under].max()) / 2 if np.any(under) else 0.0

    def slope_at(self, x_m: float, y_m: float) -> float:
        """Slope of the cell holding (x, y) (hazard-map slope over the footprint), degrees."""
        rc = self.cell(x_m, y_m)
        return float(self.slope_deg[rc]) if rc is not None else float("nan")

    # -- sky ----------------------------------------------------------------------------------

    def _day(self, now_ns: int) -> SkyDay:
        k = now_ns // DAY_NS
        day = self._days.get(k)
        if day is not None:
            return day
        from falak.terrain.illumination import target_geometry

        start = k * DAY_NS
        n = DAY_NS // self.step_ns + 2  # one past the end: interpolation up to midnight
        times = (start + np.arange(n, dtype=np.int64) * self.step_ns).astype("datetime64[ns]")
        geometry = target_geometry(self.dem, times, self.relay)
        relay_sees_earth = np.zeros(0, dtype=bool)
        if self.relay is not None:
            from falak.dynamics.relay import occulted

            relay_km = geometry.relay_me_m / 1e3
            earth_km = geometry.earth_me_m / 1e3
            relay_sees_earth = ~occulted(relay_km, earth_km, np.zeros(3))
        day = SkyDay(int(start), self.step_ns, geometry, relay_sees_earth)
        if len(self._days) > 4:  # keep a few days: the simulator only goes forward
            self._days.pop(min(self._days))
        self._days[int(k)] = day
        return day

    def cell_series(self, now_ns: int, rc: tuple[int, int]) -> tuple[SkyDay, tuple[Any, ...]]:
        """The day holding ``now_ns`` and the cell's (sun fraction, Earth, relay) series in it."""
        from falak.terrain.illumination import visibility_series

        day = self._day(now_ns)
        key = (int(now_ns // DAY_NS), rc[0], rc[1])
        hit = self._cells.get(key)
        if hit is None:
            rows = np.array([rc[0]], dtype=np.intp)
            cols = np.array([rc[1]], dtype=np.intp)
            cells = (self.lat_rad, self.lon_rad, self.height)
            sun, earth, relay = visibility_series(
                self.dem, self.horizons, day.geometry, rows, cols, cells
            )
            hit = (sun[:, 0].astype(np.float64), earth[:, 0], relay[:, 0] if relay.size else None)
            if len(self._cells) > 20_000:
                self._cells.clear()
            self._cells[key] = hit
        return day, hit

    def sun_fraction(self, now_ns: int, x_m: float, y_m: float) -> float:
        """Visible share of the solar disk over the terrain horizon at (x, y), 0..1."""
        rc = self.cell(x_m, y_m)
        if rc is None:
            return 0.0
        day, (sun, _, _) = self.cell_series(now_ns, rc)
        f = (now_ns - day.start_ns) / day.step_ns
        i = min(int(f), sun.size - 2)
        w = f - i
        return float(sun[i] * (1 - w) + sun[i + 1] * w)

    def sun_direction(self, now_ns: int, x_m: float, y_m: float) -> tuple[float, float]:
        """Sun (map azimuth, elevation above the sphere's horizontal) at (x, y), degrees."""
        day = self._day(now_ns)
        f = (now_ns - day.start_ns) / day.step_ns
        i = min(int(f), day.geometry.sun_me.shape[0] - 2)
        w = f - i
        v = day.geometry.sun_me[i] * (1 - w) + day.geometry.sun_me[i + 1] * w
        return self._az_el(v, x_m, y_m)

    def _az_el(self, v: NDArray[np.float64], x_m: float, y_m: float) -> tuple[float, float]:
        rc = self.cell(x_m, y_m) or (0, 0)
        phi, lam = float(self.lat_rad[rc]), float(self.lon_rad[rc])
        sp, cp, sl, cl = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
        norm = float(np.linalg.norm(v))
        e = (-sl * v[0] + cl * v[1]) / norm
        n = (-sp * cl * v[0] - sp * sl * v[1] + cp * v[2]) / norm
        u = (cp * cl * v[0] + cp * sl * v[1] + sp * v[2]) / norm
        az = (math.degrees(math.atan2(e, n)) + math.degrees(lam)) % 360.0
        return az, math.degrees(math.asin(max(-1.0, min(1.0, u))))

    def position_me_m(self, x_m: float, y_m: float) -> NDArray[np.float64]:
        """Position of the ground at (x, y) in MOON_ME, m."""
        rc = self.cell(x_m, y_m) or (0, 0)
        phi, lam = float(self.lat_rad[rc]), float(self.lon_rad[rc])
        r = MOON_RADIUS_M + self.height_at(x_m, y_m)
        return r * np.array(
            [math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)]
        )

    def light_time_s(self, now_ns: int, x_m: float, y_m: float, via_relay: bool) -> float:
        """One-way light time rover -> Earth's centre now (through the relay if asked), s."""
        day = self._day(now_ns)
        i = min(int((now_ns - day.start_ns) // day.step_ns), day.geometry.earth_me_m.shape[0] - 1)
        here = self.position_me_m(x_m, y_m)
        earth = day.geometry.earth_me_m[i]
        if via_relay and day.geometry.relay_me_m.shape[0]:
            relay = day.geometry.relay_me_m[i]
            d = np.linalg.norm(relay - here) + np.linalg.norm(earth - relay)
        else:
            d = np.linalg.norm(earth - here)
        return float(d / 1e3 / SPEED_OF_LIGHT_KM_S)

    def link_series(
        self, start_ns: int, stop_ns: int, x_m: float, y_m: float, via: str
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
        """Table epochs in [start, stop] and whether the link ``via`` ("earth"/"relay") is up."""
        rc = self.cell(x_m, y_m)
        times: list[NDArray[np.int64]] = []
        up: list[NDArray[np.bool_]] = []
        t = start_ns
        while t < stop_ns:
            day = self._day(t)
            n = DAY_NS // day.step_ns
            epochs = day.start_ns + np.arange(n, dtype=np.int64) * day.step_ns
            if rc is None:
                visible = np.zeros(n, dtype=bool)
            else:
                _, (_, earth, relay) = self.cell_series(t, rc)
                if via == "relay":
                    visible = (
                        np.asarray(relay[:n]) & day.relay_sees_earth[:n]
                        if relay is not None
                        else np.zeros(n, dtype=bool)
                    )
                else:
                    visible = np.asarray(earth[:n], dtype=bool)
            keep = (epochs >= start_ns - day.step_ns) & (epochs <= stop_ns)
            times.append(epochs[keep])
            up.append(visible[keep])
            t = day.start_ns + DAY_NS
        return np.concatenate(times), np.concatenate(up)
