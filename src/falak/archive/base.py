"""The archive interface: raw packets, parameters, events, alarms and command history.

Every backend (:mod:`falak.archive.sqlite`, :mod:`falak.archive.postgres`) implements
:class:`Archive`. Times are int64 nanoseconds since the Unix epoch, UTC (``time_ns``); ranges are
half-open, ``start_ns <= t < stop_ns``, and ``None`` means unbounded. :func:`to_time_ns` and
:func:`from_time_ns` convert from and to numpy ``datetime64[ns]`` and aware datetimes.

Raw packets are durable when :meth:`Archive.append_packets` returns (committed; the SQLite WAL
is synced at the configured ``synchronous`` level). The parameter archive is derived data: it can
be rebuilt from the raw packets by replay (:meth:`Archive.delete_parameters`, then decode again).

Which raw packets have their parameters committed is recorded durably, as ranges of packet ids
(the *coverage*): :meth:`Archive.commit_parameters` writes the samples decoded from some packets
and marks those packets covered in one transaction, so after a crash
:meth:`Archive.packets_without_parameters` names exactly the packets to decode again, and a
packet is never archived twice (its rows are skipped when it is covered already).
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from falak.errors import FalakError, InputError

if TYPE_CHECKING:
    from falak.tm.tabular import Table

__all__ = [
    "ALARM_STATES",
    "AlarmRecord",
    "Archive",
    "ArchiveError",
    "Event",
    "PacketBatch",
    "PacketStats",
    "ParameterColumn",
    "ParameterSeries",
    "ParameterWrite",
    "SourceProgress",
    "StoredFile",
    "from_time_ns",
    "to_time_ns",
]

ALARM_STATES: tuple[str, ...] = ("triggered", "acknowledged", "shelved", "cleared", "normal")
"""States an :class:`AlarmRecord` can carry."""

EVENT_SEVERITIES: tuple[str, ...] = ("info", "watch", "warning", "distress", "critical", "severe")
"""Severities of events (Yamcs event severities, lower case)."""


class ArchiveError(FalakError):
    """An archive cannot be opened or is not in the expected format (names the fix)."""


# ---------------------------------------------------------------------------------------------
# Time helpers


def to_time_ns(value: Any) -> Any:
    """Convert a time or array of times to int64 nanoseconds since the Unix epoch (UTC).

    Accepts an aware :class:`datetime.datetime` (naive ones are refused: say which zone),
    ``numpy.datetime64`` scalars or arrays (taken as UTC), ints and int arrays (already ns).
    Returns an ``int`` for a scalar and an int64 array for an array.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise InputError(
                f"naive datetime {value.isoformat()} is ambiguous; "
                "give a timezone-aware UTC datetime (tzinfo=datetime.timezone.utc)"
            )
        delta = value.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ns]").astype(np.int64))
    if isinstance(value, int | np.integer):
        return int(value)
    arr = np.asarray(value)
    if arr.dtype.kind == "M":
        return arr.astype("datetime64[ns]").astype(np.int64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    raise InputError(
        f"cannot read {type(value).__name__} as a time; give an aware datetime, "
        "numpy datetime64 or int nanoseconds since 1970-01-01T00:00:00Z"
    )


def from_time_ns(value: Any, *, as_datetime: bool = False) -> Any:
    """Convert int64 ns since the epoch to ``datetime64[ns]`` (default) or an aware datetime.

    ``as_datetime=True`` is for scalars only (microsecond resolution, like ``datetime``).
    """
    if as_datetime:
        ns = int(value)
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ns // 1000)
    if np.ndim(value) == 0:
        return np.datetime64(int(value), "ns")
    return np.asarray(value, dtype=np.int64).astype("datetime64[ns]")


# ---------------------------------------------------------------------------------------------
# Records


@dataclass
class PacketBatch:
    """Archived packets as one buffer, ready for :meth:`falak.tm.decoder.Decoder.decode`.

    ``data[offsets[i]: offsets[i] + lengths[i]]`` is packet ``ids[i]``; rows are ordered by id.
    ``status`` is ``""`` for a packet that decoded (or was not decoded yet), else the reason it
    failed; ``links`` names the link each packet came in on.
    """

    ids: NDArray[np.int64]
    recv_time_ns: NDArray[np.int64]
    links: NDArray[np.object_]
    data: NDArray[np.uint8]
    offsets: NDArray[np.int64]
    lengths: NDArray[np.int64]
    status: NDArray[np.object_]
    apids: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    seq_counts: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.ids.size)

    def packet_bytes(self, index: int) -> bytes:
        """Return the bytes of row ``index``."""
        start = int(self.offsets[index])
        return self.data[start : start + int(self.lengths[index])].tobytes()


@dataclass
class PacketStats:
    """What the raw archive holds.

    ``rejected`` maps a reason to ``(ranges, bytes)`` for the bytes that were in no packet;
    ``failed`` maps a decode-failure reason to the number of packets marked with it.
    """

    n_packets: int
    by_apid: dict[int, int]
    first_recv_ns: int | None
    last_recv_ns: int | None
    rejected: dict[str, tuple[int, int]]
    failed: dict[str, int]


@dataclass
class ParameterColumn:
    """One parameter's values over the samples of a :meth:`Archive.write_parameters` call.

    ``raw`` and ``eng`` have one row per sample (2-D for fixed arrays, object arrays for strings,
    bytes and variable arrays). ``status`` holds :class:`~falak.mdb.model.AlarmLevel` values
    (None: no monitoring, read back as 0 = NORMAL); ``present`` masks samples where the
    parameter was absent (None: present everywhere). Absent samples are not returned by
    :meth:`Archive.read_parameter`.
    """

    raw: NDArray[Any]
    eng: NDArray[Any]
    status: NDArray[np.uint8] | None = None
    present: NDArray[np.bool_] | None = None


@dataclass
class SourceProgress:
    """How far the raw packets of one input (a file, by its content) are committed.

    ``key`` identifies the content (``sha256:HEX``); ``committed_bytes`` is where the next
    run goes on (bytes before it are archived as packets or rejected ranges); the input is
    done when it reaches ``size``. ``options`` are the splitting options it was started with.
    """

    key: str
    name: str
    size: int
    options: str
    committed_bytes: int
    started_ns: int
    updated_ns: int
    packet_time: str | None = None
    """The packet-time recipe its packets were last stamped with (``--packet-time`` text,
    :mod:`falak.processor.packettime`); None when not recorded (archives from before)."""

    @property
    def done(self) -> bool:
        """True when every byte is committed."""
        return self.committed_bytes >= self.size


@dataclass
class ParameterWrite:
    """The samples of one parameter group decoded from raw packets, for
    :meth:`Archive.commit_parameters`.

    ``packet_ids`` is the raw-archive id of the packet each row was decoded from (None: rows
    not tied to packets, always written).
    """

    group: str
    time_ns: NDArray[np.int64]
    columns: Mapping[str, ParameterColumn]
    packet_ids: NDArray[np.int64] | None = None


@dataclass
class ParameterSeries:
    """One parameter over a time range, ordered by time (stable for equal times)."""

    time_ns: NDArray[np.int64]
    raw: NDArray[Any]
    eng: NDArray[Any]
    status: NDArray[np.uint8]
    name: str = ""

    def __len__(self) -> int:
        return int(self.time_ns.size)

    @property
    def time(self) -> NDArray[np.datetime64]:
        """Sample times as ``datetime64[ns]`` (UTC)."""
        return self.time_ns.astype("datetime64[ns]")


@dataclass
class Event:
    """A timestamped message from a source (processor, link, user, script)."""

    id: int
    time_ns: int
    source: str
    severity: str
    message: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredFile:
    """A file received from a spacecraft (a CFDP transfer, a segmented image), as archived.

    ``checksum`` is the transfer's own (CFDP's modular checksum, as text ``"modular:1a2b3c4d"``,
    or another ``kind:hex``); ``sha256`` is the archive's of the bytes it holds. An incomplete
    file holds what arrived, with ``missing`` byte ranges ``[start, end)``. ``key`` names the
    transfer (e.g. ``"cfdp:1:42"``): storing a file with the same key again replaces it (same
    id), so a transfer resumed at the next contact ends as one complete file.
    """

    id: int
    time_ns: int
    name: str
    source: str
    size: int
    checksum: str
    sha256: str
    complete: bool
    key: str | None = None
    missing: tuple[tuple[int, int], ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class AlarmRecord:
    """A change in an alarm's life: triggered, acknowledged, shelved, cleared or back to normal.

    ``level`` is an :class:`~falak.mdb.model.AlarmLevel` name (``"WARNING"``); ``value`` the
    parameter's value as text.
    """

    time_ns: int
    parameter: str
    level: str
    value: str
    state: str
    user: str | None = None
    comment: str | None = None

    def validate(self) -> None:
        """Raise :class:`InputError` when the level or state is not one falak knows."""
        from falak.mdb.model import AlarmLevel

        if self.level not in AlarmLevel.__members__:
            raise InputError(
                f"alarm level {self.level!r} is unknown; use one of "
                f"{', '.join(AlarmLevel.__members__)}"
            )
        if self.state not in ALARM_STATES:
            raise InputError(
                f"alarm state {self.state!r} is unknown; use one of {', '.join(ALARM_STATES)}"
            )


# ---------------------------------------------------------------------------------------------
# Interface


class Archive(abc.ABC):
    """A crash-safe store of raw packets, parameters, events, alarms and command history."""

    location: str
    spacecraft: str | None = None
    """The spacecraft whose sub-archive this is; None for the archive root."""

    # ---- raw packets

    @abc.abstractmethod
    def append_packets(
        self,
        data: bytes | NDArray[np.uint8],
        offsets: NDArray[np.int64],
        lengths: NDArray[np.int64],
        *,
        recv_time_ns: NDArray[np.int64],
        link: str,
        source: tuple[str, int, int] | None = None,
        packet_time: str | None = None,
    ) -> NDArray[np.int64]:
        """Store packets durably; return their ids (increasing, never reused).

        ``data[offsets[i]: offsets[i] + lengths[i]]`` is packet ``i``; ``recv_time_ns`` is one
        time per packet (or a scalar for all). APID and sequence count are read from each
        primary header (CCSDS 133.0-B-2 §4.1.3).

        ``source=(key, from_byte, to_byte)`` moves the input ``key``'s committed offset (see
        :meth:`start_source`) from ``from_byte`` to ``to_byte`` in the same transaction; when
        it is not at ``from_byte`` (another run is ingesting the same input), nothing is
        stored and :class:`ArchiveError` says so.

        ``packet_time`` is the packet-time recipe the caller stamps these packets' parameters
        with (``--packet-time`` text); it is recorded for their ids
        (:meth:`packet_time_recipes`) and, with ``source``, as the input's recipe
        (:attr:`SourceProgress.packet_time`), in the same transaction, so that a resumed
        ingest and a replay stamp them the same way.
        """

    @abc.abstractmethod
    def append_rejected(
        self,
        data: bytes | NDArray[np.uint8],
        start: int,
        stop: int,
        *,
        recv_time_ns: int,
        link: str,
        reason: str,
        source: tuple[str, int, int] | None = None,
    ) -> int:
        """Store bytes ``data[start:stop]`` that were in no packet, with the reason; return id.

        ``source`` as for :meth:`append_packets`.
        """

    @abc.abstractmethod
    def read_rejected(
        self, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[tuple[int, int, str, str, bytes]]:
        """Return ``(id, recv_time_ns, link, reason, bytes)`` of archived rejected byte ranges."""

    @abc.abstractmethod
    def start_source(
        self,
        key: str,
        name: str,
        size: int,
        options: str,
        *,
        restart: bool = False,
        packet_time: str | None = None,
    ) -> SourceProgress:
        """Return the progress of input ``key``, recorded at offset 0 when new (or when
        ``restart``), with its packet-time recipe ``packet_time``."""

    @abc.abstractmethod
    def set_packet_time(self, ranges: Sequence[tuple[int, int]], recipe: str) -> None:
        """Record ``recipe`` for the packets in the inclusive id ``ranges`` (they were
        stamped again with it: a replay or catch-up told to use it), replacing what was
        recorded for them."""

    @abc.abstractmethod
    def packet_time_recipes(self) -> list[tuple[int, int, str]]:
        """Return ``(first_id, last_id, recipe)``: the packet-time recipe recorded for each
        inclusive range of packet ids (:meth:`append_packets`), by id; packets in no range
        were archived without one (live links, archives from before)."""

    @abc.abstractmethod
    def source_progress(self, key: str) -> SourceProgress | None:
        """Return the progress of input ``key``, or None when it was never started."""

    @abc.abstractmethod
    def advance_source(self, key: str, from_byte: int, to_byte: int) -> None:
        """Move input ``key``'s committed offset (bytes that hold nothing to store, such as
        the end of a file), checked as for ``source`` in :meth:`append_packets`."""

    @abc.abstractmethod
    def set_packet_status(self, ids: NDArray[np.int64], reasons: Sequence[str]) -> None:
        """Mark packets (e.g. ``"no_container"`` after decoding); ``""`` marks them good."""

    @abc.abstractmethod
    def read_packets(
        self,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        *,
        apids: Collection[int] | None = None,
        batch_size: int = 100_000,
        id_range: tuple[int, int] | None = None,
    ) -> Iterator[PacketBatch]:
        """Yield packets received in ``[start_ns, stop_ns)`` in id order, in batches.

        ``id_range=(first, last)`` keeps packets with ids ``first..last`` (inclusive) only.
        """

    @abc.abstractmethod
    def packet_stats(self) -> PacketStats:
        """Count packets by APID, rejected bytes by reason and failed decodes by reason."""

    # ---- parameters

    @abc.abstractmethod
    def write_parameters(
        self, group: str, time_ns: NDArray[np.int64], columns: Mapping[str, ParameterColumn]
    ) -> None:
        """Store the columns of one parameter group (a container's qualified name)."""

    @abc.abstractmethod
    def commit_parameters(
        self, writes: Sequence[ParameterWrite], packet_ids: NDArray[np.int64]
    ) -> int:
        """Store the samples decoded from raw packets ``packet_ids`` and mark those packets
        covered, in one transaction (see the module doc).

        ``packet_ids`` are all the packets the writes came from, including those that decoded
        to no sample (failed, or containers without parameters). Rows of packets that are
        covered already (processed by another process, or replayed twice) are not written.
        Return the number of such packets.
        """

    @abc.abstractmethod
    def parameter_coverage(self) -> list[tuple[int, int]]:
        """Return the ``(first_id, last_id)`` ranges (inclusive, sorted, disjoint) of raw
        packets whose parameters are committed."""

    @abc.abstractmethod
    def packets_without_parameters(self) -> list[tuple[int, int]]:
        """Return the ``(first_id, last_id)`` ranges (inclusive, sorted) of raw packets whose
        parameters are not committed yet: what replay must decode to bring the parameter
        archive up to the raw archive."""

    @abc.abstractmethod
    def read_parameter(
        self, name: str, start_ns: int | None = None, stop_ns: int | None = None
    ) -> ParameterSeries:
        """Return one parameter's present samples in ``[start_ns, stop_ns)``, all groups.

        ``name`` is a qualified name (column key) or a short name that only one archived
        parameter has (two such: :class:`~falak.errors.InputError`). A name never archived gives
        an empty series (float64); :meth:`parameter_names` lists what is archived.
        """

    def parameter_version(self, name: str) -> object | None:
        """Return a value that changes whenever ``name``'s archived samples change (written,
        merged, deleted), for readers that cache them; None: unknown (do not cache)."""
        return None

    @abc.abstractmethod
    def parameter_names(self) -> list[str]:
        """Return the qualified names (column keys) of every archived parameter, sorted."""

    @abc.abstractmethod
    def parameter_groups(self) -> dict[str, list[str]]:
        """Return the parameters archived under each group (container qualified name)."""

    @abc.abstractmethod
    def segment_stats(self) -> dict[str, tuple[int, int]]:
        """Return ``{group: (segments, samples)}`` of the parameter archive."""

    @abc.abstractmethod
    def delete_parameters(self, start_ns: int | None = None, stop_ns: int | None = None) -> int:
        """Delete the parameter samples of the packets received in ``[start_ns, stop_ns)``;
        return the samples deleted.

        A sample is one time row of one group (all its parameters go together). The range is
        one of *reception* times, as replay's (:meth:`read_packets`): the samples deleted are
        those decoded from the raw packets received in it, whatever their own (packet) time,
        and in the same transaction those packets lose their coverage (all packets without a
        range), so :meth:`packets_without_parameters` lists them until replay (or the
        catch-up when a processor starts) writes them again. Samples tied to no packet
        (:meth:`write_parameters`, or written by a falak that did not record packet ids) are
        deleted when their own time is in the range.
        """

    def export(
        self,
        names: Sequence[str],
        start_ns: int | None = None,
        stop_ns: int | None = None,
        *,
        raw: bool = False,
    ) -> Table:
        """Return the parameters aligned by time as a :class:`falak.tm.tabular.Table`.

        One row per distinct time; first column ``time`` (datetime64[ns] UTC), then one column
        per parameter (short name unless two share it); absent values are masked.
        """
        from falak.archive.export import export_parameters

        return export_parameters(self, names, start_ns, stop_ns, raw=raw)

    # ---- events, alarms, commands

    @abc.abstractmethod
    def append_event(
        self, time_ns: int, source: str, severity: str, message: str, **attrs: Any
    ) -> int:
        """Store an event; ``attrs`` are JSON-encodable extras. Return its id."""

    @abc.abstractmethod
    def read_events(self, start_ns: int | None = None, stop_ns: int | None = None) -> list[Event]:
        """Return events in ``[start_ns, stop_ns)`` ordered by time, then id."""

    @abc.abstractmethod
    def append_alarm(self, record: AlarmRecord) -> int:
        """Store an alarm record; return its id."""

    @abc.abstractmethod
    def read_alarms(
        self,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        parameter: str | None = None,
    ) -> list[AlarmRecord]:
        """Return alarm records in ``[start_ns, stop_ns)``, optionally of one parameter."""

    @abc.abstractmethod
    def append_command(self, record: Mapping[str, Any]) -> int:
        """Store a command-history entry (JSON attributes; ``time_ns`` is its time); return id."""

    @abc.abstractmethod
    def update_command(self, command_id: int, **attrs: Any) -> None:
        """Merge ``attrs`` into command ``command_id`` (e.g. a verifier's outcome)."""

    @abc.abstractmethod
    def read_commands(
        self, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[dict[str, Any]]:
        """Return command-history entries in ``[start_ns, stop_ns)``, each with its ``id``."""

    @abc.abstractmethod
    def save_stack(self, record: Mapping[str, Any]) -> None:
        """Store a command stack's record (JSON; keyed by its ``name``, replacing the last)."""

    @abc.abstractmethod
    def read_stacks(self) -> list[dict[str, Any]]:
        """Return every stored command stack's record, by name."""

    # ---- files

    @abc.abstractmethod
    def store_file(
        self,
        time_ns: int,
        name: str,
        data: bytes,
        *,
        source: str,
        checksum: str = "",
        complete: bool = True,
        missing: Sequence[tuple[int, int]] = (),
        key: str | None = None,
        **attrs: Any,
    ) -> int:
        """Store a received file with its metadata (replacing the one of the same ``key``);
        return its id."""

    @abc.abstractmethod
    def list_files(
        self, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[StoredFile]:
        """Return the files received in ``[start_ns, stop_ns)`` (metadata only), by time."""

    @abc.abstractmethod
    def read_file(self, file_id: int) -> tuple[StoredFile, bytes]:
        """Return file ``file_id``'s metadata and bytes; :class:`InputError` if unknown."""

    # ---- lifetime

    @abc.abstractmethod
    def close(self) -> None:
        """Close the archive (idempotent)."""

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"
