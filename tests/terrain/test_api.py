"""The public terrain API the traverse planner builds on stays put."""

from __future__ import annotations

import inspect

import falak.terrain


def test_public_names_are_pinned():
    assert sorted(falak.terrain.__all__) == [
        "Dem", "HazardMaps", "Horizons", "IlluminationMaps", "Rover", "Timeline", "hazards",
        "horizons", "illumination_maps", "illumination_timeline", "load_horizons", "read_dem",
        "read_window", "synthesize", "write_dem",
    ]  # fmt: skip
    for name in falak.terrain.__all__:
        assert getattr(falak.terrain, name) is not None


def test_signatures_the_planner_relies_on():
    params = inspect.signature(falak.terrain.illumination_timeline).parameters
    assert list(params)[:4] == ["dem", "horizons", "cells_or_xy", "times"]
    params = inspect.signature(falak.terrain.hazards).parameters
    assert list(params) == ["dem", "rover", "model"]
    assert list(inspect.signature(falak.terrain.synthesize).parameters)[:5] == [
        "size", "resolution_m", "center_lat_lon", "seed", "shackleton",
    ]  # fmt: skip
    fields = falak.terrain.HazardMaps.__dataclass_fields__
    for name in ("slope_deg", "roughness_m", "step_m", "rock", "impassable", "cost"):
        assert name in fields
