"""Replay archived raw packets through the processing chain.

Use it to rebuild the parameter archive (after a crash, or with a new version of the mission
database): the parameter samples in the range are deleted, then the raw packets received in
the range are read back in id order, in batches, and run through decode → (alarms) → bus →
parameter archive exactly as live. Packet decode marks are updated (packets that a new MDB
now decodes are marked good again).

The range selects packets by *reception* time, and deletes the parameter samples of those
packets, whatever their (generation) time (:meth:`~falak.archive.Archive.delete_parameters`);
give no range to rebuild everything. Alarm records are not written again unless
``archive_alarms=True``. Packets are stamped with the packet-time recipe the archive recorded
for them at ingest (:meth:`~falak.archive.Archive.packet_time_recipes`) unless a
``packet_time`` is given, which is then recorded for them; packets without a recorded one get
the MDB's.

Full or partial, a replay commits coverage with the parameters it writes
(:meth:`~falak.archive.Archive.commit_parameters`), so a replay that is killed halfway leaves
the rest to :func:`~falak.processor.processor.catch_up` (which
:class:`~falak.processor.processor.Processor` runs at start, and ``falak archive ingest``
before ingesting): it replays only the raw packets that have no committed parameters yet,
without deleting anything, and idempotently.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from falak.archive import Archive
from falak.archive.sql import id_ranges
from falak.bus import Bus
from falak.errors import InputError
from falak.mdb.model import MissionDatabase
from falak.processor.alarms import AlarmManager
from falak.processor.packettime import PacketTime
from falak.processor.processor import Chain

__all__ = ["ReplayResult", "replay", "same_recipe"]


@dataclass
class ReplayResult:
    """What a replay did."""

    packets: int = 0
    decoded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    excess: dict[str, int] = field(default_factory=dict)
    """Decoded packets longer than their container, by reason (warnings)."""
    samples_deleted: int = 0
    samples_written: int = 0
    restamped: dict[str, int] = field(default_factory=dict)
    """Packets stamped with the ``packet_time`` given although their ingest recorded another
    recipe, by that recorded recipe (their times may move: say so to the operator)."""


def replay(
    archive: Archive,
    mdb: MissionDatabase,
    *,
    root: str | None = None,
    start_ns: int | None = None,
    stop_ns: int | None = None,
    batch_size: int = 50_000,
    bus: Bus | None = None,
    archive_alarms: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    packet_time: PacketTime | None = None,
) -> ReplayResult:
    """Rebuild the parameter archive from the raw packets received in ``[start_ns, stop_ns)``.

    ``progress(n_done, n_total)`` is called after each batch (``n_total`` is None when a
    range is given: the count is not known in advance). ``packet_time``: how packet time is
    built for every packet (default: the recipe recorded for each packet at ingest, else the
    MDB's; :mod:`falak.processor.packettime`).
    """
    recipes = archive.packet_time_recipes()
    parsed: dict[str, PacketTime | None] = {}

    def recorded(text: str) -> PacketTime | None:
        if text not in parsed:
            what = f"the packet-time recipe {text!r} archived at ingest"
            try:
                parsed[text] = PacketTime.parse(text, mdb, what=what)
            except InputError:
                if packet_time is None:
                    raise  # cannot stamp as at ingest: the message says which recipe
                parsed[text] = None  # unknown to this MDB: certainly not the one given
        return parsed[text]

    if packet_time is None:  # refuse a recipe this MDB cannot build before deleting anything
        for _, _, recipe_text in recipes:
            recorded(recipe_text)
    total = archive.packet_stats().n_packets if start_ns is None and stop_ns is None else None
    out = ReplayResult()
    out.samples_deleted = archive.delete_parameters(start_ns, stop_ns)
    alarms = None
    if bus is not None or archive_alarms:
        alarms = AlarmManager(archive if archive_alarms else None, bus)
    chain = Chain(mdb, archive, root=root, bus=bus, alarms=alarms, packet_time=packet_time)
    done = 0
    default = chain.packet_time
    restamp: list[tuple[int, int]] = []
    for batch in archive.read_packets(start_ns, stop_ns, batch_size=batch_size):
        for lo, hi, text in _runs(batch.ids, recipes):
            stored = None if text is None else recorded(text)
            if packet_time is not None:
                if text is not None and not same_recipe(stored, packet_time):
                    out.restamped[text] = out.restamped.get(text, 0) + hi - lo
                chain.packet_time = packet_time
                restamp += id_ranges(batch.ids[lo:hi])
            else:
                chain.packet_time = default if stored is None else stored
            chain.run(
                batch.data,
                batch.offsets[lo:hi],
                batch.lengths[lo:hi],
                batch.recv_time_ns[lo:hi],
                batch.ids[lo:hi],
                previous_status=batch.status[lo:hi],
            )
        done += len(batch)
        if progress is not None:
            progress(done, total)
    chain.flush()
    if packet_time is not None:  # the archive says how they are stamped now
        archive.set_packet_time(restamp, packet_time.text)
    out.packets = chain.stats.packets
    out.decoded = chain.stats.decoded
    out.failed = dict(chain.stats.failed)
    out.excess = dict(chain.stats.excess)
    out.samples_written = chain.stats.samples_written
    return out


def same_recipe(a: PacketTime | None, b: PacketTime | None) -> bool:
    """True when two parsed recipes build the same times (whatever their spelling)."""
    if a is None or b is None:
        return a is b
    return (a.kind, a.parameters, a.epoch) == (b.kind, b.parameters, b.epoch)


def _runs(
    ids: NDArray[np.int64], recipes: Sequence[tuple[int, int, str]]
) -> list[tuple[int, int, str | None]]:
    """Split sorted packet ``ids`` into runs ``[lo, hi)`` of one recorded recipe each
    (None: none recorded)."""
    if not recipes or ids.size == 0:
        return [(0, int(ids.size), None)]
    firsts = np.array([a for a, _, _ in recipes], dtype=np.int64)
    lasts = np.array([b for _, b, _ in recipes], dtype=np.int64)
    at = np.searchsorted(firsts, ids, side="right") - 1
    inside = (at >= 0) & (ids <= lasts[np.maximum(at, 0)])
    which = np.where(inside, at, -1)  # -1: no recorded recipe
    cuts = [0, *(np.flatnonzero(np.diff(which)) + 1).tolist(), int(ids.size)]
    return [
        (lo, hi, None if which[lo] < 0 else recipes[int(which[lo])][2])
        for lo, hi in itertools.pairwise(cuts)
    ]
