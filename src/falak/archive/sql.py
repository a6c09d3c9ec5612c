"""The archive over SQL: one implementation shared by the SQLite and PostgreSQL backends.

Two stores (two SQLite files, or two connections to one PostgreSQL database):

* the **main store** holds raw packets (``packets``), bytes that were in no packet
  (``rejected``), ``events``, ``alarms`` and ``commands``: written durably, never rewritten
  (except a packet's decode status and a command's attributes); ``stacks``, each command
  stack's latest record by name (:mod:`falak.commanding.stack`); and ``sources``, how far each
  ingested file (by content) is committed, moved in the transactions that store its packets;
  and ``files``, files received from the spacecraft (CFDP transfers) with their metadata;
* the **parameter store** holds the parameter archive: ``segments`` (one row per parameter group
  and time range, with the sample times) and ``segment_values`` (one row per segment and
  parameter: raw, engineering, status and presence arrays encoded by
  :mod:`falak.archive.segments`). Each row carries its time range, indexed, so a range read
  touches only the segments it needs. A segment also records the raw packet id of each sample
  (``packets``; 0 for samples not decoded from an archived packet) and their least and
  greatest (``p_first``, ``p_last``), so a replay deletes exactly the samples of the packets it
  decodes again (:meth:`SqlArchive.delete_parameters`). Segments written by a falak from before
  these columns have none (NULL): their samples are deleted by their own time, as then.

Small writes (a live stream of a few packets per call) would leave many tiny segments, and
reads would pay per segment. So segments are merged like an LSM tree: a segment's *level* is
``floor(log8(n_samples))``; when the last 8 segments of a group share a level and a column
signature (and together hold at most :data:`SEGMENT_SAMPLES`), they become one segment of the
next level. Each sample is rewritten at most about 5 times however small the writes are.

The parameter store also holds the **coverage**: ranges ``(first_id, last_id)`` of raw packet
ids whose parameters are committed, written in the transaction that writes those parameters
(:meth:`SqlArchive.commit_parameters`). It is the durable high-water mark a restart replays
from: the raw packets outside it (:meth:`SqlArchive.packets_without_parameters`) are the ones a
crash left without parameters. Archives made before coverage existed are taken as covered up to
their last packet when they are first opened (meta key ``coverage``).

Subclasses supply the connection, the DDL dialect and transactions.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import itertools
import json
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from falak.archive.base import (
    AlarmRecord,
    Archive,
    Event,
    PacketBatch,
    PacketStats,
    ParameterColumn,
    ParameterSeries,
    ParameterWrite,
    SourceProgress,
    StoredFile,
)
from falak.archive.segments import decode_array, describe, encode_array
from falak.errors import InputError
from falak.tm.tabular import concat_values

SEGMENT_SAMPLES = 65_536
"""Most samples in one segment; larger writes are split."""
MERGE_FANOUT = 8
"""Segments of one level merged at a time (and the base of the level logarithm)."""
FORMAT_NAME = "falak-archive"
FORMAT_VERSION = "1"

MAIN_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packets (
    id {ID}, recv_time BIGINT NOT NULL, link TEXT NOT NULL, apid INTEGER NOT NULL,
    seq_count INTEGER NOT NULL, status TEXT NOT NULL DEFAULT '', data {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS packets_recv_time ON packets (recv_time);
CREATE TABLE IF NOT EXISTS rejected (
    id {AUTOID}, recv_time BIGINT NOT NULL, link TEXT NOT NULL, reason TEXT NOT NULL,
    n_bytes BIGINT NOT NULL, data {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS rejected_recv_time ON rejected (recv_time);
CREATE TABLE IF NOT EXISTS events (
    id {AUTOID}, time BIGINT NOT NULL, source TEXT NOT NULL, severity TEXT NOT NULL,
    message TEXT NOT NULL, attrs TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE TABLE IF NOT EXISTS alarms (
    id {AUTOID}, time BIGINT NOT NULL, parameter TEXT NOT NULL, level TEXT NOT NULL,
    value TEXT NOT NULL, state TEXT NOT NULL, user_name TEXT, comment_text TEXT);
CREATE INDEX IF NOT EXISTS alarms_time ON alarms (time);
CREATE TABLE IF NOT EXISTS commands (id {AUTOID}, time BIGINT NOT NULL, attrs TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS commands_time ON commands (time);
CREATE TABLE IF NOT EXISTS stacks (
    name TEXT PRIMARY KEY, time BIGINT NOT NULL, attrs TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    key TEXT PRIMARY KEY, name TEXT NOT NULL, size BIGINT NOT NULL, options TEXT NOT NULL,
    committed BIGINT NOT NULL, started BIGINT NOT NULL, updated BIGINT NOT NULL,
    packet_time TEXT);
CREATE TABLE IF NOT EXISTS packet_times (
    first_id BIGINT PRIMARY KEY, last_id BIGINT NOT NULL, recipe TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id {AUTOID}, time BIGINT NOT NULL, name TEXT NOT NULL, source TEXT NOT NULL,
    size BIGINT NOT NULL, checksum TEXT NOT NULL, sha256 TEXT NOT NULL, complete INTEGER NOT NULL,
    file_key TEXT UNIQUE, attrs TEXT NOT NULL, data {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS files_time ON files (time);
"""

PARAM_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    id {AUTOID}, grp TEXT NOT NULL, t_start BIGINT NOT NULL, t_stop BIGINT NOT NULL,
    n INTEGER NOT NULL, level INTEGER NOT NULL, signature TEXT NOT NULL, time {BLOB} NOT NULL,
    packets {BLOB}, p_first BIGINT, p_last BIGINT);
CREATE INDEX IF NOT EXISTS segments_grp ON segments (grp, id);
CREATE INDEX IF NOT EXISTS segments_time ON segments (t_start);
CREATE TABLE IF NOT EXISTS segment_values (
    segment_id BIGINT NOT NULL, name TEXT NOT NULL, t_start BIGINT NOT NULL,
    t_stop BIGINT NOT NULL, raw {BLOB} NOT NULL, eng {BLOB}, status {BLOB}, present {BLOB},
    PRIMARY KEY (segment_id, name));
CREATE INDEX IF NOT EXISTS segment_values_name ON segment_values (name, t_start);
CREATE TABLE IF NOT EXISTS parameters (
    name TEXT NOT NULL, grp TEXT NOT NULL, raw_empty {BLOB} NOT NULL, eng_empty {BLOB} NOT NULL,
    PRIMARY KEY (name, grp));
CREATE TABLE IF NOT EXISTS coverage (first_id BIGINT PRIMARY KEY, last_id BIGINT NOT NULL);
"""

ADDED_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    MAIN_SCHEMA: (("sources", "packet_time", "TEXT"),),
    PARAM_SCHEMA: (
        ("segments", "packets", "{BLOB}"),
        ("segments", "p_first", "BIGINT"),
        ("segments", "p_last", "BIGINT"),
    ),
}
"""Columns added to format 1 after it was first released (added on open, NULL in old rows)."""


# ---------------------------------------------------------------------------------------------
# JSON attributes (events, commands)


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, bytes | bytearray | memoryview):
        return {"$bytes": bytes(v).hex()}
    if hasattr(v, "isoformat"):
        return v.isoformat()
    raise InputError(
        f"cannot store a value of type {type(v).__name__} as a JSON attribute; "
        "use numbers, strings, bytes, lists, dicts or datetimes"
    )


def _json_hook(d: dict[str, Any]) -> Any:
    if len(d) == 1 and "$bytes" in d:
        return bytes.fromhex(d["$bytes"])
    return d


def dumps(obj: Any) -> str:
    """Encode attributes as JSON text (bytes as ``{"$bytes": hex}``)."""
    return json.dumps(obj, default=_json_default, allow_nan=True)


def loads(text: str) -> Any:
    """Decode attributes written by :func:`dumps`."""
    return json.loads(text, object_hook=_json_hook)


# ---------------------------------------------------------------------------------------------
# helpers


def _as_bytes_array(data: bytes | bytearray | memoryview | NDArray[np.uint8]) -> NDArray[np.uint8]:
    if isinstance(data, bytes | bytearray | memoryview):
        return np.frombuffer(data, dtype=np.uint8)
    arr = np.asarray(data)
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise InputError(f"packet data must be bytes or a 1-D uint8 array, got {arr.dtype}")
    return arr


def _range_sql(col: str, start_ns: int | None, stop_ns: int | None) -> tuple[str, list[Any]]:
    parts: list[str] = []
    args: list[Any] = []
    if start_ns is not None:
        parts.append(f"{col} >= ?")
        args.append(int(start_ns))
    if stop_ns is not None:
        parts.append(f"{col} < ?")
        args.append(int(stop_ns))
    return (" AND ".join(parts) if parts else "1=1"), args


def id_ranges(ids: NDArray[np.int64]) -> list[tuple[int, int]]:
    """Return the ``(first, last)`` runs of consecutive values in sorted unique ``ids``."""
    if ids.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(ids) != 1)
    firsts = np.concatenate([ids[:1], ids[breaks + 1]])
    lasts = np.concatenate([ids[breaks], ids[-1:]])
    return list(zip(firsts.tolist(), lasts.tolist(), strict=True))


def _normalise(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort ranges and merge those that overlap or touch."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def in_ranges(ids: NDArray[np.int64], ranges: Sequence[tuple[int, int]]) -> NDArray[np.bool_]:
    """Mask of ``ids`` inside any of the sorted, disjoint inclusive ``ranges``."""
    if not ranges or ids.size == 0:
        return np.zeros(ids.shape, dtype=bool)
    firsts = np.array([a for a, _ in ranges], dtype=np.int64)
    lasts = np.array([b for _, b in ranges], dtype=np.int64)
    at = np.searchsorted(firsts, ids, side="right") - 1
    return (at >= 0) & (ids <= lasts[np.maximum(at, 0)])


def _take_rows(col: ParameterColumn, keep: NDArray[np.bool_]) -> ParameterColumn:
    raw = np.asarray(col.raw)[keep]
    eng = raw if col.eng is col.raw else np.asarray(col.eng)[keep]
    return ParameterColumn(
        raw,
        eng,
        None if col.status is None else np.asarray(col.status)[keep],
        None if col.present is None else np.asarray(col.present)[keep],
    )


def _level(n: int) -> int:
    level = 0
    while n >= MERGE_FANOUT:
        n //= MERGE_FANOUT
        level += 1
    return level


def _same_bits(a: NDArray[Any], b: NDArray[Any]) -> bool:
    if a is b:
        return True
    if a.dtype != b.dtype or a.shape != b.shape or a.dtype.kind == "O":
        return False
    return bool(
        np.array_equal(
            np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8)
        )
    )


@dataclass
class _Seg:
    """A segment loaded whole (for merging and partial deletes)."""

    id: int
    time: NDArray[np.int64]
    values: dict[
        str, tuple[NDArray[Any], NDArray[Any], NDArray[np.uint8] | None, NDArray[np.bool_] | None]
    ]
    packets: NDArray[np.int64] | None = None
    """Raw packet id of each sample (0: none); None for a segment that never recorded them."""


class Store:
    """One connection and the lock that serialises its use across threads."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.lock = threading.RLock()


# ---------------------------------------------------------------------------------------------


class SqlArchive(Archive):
    """:class:`Archive` over two SQL stores; subclasses give connections and dialect."""

    #: DDL fragments: {ID} explicit integer key, {AUTOID} generated key, {BLOB} binary column
    DIALECT: ClassVar[dict[str, str]] = {}
    PLACEHOLDER = "?"

    main: Store
    params: Store
    _closed: bool = False

    @functools.cached_property
    def _known_parameters(self) -> set[tuple[str, str, str, str]]:
        """(name, group, raw dtype, eng dtype) rows this process has committed."""
        return set()

    # ---- dialect hooks

    @abc.abstractmethod
    def _transaction(self, store: Store) -> contextlib.AbstractContextManager[Any]:
        """Context manager: a write transaction on ``store`` yielding a cursor (lock held)."""

    @abc.abstractmethod
    def _cursor(self, store: Store) -> Any:
        """A cursor for reads outside a write transaction (lock held by the caller)."""

    @abc.abstractmethod
    def _lock_packets(self, cur: Any) -> None:
        """Serialise packet-id allocation among writers (inside a write transaction)."""

    def _lock_coverage(self, cur: Any) -> None:
        """Serialise coverage updates among writers (inside a parameter-store transaction)."""

    @abc.abstractmethod
    def _has_column(self, cur: Any, table: str, column: str) -> bool:
        """True when ``table`` of the store ``cur`` works on has ``column``."""

    def _sql(self, sql: str) -> str:
        return sql if self.PLACEHOLDER == "?" else sql.replace("?", self.PLACEHOLDER)

    def _ddl(self, schema: str) -> list[str]:
        text = schema
        for key, value in self.DIALECT.items():
            text = text.replace("{" + key + "}", value)
        return [s.strip() for s in text.split(";") if s.strip()]

    def _query(self, store: Store, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with store.lock:
            self._check_open()
            cur = self._cursor(store)
            cur.execute(self._sql(sql), tuple(args))
            rows = cur.fetchall()
            cur.close()
            return list(rows)

    def _check_open(self) -> None:
        if self._closed:
            raise InputError(f"archive {self.location} is closed; open it again")

    def _init_schema(self, store: Store, schema: str) -> None:
        with self._transaction(store) as cur:
            for stmt in self._ddl(schema):
                cur.execute(stmt)
            for table, col, kind in ADDED_COLUMNS.get(schema, ()):
                if not self._has_column(cur, table, col):
                    cur.execute(
                        f"ALTER TABLE {table} ADD COLUMN {col} {kind.format(**self.DIALECT)}"
                    )
            if schema is PARAM_SCHEMA:
                cur.execute("CREATE INDEX IF NOT EXISTS segments_packets ON segments (p_last)")
            cur.execute(self._sql("SELECT value FROM meta WHERE key = ?"), ("format",))
            row = cur.fetchone()
            if row is None:
                cur.execute(
                    self._sql("INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)"),
                    ("format", FORMAT_NAME, "version", FORMAT_VERSION),
                )

    def _init_coverage(self) -> None:
        """Start coverage on an archive that has none yet (new, or made by an older falak).

        An older archive's parameters are taken as complete up to its last packet (it had no
        way to tell otherwise); a new one starts with nothing covered.
        """
        rows = self._query(self.params, "SELECT value FROM meta WHERE key = ?", ["coverage"])
        if rows:
            return
        last_id = int(self._query(self.main, "SELECT COALESCE(MAX(id), 0) FROM packets")[0][0])
        with self._transaction(self.params) as cur:
            self._lock_coverage(cur)
            cur.execute(self._sql("SELECT value FROM meta WHERE key = ?"), ("coverage",))
            if cur.fetchone() is not None:
                return  # another process did it meanwhile
            cur.execute("SELECT COUNT(*) FROM segments")
            if int(cur.fetchone()[0]) and last_id:
                cur.execute(
                    self._sql("INSERT INTO coverage (first_id, last_id) VALUES (?, ?)"),
                    (1, last_id),
                )
            cur.execute(self._sql("INSERT INTO meta (key, value) VALUES (?, ?)"), ("coverage", "1"))

    def _check_format(self, store: Store, what: str) -> None:
        from falak.archive.base import ArchiveError

        rows = dict(self._query(store, "SELECT key, value FROM meta"))
        if rows.get("format") != FORMAT_NAME or rows.get("version") != FORMAT_VERSION:
            raise ArchiveError(
                f"{what} is not a falak archive of format version {FORMAT_VERSION} "
                f"(found format={rows.get('format')!r}, version={rows.get('version')!r}); "
                "point at a falak archive or an empty location"
            )

    # ---- raw packets

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
        arr = _as_bytes_array(data)
        off = np.asarray(offsets, dtype=np.int64).ravel()
        ln = np.asarray(lengths, dtype=np.int64).ravel()
        if off.shape != ln.shape:
            raise InputError(f"offsets ({off.size}) and lengths ({ln.size}) must match in size")
        n = int(off.size)
        times = np.broadcast_to(np.asarray(recv_time_ns, dtype=np.int64), (n,))
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        if off.min() < 0 or ln.min() < 0 or int((off + ln).max()) > arr.size:
            raise InputError(
                f"packets must lie inside the data (0..{arr.size} bytes): "
                f"offsets {off.min()}..{off.max()}, lengths {ln.min()}..{ln.max()}"
            )
        # imported here: falak.ccsds compiles numba kernels, too slow for `falak --help`
        from falak.ccsds.spacepacket import PRIMARY_HEADER_BYTES, primary_header_fields

        apid = np.full(n, -1, dtype=np.int64)
        seq = np.full(n, -1, dtype=np.int64)
        ok = ln >= PRIMARY_HEADER_BYTES
        if ok.any():
            fields = primary_header_fields(arr, off[ok])
            apid[ok] = fields["apid"]
            seq[ok] = fields["seq_count"]
        lo = int(off.min())  # copy only the span the packets cover, not a whole file buffer
        buf = arr[lo : int((off + ln).max())].tobytes()
        blobs = [buf[o : o + k] for o, k in zip((off - lo).tolist(), ln.tolist(), strict=True)]
        with self._transaction(self.main) as cur:
            if source is not None:
                self._advance_source(cur, *source)
            self._lock_packets(cur)
            cur.execute("SELECT COALESCE(MAX(id), 0) FROM packets")
            base = int(cur.fetchone()[0])
            ids = np.arange(base + 1, base + 1 + n, dtype=np.int64)
            if packet_time is not None:
                self._record_packet_time(cur, base + 1, base + n, packet_time)
                if source is not None:
                    cur.execute(
                        self._sql("UPDATE sources SET packet_time = ? WHERE key = ?"),
                        (packet_time, source[0]),
                    )
            self._insert_packets(
                cur,
                list(
                    zip(
                        ids.tolist(),
                        times.tolist(),
                        [link] * n,
                        apid.tolist(),
                        seq.tolist(),
                        blobs,
                        strict=True,
                    )
                ),
            )
        return ids

    def _record_packet_time(self, cur: Any, first: int, last: int, recipe: str) -> None:
        """Record ``recipe`` for packets ``first..last`` (extending the range just before)."""
        cur.execute(
            self._sql("SELECT first_id, recipe FROM packet_times WHERE last_id = ?"), (first - 1,)
        )
        row = cur.fetchone()
        if row is not None and row[1] == recipe:
            cur.execute(
                self._sql("UPDATE packet_times SET last_id = ? WHERE first_id = ?"),
                (last, int(row[0])),
            )
            return
        cur.execute(
            self._sql("INSERT INTO packet_times (first_id, last_id, recipe) VALUES (?, ?, ?)"),
            (first, last, recipe),
        )

    def set_packet_time(self, ranges: Sequence[tuple[int, int]], recipe: str) -> None:
        todo = _normalise([(int(a), int(b)) for a, b in ranges])
        if not todo:
            return
        with self._transaction(self.main) as cur:
            lo, hi = todo[0][0], todo[-1][1]
            cur.execute(
                self._sql(
                    "SELECT first_id, last_id, recipe FROM packet_times "
                    "WHERE first_id <= ? AND last_id >= ? ORDER BY first_id"
                ),
                (hi + 1, lo - 1),
            )
            old = [(int(a), int(b), str(r)) for a, b, r in cur.fetchall()]
            pieces = [(a, b, recipe) for a, b in todo]
            for a, b, r in old:  # what stays of each old range outside the new ones
                at = a
                for x, y in todo:
                    if y < at or x > b:
                        continue
                    if x > at:
                        pieces.append((at, x - 1, r))
                    at = max(at, y + 1)
                if at <= b:
                    pieces.append((at, b, r))
            merged: list[tuple[int, int, str]] = []
            for a, b, r in sorted(pieces):
                if merged and merged[-1][2] == r and merged[-1][1] + 1 >= a:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], b), r)
                else:
                    merged.append((a, b, r))
            if old:
                marks = ", ".join("?" * len(old))
                cur.execute(
                    self._sql(f"DELETE FROM packet_times WHERE first_id IN ({marks})"),
                    [a for a, _, _ in old],
                )
            cur.executemany(
                self._sql("INSERT INTO packet_times (first_id, last_id, recipe) VALUES (?, ?, ?)"),
                merged,
            )

    def packet_time_recipes(self) -> list[tuple[int, int, str]]:
        rows = self._query(
            self.main, "SELECT first_id, last_id, recipe FROM packet_times ORDER BY first_id"
        )
        return [(int(a), int(b), str(r)) for a, b, r in rows]

    def _insert_packets(self, cur: Any, rows: list[tuple[int, int, str, int, int, bytes]]) -> None:
        """Insert ``(id, recv_time, link, apid, seq_count, data)`` rows (status '')."""
        cur.executemany(
            self._sql(
                "INSERT INTO packets (id, recv_time, link, apid, seq_count, status, data) "
                "VALUES (?, ?, ?, ?, ?, '', ?)"
            ),
            rows,
        )

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
        arr = _as_bytes_array(data)
        if not 0 <= start <= stop <= arr.size:
            raise InputError(f"rejected range {start}..{stop} must lie inside 0..{arr.size}")
        blob = arr[start:stop].tobytes()
        with self._transaction(self.main) as cur:
            if source is not None:
                self._advance_source(cur, *source)
            cur.execute(
                self._sql(
                    "INSERT INTO rejected (recv_time, link, reason, n_bytes, data) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING id"
                ),
                (int(recv_time_ns), link, reason, len(blob), blob),
            )
            return int(cur.fetchone()[0])

    def read_rejected(
        self, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[tuple[int, int, str, str, bytes]]:
        """Return ``(id, recv_time_ns, link, reason, bytes)`` of rejected byte ranges."""
        where, args = _range_sql("recv_time", start_ns, stop_ns)
        rows = self._query(
            self.main,
            f"SELECT id, recv_time, link, reason, data FROM rejected WHERE {where} ORDER BY id",
            args,
        )
        return [(int(r[0]), int(r[1]), r[2], r[3], bytes(r[4])) for r in rows]

    # ---- sources (resumable ingest)

    def _advance_source(self, cur: Any, key: str, from_byte: int, to_byte: int) -> None:
        cur.execute(
            self._sql(
                "UPDATE sources SET committed = ?, updated = ? WHERE key = ? AND committed = ?"
            ),
            (int(to_byte), time.time_ns(), key, int(from_byte)),
        )
        if cur.rowcount != 1:
            from falak.archive.base import ArchiveError

            cur.execute(self._sql("SELECT committed FROM sources WHERE key = ?"), (key,))
            row = cur.fetchone()
            found = "never started" if row is None else f"at byte {int(row[0]):,}"
            raise ArchiveError(
                f"input {key} is {found} in {self.location}, not at byte {from_byte:,}: "
                "another run is ingesting the same file; let it finish (or stop it) and run "
                "again"
            )

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
        now = time.time_ns()
        with self._transaction(self.main) as cur:
            cur.execute(self._sql("SELECT key FROM sources WHERE key = ?"), (key,))
            if cur.fetchone() is None:
                cur.execute(
                    self._sql(
                        "INSERT INTO sources (key, name, size, options, committed, started, "
                        "updated, packet_time) VALUES (?, ?, ?, ?, 0, ?, ?, ?)"
                    ),
                    (key, name, int(size), options, now, now, packet_time),
                )
            elif restart:
                cur.execute(
                    self._sql(
                        "UPDATE sources SET name = ?, size = ?, options = ?, committed = 0, "
                        "started = ?, updated = ?, packet_time = ? WHERE key = ?"
                    ),
                    (name, int(size), options, now, now, packet_time, key),
                )
        progress = self.source_progress(key)
        assert progress is not None  # written above
        return progress

    def source_progress(self, key: str) -> SourceProgress | None:
        rows = self._query(
            self.main,
            "SELECT key, name, size, options, committed, started, updated, packet_time "
            "FROM sources WHERE key = ?",
            [key],
        )
        if not rows:
            return None
        k, name, size, options, committed, started, updated, recipe = rows[0]
        return SourceProgress(
            k, name, int(size), options, int(committed), int(started), int(updated), recipe
        )

    def advance_source(self, key: str, from_byte: int, to_byte: int) -> None:
        with self._transaction(self.main) as cur:
            self._advance_source(cur, key, from_byte, to_byte)

    # ---- packet status

    def set_packet_status(self, ids: NDArray[np.int64], reasons: Sequence[str] | str) -> None:
        id_list = np.asarray(ids, dtype=np.int64).ravel().tolist()
        reason_list = [reasons] * len(id_list) if isinstance(reasons, str) else list(reasons)
        if len(reason_list) != len(id_list):
            raise InputError(
                f"set_packet_status needs one reason per id: {len(id_list)} ids, "
                f"{len(reason_list)} reasons"
            )
        if not id_list:
            return
        with self._transaction(self.main) as cur:
            cur.executemany(
                self._sql("UPDATE packets SET status = ? WHERE id = ?"),
                list(zip(reason_list, id_list, strict=True)),
            )

    def read_packets(
        self,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        *,
        apids: Collection[int] | None = None,
        batch_size: int = 100_000,
        id_range: tuple[int, int] | None = None,
    ) -> Iterator[PacketBatch]:
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        where, args = _range_sql("recv_time", start_ns, stop_ns)
        last = 0
        if id_range is not None:
            last = int(id_range[0]) - 1
            where += " AND id <= ?"
            args.append(int(id_range[1]))
        if apids is not None:
            apid_list = sorted({int(a) for a in apids})
            if not apid_list:
                return
            where += f" AND apid IN ({', '.join('?' * len(apid_list))})"
            args += apid_list
        while True:
            rows = self._query(
                self.main,
                "SELECT id, recv_time, link, apid, seq_count, status, data FROM packets "
                f"WHERE id > ? AND {where} ORDER BY id LIMIT ?",
                [last, *args, batch_size],
            )
            if not rows:
                return
            yield _packet_batch(rows)
            last = int(rows[-1][0])
            if len(rows) < batch_size:
                return

    def packet_stats(self) -> PacketStats:
        n, t0, t1 = self._query(
            self.main, "SELECT COUNT(*), MIN(recv_time), MAX(recv_time) FROM packets"
        )[0]
        by_apid = {
            int(a): int(c)
            for a, c in self._query(
                self.main, "SELECT apid, COUNT(*) FROM packets GROUP BY apid ORDER BY apid"
            )
        }
        rejected = {
            r: (int(c), int(b))
            for r, c, b in self._query(
                self.main,
                "SELECT reason, COUNT(*), SUM(n_bytes) FROM rejected "
                "GROUP BY reason ORDER BY reason",
            )
        }
        failed = {
            s: int(c)
            for s, c in self._query(
                self.main,
                "SELECT status, COUNT(*) FROM packets WHERE status <> '' "
                "GROUP BY status ORDER BY status",
            )
        }
        return PacketStats(
            n_packets=int(n),
            by_apid=by_apid,
            first_recv_ns=None if t0 is None else int(t0),
            last_recv_ns=None if t1 is None else int(t1),
            rejected=rejected,
            failed=failed,
        )

    # ---- parameters

    def write_parameters(
        self, group: str, time_ns: NDArray[np.int64], columns: Mapping[str, ParameterColumn]
    ) -> None:
        t, order, cols = self._prepare(group, time_ns, columns)
        new_rows: set[tuple[str, str, str, str]] = set()
        with self.params.lock:  # the cache is updated only once the rows are committed
            with self._transaction(self.params) as cur:
                self._write_segments(cur, group, t, order, cols, new_rows, None)
            self._known_parameters.update(new_rows)

    def commit_parameters(
        self, writes: Sequence[ParameterWrite], packet_ids: NDArray[np.int64]
    ) -> int:
        ids = np.unique(np.asarray(packet_ids, dtype=np.int64).ravel())
        new_rows: set[tuple[str, str, str, str]] = set()
        with self.params.lock:
            with self._transaction(self.params) as cur:
                self._lock_coverage(cur)
                covered = self._coverage(cur)
                done = in_ranges(ids, covered)
                for w in writes:
                    cols = w.columns
                    t = np.asarray(w.time_ns)
                    pids = None
                    if w.packet_ids is not None:
                        pids = np.asarray(w.packet_ids, dtype=np.int64).ravel()
                        if pids.shape != t.shape:
                            raise InputError(
                                f"group {w.group}: {pids.size} packet ids for {t.size} times; "
                                "give one packet id per time"
                            )
                    if pids is not None and done.any():
                        keep = ~in_ranges(pids, covered)
                        if not keep.all():
                            t = t[keep]
                            pids = pids[keep]
                            cols = {k: _take_rows(c, keep) for k, c in cols.items()}
                    tt, order, prepared = self._prepare(w.group, t, cols)
                    if pids is not None and order is not None:
                        pids = pids[order]
                    self._write_segments(cur, w.group, tt, order, prepared, new_rows, pids)
                for a, b in id_ranges(ids[~done]):
                    self._cover(cur, a, b)
            self._known_parameters.update(new_rows)
        return int(done.sum())

    def _coverage(self, cur: Any) -> list[tuple[int, int]]:
        cur.execute("SELECT first_id, last_id FROM coverage ORDER BY first_id")
        return _normalise([(int(a), int(b)) for a, b in cur.fetchall()])

    def _cover(self, cur: Any, first: int, last: int) -> None:
        """Add ``first..last`` to the coverage, merged with the ranges it touches."""
        cur.execute(
            self._sql(
                "SELECT first_id, last_id FROM coverage WHERE first_id <= ? AND last_id >= ?"
            ),
            (last + 1, first - 1),
        )
        touching = [(int(a), int(b)) for a, b in cur.fetchall()]
        for a, b in touching:
            first, last = min(first, a), max(last, b)
        if touching:
            marks = ", ".join("?" * len(touching))
            cur.execute(
                self._sql(f"DELETE FROM coverage WHERE first_id IN ({marks})"),
                [a for a, _ in touching],
            )
        cur.execute(
            self._sql("INSERT INTO coverage (first_id, last_id) VALUES (?, ?)"), (first, last)
        )

    def _uncover(self, cur: Any, ranges: Sequence[tuple[int, int]]) -> None:
        """Remove the inclusive ``ranges`` from the coverage."""
        for first, last in ranges:
            cur.execute(
                self._sql(
                    "SELECT first_id, last_id FROM coverage WHERE first_id <= ? AND last_id >= ?"
                ),
                (last, first),
            )
            for a, b in [(int(a), int(b)) for a, b in cur.fetchall()]:
                cur.execute(self._sql("DELETE FROM coverage WHERE first_id = ?"), (a,))
                for lo, hi in ((a, first - 1), (last + 1, b)):
                    if lo <= hi:
                        cur.execute(
                            self._sql("INSERT INTO coverage (first_id, last_id) VALUES (?, ?)"),
                            (lo, hi),
                        )

    def parameter_coverage(self) -> list[tuple[int, int]]:
        rows = self._query(self.params, "SELECT first_id, last_id FROM coverage")
        return _normalise([(int(a), int(b)) for a, b in rows])

    def packets_without_parameters(self) -> list[tuple[int, int]]:
        # packet ids are dense (1, 2, ...: allocated as MAX(id) + 1, never deleted)
        last_id = int(self._query(self.main, "SELECT COALESCE(MAX(id), 0) FROM packets")[0][0])
        out: list[tuple[int, int]] = []
        at = 1
        for a, b in self.parameter_coverage():
            if a > last_id:
                break
            if a > at:
                out.append((at, a - 1))
            at = max(at, b + 1)
        if at <= last_id:
            out.append((at, last_id))
        return out

    def _prepare(
        self, group: str, time_ns: NDArray[np.int64], columns: Mapping[str, ParameterColumn]
    ) -> tuple[NDArray[np.int64], NDArray[np.intp] | None, dict[str, ParameterColumn]]:
        """Check one group's columns against its times; sort the times (order: None if sorted)."""
        t = np.asarray(time_ns)
        if t.dtype.kind == "M":
            t = t.astype("datetime64[ns]").astype(np.int64)
        t = t.astype(np.int64, copy=False).ravel()
        n = int(t.size)
        cols: dict[str, ParameterColumn] = {}
        for name, col in columns.items():
            raw = np.asarray(col.raw)
            eng = np.asarray(col.eng)
            status = None if col.status is None else np.asarray(col.status, dtype=np.uint8)
            present = None if col.present is None else np.asarray(col.present, dtype=bool)
            for what, a in (("raw", raw), ("eng", eng), ("status", status), ("present", present)):
                if a is not None and (a.ndim == 0 or a.shape[0] != n):
                    raise InputError(
                        f"parameter {name}: {what} has {a.shape[0] if a.ndim else 0} samples "
                        f"but there are {n} times; give one value per time"
                    )
            cols[name] = ParameterColumn(raw, eng, status, present)
        order = None
        if n > 1 and bool((np.diff(t) < 0).any()):
            order = np.argsort(t, kind="stable")
            t = t[order]
        return t, order, cols

    def _write_segments(
        self,
        cur: Any,
        group: str,
        t: NDArray[np.int64],
        order: NDArray[np.intp] | None,
        cols: dict[str, ParameterColumn],
        new_rows: set[tuple[str, str, str, str]],
        packet_ids: NDArray[np.int64] | None,
    ) -> None:
        """Write sorted times ``t`` (``order``: how to sort the columns' rows) in segments.

        ``packet_ids`` (already in the order of ``t``): the raw packet of each sample, or None.
        """
        n = int(t.size)
        for name, col in cols.items():
            self._upsert_parameter(cur, name, group, col, new_rows)
        if n == 0:
            return
        for lo in range(0, n, SEGMENT_SAMPLES):
            hi = min(n, lo + SEGMENT_SAMPLES)
            sel: Any = slice(lo, hi) if order is None else order[lo:hi]
            values = {}
            for name, col in cols.items():
                raw = col.raw[sel]
                values[name] = (
                    raw,
                    raw if col.eng is col.raw else col.eng[sel],  # same data: no compare
                    None if col.status is None else col.status[sel],
                    None if col.present is None else col.present[sel],
                )
            pids = None if packet_ids is None else packet_ids[lo:hi]
            self._insert_segment(cur, group, t[lo:hi], values, pids)
        self._merge_tail(cur, group)

    def _upsert_parameter(
        self,
        cur: Any,
        name: str,
        group: str,
        col: ParameterColumn,
        new_rows: set[tuple[str, str, str, str]],
    ) -> None:
        key = (name, group, describe(col.raw), describe(col.eng))
        if key in self._known_parameters:  # live streams write the same columns many times
            return
        new_rows.add(key)
        cur.execute(
            self._sql(
                "INSERT INTO parameters (name, grp, raw_empty, eng_empty) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name, grp) DO UPDATE SET raw_empty = excluded.raw_empty, "
                "eng_empty = excluded.eng_empty"
            ),
            (name, group, encode_array(col.raw[:0]), encode_array(col.eng[:0])),
        )

    def _insert_segment(
        self,
        cur: Any,
        group: str,
        t: NDArray[np.int64],
        values: Mapping[
            str,
            tuple[NDArray[Any], NDArray[Any], NDArray[np.uint8] | None, NDArray[np.bool_] | None],
        ],
        packet_ids: NDArray[np.int64] | None = None,
    ) -> None:
        t0, t1, n = int(t[0]), int(t[-1]), int(t.size)
        signature = json.dumps(
            sorted((name, describe(v[0]), describe(v[1])) for name, v in values.items())
        )
        blob, p_first, p_last = None, None, None
        if packet_ids is not None and bool(packet_ids.any()):
            pids = np.ascontiguousarray(packet_ids, dtype=np.int64)
            blob, p_first, p_last = encode_array(pids), int(pids.min()), int(pids.max())
        cur.execute(
            self._sql(
                "INSERT INTO segments (grp, t_start, t_stop, n, level, signature, time, packets, "
                "p_first, p_last) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
            ),
            (group, t0, t1, n, _level(n), signature, encode_array(t), blob, p_first, p_last),
        )
        seg_id = int(cur.fetchone()[0])
        rows = []
        for name, (raw, eng, status, present) in values.items():
            rows.append(
                (
                    seg_id,
                    name,
                    t0,
                    t1,
                    encode_array(raw),
                    None if _same_bits(raw, eng) else encode_array(eng),
                    None if status is None else encode_array(status),
                    None if present is None or bool(present.all()) else encode_array(present),
                )
            )
        if rows:
            cur.executemany(
                self._sql(
                    "INSERT INTO segment_values "
                    "(segment_id, name, t_start, t_stop, raw, eng, status, present) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                rows,
            )

    def _load_segments(self, cur: Any, ids: list[int]) -> list[_Seg]:
        marks = ", ".join("?" * len(ids))
        cur.execute(self._sql(f"SELECT id, time, packets FROM segments WHERE id IN ({marks})"), ids)
        segs = {
            int(i): _Seg(int(i), decode_array(tb), {}, None if pb is None else decode_array(pb))
            for i, tb, pb in cur.fetchall()
        }
        cur.execute(
            self._sql(
                "SELECT segment_id, name, raw, eng, status, present FROM segment_values "
                f"WHERE segment_id IN ({marks})"
            ),
            ids,
        )
        for sid, name, rb, eb, sb, pb in cur.fetchall():
            raw = decode_array(rb)
            segs[int(sid)].values[name] = (
                raw,
                raw if eb is None else decode_array(eb),
                None if sb is None else decode_array(sb),
                None if pb is None else decode_array(pb),
            )
        return [segs[i] for i in ids]

    def _delete_segments(self, cur: Any, ids: list[int]) -> None:
        marks = ", ".join("?" * len(ids))
        cur.execute(self._sql(f"DELETE FROM segment_values WHERE segment_id IN ({marks})"), ids)
        cur.execute(self._sql(f"DELETE FROM segments WHERE id IN ({marks})"), ids)

    def _rewrite(
        self, cur: Any, group: str, segs: list[_Seg], keep: list[NDArray[np.bool_]] | None
    ) -> None:
        """Replace ``segs`` by one segment of their (kept) samples, sorted by time."""
        masks: list[NDArray[np.bool_] | None] = [None] * len(segs) if keep is None else [*keep]
        times = [s.time if k is None else s.time[k] for s, k in zip(segs, masks, strict=True)]
        t = np.concatenate(times)
        self._delete_segments(cur, [s.id for s in segs])
        if t.size == 0:
            return
        order = np.argsort(t, kind="stable") if bool((np.diff(t) < 0).any()) else None
        names = list(segs[0].values)
        values = {}
        for name in names:
            parts: list[list[Any]] = [[], [], [], []]
            any_status = any(s.values[name][2] is not None for s in segs)
            any_present = any(s.values[name][3] is not None for s in segs)
            for s, k in zip(segs, masks, strict=True):
                raw, eng, status, present = s.values[name]
                m = s.time.size
                if status is None and any_status:
                    status = np.zeros(m, dtype=np.uint8)
                if present is None and any_present:
                    present = np.ones(m, dtype=bool)
                for j, a in enumerate((raw, eng, status, present)):
                    if a is not None:
                        parts[j].append(a if k is None else a[k])
            merged = [concat_values(p) if p else None for p in parts]
            if order is not None:
                merged = [None if a is None else a[order] for a in merged]
            values[name] = (merged[0], merged[1], merged[2], merged[3])
        pids = None
        if any(s.packets is not None for s in segs):  # legacy segments: 0, not from a packet
            pids = np.concatenate(
                [
                    (np.zeros(s.time.size, np.int64) if s.packets is None else s.packets)
                    if k is None
                    else (np.zeros(int(k.sum()), np.int64) if s.packets is None else s.packets[k])
                    for s, k in zip(segs, masks, strict=True)
                ]
            )
            if order is not None:
                pids = pids[order]
        self._insert_segment(
            cur,
            group,
            t if order is None else t[order],
            values,  # type: ignore[arg-type]
            pids,
        )

    def _merge_tail(self, cur: Any, group: str) -> None:
        while True:
            cur.execute(
                self._sql(
                    "SELECT id, n, level, signature FROM segments WHERE grp = ? "
                    "ORDER BY id DESC LIMIT ?"
                ),
                (group, MERGE_FANOUT),
            )
            tail = cur.fetchall()
            if len(tail) < MERGE_FANOUT:
                return
            levels = {int(r[2]) for r in tail}
            sigs = {r[3] for r in tail}
            total = sum(int(r[1]) for r in tail)
            if len(levels) != 1 or len(sigs) != 1 or total > SEGMENT_SAMPLES:
                return
            ids = sorted(int(r[0]) for r in tail)
            self._rewrite(cur, group, self._load_segments(cur, ids), None)

    def _resolve(self, name: str) -> str:
        rows = self._query(self.params, "SELECT 1 FROM parameters WHERE name = ? LIMIT 1", [name])
        if rows:
            return name
        names = self.parameter_names()
        hits = [k for k in names if k.rsplit("/", 1)[-1] == name]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InputError(
                f"parameter name {name!r} is ambiguous in {self.location}: "
                f"{', '.join(hits)}; give the qualified name"
            )
        return name  # never archived (yet): an empty series, like a range with no samples

    def read_parameter(
        self,
        name: str,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        *,
        after_segment_id: int | None = None,
    ) -> ParameterSeries:
        """As :meth:`Archive.read_parameter`; ``after_segment_id``: only the samples of
        segments written after that one (ids grow with every write), for a reader that holds
        the rest (see :meth:`parameter_version`)."""
        key = self._resolve(name)
        conds = ["v.name = ?"]
        args: list[Any] = [key]
        if after_segment_id is not None:
            conds.append("v.segment_id > ?")
            args.append(int(after_segment_id))
        if start_ns is not None:
            conds.append("v.t_stop >= ?")
            args.append(int(start_ns))
        if stop_ns is not None:
            conds.append("v.t_start < ?")
            args.append(int(stop_ns))
        rows = self._query(
            self.params,
            "SELECT s.time, v.raw, v.eng, v.status, v.present FROM segment_values v "
            f"JOIN segments s ON s.id = v.segment_id WHERE {' AND '.join(conds)} "
            "ORDER BY v.t_start, v.segment_id",
            args,
        )
        times: list[NDArray[np.int64]] = []
        raws: list[NDArray[Any]] = []
        engs: list[NDArray[Any]] = []
        stats: list[NDArray[np.uint8] | None] = []
        for tb, rb, eb, sb, pb in rows:
            t = decode_array(tb)
            lo = 0 if start_ns is None else int(np.searchsorted(t, start_ns, side="left"))
            hi = t.size if stop_ns is None else int(np.searchsorted(t, stop_ns, side="left"))
            if hi <= lo:
                continue
            raw = decode_array(rb)
            eng = raw if eb is None else decode_array(eb)
            sel: Any = slice(lo, hi)
            if pb is not None:
                present = decode_array(pb)
                idx = np.flatnonzero(present[lo:hi]) + lo
                if idx.size == 0:
                    continue
                if idx.size < hi - lo:
                    sel = idx
            times.append(t[sel])
            raws.append(raw[sel])
            engs.append(eng[sel])
            stats.append(None if sb is None else decode_array(sb)[sel])
        if not times:
            raw0, eng0 = self._empty(key)
            return ParameterSeries(
                np.zeros(0, dtype=np.int64), raw0, eng0, np.zeros(0, dtype=np.uint8), key
            )
        t_all = np.concatenate(times)
        if all(st is None for st in stats):
            status = np.zeros(t_all.size, dtype=np.uint8)  # no monitoring: NORMAL
        else:
            status = np.concatenate(
                [
                    np.zeros(t.size, np.uint8) if st is None else st
                    for t, st in zip(times, stats, strict=True)
                ]
            )
        out = [concat_values(raws), concat_values(engs), status]
        # each segment is sorted; segments come by start time, so only their seams can be out
        # of order (segments of several groups, or written out of order, overlap)
        if any(int(a[-1]) > int(b[0]) for a, b in itertools.pairwise(times)):
            order = np.argsort(t_all, kind="stable")
            t_all = t_all[order]
            out = [a[order] for a in out]
        out = [a if a.flags.writeable else a.copy() for a in out]
        if not t_all.flags.writeable:
            t_all = t_all.copy()
        return ParameterSeries(t_all, out[0], out[1], out[2], key)

    def parameter_version(self, name: str) -> object | None:
        """``(rows, greatest segment id, greatest t_stop, least t_start)`` of ``name``'s
        segments: every write adds a segment (a greater id, one more row), a merge replaces
        several by one (fewer rows), a delete removes rows, so the tuple moves with each; and
        a change that only added ``k`` rows, all above the old greatest id, was appends only
        (``read_parameter(after_segment_id=...)`` reads just them)."""
        key = self._resolve(name)
        rows = self._query(
            self.params,
            "SELECT count(*), max(segment_id), max(t_stop), min(t_start) FROM segment_values "
            "WHERE name = ?",
            (key,),
        )
        return tuple(rows[0]) if rows else None

    def new_segment_rows(self, name: str, after_segment_id: int) -> int:
        """Segment rows of ``name`` with an id above ``after_segment_id``."""
        key = self._resolve(name)
        rows = self._query(
            self.params,
            "SELECT count(*) FROM segment_values WHERE name = ? AND segment_id > ?",
            (key, int(after_segment_id)),
        )
        return int(rows[0][0])

    def _empty(self, key: str) -> tuple[NDArray[Any], NDArray[Any]]:
        rows = self._query(
            self.params,
            "SELECT raw_empty, eng_empty FROM parameters WHERE name = ? ORDER BY grp LIMIT 1",
            [key],
        )
        if not rows:  # a name never archived: no dtype known, float64 like numpy's default
            return np.zeros(0), np.zeros(0)
        return decode_array(rows[0][0]).copy(), decode_array(rows[0][1]).copy()

    def parameter_names(self) -> list[str]:
        return [
            r[0]
            for r in self._query(self.params, "SELECT DISTINCT name FROM parameters ORDER BY name")
        ]

    def parameter_groups(self) -> dict[str, list[str]]:
        """Return the parameters archived under each group (container qualified name)."""
        out: dict[str, list[str]] = {}
        for name, grp in self._query(
            self.params, "SELECT name, grp FROM parameters ORDER BY grp, name"
        ):
            out.setdefault(grp, []).append(name)
        return out

    def segment_stats(self) -> dict[str, tuple[int, int]]:
        """Return ``{group: (segments, samples)}`` of the parameter archive."""
        rows = self._query(
            self.params, "SELECT grp, COUNT(*), SUM(n) FROM segments GROUP BY grp ORDER BY grp"
        )
        return {g: (int(c), int(n)) for g, c, n in rows}

    def delete_parameters(self, start_ns: int | None = None, stop_ns: int | None = None) -> int:
        received: list[tuple[int, int]] = []
        if start_ns is not None or stop_ns is not None:
            where, args = _range_sql("recv_time", start_ns, stop_ns)
            rows = self._query(self.main, f"SELECT id FROM packets WHERE {where} ORDER BY id", args)
            received = id_ranges(np.array([r[0] for r in rows], dtype=np.int64))
        with self._transaction(self.params) as cur:
            self._lock_coverage(cur)
            if start_ns is None and stop_ns is None:
                cur.execute("SELECT COALESCE(SUM(n), 0) FROM segments")
                total = int(cur.fetchone()[0])
                cur.execute("DELETE FROM segment_values")
                cur.execute("DELETE FROM segments")
                cur.execute("DELETE FROM coverage")
                return total
            self._uncover(cur, received)
            return self._delete_samples(cur, start_ns, stop_ns, received)

    def _delete_samples(
        self,
        cur: Any,
        start_ns: int | None,
        stop_ns: int | None,
        received: list[tuple[int, int]],
    ) -> int:
        """Delete the samples of the packets with ids in ``received``, and the samples tied
        to no packet (written without ids, or by a falak that did not record them) whose time
        is in ``[start_ns, stop_ns)``; return how many."""
        # candidates: segments overlapping the time range (for samples tied to no packet),
        # and segments whose packet-id span meets the received ids
        conds, args = [], []
        if start_ns is not None:
            conds.append("t_stop >= ?")
            args.append(int(start_ns))
        if stop_ns is not None:
            conds.append("t_start < ?")
            args.append(int(stop_ns))
        where = " AND ".join(conds)
        if received:
            where = f"({where}) OR (p_last >= ? AND p_first <= ?)"
            args += [received[0][0], received[-1][1]]
        cur.execute(
            self._sql(
                "SELECT id, grp, t_start, t_stop, n, p_first, p_last FROM segments "
                f"WHERE {where} ORDER BY id"
            ),
            args,
        )
        firsts = np.array([a for a, _ in received], dtype=np.int64)
        lasts = np.array([b for _, b in received], dtype=np.int64)
        removed = 0
        whole: list[int] = []
        for sid, grp, t0, t1, n, pf, pl in cur.fetchall():
            in_time = (start_ns is None or t0 >= start_ns) and (stop_ns is None or t1 < stop_ns)
            if pf is None:  # no sample tied to a packet: by time, as before
                if in_time:
                    whole.append(int(sid))
                    removed += int(n)
                    continue
            elif received:
                pf, pl = int(pf), int(pl)
                at = int(np.searchsorted(firsts, pl, side="right")) - 1
                if pf >= 1 and at >= 0 and firsts[at] <= pf and pl <= lasts[at]:
                    whole.append(int(sid))  # every sample from a packet received in range
                    removed += int(n)
                    continue
                meets = int(np.searchsorted(lasts, pf, side="left"))
                if pf >= 1 and (meets == len(received) or firsts[meets] > pl):
                    continue  # every sample from a packet received outside the range
            elif pf >= 1:
                continue  # every sample from a packet, none received in the range
            seg = self._load_segments(cur, [int(sid)])[0]
            drop = np.ones(seg.time.size, dtype=bool)
            if start_ns is not None:
                drop &= seg.time >= start_ns
            if stop_ns is not None:
                drop &= seg.time < stop_ns
            if seg.packets is not None:
                tied = seg.packets != 0
                drop = np.where(tied, in_ranges(seg.packets, received), drop)
            n_drop = int(drop.sum())
            if n_drop == 0:
                continue
            removed += n_drop
            if n_drop == seg.time.size:
                whole.append(seg.id)
            else:
                self._rewrite(cur, grp, [seg], [~drop])
        for lo in range(0, len(whole), 500):
            self._delete_segments(cur, whole[lo : lo + 500])
        return removed

    # ---- events, alarms, commands

    def append_event(
        self, time_ns: int, source: str, severity: str, message: str, **attrs: Any
    ) -> int:
        with self._transaction(self.main) as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO events (time, source, severity, message, attrs) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING id"
                ),
                (int(time_ns), source, severity, message, dumps(attrs)),
            )
            return int(cur.fetchone()[0])

    def read_events(self, start_ns: int | None = None, stop_ns: int | None = None) -> list[Event]:
        where, args = _range_sql("time", start_ns, stop_ns)
        rows = self._query(
            self.main,
            "SELECT id, time, source, severity, message, attrs FROM events "
            f"WHERE {where} ORDER BY time, id",
            args,
        )
        return [Event(int(i), int(t), s, sv, m, loads(a)) for i, t, s, sv, m, a in rows]

    def append_alarm(self, record: AlarmRecord) -> int:
        record.validate()
        with self._transaction(self.main) as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO alarms (time, parameter, level, value, state, user_name, "
                    "comment_text) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
                ),
                (
                    int(record.time_ns),
                    record.parameter,
                    record.level,
                    str(record.value),
                    record.state,
                    record.user,
                    record.comment,
                ),
            )
            return int(cur.fetchone()[0])

    def read_alarms(
        self,
        start_ns: int | None = None,
        stop_ns: int | None = None,
        parameter: str | None = None,
    ) -> list[AlarmRecord]:
        where, args = _range_sql("time", start_ns, stop_ns)
        if parameter is not None:
            where += " AND parameter = ?"
            args.append(parameter)
        rows = self._query(
            self.main,
            "SELECT time, parameter, level, value, state, user_name, comment_text FROM alarms "
            f"WHERE {where} ORDER BY time, id",
            args,
        )
        return [AlarmRecord(int(r[0]), r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]

    def append_command(self, record: Mapping[str, Any]) -> int:
        attrs = dict(record)
        attrs.pop("id", None)
        t = attrs.get("time_ns")
        if t is None:
            t = time.time_ns()
            attrs["time_ns"] = t
        with self._transaction(self.main) as cur:
            cur.execute(
                self._sql("INSERT INTO commands (time, attrs) VALUES (?, ?) RETURNING id"),
                (int(t), dumps(attrs)),
            )
            return int(cur.fetchone()[0])

    def update_command(self, command_id: int, **attrs: Any) -> None:
        with self._transaction(self.main) as cur:
            cur.execute(self._sql("SELECT attrs FROM commands WHERE id = ?"), (int(command_id),))
            row = cur.fetchone()
            if row is None:
                raise InputError(f"no command with id {command_id} in {self.location}")
            merged = loads(row[0])
            attrs.pop("id", None)
            merged.update(attrs)
            cur.execute(
                self._sql("UPDATE commands SET time = ?, attrs = ? WHERE id = ?"),
                (int(merged["time_ns"]), dumps(merged), int(command_id)),
            )

    def read_commands(
        self, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[dict[str, Any]]:
        where, args = _range_sql("time", start_ns, stop_ns)
        rows = self._query(
            self.main, f"SELECT id, attrs FROM commands WHERE {where} ORDER BY time, id", args
        )
        return [{"id": int(i), **loads(a)} for i, a in rows]

    def save_stack(self, record: Mapping[str, Any]) -> None:
        with self._transaction(self.main) as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO stacks (name, time, attrs) VALUES (?, ?, ?) ON CONFLICT (name) "
                    "DO UPDATE SET time = excluded.time, attrs = excluded.attrs"
                ),
                (str(record["name"]), time.time_ns(), dumps(dict(record))),
            )

    def read_stacks(self) -> list[dict[str, Any]]:
        rows = self._query(self.main, "SELECT attrs FROM stacks ORDER BY name")
        return [loads(a) for (a,) in rows]

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
        import hashlib

        data = bytes(data)
        meta = dumps({**attrs, "missing": [[int(a), int(b)] for a, b in missing]})
        row = (
            int(time_ns), str(name), str(source), len(data), str(checksum),
            hashlib.sha256(data).hexdigest(), int(bool(complete)), key, meta, data,
        )  # fmt: skip
        with self._transaction(self.main) as cur:
            if key is not None:  # a resumed transfer: the same file, now with more of it
                cur.execute(
                    self._sql(
                        "UPDATE files SET time = ?, name = ?, source = ?, size = ?, checksum = ?, "
                        "sha256 = ?, complete = ?, attrs = ?, data = ? WHERE file_key = ? "
                        "RETURNING id"
                    ),
                    (*row[:7], *row[8:], key),
                )
                found = cur.fetchone()
                if found is not None:
                    return int(found[0])
            cur.execute(
                self._sql(
                    "INSERT INTO files (time, name, source, size, checksum, sha256, complete, "
                    "file_key, attrs, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
                ),
                row,
            )
            return int(cur.fetchone()[0])

    _FILE_COLUMNS = "id, time, name, source, size, checksum, sha256, complete, file_key, attrs"

    def list_files(
        self, start_ns: int | None = None, stop_ns: int | None = None
    ) -> list[StoredFile]:
        where, args = _range_sql("time", start_ns, stop_ns)
        rows = self._query(
            self.main,
            f"SELECT {self._FILE_COLUMNS} FROM files WHERE {where} ORDER BY time, id",
            args,
        )
        return [_stored_file(r) for r in rows]

    def read_file(self, file_id: int) -> tuple[StoredFile, bytes]:
        rows = self._query(
            self.main,
            f"SELECT {self._FILE_COLUMNS}, data FROM files WHERE id = ?",
            (int(file_id),),
        )
        if not rows:
            raise InputError(
                f"no file {file_id} in the archive (ids are those of its list of files)"
            )
        return _stored_file(rows[0][:-1]), bytes(rows[0][-1])


def _stored_file(r: Sequence[Any]) -> StoredFile:
    attrs = loads(r[9])
    missing = tuple((int(a), int(b)) for a, b in attrs.pop("missing", []))
    return StoredFile(
        id=int(r[0]), time_ns=int(r[1]), name=str(r[2]), source=str(r[3]), size=int(r[4]),
        checksum=str(r[5]), sha256=str(r[6]), complete=bool(r[7]),
        key=None if r[8] is None else str(r[8]), missing=missing, attrs=attrs,
    )  # fmt: skip


def _packet_batch(rows: list[Any]) -> PacketBatch:
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    recv = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
    links = np.empty(n, dtype=object)
    links[:] = [r[2] for r in rows]
    apids = np.fromiter((r[3] for r in rows), dtype=np.int64, count=n)
    seqs = np.fromiter((r[4] for r in rows), dtype=np.int64, count=n)
    status = np.empty(n, dtype=object)
    status[:] = [r[5] for r in rows]
    blobs = [r[6] for r in rows]
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=n)
    offsets = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    data = np.frombuffer(bytearray().join(blobs), dtype=np.uint8)
    return PacketBatch(ids, recv, links, data, offsets, lengths, status, apids, seqs)
