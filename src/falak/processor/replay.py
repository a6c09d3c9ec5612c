"""Replay archived raw packets through the processing chain.

Use it to rebuild the parameter archive (after a crash, or with a new version of the mission
database): the parameter samples in the range are deleted, then the raw packets received in
the range are read back in id order, in batches, and run through decode → (alarms) → bus →
parameter archive exactly as live. Packet decode marks are updated (packets that a new MDB
now decodes are marked good again).

The range selects packets by *reception* time, and deletes parameter samples by their time,
which is the generation time (see :mod:`falak.processor.processor`); give no range to
rebuild everything. Alarm records are not written again unless ``archive_alarms=True``.

Full or partial, a replay commits coverage with the parameters it writes
(:meth:`~falak.archive.Archive.commit_parameters`), so a replay that is killed halfway leaves
the rest to :func:`~falak.processor.processor.catch_up` (which
:class:`~falak.processor.processor.Processor` runs at start, and ``falak archive ingest``
before ingesting): it replays only the raw packets that have no committed parameters yet,
without deleting anything, and idempotently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from falak.archive import Archive
from falak.bus import Bus
from falak.mdb.model import MissionDatabase
from falak.processor.alarms import AlarmManager
from falak.processor.packettime import PacketTime
from falak.processor.processor import Chain

__all__ = ["ReplayResult", "replay"]


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
    built (default: the MDB's recipe; :mod:`falak.processor.packettime`).
    """
    total = archive.packet_stats().n_packets if start_ns is None and stop_ns is None else None
    out = ReplayResult()
    out.samples_deleted = archive.delete_parameters(start_ns, stop_ns)
    alarms = None
    if bus is not None or archive_alarms:
        alarms = AlarmManager(archive if archive_alarms else None, bus)
    chain = Chain(mdb, archive, root=root, bus=bus, alarms=alarms, packet_time=packet_time)
    done = 0
    for batch in archive.read_packets(start_ns, stop_ns, batch_size=batch_size):
        chain.run(
            batch.data,
            batch.offsets,
            batch.lengths,
            batch.recv_time_ns,
            batch.ids,
            previous_status=batch.status,
        )
        done += len(batch)
        if progress is not None:
            progress(done, total)
    chain.flush()
    out.packets = chain.stats.packets
    out.decoded = chain.stats.decoded
    out.failed = dict(chain.stats.failed)
    out.excess = dict(chain.stats.excess)
    out.samples_written = chain.stats.samples_written
    return out
