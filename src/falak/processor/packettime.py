"""How the time of a packet is built: the recipe an MDB or ``--packet-time`` gives.

Parameter samples are archived and published at their packet's *generation* time. Where it
comes from is a recipe, given as text by ``falak archive ingest --packet-time`` (and
``replay``) or by the mission database: an ancillary item ``falak:packet_time`` of the root
space system (XTCE ``<AncillaryData name="falak:packet_time">``, YAML ``ancillary:``; see
:attr:`falak.mdb.model.MissionDatabase.packet_time`). The CLI option wins over the MDB.

``auto`` (the default)
    The first absolute-time column of the packet's container (e.g. an on-board time in a
    secondary header), else the reception time.
``reception``
    The reception time (the ingest time for ``falak archive ingest``).
``NAME``
    The absolute-time parameter ``NAME`` (qualified or short name), else the reception time
    for packets whose container lacks it.
``cds:DAY,MS[,US][@EPOCH]``
    A CCSDS day-segmented time (CCSDS 301.0-B-4 §3.3) carried as separate integer fields, as
    in JPSS secondary headers: ``DAY`` days since ``EPOCH`` (a UTC date, default 1958-01-01,
    the CCSDS epoch), ``MS`` milliseconds of day, ``US`` microseconds of millisecond. The raw
    (encoded) values are used; days count 86,400 s (UTC), as :mod:`falak.timecodes` decodes
    CDS. Out-of-range fields (ms >= 86,401,000, µs >= 1000) fall back to reception time.

Packets that fall back to their reception time are counted (:class:`TimedPackets`), so that
a file ingest can warn that its export "aligned by time" is aligned by ingest order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from falak.mdb.packettime import RECIPES, PacketTimeRecipe
from falak.timecodes import cds_to_datetime64
from falak.tm.decoder import ContainerResult

__all__ = ["RECIPES", "PacketTime"]

_MS_PER_DAY_MAX = 86_401_000  # a leap second's milliseconds (CCSDS 301.0-B-4 §3.3.2)


@dataclass(frozen=True)
class PacketTime(PacketTimeRecipe):
    """A parsed recipe (see the module doc) that builds packet times; :meth:`parse` builds it."""

    def times(
        self, res: ContainerResult, recv_time_ns: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], int]:
        """Return each packet's time (ns, indexed like ``res.packet_index``) and how many
        of them fell back to the reception time."""
        recv = recv_time_ns[res.packet_index]
        if self.kind == "reception":
            return recv.copy(), int(recv.size)
        if self.kind == "auto":
            cols = [c for c in res.columns.values() if c.eng.dtype.kind == "M" and c.eng.ndim == 1]
            if not cols:
                return recv.copy(), int(recv.size)
            t, ok = _absolute(cols[0].eng, cols[0].present)
        elif self.kind == "parameter":
            col = res.columns.get(self.parameters[0])
            if col is None or col.eng.dtype.kind != "M":
                return recv.copy(), int(recv.size)
            t, ok = _absolute(col.eng, col.present)
        else:
            found = [res.columns.get(q) for q in self.parameters]
            if any(c is None for c in found):
                return recv.copy(), int(recv.size)
            fields = [np.asarray(c.raw) for c in found if c is not None]
            ok = np.ones(recv.size, dtype=bool)
            for c in found:
                if c is not None and c.present is not None:
                    ok &= c.present
            day, ms = (np.rint(f).astype(np.int64) for f in fields[:2])
            us = np.rint(fields[2]).astype(np.int64) if len(fields) == 3 else np.zeros_like(day)
            ok &= (day >= 0) & (day < 1 << 24) & (ms >= 0) & (ms < _MS_PER_DAY_MAX)
            ok &= (us >= 0) & (us < 1000)
            t = _cds_ns(np.where(ok, day, 0), np.where(ok, ms, 0), np.where(ok, us, 0), self.epoch)
        return np.where(ok, t, recv), int(recv.size - np.count_nonzero(ok))


def _absolute(
    eng: NDArray[np.datetime64], present: NDArray[np.bool_] | None
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    ok = ~np.isnat(eng)
    if present is not None:
        ok &= present
    return eng.astype("datetime64[ns]").view(np.int64), ok


def _cds_ns(
    day: NDArray[np.int64], ms: NDArray[np.int64], us: NDArray[np.int64], epoch: str
) -> NDArray[np.int64]:
    """UTC ns of CDS fields, through the T-field decoder of :mod:`falak.timecodes`."""
    day_bytes = 3 if day.size and int(day.max()) > 0xFFFF else 2
    width = day_bytes + 4 + 2
    fields = np.empty((day.size, width), dtype=np.uint8)
    for j in range(day_bytes):
        fields[:, j] = (day >> (8 * (day_bytes - 1 - j))) & 0xFF
    for j in range(4):
        fields[:, day_bytes + j] = (ms >> (8 * (3 - j))) & 0xFF
    for j in range(2):
        fields[:, day_bytes + 4 + j] = (us >> (8 * (1 - j))) & 0xFF
    t = cds_to_datetime64(fields, day_bytes=day_bytes, subms_bytes=2, epoch=epoch)
    return np.asarray(t, dtype="datetime64[ns]").view(np.int64)
