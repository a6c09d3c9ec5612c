"""The live processing chain: link → raw archive → decode → limits/alarms → bus → parameters.

:class:`Processor` hosts links and one worker thread. Links hand received batches to
:meth:`Processor.submit`; the worker gathers them into a processing batch until it holds
``batch_max_packets`` packets or its oldest packet waited ``batch_max_age_s`` (so latency
stays low at moderate rates and per-batch costs are shared at high rates), then:

1. stores the packets in the raw archive FIRST (durable when ``append_packets`` returns; the
   ``on_commit`` callback then reports the committed ids), and the rejected byte ranges;
2. decodes them in one batch (calibration, limits), marking packets that failed by reason;
3. feeds monitoring levels to the :class:`~falak.processor.alarms.AlarmManager`;
4. publishes each parameter's values (:class:`ParameterValues`) on the bus;
5. writes the parameters to the parameter archive (one group per container), buffered for up
   to ``parameter_flush_s`` (the parameter archive is derived data: replay rebuilds it).

Generation time of a packet: the value of the first absolute-time (``datetime64``) column
of its decoded container (e.g. a secondary-header on-board time), else its reception time.
Parameter samples are archived and published at that time; staleness runs on the reception
clock.

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

from falak.archive import Archive, ParameterColumn
from falak.bus import Bus, Subscription
from falak.errors import InputError
from falak.links.base import Link, ReceivedBatch
from falak.mdb.model import MissionDatabase
from falak.processor.alarms import ALARMS_TOPIC, AlarmManager
from falak.processor.staleness import STALENESS_TOPIC, Staleness, StalenessMonitor
from falak.tm.decoder import ContainerResult, Decoder

__all__ = [
    "EVENTS_TOPIC",
    "Chain",
    "ChainStats",
    "ParameterValues",
    "Processor",
    "ProcessorStats",
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
    ``recv_time_ns`` (indexed by ``res.packet_index``); NaT or absent samples fall back too."""
    recv = recv_time_ns[res.packet_index]
    for col in res.columns.values():
        if col.eng.dtype.kind == "M" and col.eng.ndim == 1:
            t = col.eng.astype("datetime64[ns]").view(np.int64)
            ok = ~np.isnat(col.eng)
            if col.present is not None:
                ok &= col.present
            return np.where(ok, t, recv)
    return recv.copy()


@dataclass
class ChainStats:
    """Counters of the decode side of the chain."""

    packets: int = 0
    decoded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    samples_written: int = 0
    """Parameter samples (rows × parameters) written to the parameter archive."""
    messages_published: int = 0
    last_latency_ms: float = 0.0
    """Reception of a batch's oldest packet to its publication on the bus."""
    max_latency_ms: float = 0.0


class _ParameterBuffer:
    """Decoded columns waiting to be written to the parameter archive, per container.

    Writing costs a fixed amount per parameter and call, so samples of several processing
    batches are written together (every ``flush_s`` seconds or ``max_samples`` rows).
    """

    def __init__(self) -> None:
        self.parts: dict[str, list[tuple[NDArray[np.int64], dict[str, ParameterColumn]]]] = {}
        self.rows = 0
        self.since = 0.0

    def add(self, group: str, t: NDArray[np.int64], cols: dict[str, ParameterColumn]) -> None:
        if not self.parts:
            self.since = time.monotonic()
        self.parts.setdefault(group, []).append((t, cols))
        self.rows += int(t.size)

    def flush(self, archive: Archive) -> int:
        """Write everything buffered; return the samples (rows x parameters) written."""
        written = 0
        for group, parts in self.parts.items():
            if len(parts) == 1:
                t, cols = parts[0]
            else:
                t = np.concatenate([p[0] for p in parts])
                keys = list(dict.fromkeys(k for _, c in parts for k in c))
                cols = {k: _join([(c.get(k), tt.size) for tt, c in parts]) for k in keys}
            archive.write_parameters(group, t, cols)
            written += int(t.size) * len(cols)
        self.parts.clear()
        self.rows = 0
        return written


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


class Chain:
    """Decode → alarms → bus → parameter archive, for packets already in the raw archive.

    Parameter samples are buffered and written every ``parameter_flush_s`` seconds (or at
    ``parameter_max_rows`` rows, or on :meth:`flush`): the parameter archive is derived data
    that replay rebuilds, and writing it costs a fixed amount per parameter and call.
    """

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
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.mdb = mdb
        self.parameter_flush_s = parameter_flush_s
        self.parameter_max_rows = parameter_max_rows
        self._buffer = _ParameterBuffer()
        self.archive = archive
        self.decoder = Decoder(mdb, root)
        self.bus = bus
        self.alarms = alarms
        self.staleness = staleness
        self.write_parameters = write_parameters
        self.mark_status = mark_status
        self.clock = clock
        self.stats = ChainStats()
        self._tracked: dict[str, list[str]] = {}

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
        res = self.decoder.decode(data, offsets, lengths)
        st = self.stats
        st.packets += n
        st.decoded += res.n_decoded
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
        now = self.clock()
        prepared = []
        for cres in res.containers:
            t = generation_times(cres, recv_time_ns)
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
            latency = (time.time_ns() - int(recv_time_ns.min())) / 1e6
            st.last_latency_ms = latency
            st.max_latency_ms = max(st.max_latency_ms, latency)
        if self.archive is not None and self.write_parameters:
            for cres, t in prepared:
                cols = {
                    k: ParameterColumn(c.raw, c.eng, c.monitoring, c.present)
                    for k, c in cres.columns.items()
                }
                self._buffer.add(cres.container, t, cols)
            self.flush(force=False)

    def flush(self, *, force: bool = True) -> None:
        """Write the buffered parameter samples (when due, or now with ``force``)."""
        buf = self._buffer
        if self.archive is None or not buf.parts:
            return
        if (
            force
            or buf.rows >= self.parameter_max_rows
            or time.monotonic() - buf.since >= self.parameter_flush_s
        ):
            self.stats.samples_written += buf.flush(self.archive)

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
    samples_written: int
    messages_published: int
    last_latency_ms: float
    max_latency_ms: float
    active_alarms: int
    expired_parameters: int
    errors: int
    last_error: str | None


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
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if batch_max_packets < 1 or batch_max_age_s < 0:
            raise InputError(
                f"batch limits must be >= 1 packet and >= 0 s, got {batch_max_packets} "
                f"and {batch_max_age_s}"
            )
        self.mdb = mdb
        self.archive = archive
        self.bus = bus if bus is not None else Bus()
        self.clock = clock
        self.alarms = AlarmManager(archive, self.bus, clock=clock)
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
            clock=clock,
        )
        self.batch_max_packets = batch_max_packets
        self.batch_max_age_s = batch_max_age_s
        self.on_commit = on_commit
        self.links: dict[str, Link] = {}
        for link in links:
            self.links[link.name] = link
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

    def start(self) -> None:
        """Start the worker thread, then every link."""
        if self.running:
            return
        self.staleness.start(self.clock())
        self._thread = threading.Thread(target=self._work, name="falak-processor", daemon=True)
        self._thread.start()
        self._event("info", "processor started")
        for link in self.links.values():
            link.start(self.submit)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the links, process what was received, write the buffered parameters, and
        stop the worker (the archive stays open). ``timeout`` (s) bounds the wait; by default
        it waits until everything is written."""
        for link in self.links.values():
            link.stop()
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
        now = self.clock()
        self.alarms.tick(now)
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
                data, offsets[sel], lengths[sel], recv_time_ns=recv[sel], link=name
            )
            ids[sel] = got
            self.packets_archived += int(sel.size)
            if self.on_commit is not None:
                self.on_commit(name, got)
        self.chain.run(data, offsets, lengths, recv, ids)
        return ids

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
            samples_written=cs.samples_written,
            messages_published=cs.messages_published,
            last_latency_ms=cs.last_latency_ms,
            max_latency_ms=cs.max_latency_ms,
            active_alarms=len(self.alarms.active()),
            expired_parameters=len(self.staleness.expired),
            errors=self.errors,
            last_error=self.last_error,
        )

    def _event(self, severity: str, message: str) -> None:
        t = self.clock()
        try:
            self.archive.append_event(t, "processor", severity, message)
        except Exception:  # an event must never stop processing; it is logged instead
            log.exception("processor: cannot archive event %r", message)
        self.bus.publish(EVENTS_TOPIC, (t, severity, message))
