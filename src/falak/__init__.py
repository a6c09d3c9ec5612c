"""falak: a ground system for space science.

Mission database, CCSDS telemetry decoding, archive, flight dynamics and planning for station
payloads, a lunar south-pole rover and a lunar orbiter.

The names below are the curated public API; everything else is implementation. Heavy
subpackages (numba, skyfield) load on first use of their names, so ``import falak`` and the
``falak`` command stay quick.
"""

from __future__ import annotations

import importlib
from typing import Any

from falak.errors import (
    CommandRejected,
    DecodeError,
    FalakError,
    InputError,
    MdbError,
    PlanInfeasible,
)
from falak.mdb import MissionDatabase, load

__version__ = "0.1.0"

#: public name -> module that defines it (imported when first used)
_LAZY: dict[str, str] = {
    "Decoder": "falak.tm.decoder",
    "decode_stream": "falak.tm.decoder",
    "ContainerEncoder": "falak.tm.encoder",
    "split_packets": "falak.ccsds.spacepacket",
    "encode_packet": "falak.ccsds.spacepacket",
    "open_archive": "falak.archive",
    "Bus": "falak.bus",
    "Processor": "falak.processor",
    "find_passes": "falak.dynamics.passes",
    "load_stations": "falak.dynamics.stations",
    "read_tle_file": "falak.dynamics.tle",
    "MoonSite": "falak.dynamics.moonsky",
    "sky": "falak.dynamics.moonsky",
    "propagate": "falak.dynamics.lunar_orbit",
}

__all__ = [
    "Bus",
    "CommandRejected",
    "ContainerEncoder",
    "DecodeError",
    "Decoder",
    "FalakError",
    "InputError",
    "MdbError",
    "MissionDatabase",
    "MoonSite",
    "PlanInfeasible",
    "Processor",
    "__version__",
    "decode_stream",
    "encode_packet",
    "find_passes",
    "load",
    "load_stations",
    "open_archive",
    "propagate",
    "read_tle_file",
    "sky",
    "split_packets",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'falak' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
