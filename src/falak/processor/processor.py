"""The live processing chain: link → raw archive → decode → limits/alarms → bus → parameters.

:class:`Processor` hosts links and one worker thread. Links hand received batches to
:meth:`Processor.submit`; the worker gathers them into a processing batch until it holds
``batch_max_packets`` packets or its oldest packet waited ``batch_max_age_s`` (so latency
stays low at moderate rates and per-batch costs are shared at high rates), then:

1. stores the packets in the raw archive FIRST (durable when ``append_packets`` returns; the
   ``on_commit`` callback then reports the committed ids), and the rejected byte ranges; then
   hands the packets of tapped APIDs to their taps (:meth:`Processor.tap`: a CFDP receiver
   takes its PDUs there);
2. decodes them in one batch (calibration, limits), marking packets that failed by reason;
3. feeds monitoring levels to the :class:`~falak.processor.alarms.AlarmManager`;
4. publishes each parameter's values (:class:`ParameterValues`) on the bus;
5. writes the parameters to the parameter archive (one group per container), buffered for up
   to ``parameter_flush_s`` (the parameter archive is derived data: replay rebuilds it). Each
   write commits, in the same transaction, which raw packets it covers
   (:meth:`~falak.archive.Archive.commit_parameters`), so a crash loses no more than a replay
   of the packets left without parameters; :meth:`Processor.start` runs that replay (the
   *catch-up*, :func:`~falak.processor.replay.catch_up`) in a thread beside live processing,
   and reports it (log, event, :class:`ProcessorStats`).

Generation time of a packet: as the MDB's ``falak:packet_time`` recipe (or the
``packet_time`` argument) says (:mod:`falak.processor.packettime`); by default the value of
the first absolute-time (``datetime64``) column of its decoded container (e.g. a
secondary-header on-board time), else its reception time (counted in
:attr:`ChainStats.reception_time_packets`). Parameter samples are archived and published at
that time; staleness runs on the reception clock.

Time: the processor's ``clock`` (:mod:`falak.clock`; default real time; in a simulated run
the run's clock, the one its links stamp reception with) gives "now" for staleness, alarms
and events. Latency (:attr:`ChainStats.last_latency_ms`) is the clock's now minus the
reception time, converted to host milliseconds (divided by the clock's speed): the delay the
machine adds, comparable at every speed. Batch ages and flush intervals are host seconds.

:class:`Chain` is steps 2-5 alone; replay (:mod:`falak.processor.replay`) runs archived
packets through it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak.archive import Archive, ParameterColumn, ParameterWrite
from falak.bus import Bus, Subscription
from falak.clock import Clock, as_clock
from falak.errors import InputError
from falak.links.base import Link, ReceivedBatch
from falak.mdb.model import MissionDatabase
from falak.processor.alarms import ALARMS_TOPIC, AlarmManager
from falak.processor.events import OnboardEvents
from falak.processor.packettime import PacketTime
from falak.processor.staleness import STALENESS_TOPIC, Staleness, StalenessMonitor
from falak.tm.decoder import ContainerResult, Decoder

__all__ = [
    "EVENTS_TOPIC",
    "CatchUpResult",
    "Chain",
    "ChainStats",
    "ParameterValues",
    "Processor",
    "ProcessorStats",
    "catch_up",
    "generation_times",
]

log = logging.getLogger(__name__)

EVENTS_TOPIC = "events"
"""Bus topic of processor events (started, stopped, errors)."""

CommitCallback = Callable[[str, NDArray[np.int64]], None]


@dataclass(frozen=True)
class ParameterValues:
    """Bus payload: one parameter's new samples from one processing batch.

    ``time_ns`` are generation times (see the module doc), ``recv_time_ns`` reception times;
    ``status`` holds :class:`~falak.mdb.model.AlarmLevel` values (None: no monitoring);
    ``present`` masks samples where the parameter was absent (None: all present).
    """

    parameter: str
    name: str
    container: str
    time_ns: NDArray[np.int64]
    recv_time_ns: NDArray[np.int64]
    raw: NDArray[Any]
    eng: NDArray[Any]
    status: NDArray[np.uint8] | None
    present: NDArray[np.bool_] | None

    def __len__(self) -> int:
        return int(self.time_ns.size)


def generation_times(res: ContainerResult, recv_time_ns: NDArray[np.int64]) -> NDArray[np.int64]:
    """Generation time (ns) of each packet of ``res``: its first ``datetime64`` column, else
    ``recv_time_ns`` (indexed by ``res.packet_index``); NaT or absent samples fall back too.

    The ``auto`` recipe of :class:`~falak.processor.packettime.PacketTime`.
    """
    return PacketTime("auto").times(res, recv_time_ns)[0]


@dataclass
class ChainStats:
    """Counters of the decode side of the chain."""

    packets: int = 0
    decoded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    excess: dict[str, int] = field(default_factory=dict)
    """Decoded packets longer than their container, by reason (warnings; see
    :data:`falak.tm.decoder.EXCESS_REASONS`)."""
    decoder_errors: dict[str, int] = field(default_factory=dict)
    """Batches on which the decoder raised, by exception type; their packets are counted in
    ``failed`` as ``decoder_error`` (see :meth:`Chain.run`)."""
    samples_written: int = 0
    """Parameter samples (rows × parameters) written to the parameter archive."""
    reception_time_packets: int = 0
    """Decoded packets stamped with their reception time: the packet-time recipe found no
    time in them (see :mod:`falak.processor.packettime`)."""
    packets_skipped: int = 0
    """Packets whose parameters were committed already (replayed twice, or by another
    process): their samples were not written again."""
    messages_published: int = 0
    last_latency_ms: float = 0.0
    """Reception of a batch's oldest packet to its publication on the bus (host ms)."""
    max_latency_ms: float = 0.0


class _ParameterBuffer:
    """Decoded columns waiting to be written to the parameter archive, per container.

    Writing costs a fixed amount per parameter and call, so samples of several processing
    batches are written together (every ``flush_s`` seconds or ``max_samples`` rows).
    """

    def __init__(self) -> None:
        self.parts: dict[
            str,
            list[tuple[NDArray[np.int64], dict[str, ParameterColumn], NDArray[np.int64] | None]],
        ] = {}
        self.ids: list[NDArray[np.int64]] = []
        """Raw-archive ids of the packets the buffered rows come from (all of them, also
        those that decoded to nothing): committed as covered with the rows."""
        self.rows = 0
        self.since = 0.0

    @property
    def pending(self) -> bool:
        return bool(self.parts or self.ids)

    def add(
        self,
        group: str,
        t: NDArray[np.int64],
        cols: dict[str, ParameterColumn],
        packet_ids: NDArray[np.int64] | None = None,
    ) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.parts.setdefault(group, []).append((t, cols, packet_ids))
        self.rows += int(t.size)

    def add_packets(self, ids: NDArray[np.int64]) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.ids.append(ids)

    def flush(self, archive: Archive) -> tuple[int, int]:
        """Write everything buffered in one transaction; return the samples (rows x
        parameters) written and the packets skipped as covered already."""
        written = 0
        writes = []
        for group, parts in self.parts.items():
            if len(parts) == 1:
                t, cols, row_ids = parts[0]
            else:
                t = np.concatenate([p[0] for p in parts])
                keys = list(dict.fromkeys(k for _, c, _ in parts for k in c))
                cols = {k: _join([(c.get(k), tt.size) for tt, c, _ in parts]) for k in keys}
                row_ids = (
                    None
                    if any(p[2] is None for p in parts)
                    else np.concatenate([p[2] for p in parts if p[2] is not None])
                )
            writes.append(ParameterWrite(group, t, cols, row_ids))
            written += int(t.size) * len(cols)
        ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.int64)
        skipped = archive.commit_parameters(writes, ids)
        self.parts.clear()
        self.ids.clear()
        self.rows = 0
        return written, skipped


def _join(parts: list[tuple[ParameterColumn | None, int]]) -> ParameterColumn:
    """Concatenate one parameter's columns; a part without it counts as absent."""
    first = next(c for c, _ in parts if c is not None)

    def cat(get: Callable[[ParameterColumn], NDArray[Any]]) -> NDArray[Any]:
        arrays = [get(c) if c is not None else None for c, _ in parts]
        ref = get(first)
        same = all(
            a is not None and a.dtype == ref.dtype and a.shape[1:] == ref.shape[1:] for a in arrays
        )
        if same:
            return np.concatenate(arrays)  # type: ignore[arg-type]
        out = np.empty(sum(n for _, n in parts), dtype=object)
        at = 0
        for a, (_, n) in zip(arrays, parts, strict=True):
            if a is not None:
                for i in range(n):
                    out[at + i] = a[i]
            at += n
        return out

    status = None
    if any(c is not None and c.status is not None for c, _ in parts):
        status = np.concatenate(
            [
                c.status if c is not None and c.status is not None else np.zeros(n, np.uint8)
                for c, n in parts
            ]
        )
    present = None
    if any(c is None or c.present is not None for c, _ in parts):
        present = np.concatenate(
            [
                (c.present if c.present is not None else np.ones(n, bool))
                if c is not None
                else np.zeros(n, bool)
                for c, n in parts
            ]
        )
    raw = cat(lambda c: c.raw)
    # uncalibrated parameters carry one array as raw and eng: keep them one (the archive
    # then stores it once without comparing)
    eng = raw if all(c is None or c.eng is c.raw for c, _ in parts) else cat(lambda c: c.eng)
    return ParameterColumn(raw, eng, status, present)


@dataclass
class _ErrorReport:
    """Decoder errors of one kind since the last event about them."""

    reported_ns: int
    batches: int = 0
    packets: int = 0
    last: str = ""


DECODER_ERROR = "decoder_error"
"""Packet status (and ``failed`` reason) of packets in a batch on which the decoder raised."""


class Chain:
    """Decode → alarms → bus → parameter archive, for packets already in the raw archive.

    Parameter samples are buffered and written every ``parameter_flush_s`` seconds (or at
    ``parameter_max_rows`` rows, or on :meth:`flush`): the parameter archive is derived data
    that replay rebuilds, and writing it costs a fixed amount per parameter and call.

    A batch on which the decoder raises (a decoder bug, or a mission database it trips on)
    does not stop the stream: it is counted by exception type in
    :attr:`ChainStats.decoder_errors`, its packets (already in the raw archive) are marked
    ``decoder_error``, and it is reported as an event: at once the first time for each
    exception type, then as a count at most every ``decoder_error_report_s`` seconds (and on
    :meth:`flush`), so a bad MDB does not flood the event log.
    """

    decoder_error_report_s: float = 60.0

    def __init__(
        self,
        mdb: MissionDatabase,
        archive: Archive | None,
        *,
        root: str | None = None,
        bus: Bus | None = None,
        alarms: AlarmManager | None = None,
        staleness: StalenessMonitor | None = None,
        write_parameters: bool = True,
        mark_status: bool = True,
        parameter_flush_s: float = 1.0,
        parameter_max_rows: int = 100_000,
        clock: Clock | Callable[[], int] | None = None,
        onboard_events: bool = False,
        packet_time: PacketTime | None = None,
    ) -> None:
        self.mdb = mdb
        self.parameter_flush_s = parameter_flush_s
        # on-board event packets -> archive events (live only: replay must not repeat them)
        self.onboard = OnboardEvents(mdb) if onboard_events else None
        # how generation time is built: the argument, else the MDB's recipe, else "auto"
        self.packet_time = packet_time if packet_time is not None else PacketTime.parse(None, mdb)
        self.parameter_max_rows = parameter_max_rows
        self._buffer = _ParameterBuffer()
        self.archive = archive
        self.decoder = Decoder(mdb, root)
        self.bus = bus
        self.alarms = alarms
        self.staleness = staleness
        self.write_parameters = write_parameters
        self.mark_status = mark_status
        self.clock = as_clock(clock)
        """The mission's time (:mod:`falak.clock`); a bare ns function is real time."""
        self.stats = ChainStats()
        self._tracked: dict[str, list[str]] = {}
        self._error_reports: dict[str, _ErrorReport] = {}

    def run(
        self,
        data: NDArray[np.uint8],
        offsets: NDArray[np.int64],
        lengths: NDArray[np.int64],
        recv_time_ns: NDArray[np.int64],
        ids: NDArray[np.int64] | None,
        previous_status: NDArray[np.object_] | None = None,
    ) -> None:
        """Process one batch of packets (``ids``: their raw-archive ids, for status marks).

        ``previous_status`` (replay) lets packets that decode now be marked good again.
        """
        n = int(offsets.size)
        if n == 0:
            return
        try:
            res = self.decoder.decode(data, offsets, lengths)
        except Exception as exc:  # a batch API never stops mid-stream: counted and reported
            self._decoder_failed(exc, n, ids, previous_status)
            return
        st = self.stats
        st.packets += n
        st.decoded += res.n_decoded
        for reason, idx in res.excess.items():
            st.excess[reason] = st.excess.get(reason, 0) + int(idx.size)
        if self.archive is not None and ids is not None and self.mark_status:
            status = np.full(n, "", dtype=object)
            for reason, idx in res.failed.items():
                if idx.size:
                    st.failed[reason] = st.failed.get(reason, 0) + int(idx.size)
                    status[idx] = reason
            if previous_status is None:
                bad = np.flatnonzero(status != "")
            else:
                bad = np.flatnonzero(status != previous_status)
            if bad.size:
                self.archive.set_packet_status(ids[bad], status[bad].tolist())
        else:
            for reason, idx in res.failed.items():
                if idx.size:
                    st.failed[reason] = st.failed.get(reason, 0) + int(idx.size)
        now = self.clock.now_ns()
        prepared = []
        for cres in res.containers:
            t, n_reception = self.packet_time.times(cres, recv_time_ns)
            st.reception_time_packets += n_reception
            if self.onboard:
                self.onboard.record(cres, t, ids, self.archive, self.bus, EVENTS_TOPIC)
            prepared.append((cres, t))
            if self.alarms is not None:
                for col in cres.columns.values():
                    if col.monitoring is None:
                        continue
                    if col.present is None:
                        self.alarms.observe(col.key, t, col.monitoring, col.eng)
                    else:
                        p = col.present
                        self.alarms.observe(col.key, t[p], col.monitoring[p], col.eng[p])
            if self.staleness is not None:
                keys = self._tracked.get(cres.container)
                if keys is None:
                    keys = self.staleness.tracked(cres.columns)
                    self._tracked[cres.container] = keys
                for rec in self.staleness.refreshed(keys, now):
                    self._publish_staleness(rec)
        if self.bus is not None:
            for cres, t in prepared:
                recv = recv_time_ns[cres.packet_index]
                for col in cres.columns.values():
                    if not self.bus.has_subscribers(col.key):
                        continue
                    self.bus.publish(
                        col.key,
                        ParameterValues(
                            col.key,
                            col.name,
                            cres.container,
                            t,
                            recv,
                            col.raw,
                            col.eng,
                            col.monitoring,
                            col.present,
                        ),
                    )
                    st.messages_published += 1
            age_s = (self.clock.now_ns() - int(recv_time_ns.min())) / 1e9
            latency = self.clock.host_seconds(age_s) * 1e3
            st.last_latency_ms = latency
            st.max_latency_ms = max(st.max_latency_ms, latency)
        if self.archive is not None and self.write_parameters:
            for cres, t in prepared:
                cols = {
                    k: ParameterColumn(c.raw, c.eng, c.monitoring, c.present)
                    for k, c in cres.columns.items()
                }
                row_ids = None if ids is None else ids[cres.packet_index]
                self._buffer.add(cres.container, t, cols, row_ids)
            if ids is not None:
                self._buffer.add_packets(np.asarray(ids, dtype=np.int64))
            self.flush(force=False)

    def _decoder_failed(
        self,
        exc: Exception,
        n: int,
        ids: NDArray[np.int64] | None,
        previous_status: NDArray[np.object_] | None,
    ) -> None:
        """Count a batch the decoder raised on, mark its packets, report it (rate-limited)."""
        reason = type(exc).__name__
        text = f"{reason}: {exc}"
        st = self.stats
        st.packets += n
        st.failed[DECODER_ERROR] = st.failed.get(DECODER_ERROR, 0) + n
        st.decoder_errors[reason] = st.decoder_errors.get(reason, 0) + 1
        if self.archive is not None and ids is not None and self.mark_status:
            status = np.full(n, DECODER_ERROR, dtype=object)
            mark = np.ones(n, bool) if previous_status is None else status != previous_status
            if np.any(mark):
                self.archive.set_packet_status(ids[mark], status[mark].tolist())
        if self.archive is not None and ids is not None and self.write_parameters:
            # processed (and failed): covered, so that the start-up catch-up does not retry
            # them at every start; a replay with a fixed MDB decodes them again
            self._buffer.add_packets(np.asarray(ids, dtype=np.int64))
            self.flush(force=False)
        now = self.clock.now_ns()
        rec = self._error_reports.get(reason)
        if rec is None:
            # the first of its kind: logged with its traceback and reported at once
            log.error("processor: decoder error on a batch of %d packets", n, exc_info=exc)
            self._error_reports[reason] = _ErrorReport(now)
            self._report(
                "critical",
                f"decoder error on a batch of {n:,} packets: {text}; the packets are in the "
                f"raw archive, marked {DECODER_ERROR}; further {reason} errors are counted "
                f"and reported at most every {self.decoder_error_report_s:g} s",
                reason=reason,
                packets=n,
            )
            return
        log.debug("processor: decoder error again on %d packets: %s", n, text)
        rec.batches += 1
        rec.packets += n
        rec.last = text
        self.report_decoder_errors(now_ns=now)

    def report_decoder_errors(self, *, force: bool = False, now_ns: int | None = None) -> None:
        """Report the decoder errors counted since their last event (when due, or all now
        with ``force``)."""
        now = self.clock.now_ns() if now_ns is None else now_ns
        for reason, rec in self._error_reports.items():
            if rec.batches == 0:
                continue
            if not force and now - rec.reported_ns < self.decoder_error_report_s * 1e9:
                continue
            since_s = (now - rec.reported_ns) / 1e9
            self._report(
                "error",
                f"decoder error {reason} again on {rec.batches:,} batches "
                f"({rec.packets:,} packets) in the last {since_s:.0f} s; last: {rec.last}",
                reason=reason,
                batches=rec.batches,
                packets=rec.packets,
            )
            rec.reported_ns, rec.batches, rec.packets = now, 0, 0

    def _report(self, severity: str, message: str, **attrs: Any) -> None:
        """Archive an event and publish it on the ``events`` topic (never raises)."""
        t = self.clock.now_ns()
        if self.archive is not None:
            try:
                self.archive.append_event(t, "processor", severity, message, **attrs)
            except Exception:  # an event must never stop processing; it is logged instead
                log.exception("processor: cannot archive event %r", message)
        if self.bus is not None:
            self.bus.publish(EVENTS_TOPIC, (t, severity, message))

    def flush(self, *, force: bool = True) -> None:
        """Write the buffered parameter samples (when due, or now with ``force``)."""
        if force:
            self.report_decoder_errors(force=True)
        buf = self._buffer
        if self.archive is None or not buf.pending:
            return
        if (
            force
            or buf.rows >= self.parameter_max_rows
            or time.monotonic() - buf.since >= self.parameter_flush_s
        ):
            written, skipped = buf.flush(self.archive)
            self.stats.samples_written += written
            self.stats.packets_skipped += skipped

    def _publish_staleness(self, rec: Staleness) -> None:
        if self.bus is not None:
            self.bus.publish(rec.parameter, rec)
            self.bus.publish(STALENESS_TOPIC, rec)

    def check_staleness(self, now_ns: int) -> list[Staleness]:
        """Report parameters that expired (published on their topic and ``staleness``)."""
        if self.staleness is None:
            return []
        out = self.staleness.check(now_ns)
        for rec in out:
            self._publish_staleness(rec)
        return out


PacketTap = Callable[[list[bytes], NDArray[np.int64]], None]
"""``fn(packets, recv_time_ns)``: raw packets of tapped APIDs and their reception times."""


@dataclass(frozen=True)
class ProcessorStats:
    """A snapshot for status displays."""

    running: bool
    packets_archived: int
    rejected_ranges: int
    batches: int
    queued_batches: int
    decoded: int
    failed: dict[str, int]
    excess: dict[str, int]
    """Decoded packets longer than their container, by reason (warnings)."""
    decoder_errors: dict[str, int]
    """Batches on which the decoder raised, by exception type."""
    samples_written: int
    messages_published: int
    last_latency_ms: float
    max_latency_ms: float
    active_alarms: int
    expired_parameters: int
    errors: int
    last_error: str | None
    catching_up: bool = False
    """True while the start-up catch-up runs (see :meth:`Processor.start`)."""
    catch_up_behind: int = 0
    """Raw packets that had no parameters when the processor started."""
    catch_up_done: int = 0
    """Of those, the packets the catch-up has committed so far."""
    reception_time_packets: int = 0
    """Decoded packets stamped with their reception time (no packet time found in them)."""


@dataclass
class CatchUpResult:
    """What a catch-up did: ``behind`` packets had no parameters, ``packets`` were replayed
    (fewer when it was stopped: ``complete`` is then False)."""

    ranges: list[tuple[int, int]] = field(default_factory=list)
    behind: int = 0
    packets: int = 0
    decoded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    samples_written: int = 0
    packets_skipped: int = 0
    """Packets that another writer covered meanwhile (not written twice)."""
    seconds: float = 0.0
    complete: bool = True


def behind(ranges: Sequence[tuple[int, int]]) -> int:
    """Number of packets in inclusive id ``ranges``."""
    return sum(b - a + 1 for a, b in ranges)


def catch_up(
    archive: Archive,
    mdb: MissionDatabase,
    *,
    root: str | None = None,
    ranges: Sequence[tuple[int, int]] | None = None,
    batch_size: int = 20_000,
    stop: threading.Event | None = None,
    progress: Callable[[int, int], None] | None = None,
    packet_time: PacketTime | None = None,
) -> CatchUpResult:
    """Decode the raw packets that have no parameters yet and commit their parameters.

    Parameters
    ----------
    ranges
        Inclusive packet-id ranges to catch up; default: what
        :meth:`~falak.archive.Archive.packets_without_parameters` says now.
    batch_size
        Packets per batch; each batch is committed (with its coverage) before the next, so
        a catch-up that is killed or stopped keeps what it did.
    stop
        When set, the catch-up ends after the current batch (``complete`` False).
    progress
        ``progress(n_done, n_behind)`` after each batch.
    packet_time
        How packet time is built (default: the MDB's recipe, see :class:`Chain`).
    """
    started = time.monotonic()
    todo = list(archive.packets_without_parameters() if ranges is None else ranges)
    out = CatchUpResult(ranges=todo, behind=behind(todo))
    if not todo:
        return out
    chain = Chain(mdb, archive, root=root, packet_time=packet_time)
    done = 0
    for first, last in todo:
        for batch in archive.read_packets(id_range=(first, last), batch_size=batch_size):
            chain.run(
                batch.data,
                batch.offsets,
                batch.lengths,
                batch.recv_time_ns,
                batch.ids,
                previous_status=batch.status,
            )
            chain.flush()
            done += len(batch)
            if progress is not None:
                progress(done, out.behind)
            if stop is not None and stop.is_set():
                out.complete = done >= out.behind
                break
        if not out.complete:
            break
    out.packets = chain.stats.packets
    out.decoded = chain.stats.decoded
    out.failed = dict(chain.stats.failed)
    out.samples_written = chain.stats.samples_written
    out.packets_skipped = chain.stats.packets_skipped
    out.seconds = time.monotonic() - started
    return out


def ranges_text(ranges: Sequence[tuple[int, int]], most: int = 3) -> str:
    """Write id ranges as ``1..5, 9, 12..20`` (the first ``most``, then ``...``)."""
    parts = [str(a) if a == b else f"{a}..{b}" for a, b in ranges[:most]]
    if len(ranges) > most:
        parts.append(f"... ({len(ranges)} ranges)")
    return ", ".join(parts)


CATCH_UP_BATCH_PACKETS = 5_000
"""Packets per committed batch of the start-up catch-up beside live processing."""

_STOP = object()


class Processor:
    """Host links and run the chain in a worker thread (see the module doc).

    Parameters
    ----------
    mdb
        The mission database.
    archive
        An open archive; the caller closes it after :meth:`stop`.
    root
        Root container to decode from (MDBs with several roots).
    links
        Links to start with the processor (more with :meth:`add_link`).
    batch_max_packets, batch_max_age_s
        A processing batch closes at this many packets or when its oldest packet waited
        this long (seconds).
    on_commit
        Called as ``on_commit(link_name, ids)`` after each durable raw-archive commit.
    staleness_tolerance
        A parameter expires after this many expected periods without a value.
    parameter_flush_s
        Parameter samples are written to the parameter archive at least this often (s);
        :meth:`stop` writes the rest.
    catch_up_on_start
        At :meth:`start`, decode the raw packets that have no parameters yet (a crash left
        them so) in a thread beside live processing (see :meth:`start`).
    packet_time
        How packet (generation) time is built; default: the MDB's ``falak:packet_time``
        recipe, else ``auto`` (:mod:`falak.processor.packettime`).
    """

    def __init__(
        self,
        mdb: MissionDatabase,
        archive: Archive,
        *,
        root: str | None = None,
        bus: Bus | None = None,
        links: Iterable[Link] = (),
        batch_max_packets: int = 20_000,
        batch_max_age_s: float = 0.02,
        on_commit: CommitCallback | None = None,
        staleness_tolerance: float = 1.5,
        write_parameters: bool = True,
        parameter_flush_s: float = 1.0,
        max_queued_batches: int = 10_000,
        clock: Clock | Callable[[], int] | None = None,
        catch_up_on_start: bool = True,
        packet_time: PacketTime | None = None,
    ) -> None:
        if batch_max_packets < 1 or batch_max_age_s < 0:
            raise InputError(
                f"batch limits must be >= 1 packet and >= 0 s, got {batch_max_packets} "
                f"and {batch_max_age_s}"
            )
        self.mdb = mdb
        self.archive = archive
        self.root = root
        self.catch_up_on_start = catch_up_on_start and write_parameters
        self.catch_up_result: CatchUpResult | None = None
        self._catch_up_thread: threading.Thread | None = None
        self._catch_up_stop = threading.Event()
        self._catch_up_behind = 0
        self._catch_up_done = 0
        self.bus = bus if bus is not None else Bus()
        self.clock = as_clock(clock)
        """The mission's time (see the module doc); a bare ns function is real time."""
        self.alarms = AlarmManager(archive, self.bus, clock=self.clock.now_ns)
        self.staleness = StalenessMonitor(mdb, tolerance=staleness_tolerance)
        self.chain = Chain(
            mdb,
            archive,
            root=root,
            bus=self.bus,
            alarms=self.alarms,
            staleness=self.staleness,
            write_parameters=write_parameters,
            parameter_flush_s=parameter_flush_s,
            clock=self.clock,
            onboard_events=True,
            packet_time=packet_time,
        )
        self.batch_max_packets = batch_max_packets
        self.batch_max_age_s = batch_max_age_s
        self.on_commit = on_commit
        self.links: dict[str, Link] = {}
        for link in links:
            self.links[link.name] = link
        self._taps: list[tuple[frozenset[int], PacketTap]] = []
        self._queue: queue.Queue[Any] = queue.Queue(max_queued_batches)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.packets_archived = 0
        self.rejected_ranges = 0
        self.batches = 0
        self.errors = 0
        self.last_error: str | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Processor {state}, {len(self.links)} links, archive {self.archive!r}>"

    # -- lifetime ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def catching_up(self) -> bool:
        """True while the start-up catch-up runs."""
        return self._catch_up_thread is not None and self._catch_up_thread.is_alive()

    def start(self) -> None:
        """Start the worker thread, the catch-up, then every link.

        The catch-up (``catch_up_on_start``): the raw packets that have no committed
        parameters when the processor starts (a crash or a kill left them so) are decoded
        and their parameters committed, in a thread beside live processing (no alarms, nothing
        on the bus: they are old). It is logged and archived as events ("parameters behind
        raw by N packets", then "caught up N packets"), and shown by :meth:`stats`.
        """
        if self.running:
            return
        self.staleness.start(self.clock.now_ns())
        self._thread = threading.Thread(target=self._work, name="falak-processor", daemon=True)
        self._thread.start()
        self._event("info", "processor started")
        if self.catch_up_on_start:
            self._safe(self._start_catch_up)
        for link in self.links.values():
            link.start(self.submit)

    def _start_catch_up(self) -> None:
        # before any link starts: every packet without parameters now is an old one
        ranges = self.archive.packets_without_parameters()
        n = sum(b - a + 1 for a, b in ranges)
        if n == 0:
            return
        self._catch_up_behind, self._catch_up_done = n, 0
        self._catch_up_stop.clear()
        msg = f"parameters behind raw by {n:,} packets (ids {ranges_text(ranges)}): catching up"
        log.warning("processor: %s", msg)
        self._event("warning", msg, behind=n, ranges=[list(r) for r in ranges[:100]])
        self._catch_up_thread = threading.Thread(
            target=self._catch_up, args=(ranges,), name="falak-catch-up", daemon=True
        )
        self._catch_up_thread.start()

    def _catch_up(self, ranges: list[tuple[int, int]]) -> None:
        def progress(done: int, total: int) -> None:
            self._catch_up_done = done

        try:
            res = catch_up(
                self.archive,
                self.mdb,
                root=self.root,
                ranges=ranges,
                packet_time=self.chain.packet_time,
                # commits of a few live flushes' size: the live chain waits for the parameter
                # store while a catch-up batch is written
                batch_size=CATCH_UP_BATCH_PACKETS,
                stop=self._catch_up_stop,
                progress=progress,
            )
        except Exception as exc:  # reported like a failed batch; the next start tries again
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("processor: catch-up failed")
            self._event("critical", f"catch-up failed: {self.last_error}")
            return
        self.catch_up_result = res
        failed = sum(res.failed.values())
        if res.complete:
            msg = (
                f"caught up {res.packets:,} packets that had no parameters in "
                f"{res.seconds:.1f} s: {res.decoded:,} decoded, {failed:,} not decoded"
            )
            severity = "info"
        else:
            msg = (
                f"catch-up stopped after {res.packets:,} of {res.behind:,} packets; "
                "the next start goes on"
            )
            severity = "warning"
        log.info("processor: %s", msg)
        self._event(severity, msg, behind=res.behind, packets=res.packets, complete=res.complete)

    def wait_caught_up(self, timeout: float | None = None) -> bool:
        """Wait for the start-up catch-up to end; return True when none runs any more."""
        t = self._catch_up_thread
        if t is not None:
            t.join(timeout)
        return not self.catching_up

    def stop(self, timeout: float | None = None) -> None:
        """Stop the links, process what was received, write the buffered parameters, and
        stop the worker (the archive stays open). ``timeout`` (s) bounds the wait; by default
        it waits until everything is written."""
        for link in self.links.values():
            link.stop()
        self._catch_up_stop.set()  # it ends after its current batch; the next start goes on
        if self._catch_up_thread is not None:
            self._catch_up_thread.join(timeout)
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None
            self._event("info", "processor stopped")

    def __enter__(self) -> Processor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_link(self, link: Link) -> None:
        """Add a link (started at once if the processor runs)."""
        if link.name in self.links:
            raise InputError(f"a link named {link.name!r} exists; links: {', '.join(self.links)}")
        self.links[link.name] = link
        if self.running:
            link.start(self.submit)

    def tap(self, apids: Iterable[int], fn: PacketTap) -> None:
        """Call ``fn(packets, recv_time_ns)`` with the raw bytes of every received packet of
        one of ``apids``, in order, once it is archived (in the worker thread: be quick, or
        hand on). An exception in ``fn`` is counted and logged, never stops processing."""
        self._taps.append((frozenset(int(a) for a in apids), fn))

    # -- input ---------------------------------------------------------------------------

    def submit(self, batch: ReceivedBatch) -> None:
        """Queue a received batch (links call this from their threads; blocks when full)."""
        self._queue.put(batch)

    def subscribe(
        self,
        names: Sequence[str] | None = None,
        *,
        maxsize: int | None = None,
        notify: Callable[[], None] | None = None,
    ) -> Subscription:
        """Subscribe to parameters by qualified or short name (None: everything), or to the
        topics ``alarms``, ``staleness``, ``events``."""
        topics = None
        if names:
            special = {ALARMS_TOPIC, STALENESS_TOPIC, EVENTS_TOPIC}
            topics = [n if n in special else self.mdb.parameter(n).qualified_name for n in names]
        return self.bus.subscribe(topics, maxsize=maxsize, notify=notify)

    # -- the work ------------------------------------------------------------------------

    def _work(self) -> None:
        pending: list[ReceivedBatch] = []
        n_pending = 0
        first_at = 0.0
        next_tick = time.monotonic()
        stopping = False
        while not stopping:
            timeout = 0.1
            if pending:
                timeout = max(0.0, first_at + self.batch_max_age_s - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            while item is not None:
                if item is _STOP:
                    stopping = True
                    break
                if not pending:
                    first_at = time.monotonic()
                pending.append(item)
                n_pending += item.n_packets
                if n_pending >= self.batch_max_packets:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            now = time.monotonic()
            if pending and (
                stopping
                or n_pending >= self.batch_max_packets
                or now - first_at >= self.batch_max_age_s
            ):
                self._safe(self.process, pending)
                pending, n_pending = [], 0
            if now >= next_tick:
                next_tick = now + 0.1
                self._safe(self._tick)
        # anything queued after the stop marker (links already stopped) is processed too
        rest: list[ReceivedBatch] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                rest.append(item)
        if rest:
            self._safe(self.process, rest)
        self._safe(self.chain.flush)

    def _safe(self, fn: Callable[..., object], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:  # the worker must survive a bad batch; it is reported
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("processor: %s failed", getattr(fn, "__name__", fn))
            self._event("critical", f"processing failed: {self.last_error}")

    def _tick(self) -> None:
        now = self.clock.now_ns()
        self.alarms.tick(now)
        self.chain.report_decoder_errors(now_ns=now)
        self.chain.check_staleness(now)
        self.chain.flush(force=False)

    def process(self, batches: Sequence[ReceivedBatch]) -> NDArray[np.int64]:
        """Run received batches through the whole chain now (the worker calls this; so can
        a caller that runs no worker, such as file ingest). Return the raw-archive ids."""
        self.batches += 1
        for b in batches:
            for r in b.rejected:
                self.archive.append_rejected(
                    b.data,
                    r.start,
                    r.stop,
                    recv_time_ns=r.recv_time_ns,
                    link=b.link,
                    reason=r.reason,
                )
                self.rejected_ranges += 1
        full = [b for b in batches if b.n_packets]
        if not full:
            return np.zeros(0, np.int64)
        datas, offs, lens, times, links = [], [], [], [], []
        at = 0
        for b in full:
            d, o = b.compact()
            datas.append(d)
            offs.append(o + at)
            lens.append(b.lengths)
            times.append(b.recv_time_ns)
            links.append(np.full(b.n_packets, b.link, dtype=object))
            at += int(d.size)
        data = np.concatenate(datas) if len(datas) > 1 else datas[0]
        offsets = np.concatenate(offs)
        lengths = np.concatenate(lens)
        recv = np.concatenate(times)
        link_of = np.concatenate(links)
        ids = np.empty(offsets.size, dtype=np.int64)
        for name in dict.fromkeys(b.link for b in full):
            sel = np.flatnonzero(link_of == name) if len(full) > 1 else np.arange(offsets.size)
            got = self.archive.append_packets(
                data,
                offsets[sel],
                lengths[sel],
                recv_time_ns=recv[sel],
                link=name,
                packet_time=self.chain.packet_time.text,
            )
            ids[sel] = got
            self.packets_archived += int(sel.size)
            if self.on_commit is not None:
                self.on_commit(name, got)
        if self._taps:
            self._run_taps(data, offsets, lengths, recv)
        self.chain.run(data, offsets, lengths, recv, ids)
        return ids

    def _run_taps(
        self,
        data: NDArray[np.uint8],
        offsets: NDArray[np.int64],
        lengths: NDArray[np.int64],
        recv: NDArray[np.int64],
    ) -> None:
        ok = lengths >= 6
        apids = np.full(offsets.size, -1, dtype=np.int64)
        at = offsets[ok]
        apids[ok] = ((data[at].astype(np.int64) & 0x07) << 8) | data[at + 1]
        for wanted, fn in self._taps:
            sel = np.flatnonzero(np.isin(apids, list(wanted)))
            if not sel.size:
                continue
            packets = [bytes(data[offsets[i] : offsets[i] + lengths[i]]) for i in sel]
            try:
                fn(packets, recv[sel])
            except Exception as exc:  # a tap's bug must not stop the chain
                self.errors += 1
                self.last_error = f"packet tap {fn!r}: {exc!r}"
                log.exception("packet tap %r failed", fn)

    def flush(self) -> None:
        """Write buffered parameter samples now (callers of :meth:`process` without a
        worker call this at the end)."""
        self.chain.flush()

    # -- status --------------------------------------------------------------------------

    def stats(self) -> ProcessorStats:
        """A snapshot of the counters."""
        cs = self.chain.stats
        return ProcessorStats(
            running=self.running,
            packets_archived=self.packets_archived,
            rejected_ranges=self.rejected_ranges,
            batches=self.batches,
            queued_batches=self._queue.qsize(),
            decoded=cs.decoded,
            failed=dict(cs.failed),
            excess=dict(cs.excess),
            decoder_errors=dict(cs.decoder_errors),
            samples_written=cs.samples_written,
            reception_time_packets=cs.reception_time_packets,
            messages_published=cs.messages_published,
            last_latency_ms=cs.last_latency_ms,
            max_latency_ms=cs.max_latency_ms,
            active_alarms=len(self.alarms.active()),
            expired_parameters=len(self.staleness.expired),
            errors=self.errors,
            last_error=self.last_error,
            catching_up=self.catching_up,
            catch_up_behind=self._catch_up_behind,
            catch_up_done=self._catch_up_done,
        )

    def _event(self, severity: str, message: str, **attrs: Any) -> None:
        t = self.clock.now_ns()
        try:
            self.archive.append_event(t, "processor", severity, message, **attrs)
        except Exception:  # an event must never stop processing; it is logged instead
            log.exception("processor: cannot archive event %r", message)
        self.bus.publish(EVENTS_TOPIC, (t, severity, message))
