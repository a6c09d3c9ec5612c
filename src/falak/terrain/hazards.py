"""Slope, roughness, step and rock hazards, and a traversability cost map, for a rover.

Two models, chosen by what the DEM resolves
-------------------------------------------
Planning teams work at two scales. *Tactical* drives of metres to tens of metres are planned
on the rover's own stereo DEMs, whose cells are a fraction of the rover: each cell's rover-sized
patch is fitted with a plane and judged for steps, slope and roughness (MER/MSL GESTALT,
"Grid-based Estimation of Surface Traversability Applied to Local Terrain": Goldberg, Maimone
& Matthies 2002, IEEE Aerospace Conf.; NASA Tech Briefs TBMG-29525, 2001). *Strategic* routes of
kilometres are planned on orbital DEMs whose cells are far larger than the rover, where a
wheel-scale step or a 30 cm rock is not resolved: slope is taken over the DEM's baseline and
roughness and rock abundance enter as statistics in the cost (MSL and Mars 2020: traversability
maps from HiRISE DEMs, terrain classes and automated rock counts, Ono et al. 2016, IEEE
Aerospace Conf., "Data-driven surface traversability analysis for Mars 2020 landing site
selection"; ESA's lunar lander sites: long-baseline slopes from LOLA, boulders counted on LROC
images, De Rosa et al. 2012, Planet. Space Sci. 74:224; VIPER's routes planned on LRO-derived
maps, NASA "VIPER Lunar Operations").

The rule (:func:`select_model`, ``model="auto"``): **tactical when the cell size is at most the
rover's wheel base**, so that neighbouring cells are closer than the rover is long, the 3-cell
plane fit spans at most three wheel bases, and a clearance-high ledge shows as a jump between
neighbouring cells; **strategic otherwise** (a 5 m LOLA cell is ten wheel bases of the default
rover: its 3 × 3 fit spans 15 m, whose relief about the plane is crater walls and undulation,
not steps). ``model="tactical"`` or ``"strategic"`` overrides the rule; the maps record the
model used and why (:attr:`HazardMaps.model`, :attr:`HazardMaps.model_reason`).

Per cell, for both models, a plane is fitted by least squares to the heights in a square
*footprint* of ``w × w`` cells centred on it, ``w`` the odd number of cells covering the
rover's wheel base (at least 3):

* ``slope_deg``: the tilt of that plane (over a baseline of ``w`` cells: on a coarse DEM this
  is smoother than the slope the wheels feel);
* ``roughness_m``: RMS of the heights about the plane;
* ``step_m``: highest minus lowest height *about the plane* in the footprint.

Tactical model:

* ``rock``: cells where the rover's centre would have a rock taller than the clearance under
  its footprint. Rocks come from the DEM's rock list (synthetic DEMs: height = D/2,
  half-buried): a cell is a rock cell when any point of it is closer than half the wheel
  base plus the rock's radius to the rock's centre (:func:`rock_clearance`, the rover
  simulator's on-board check, so a route through free cells keeps that clearance up to the
  cells' edges); a DEM without a list gets rocks *detected* as local maxima standing more
  than the clearance above their footprint plane, grown by half the wheel base;
* ``impassable``: slope > ``max_slope_deg``, step > ``clearance_m``, a rock, or no data;
* ``cost``: ``1 + 2 (slope/max_slope)² + roughness/clearance``.

Strategic model (steps and single rocks are not hazards: the DEM cannot see them):

* ``rock_blocked``: rock abundance as the share of each cell where the rover's centre cannot be
  because of a rock taller than the clearance, ``Σ π (D + wheel base)² / 4 / cell area``
  (each such rock excludes a disc of its diameter grown by the rover's half-width on every
  side), capped at 1; from the DEM's rock list (a rock map counted on images, or a synthetic
  DEM's list). A DEM without a rock list has no rock term, and :attr:`HazardMaps.model_reason`
  says so;
* ``rock``: cells more than half blocked (:data:`ROCK_BLOCKED_MAX`);
* ``impassable``: slope > ``max_slope_deg`` over the baseline, ``rock``, or no data;
* ``cost``: ``1 + 2 (slope/max_slope)² + roughness/clearance + f/(1 − f)`` with f the
  blocked share: a detour proxy growing without bound as the free ground vanishes (falak's
  choice, not a published law).

Both: NaN cells of the DEM are filled for the plane fits by :func:`~falak.terrain.dem.fill_holes`
and then marked impassable (unknown ground is never driven on); ``cost`` is dimensionless (a
multiplier of distance driven), ``inf`` where impassable.

Default rover (:class:`Rover`): a ~35 kg class (Chang'e-8's Pakistani rover, SUPARCO as
reported): wheel base 0.5 m, ground clearance 0.15 m, maximum slope 20°. These are falak's
assumed values for that class, not published specifications; change them to the real rover's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.errors import InputError
from falak.terrain.dem import Dem, fill_holes

__all__ = [
    "HAZARD_MODELS",
    "ROCK_BLOCKED_MAX",
    "HazardMaps",
    "Rover",
    "footprint_cells",
    "hazards",
    "keep_clear_of_rocks",
    "rock_clearance",
    "select_model",
]

_SLOPE_WEIGHT = 2.0
#: Hazard models: ``auto`` picks ``tactical`` or ``strategic`` by the DEM's cell size.
HAZARD_MODELS = ("auto", "tactical", "strategic")
#: Strategic model: a cell whose rock-blocked share exceeds this is impassable.
ROCK_BLOCKED_MAX = 0.5


@dataclass(frozen=True)
class Rover:
    """Rover parameters for hazards: wheel base (m), ground clearance (m), maximum slope (°)."""

    wheel_base_m: float = 0.5
    clearance_m: float = 0.15
    max_slope_deg: float = 20.0

    def __post_init__(self) -> None:
        for name in ("wheel_base_m", "clearance_m", "max_slope_deg"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise InputError(f"rover {name} must be a positive number, got {value!r}")
        if self.max_slope_deg >= 90:
            raise InputError(f"rover max_slope_deg must be below 90°, got {self.max_slope_deg}")


@dataclass
class HazardMaps:
    """Hazard and cost maps on the DEM grid (all (ny, nx)); see the module text.

    ``model`` is ``"tactical"`` or ``"strategic"``; ``model_reason`` says why (the cell size
    against the wheel base, or the override) and what the cost is made of.
    """

    slope_deg: NDArray[np.float32]
    roughness_m: NDArray[np.float32]
    step_m: NDArray[np.float32]
    rock: NDArray[np.bool_]
    impassable: NDArray[np.bool_]
    cost: NDArray[np.float32]
    no_data: NDArray[np.bool_] = field(repr=False, default_factory=lambda: np.zeros((0, 0), bool))
    rover: Rover = field(default_factory=Rover)
    footprint: int = 3
    model: str = "tactical"
    model_reason: str = ""
    #: Strategic model: share of each cell blocked by rocks taller than the clearance (0…1).
    rock_blocked: NDArray[np.float32] = field(
        repr=False, default_factory=lambda: np.zeros((0, 0), np.float32)
    )

    def hazard_classes(self) -> dict[str, NDArray[np.bool_]]:
        """Masks of the hazard classes this model judges, by a readable name."""
        rover = self.rover
        no_data = self.no_data if self.no_data.size else np.zeros(self.slope_deg.shape, bool)
        classes = {f"slopes over {rover.max_slope_deg:g}°": self.slope_deg > rover.max_slope_deg}
        if self.model == "tactical":
            classes[f"steps over {rover.clearance_m:g} m"] = self.step_m > rover.clearance_m
            classes["rocks"] = self.rock
        else:
            classes[f"rock fields (over {ROCK_BLOCKED_MAX:.0%} blocked)"] = self.rock
        classes["cells without data"] = no_data
        return classes

    def describe_cell(self, r: int, c: int) -> str:
        """Say why cell (r, c) is a hazard (or ``"impassable cost"``)."""
        rover = self.rover
        reasons = []
        if self.no_data.size and self.no_data[r, c]:
            reasons.append("no elevation data")
        if self.slope_deg[r, c] > rover.max_slope_deg:
            reasons.append(f"slope {self.slope_deg[r, c]:.0f}° > {rover.max_slope_deg:g}° limit")
        if self.model == "tactical":
            if self.step_m[r, c] > rover.clearance_m:
                reasons.append(
                    f"step {self.step_m[r, c]:.2f} m > {rover.clearance_m:g} m clearance"
                )
            if self.rock[r, c]:
                reasons.append("a rock taller than the clearance")
        elif self.rock[r, c] and float(self.rock_blocked[r, c]) > ROCK_BLOCKED_MAX:
            reasons.append(
                f"rocks taller than the clearance block {float(self.rock_blocked[r, c]):.0%} of "
                "the cell"
            )
        elif self.rock[r, c]:
            reasons.append("too close to a rock taller than the clearance (keep_clear_of_rocks)")
        return ", ".join(reasons) or "impassable cost"

    def summary(self) -> dict[str, Any]:
        """Shares of the area (0…1) per hazard, and the model used and why, for reports.

        ``step`` is 0 in the strategic model (steps are not judged there); ``rock`` counts
        rock cells (tactical) or rock fields (strategic).
        """
        n = self.slope_deg.size
        step = self.step_m > self.rover.clearance_m if self.model == "tactical" else None
        return {
            "model": self.model,
            "model_reason": self.model_reason,
            "too_steep": float(np.count_nonzero(self.slope_deg > self.rover.max_slope_deg)) / n,
            "step": 0.0 if step is None else float(np.count_nonzero(step)) / n,
            "rock": float(np.count_nonzero(self.rock)) / n,
            "no_data": float(np.count_nonzero(self.no_data)) / n,
            "impassable": float(np.count_nonzero(self.impassable)) / n,
        }


def footprint_cells(rover: Rover, resolution_m: float) -> int:
    """Odd footprint width in cells covering the wheel base, at least 3."""
    return max(3, 2 * math.ceil(rover.wheel_base_m / (2 * resolution_m) - 0.5) + 1)


def select_model(rover: Rover, resolution_m: float, model: str = "auto") -> tuple[str, str]:
    """Return the hazard model for a DEM of ``resolution_m`` and why (module text: the rule).

    ``model`` is ``"auto"`` (tactical when the cell size is at most the wheel base, else
    strategic) or ``"tactical"``/``"strategic"`` to override the rule.
    """
    if model not in HAZARD_MODELS:
        raise InputError(f"hazard model must be one of {', '.join(HAZARD_MODELS)}, got {model!r}")
    resolves = resolution_m <= rover.wheel_base_m
    auto = "tactical" if resolves else "strategic"
    w = footprint_cells(rover, resolution_m)
    if resolves:
        why = (
            f"{resolution_m:g} m cells ≤ the {rover.wheel_base_m:g} m wheel base: steps and rocks "
            "at the wheels' scale are resolved"
        )
    else:
        why = (
            f"{resolution_m:g} m cells > the {rover.wheel_base_m:g} m wheel base: a "
            f"{rover.clearance_m:g} m step or rock is not resolved; slope over a "
            f"{w * resolution_m:g} m baseline, roughness and rock abundance as cost"
        )
    if model == "auto":
        return auto, why
    if model == auto:
        return model, f"{why} (asked for {model})"
    return model, f"{model} by request; auto would pick {auto}: {why}"


def hazards(dem: Dem, rover: Rover | None = None, *, model: str = "auto") -> HazardMaps:
    """Compute slope, roughness, step, rock, impassable and cost maps for ``rover`` on ``dem``.

    ``model``: ``"auto"`` (by the DEM's cell size against the wheel base, see
    :func:`select_model`), ``"tactical"`` or ``"strategic"``. :func:`keep_clear_of_rocks`
    makes every listed rock's surroundings impassable on either model's maps.
    """
    from scipy import ndimage

    rover = rover or Rover()
    res = dem.resolution_m
    chosen, reason = select_model(rover, res, model)
    w = footprint_cells(rover, res)
    k = w // 2
    filled, no_data = fill_holes(dem.height_m)
    h = filled.astype(np.float64)
    ny, nx = h.shape
    padded = np.pad(h, k, mode="edge")
    offsets = np.arange(-k, k + 1, dtype=float) * res
    sum_sq = float(np.sum(offsets**2)) * w  # Σx² over the window (= Σy²)
    kx = np.broadcast_to(offsets[None, :], (w, w))
    ky = np.broadcast_to(-offsets[:, None], (w, w))  # +y is up the rows
    mean = ndimage.uniform_filter(padded, w, mode="nearest")[k : k + ny, k : k + nx]
    gx = ndimage.correlate(padded, kx, mode="nearest")[k : k + ny, k : k + nx] / sum_sq
    gy = ndimage.correlate(padded, ky, mode="nearest")[k : k + ny, k : k + nx] / sum_sq
    slope_deg = np.degrees(np.arctan(np.hypot(gx, gy)))

    ss = np.zeros_like(h)
    high = np.full_like(h, -np.inf)
    low = np.full_like(h, np.inf)
    for i in range(w):
        for j in range(w):
            residual = padded[i : i + ny, j : j + nx] - (mean + gx * kx[i, j] + gy * ky[i, j])
            ss += residual**2
            np.maximum(high, residual, out=high)
            np.minimum(low, residual, out=low)
    roughness_m = np.sqrt(ss / (w * w))
    step_m = high - low

    cost = 1.0 + _SLOPE_WEIGHT * (slope_deg / rover.max_slope_deg) ** 2
    cost = cost + roughness_m / rover.clearance_m
    too_steep = slope_deg > rover.max_slope_deg
    blocked = np.zeros((ny, nx), dtype=np.float64)
    if chosen == "tactical":
        rock = _rock_map(dem, rover, h, mean)
        impassable = too_steep | (step_m > rover.clearance_m) | rock | no_data
    else:
        if dem.rocks is None:
            reason += "; no rock map with this DEM, so rock abundance is not in the cost"
        else:
            blocked = _rock_blocked(dem, rover)
        rock = blocked > ROCK_BLOCKED_MAX
        impassable = too_steep | rock | no_data
        free = np.maximum(1.0 - blocked, 1e-9)
        cost = cost + blocked / free
    cost = np.where(impassable, np.inf, cost)
    return HazardMaps(
        slope_deg=slope_deg.astype(np.float32),
        roughness_m=roughness_m.astype(np.float32),
        step_m=step_m.astype(np.float32),
        rock=rock,
        impassable=impassable,
        cost=cost.astype(np.float32),
        no_data=no_data,
        rover=rover,
        footprint=w,
        model=chosen,
        model_reason=reason,
        rock_blocked=blocked.astype(np.float32),
    )


def _rock_cells(
    dem: Dem, mask: NDArray[np.bool_]
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.bool_]]:
    """Rows, columns and in-grid flags of the listed rocks selected by ``mask``."""
    assert dem.rocks is not None
    ny, nx = dem.shape
    res = dem.resolution_m
    col = np.floor((dem.rocks.x_m[mask] - dem.transform.c) / res).astype(np.intp)
    row = np.floor((dem.rocks.y_m[mask] - dem.transform.f) / dem.transform.e).astype(np.intp)
    inside = (row >= 0) & (row < ny) & (col >= 0) & (col < nx)
    return row, col, inside


def _rock_blocked(dem: Dem, rover: Rover) -> NDArray[np.float64]:
    """Share of each cell excluded to the rover's centre by rocks taller than the clearance."""
    assert dem.rocks is not None
    tall = dem.rocks.diameter_m / 2 > rover.clearance_m
    row, col, inside = _rock_cells(dem, tall)
    area = np.pi / 4 * (dem.rocks.diameter_m[tall] + rover.wheel_base_m) ** 2
    blocked = np.zeros(dem.shape, dtype=np.float64)
    np.add.at(blocked, (row[inside], col[inside]), area[inside])
    out: NDArray[np.float64] = np.minimum(blocked / dem.resolution_m**2, 1.0)
    return out


def _rock_map(
    dem: Dem, rover: Rover, h: NDArray[np.float64], mean: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Cells whose rover footprint holds a rock taller than the clearance."""
    from scipy import ndimage

    res = dem.resolution_m
    if dem.rocks is not None:
        return rock_clearance(dem, rover)
    # Detected: a local maximum (3 × 3) standing above its neighbourhood mean by > clearance.
    peak = h == ndimage.maximum_filter(h, size=3, mode="nearest")
    centres: NDArray[np.bool_] = peak & (h - mean > rover.clearance_m)
    reach = round(rover.wheel_base_m / 2 / res)
    if reach >= 1:
        centres = ndimage.maximum_filter(centres, size=2 * reach + 1, mode="constant")
    return centres


def rock_clearance(
    dem: Dem, rover: Rover, *, max_step_m: float | None = None, margin_m: float = 0.0
) -> NDArray[np.bool_]:
    """Cells some point of which is too close to a listed rock taller than ``max_step_m``.

    A rock of diameter D (height D/2) is under the rover's footprint while the rover's centre
    is closer than ``wheel_base_m / 2 + D / 2`` to the rock's centre — the rover simulator's
    on-board check (:meth:`falak.sim.rover_site.Site.rock_step_m`). A cell is marked when the
    nearest point of its square is closer than that (plus ``margin_m``, room for odometry
    drift), so a rover anywhere inside an unmarked cell clears every such rock.
    ``max_step_m`` defaults to the rover's clearance (the ``MAX_STEP_M`` the drive stack gives
    its legs). A DEM without a rock list has no marked cell.
    """
    ny, nx = dem.shape
    out = np.zeros((ny, nx), dtype=bool)
    if dem.rocks is None or not len(dem.rocks.x_m):
        return out
    limit = rover.clearance_m if max_step_m is None else float(max_step_m)
    d = np.asarray(dem.rocks.diameter_m, dtype=np.float64)
    tall = d / 2 > limit
    x = np.asarray(dem.rocks.x_m, dtype=np.float64)[tall]
    y = np.asarray(dem.rocks.y_m, dtype=np.float64)[tall]
    reach = rover.wheel_base_m / 2 + d[tall] / 2 + margin_m
    t = dem.transform
    res = dem.resolution_m
    # cell (r, c) spans x in [c0 + c·res, c0 + (c+1)·res], y in [f − (r+1)·res, f − r·res]
    c_lo = np.floor((x - reach - t.c) / res).astype(np.intp)
    c_hi = np.floor((x + reach - t.c) / res).astype(np.intp)
    r_lo = np.floor((t.f - (y + reach)) / res).astype(np.intp)
    r_hi = np.floor((t.f - (y - reach)) / res).astype(np.intp)
    span = int(max(np.max(c_hi - c_lo), np.max(r_hi - r_lo))) if x.size else -1
    for dr in range(span + 1):
        for dc in range(span + 1):
            r, c = r_lo + dr, c_lo + dc
            ok = (r <= r_hi) & (c <= c_hi) & (r >= 0) & (r < ny) & (c >= 0) & (c < nx)
            if not ok.any():
                continue
            x0 = t.c + c * res
            y1 = t.f - r * res
            gap_x = np.maximum(np.maximum(x0 - x, x - (x0 + res)), 0.0)
            gap_y = np.maximum(np.maximum((y1 - res) - y, y - y1), 0.0)
            ok &= np.hypot(gap_x, gap_y) < reach
            out[r[ok], c[ok]] = True
    return out


def keep_clear_of_rocks(maps: HazardMaps, dem: Dem, *, margin_m: float = 0.0) -> HazardMaps:
    """Return ``maps`` with every cell of :func:`rock_clearance` (plus ``margin_m``) impassable.

    For a rover whose on-board check stops at every listed rock whatever the DEM's cell size
    (falak's simulator, :mod:`falak.sim.rover`): the strategic model judges rock fields only,
    so a route on it passes next to single rocks and the rover stops there. The cells become
    ``rock`` (and impassable, cost ``inf``) on either model; ``margin_m`` is room for the
    rover's drift from the plan. ``model_reason`` says so. A DEM without a rock list is
    returned unchanged (but for the reason).
    """
    import dataclasses

    if not (isinstance(margin_m, int | float) and math.isfinite(margin_m) and margin_m >= 0):
        raise InputError(f"margin_m must be a number of metres ≥ 0, got {margin_m!r}")
    if dem.shape != maps.slope_deg.shape:
        raise InputError(f"hazard maps of shape {maps.slope_deg.shape} are not of {dem!r}")
    clear = rock_clearance(dem, maps.rover, margin_m=float(margin_m))
    rock = maps.rock | clear
    impassable = maps.impassable | clear
    reason = maps.model_reason + (
        f"; cells within half the wheel base + a rock's radius + {margin_m:g} m of every listed "
        "rock taller than the clearance are impassable"
        if dem.rocks is not None
        else "; no rock list, so no cell is kept clear of rocks"
    )
    return dataclasses.replace(
        maps,
        rock=rock,
        impassable=impassable,
        cost=np.where(impassable, np.float32(np.inf), maps.cost).astype(np.float32),
        model_reason=reason,
    )
