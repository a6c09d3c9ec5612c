"""falak: a ground system for space science.

Mission database, CCSDS telemetry decoding, commanding, archive, flight dynamics and planning
for station payloads, a lunar south-pole rover and a lunar orbiter.
"""

from __future__ import annotations

from falak.errors import FalakError, MdbError
from falak.mdb import MissionDatabase, load

__version__ = "0.1.0"

__all__ = ["FalakError", "MdbError", "MissionDatabase", "__version__", "load"]
