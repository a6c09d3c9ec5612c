"""Live telemetry processing: the chain from links to the bus and the archive, alarms,
staleness and replay. The server hosts a :class:`Processor`; ``falak run`` runs one in the
foreground."""

from __future__ import annotations

from falak.processor.alarms import ALARMS_TOPIC, Alarm, AlarmManager
from falak.processor.processor import (
    EVENTS_TOPIC,
    CatchUpResult,
    Chain,
    ParameterValues,
    Processor,
    ProcessorStats,
    catch_up,
    generation_times,
)
from falak.processor.replay import ReplayResult, replay
from falak.processor.staleness import STALENESS_TOPIC, Staleness, StalenessMonitor

__all__ = [
    "ALARMS_TOPIC",
    "EVENTS_TOPIC",
    "STALENESS_TOPIC",
    "Alarm",
    "AlarmManager",
    "CatchUpResult",
    "Chain",
    "ParameterValues",
    "Processor",
    "ProcessorStats",
    "ReplayResult",
    "Staleness",
    "StalenessMonitor",
    "catch_up",
    "generation_times",
    "replay",
]
