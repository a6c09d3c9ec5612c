"""Simulated spacecraft that talk to the ground over UDP/TCP on loopback (issue 13).

The package imports nothing from server, processor, commanding or archive (an import-linter
contract in pyproject.toml keeps it so): a simulator is the far end of a link, like a
spacecraft behind a ground station.
"""

from falak.sim.clock import SimClock

__all__ = ["SimClock"]
