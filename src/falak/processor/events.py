"""On-board events: packets the mission database marks as events become archive events.

XTCE has no notion of an event packet, so the container says it in its ancillary data (XTCE
``AncillaryData``; ``ancillary:`` in falak YAML)::

    EVENT:
      base: CCSDS_TM
      restriction: APID == 101
      entries: [EVENT_ID, EVENT_SEVERITY, EVENT_MESSAGE]
      ancillary:
        falak.event.message: EVENT_MESSAGE     # required: the event's text
        falak.event.severity: EVENT_SEVERITY   # optional: enumeration label, lower-cased
        falak.event.id: EVENT_ID               # optional: kept as the event's ``event_id``

Each decoded packet of such a container is archived as an event with source
:data:`SOURCE` at the packet's generation time, with the container, the raw-archive packet
id and the event id as attributes, and published on the ``events`` bus topic (so it reaches
``GET /api/v1/events`` and ``/ws/events``). Without a severity parameter, or for a packet
without one, the severity is ``info``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.archive import Archive
from falak.bus import Bus
from falak.mdb.model import MissionDatabase
from falak.tm.decoder import Column, ContainerResult

__all__ = ["MESSAGE_KEY", "SOURCE", "OnboardEvent", "OnboardEvents"]

log = logging.getLogger(__name__)

SOURCE = "onboard"
"""The archive event source of on-board events."""
MESSAGE_KEY = "falak.event.message"
SEVERITY_KEY = "falak.event.severity"
ID_KEY = "falak.event.id"


@dataclass(frozen=True)
class OnboardEvent:
    """One on-board event as archived."""

    time_ns: int
    severity: str
    message: str
    attrs: dict[str, Any]


@dataclass(frozen=True)
class _Spec:
    message: str
    severity: str | None
    event_id: str | None


def _text(v: Any) -> str:
    if isinstance(v, bytes | bytearray):
        return bytes(v).decode("utf-8", errors="replace")
    return str(v)


def _at(col: Column | None, i: int) -> Any:
    if col is None or (col.present is not None and not col.present[i]):
        return None
    return col.eng[i]


class OnboardEvents:
    """The event containers of ``mdb`` (see the module doc) and their events."""

    def __init__(self, mdb: MissionDatabase) -> None:
        self._specs: dict[str, _Spec] = {}
        for qn, c in mdb.containers.items():
            anc = dict(c.ancillary)
            if MESSAGE_KEY in anc:
                self._specs[qn] = _Spec(anc[MESSAGE_KEY], anc.get(SEVERITY_KEY), anc.get(ID_KEY))

    def __bool__(self) -> bool:
        return bool(self._specs)

    @property
    def containers(self) -> list[str]:
        """Qualified names of the event containers."""
        return sorted(self._specs)

    def events(
        self,
        res: ContainerResult,
        time_ns: NDArray[np.int64],
        ids: NDArray[np.int64] | None = None,
    ) -> Iterator[OnboardEvent]:
        """The events in ``res`` (none unless its container is an event container);
        ``time_ns`` are the packets' generation times, ``ids`` the raw-archive ids of the
        whole batch (indexed by ``res.packet_index``)."""
        spec = self._specs.get(res.container)
        if spec is None:
            return

        def column(name: str | None) -> Column | None:
            if name is None:
                return None
            try:
                return res.column(name)
            except KeyError:
                return None

        msg, sev, eid = column(spec.message), column(spec.severity), column(spec.event_id)
        for i in range(len(res)):
            message = _at(msg, i)
            severity = _at(sev, i)
            event_id = _at(eid, i)
            attrs: dict[str, Any] = {"container": res.container}
            if ids is not None:
                attrs["packet_id"] = int(ids[res.packet_index[i]])
            if event_id is not None:
                attrs["event_id"] = (
                    event_id.item() if isinstance(event_id, np.generic) else event_id
                )
            yield OnboardEvent(
                int(time_ns[i]),
                "info" if severity is None else _text(severity).lower(),
                "(no message)" if message is None else _text(message),
                attrs,
            )

    def record(
        self,
        res: ContainerResult,
        time_ns: NDArray[np.int64],
        ids: NDArray[np.int64] | None,
        archive: Archive | None,
        bus: Bus | None,
        topic: str,
    ) -> int:
        """Archive the events in ``res`` and publish them on ``topic`` as ``(time_ns,
        severity, message)``; return how many. Never raises for the archive (an event that
        cannot be stored is logged: processing goes on)."""
        n = 0
        for ev in self.events(res, time_ns, ids):
            n += 1
            if archive is not None:
                try:
                    archive.append_event(ev.time_ns, SOURCE, ev.severity, ev.message, **ev.attrs)
                except Exception:
                    log.exception("processor: cannot archive on-board event %r", ev.message)
            if bus is not None:
                bus.publish(topic, (ev.time_ns, ev.severity, ev.message))
        return n
