"""Telemetry decoder compiled from the mission database: a batch of packets in, columns out.

The decoder walks the container tree of the mission database once per *batch*, not once per
packet. All packets of a batch start in the root container; its entries are decoded for every
packet at once (one numpy operation per entry), then the packets are partitioned among the
child containers whose restriction criteria they satisfy, and each partition goes on from
where its base container ended. Positions are kept per packet, so variable-length entries,
include conditions and repeats stay vectorised; equal-length packets are viewed as an
``(N, length)`` byte matrix, which makes fixed layouts a handful of strided reads. Runs of
plain byte-aligned integers and floats there are decoded through plans cached on the decoder
(one strided read per run of equal-sized fields), so a batch costs little per parameter.

A packet that cannot be decoded (too short for its container, no concrete container matches,
bad CRC, a type without encoding) is never raised mid-batch: it is counted by reason in
:attr:`DecodeResult.failed`. A packet longer than its container is decoded (its container's
bytes are all there) and reported by reason in :attr:`DecodeResult.excess`, a warning count
apart from the failures (see :data:`EXCESS_REASONS`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from falak import timecodes
from falak.errors import DecodeError, MdbError
from falak.mdb.model import (
    AbsoluteTimeType,
    AggregateType,
    AlarmLevel,
    AllOf,
    AnyOf,
    ArgumentEntry,
    ArrayType,
    BinaryEncoding,
    BinaryType,
    BooleanType,
    CdsTimeCode,
    Comparison,
    Condition,
    ContainerEntry,
    CucTimeCode,
    DataEncoding,
    DataType,
    DynamicValue,
    Entry,
    EnumeratedType,
    EnumerationAlarm,
    FixedValueEntry,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    Location,
    MissionDatabase,
    Not,
    NumericAlarm,
    ParameterEntry,
    RelativeTimeType,
    SequenceContainer,
    StringEncoding,
    StringType,
    short_name,
)
from falak.tm.calibration import calibrate
from falak.tm.limits import AlarmTransition, check_enumeration, check_numeric

# Failure reasons, in the order they are reported.
FAIL_REASONS: tuple[str, ...] = (
    "ok",
    "too_short",
    "no_container",
    "bad_crc",
    "no_encoding",
    "bad_size",
)
_FAIL = {name: i for i, name in enumerate(FAIL_REASONS)}

#: Why a decoded packet is longer than its container (bits past the last entry that do not
#: fill a byte are octet padding, not excess). Both are warnings: the packet is decoded and
#: also counted in :attr:`DecodeResult.excess`. ``excess_bytes``: one or more whole bytes
#: after the container's last entry, fewer than the container holds (an MDB that does not
#: describe spare or padding bytes; CTIM's APID 1 and 20 packets). ``oversize``: at least as
#: many bytes after the container as in it (a packet at least twice its container), the mark
#: of a damaged length field that swallowed the packets after it.
EXCESS_REASONS: tuple[str, ...] = ("excess_bytes", "oversize")

_PAD_BYTES = 16

#: Most cached run plans a decoder keeps (one per container, run start, position and packet
#: length); past it the cache is emptied and plans are made again as batches need them.
_MAX_PLANS = 100_000


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Column:
    """Values of one parameter (or one aggregate member) over the packets of a container.

    ``raw`` and ``eng`` are numpy arrays aligned with :attr:`ContainerResult.packet_index`
    (object arrays for strings, bytes and variable arrays; 2-D for fixed numeric arrays).
    ``present`` is None when the value is in every packet, else a mask (include conditions).
    ``monitoring`` holds :class:`~falak.mdb.model.AlarmLevel` values when the type has alarms.
    """

    key: str
    name: str
    raw: NDArray[Any]
    eng: NDArray[Any]
    present: NDArray[np.bool_] | None = None
    monitoring: NDArray[np.uint8] | None = None


@dataclass
class ContainerResult:
    """The packets of a batch that resolved to one concrete container, as columns."""

    container: str
    packet_index: NDArray[np.int64]
    columns: dict[str, Column]
    trailing_bits: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.packet_index.size)

    def column(self, name: str) -> Column:
        """Find a column by key (qualified) or short name."""
        if name in self.columns:
            return self.columns[name]
        hits = [c for c in self.columns.values() if c.name == name]
        if len(hits) == 1:
            return hits[0]
        raise KeyError(f"no column {name!r} in container {self.container}")


@dataclass
class DecodeResult:
    """What a batch decoded to: one result per concrete container, failures by reason."""

    n_packets: int
    containers: list[ContainerResult]
    failed: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    alarms: list[AlarmTransition] = field(default_factory=list)
    #: packets that matched no concrete container: the values of the abstract container
    #: they stopped in (headers), for diagnosis; they are also counted in ``failed``
    partial: list[ContainerResult] = field(default_factory=list)
    #: decoded packets longer than their container, by reason (:data:`EXCESS_REASONS`):
    #: sorted packet positions in the batch; they are also in ``containers`` (a warning)
    excess: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    #: bytes after the container's end in the packets of ``excess``, by reason
    excess_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def n_decoded(self) -> int:
        """Number of packets decoded into a concrete container."""
        return sum(len(c) for c in self.containers)

    def failed_counts(self) -> dict[str, int]:
        """Packets that failed to decode, by reason."""
        return {k: int(v.size) for k, v in self.failed.items() if v.size}

    def excess_counts(self) -> dict[str, int]:
        """Decoded packets longer than their container, by reason (warnings)."""
        return {k: int(v.size) for k, v in self.excess.items() if v.size}

    def container(self, name: str) -> ContainerResult:
        """The result for a container given by qualified or short name."""
        for c in self.containers:
            if c.container == name or short_name(c.container) == name:
                return c
        raise KeyError(f"no packets decoded into container {name!r}")


# ---------------------------------------------------------------------------------------------
# Per-batch decoding state


@dataclass
class _State:
    buf: NDArray[np.uint8]
    idx: NDArray[np.int64]  # positions in the batch
    base: NDArray[np.int64]  # absolute bit of packet start
    end: NDArray[np.int64]  # absolute bit of packet end
    pos: NDArray[np.int64]  # absolute bit of the next entry
    fail: NDArray[np.int8]
    matrix: NDArray[np.uint8] | None  # (N, L) when all packets have length L
    rel: int | None  # pos - base when the same for every packet, else None
    stale: bool = False  # pos not updated yet; the true position is base + rel
    raw: dict[str, NDArray[Any]] = field(default_factory=dict)
    present: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # keys in decoding order
    chain: list[SequenceContainer] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.idx.size)

    def materialize(self) -> NDArray[np.int64]:
        """Bring ``pos`` up to date (fixed layouts advance ``rel`` only) and return it."""
        if self.stale:
            assert self.rel is not None
            self.pos = self.base + self.rel
            self.stale = False
        return self.pos

    def fits(self, nbits: int) -> bool:
        """True when the next ``nbits`` lie inside every packet (decided without arrays)."""
        return (
            self.rel is not None
            and self.matrix is not None
            and self.rel + nbits <= 8 * self.matrix.shape[1]
        )

    def subset(self, sel: NDArray[np.int64]) -> _State:
        self.materialize()
        return _State(
            buf=self.buf,
            idx=self.idx[sel],
            base=self.base[sel],
            end=self.end[sel],
            pos=self.pos[sel],
            fail=self.fail[sel],
            matrix=None if self.matrix is None else self.matrix[sel],
            rel=self.rel,
            raw={k: v[sel] for k, v in self.raw.items()},
            present={k: v[sel] for k, v in self.present.items()},
            order=list(self.order),
            chain=list(self.chain),
        )


#: How :meth:`Decoder._finish` makes a column's engineering value: the raw array itself, raw
#: widened to float64 when it holds integers (uncalibrated floats), or :meth:`_engineering`.
_ENG_RAW, _ENG_FLOAT, _ENG_GENERIC = 0, 1, 2

#: A column key's short name, data type, engineering mode and whether limits are checked.
_KeyInfo = tuple[str, DataType | None, int, bool]


@dataclass(frozen=True)
class _Segment:
    """Consecutive fields of one size, byte order and kind in a run plan."""

    offset: int  # bytes from the packet start
    count: int  # fields
    size: int  # bytes per field
    order: str  # ">" big-endian, "<" little-endian
    kind: str  # numpy kind: "u", "i" (two's complement) or "f" (IEEE 754)


@dataclass(frozen=True)
class _RunPlan:
    """A run of simple entries at a fixed position in packets of a fixed length."""

    entries: Sequence[Entry]  # the sequence the run belongs to (the cache is keyed by its id)
    stop: int  # index of the first entry after the run
    end_rel: int  # bits from the packet start after the run
    keys: tuple[str, ...]  # parameter keys in entry order
    unique: bool  # no key appears twice in the run
    segments: tuple[_Segment, ...]


@dataclass(frozen=True)
class _FinishPlan:
    """How :meth:`Decoder._finish` turns the decoded keys of a container into columns."""

    names: tuple[tuple[str, str], ...]  # (key, column name) in decoding order
    infos: tuple[tuple[DataType | None, int, bool], ...]  # type, engineering mode, alarmed
    all_raw: bool  # every column's engineering value is its raw value, none is monitored


def _int_dtype(nbits: int, signed: bool = False) -> type[np.integer[Any]]:
    """The smallest numpy integer type holding ``nbits`` bits (as ccsdspy and the TRUTH
    tables expect: a 3-bit field is uint8, a 14-bit one uint16)."""
    size = next(b for b in (8, 16, 32, 64) if nbits <= b)
    return np.dtype(f"{'i' if signed else 'u'}{size // 8}").type


class Decoder:
    """A decoder for one mission database, starting at ``root`` (a container name).

    ``root`` defaults to the single root container that has descendants. Calibration, limit
    checks and derived parameters can be switched off for raw-only decoding. ``fast_path``
    decodes runs of simple entries of fixed layouts through cached plans (:class:`_RunPlan`);
    switching it off walks every entry the generic way, with the same results.
    """

    def __init__(
        self,
        mdb: MissionDatabase,
        root: str | None = None,
        *,
        calibrate: bool = True,
        check_limits: bool = True,
        derived: bool = True,
        fast_path: bool = True,
    ) -> None:
        self.mdb = mdb
        self.root = mdb.container(root) if root else self._default_root()
        self.do_calibrate = calibrate
        self.do_limits = check_limits and calibrate
        self.do_derived = derived and calibrate
        self._children: dict[str, list[SequenceContainer]] = {}
        for c in mdb.containers.values():
            if c.base is not None:
                self._children.setdefault(c.base, []).append(c)
        self._functions: dict[str, Callable[..., Any]] = {}
        self._partial: list[ContainerResult] = []
        self._derived = [p for p in mdb.parameters.values() if p.derivation is not None]
        # per-key lookups repeated for every column of every batch (the MDB does not change
        # under a decoder): the short name, the data type, how the engineering value is made
        # and whether the type has an alarm
        self._key_info: dict[str, _KeyInfo] = {}
        self.fast_path = fast_path
        # run plans by (id of the entry sequence, first entry, bit position, packet bytes);
        # None when the entry there does not start a simple run
        self._plans: dict[tuple[int, int, int, int], _RunPlan | None] = {}
        # column names and per-key handling by the sequence of keys a container decoded
        self._finish_plans: dict[tuple[str, ...], _FinishPlan] = {}

    def _default_root(self) -> SequenceContainer:
        roots = self.mdb.root_containers()
        with_children = [
            r
            for r in roots
            if any(c.base == r.qualified_name for c in self.mdb.containers.values())
        ]
        cands = with_children or roots
        if len(cands) == 1:
            return cands[0]
        names = ", ".join(sorted(c.qualified_name for c in cands)) or "none"
        raise MdbError(
            "cannot choose the root container to decode from",
            file=self.mdb.source_file,
            fix=f"name it (--container NAME); candidates: {names}",
        )

    # -- public -------------------------------------------------------------------------------

    def decode(
        self,
        data: bytes | bytearray | memoryview | NDArray[np.uint8],
        offsets: NDArray[np.int64] | Sequence[int],
        lengths: NDArray[np.int64] | Sequence[int],
    ) -> DecodeResult:
        """Decode the packets at ``offsets`` (bytes, with ``lengths``) of ``data``."""
        raw_buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
        offs = np.asarray(offsets, dtype=np.int64)
        lens = np.asarray(lengths, dtype=np.int64)
        n = int(offs.size)
        buf = np.empty(raw_buf.size + _PAD_BYTES, dtype=np.uint8)
        buf[: raw_buf.size] = raw_buf
        buf[raw_buf.size :] = 0
        results: list[ContainerResult] = []
        self._partial = []
        fails: list[tuple[NDArray[np.int64], NDArray[np.int8]]] = []
        uniq = np.unique(lens) if n else np.empty(0, dtype=np.int64)
        groups: list[NDArray[np.int64]]
        if 0 < uniq.size <= 32:
            groups = [np.flatnonzero(lens == L) for L in uniq] if uniq.size > 1 else [np.arange(n)]
        else:
            groups = [np.arange(n)]
        for sel in groups:
            if sel.size == 0:
                continue
            st = self._initial_state(buf, offs, lens, sel)
            self._run(st, self.root, results, fails)
        merged = merge_results(results)
        failed: dict[str, NDArray[np.int64]] = {}
        if fails:
            all_idx = np.concatenate([f[0] for f in fails])
            all_code = np.concatenate([f[1] for f in fails])
            for code, reason in enumerate(FAIL_REASONS):
                if code:
                    failed[reason] = np.sort(all_idx[all_code == code])
        alarms = self._transitions(merged) if self.do_limits else []
        excess, excess_bytes = _excess(merged, lens)
        partial = merge_results(self._partial)
        return DecodeResult(n, merged, failed, alarms, partial, excess, excess_bytes)

    # -- state --------------------------------------------------------------------------------

    def _initial_state(
        self,
        buf: NDArray[np.uint8],
        offs: NDArray[np.int64],
        lens: NDArray[np.int64],
        sel: NDArray[np.int64],
    ) -> _State:
        o = offs[sel]
        ln = lens[sel]
        matrix = None
        if ln.size and np.all(ln == ln[0]):
            L = int(ln[0])
            if ln.size == 1 or np.all(np.diff(o) == L):
                matrix = buf[int(o[0]) : int(o[0]) + L * ln.size].reshape(ln.size, L)
            elif ln.size * L <= 1 << 28:
                matrix = buf[o[:, None] + np.arange(L)]
        base = o * 8
        return _State(
            buf=buf,
            idx=sel.astype(np.int64),
            base=base,
            end=(o + ln) * 8,
            pos=base.copy(),
            fail=np.zeros(sel.size, dtype=np.int8),
            matrix=matrix,
            rel=0,
        )

    # -- container walk -------------------------------------------------------------------------

    def _run(
        self,
        st: _State,
        container: SequenceContainer,
        results: list[ContainerResult],
        fails: list[tuple[NDArray[np.int64], NDArray[np.int8]]],
    ) -> None:
        st.chain.append(container)
        self._entries(st, container.entries, st.base, 0)
        bad = st.fail != 0
        if bad.any():
            fails.append((st.idx[bad], st.fail[bad]))
            keep = np.flatnonzero(~bad)
            if keep.size == 0:
                return
            st = st.subset(keep)
        remaining = np.ones(st.n, dtype=bool)
        for child in self._children.get(container.qualified_name, []):
            if child.restriction is None:
                mask = remaining.copy()
            else:
                mask = self._evaluate(st, child.restriction) & remaining
            if not mask.any():
                continue
            remaining &= ~mask
            sub = st if mask.all() else st.subset(np.flatnonzero(mask))
            self._run(sub, child, results, fails)
            if not remaining.any():
                return
        rest = st if remaining.all() else st.subset(np.flatnonzero(remaining))
        if rest.n == 0:
            return
        if container.abstract:
            # no concrete container: counted as a rejection, but the values decoded so far
            # (headers) are kept as a partial result, as Yamcs delivers them
            fails.append((rest.idx, np.full(rest.n, _FAIL["no_container"], dtype=np.int8)))
            self._finish(rest, container, self._partial, fails)
            return
        self._finish(rest, container, results, fails)

    def _finish(
        self,
        st: _State,
        container: SequenceContainer,
        results: list[ContainerResult],
        fails: list[tuple[NDArray[np.int64], NDArray[np.int8]]],
    ) -> None:
        if any(c.crc for c in st.chain):
            from falak.ccsds.crc import check_packet_crc

            ok = check_packet_crc(st.buf, st.base // 8, (st.end - st.base) // 8)
            if not ok.all():
                fails.append((st.idx[~ok], np.full(int((~ok).sum()), _FAIL["bad_crc"], np.int8)))
                if not ok.any():
                    return
                st = st.subset(np.flatnonzero(ok))
        columns: dict[str, Column] = {}
        st_raw = st.raw
        st_present = st.present
        plan = self._finish_plan(st.order)
        if plan.all_raw and not st_present:
            # no calibration, limits or include conditions: the raw arrays are the columns
            for key, name in plan.names:
                raw = st_raw[key]
                columns[key] = Column(key, name, raw, raw, None, None)
        else:
            for (key, name), (ptype, eng_mode, alarmed) in zip(plan.names, plan.infos, strict=True):
                raw = st_raw[key]
                present = st_present.get(key) if st_present else None
                if eng_mode == _ENG_RAW:
                    eng = raw
                elif eng_mode == _ENG_FLOAT:
                    eng = raw.astype(np.float64) if raw.dtype.kind in "iu" else raw
                else:
                    assert ptype is not None
                    eng = self._engineering(st, key, ptype, raw)
                mon = None
                if alarmed and ptype is not None:
                    mon = self._monitor(st, ptype, eng, present)
                columns[key] = Column(key, name, raw, eng, present, mon)
        if self.do_derived:
            self._add_derived(columns)
        trailing = st.end - st.materialize()
        results.append(ContainerResult(container.qualified_name, st.idx, columns, trailing))

    def _finish_plan(self, order: list[str]) -> _FinishPlan:
        """Column names (unique inside a container result) and per-key engineering and limit
        handling for the keys of ``order``, worked out once per sequence of keys."""
        order_key = tuple(order)
        plan = self._finish_plans.get(order_key)
        if plan is not None:
            return plan
        infos: list[_KeyInfo] = []
        names_seen: dict[str, int] = {}
        for key in order:
            info = self._key_info.get(key)
            if info is None:
                info = self._key_info[key] = self._plan_key(key)
            infos.append(info)
            names_seen[info[0]] = names_seen.get(info[0], 0) + 1
        # names must be unique inside a container result; qualify duplicates
        names = tuple(
            (key, key if names_seen[info[0]] > 1 else info[0])
            for key, info in zip(order, infos, strict=True)
        )
        plan = _FinishPlan(
            names=names,
            infos=tuple(info[1:] for info in infos),
            all_raw=all(info[2] == _ENG_RAW and not info[3] for info in infos),
        )
        if len(self._finish_plans) >= _MAX_PLANS:
            self._finish_plans.clear()
        self._finish_plans[order_key] = plan
        return plan

    def _plan_key(self, key: str) -> _KeyInfo:
        """What :meth:`_finish` needs for a column key, worked out once per decoder."""
        pname, members = self.mdb.split_member_key(key)  # a dot is legal in a name
        name = short_name(pname) + "".join("." + m for m in members)
        ptype = self._key_type(key)
        if not self.do_calibrate or ptype is None:
            eng_mode = _ENG_RAW
        elif isinstance(ptype, IntegerType) and ptype.calibrator is None:
            eng_mode = _ENG_RAW  # _engineering returns raw unchanged
        elif isinstance(ptype, FloatType) and ptype.calibrator is None:
            eng_mode = _ENG_FLOAT  # _engineering only widens integer raw values to float64
        else:
            eng_mode = _ENG_GENERIC
        alarmed = self.do_limits and getattr(ptype, "alarm", None) is not None
        return name, ptype, eng_mode, alarmed

    # -- entries ---------------------------------------------------------------------------------

    def _entries(
        self,
        st: _State,
        entries: Sequence[Entry],
        cstart: NDArray[np.int64],
        crel: int | None,
    ) -> None:
        i = 0
        n_entries = len(entries)
        while i < n_entries:
            if self.fast_path and st.rel is not None and st.matrix is not None:
                plan = self._run_plan(entries, i, st.rel, st.matrix)
                if plan is not None:
                    self._apply_plan(st, plan)
                    i = plan.stop
                    continue
            entry = entries[i]
            i += 1
            act: NDArray[np.int64] | None = None
            if entry.include_if is not None:
                mask = self._evaluate(st, entry.include_if)
                if mask.all():
                    act = None
                elif not mask.any():
                    continue
                else:
                    act = np.flatnonzero(mask)
                    st.rel = None
            self._locate(st, entry.location, cstart, crel, act)
            repeat = entry.repeat
            if repeat is None:
                self._entry_once(st, entry, act, cstart, crel)
                continue
            if isinstance(repeat.count, int):
                for r in range(repeat.count):
                    if r:
                        self._advance(st, act, repeat.offset_bits)
                    self._entry_once(st, entry, act, cstart, crel)
            else:
                counts = self._dynamic(st, repeat.count, act)
                base_act = np.arange(st.n) if act is None else act
                for r in range(int(counts.max()) if counts.size else 0):
                    sel = base_act[counts > r]
                    if r:
                        self._advance(st, sel, repeat.offset_bits)
                    self._entry_once(st, entry, sel, cstart, crel)
                st.rel = None

    # -- fast path: runs of simple entries in fixed layouts -----------------------------------

    def _run_plan(
        self, entries: Sequence[Entry], start: int, rel: int, matrix: NDArray[np.uint8]
    ) -> _RunPlan | None:
        """The cached plan for the run of simple entries from ``entries[start]``, if any.

        Only for a batch whose packets all have the same length and the same position
        (``rel`` bits from the packet start), byte-aligned.
        """
        n, width = matrix.shape
        if n == 0 or rel & 7 or not matrix.flags.c_contiguous:
            return None
        key = (id(entries), start, rel, width)
        try:
            plan = self._plans[key]
        except KeyError:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = self._make_plan(entries, start, rel, width)
        if plan is not None and plan.entries is not entries:  # an id reused: plan again
            plan = self._plans[key] = self._make_plan(entries, start, rel, width)
        return plan

    def _make_plan(
        self, entries: Sequence[Entry], start: int, rel: int, width: int
    ) -> _RunPlan | None:
        """Plan the longest run of simple entries from ``start`` that fits in ``width`` bytes.

        A simple entry is a :class:`ParameterEntry` without location, include condition or
        repeat, of a non-array, non-aggregate type (not a time code) with a byte-aligned 8, 16,
        32 or 64-bit unsigned or two's complement integer encoding, or an IEEE 754 16, 32 or
        64-bit float encoding, big- or little-endian. The generic path reads these as
        :meth:`_read_matrix` does (then :func:`_signed` / :func:`_float`, which for these
        encodings only reinterpret the bits), so a plan gives the same arrays.
        """
        offset = rel // 8
        keys: list[str] = []
        segments: list[_Segment] = []
        i = start
        while i < len(entries):
            field_ = self._simple_field(entries[i])
            if field_ is None:
                break
            pkey, size, order, kind = field_
            if offset + size > width:  # the generic path counts the packets as too short
                break
            last = segments[-1] if segments else None
            if last is not None and (last.size, last.order, last.kind) == (size, order, kind):
                segments[-1] = dataclasses.replace(last, count=last.count + 1)
            else:
                segments.append(_Segment(offset, 1, size, order, kind))
            keys.append(pkey)
            offset += size
            i += 1
        if not keys:
            return None
        return _RunPlan(
            entries=entries,
            stop=i,
            end_rel=8 * offset,
            keys=tuple(keys),
            unique=len(set(keys)) == len(keys),
            segments=tuple(segments),
        )

    def _simple_field(self, entry: Entry) -> tuple[str, int, str, str] | None:
        """(key, bytes, byte order, numpy kind) of a simple entry (see :meth:`_make_plan`)."""
        if (
            type(entry) is not ParameterEntry
            or entry.location is not None
            or entry.include_if is not None
            or entry.repeat is not None
        ):
            return None
        p = self.mdb.parameters.get(entry.parameter)
        ptype = self.mdb.types.get(p.type) if p is not None and p.type else None
        if ptype is None or isinstance(ptype, ArrayType | AggregateType):
            return None
        if isinstance(ptype, AbsoluteTimeType) and ptype.timecode is not None:
            return None
        enc = ptype.encoding
        if isinstance(enc, IntegerEncoding):
            kinds = {"unsigned": "u", "twosComplement": "i"}
            kind = kinds.get(enc.encoding)
            sizes: tuple[int, ...] = (8, 16, 32, 64)
        elif isinstance(enc, FloatEncoding):
            kind = "f" if enc.encoding == "IEEE754" else None
            sizes = (16, 32, 64)
        else:
            return None
        if kind is None or enc.size_bits not in sizes:
            return None
        size = enc.size_bits // 8
        if enc.byte_order is None or enc.byte_order == tuple(range(size - 1, -1, -1)):
            order = ">"
        elif enc.byte_order == tuple(range(size)):  # first byte sent is the least significant
            order = "<"
        else:
            return None
        return p.qualified_name, size, order, kind  # type: ignore[union-attr]  # p is set

    def _apply_plan(self, st: _State, plan: _RunPlan) -> None:
        """Decode a run of simple entries for every packet: one strided read per segment."""
        m = st.matrix
        assert m is not None
        n, width = m.shape
        values: list[NDArray[Any]] = []
        for seg in plan.segments:
            # (fields, packets) view of the byte matrix, copied into native order with one
            # row per field, so each column is a contiguous row
            src: NDArray[Any] = np.ndarray(
                (seg.count, n),
                dtype=f"{seg.order}u{seg.size}",
                buffer=m,
                offset=seg.offset,
                strides=(seg.size, width),
            )
            block = src.astype(f"u{seg.size}", order="C")
            if seg.kind != "u":
                block = block.view(f"{seg.kind}{seg.size}")
            values.extend(block)
        raw = st.raw
        if plan.unique and raw.keys().isdisjoint(plan.keys):
            raw.update(zip(plan.keys, values, strict=True))
            st.order.extend(plan.keys)
        else:
            for key, v in zip(plan.keys, values, strict=True):
                if key not in raw:
                    st.order.append(key)
                raw[key] = v
        if st.present:
            for key in plan.keys:
                st.present.pop(key, None)
        st.rel = plan.end_rel
        st.stale = True

    def _locate(
        self,
        st: _State,
        loc: Location | None,
        cstart: NDArray[np.int64],
        crel: int | None,
        act: NDArray[np.int64] | None,
    ) -> None:
        if loc is None:
            return
        if loc.reference == "previousEntry":
            self._advance(st, act, loc.offset_bits)
            return
        start = st.base if loc.reference == "packetStart" else cstart
        st.materialize()
        if act is None:
            st.pos = start + loc.offset_bits
            if loc.reference == "packetStart":
                st.rel = loc.offset_bits
            else:
                st.rel = None if crel is None else crel + loc.offset_bits
        else:
            st.pos[act] = start[act] + loc.offset_bits
            st.rel = None
        self._check_bounds(st, act, 0)

    def _advance(self, st: _State, act: NDArray[np.int64] | None, nbits: int) -> None:
        if not nbits:
            return
        if act is None and st.rel is not None:
            st.rel += nbits
            st.stale = True
            if st.fits(0):
                return
        elif act is None:
            st.pos = st.pos + nbits
        else:
            st.materialize()[act] += nbits
            st.rel = None
        self._check_bounds(st, act, 0)

    def _entry_once(
        self,
        st: _State,
        entry: Entry,
        act: NDArray[np.int64] | None,
        cstart: NDArray[np.int64],
        crel: int | None,
    ) -> None:
        if isinstance(entry, ParameterEntry):
            p = self.mdb.parameters[entry.parameter]
            ptype = self.mdb.types.get(p.type) if p.type else None
            if ptype is None:
                self._fail(st, act, "no_encoding")
                return
            if entry.dimensions and isinstance(ptype, ArrayType):
                ptype = dataclasses.replace(ptype, dimensions=entry.dimensions)
            self._decode_into(st, p.qualified_name, ptype, act)
        elif isinstance(entry, ContainerEntry):
            sub = self.mdb.containers[entry.container]
            start = st.materialize().copy()
            self._entries(st, sub.entries, start, st.rel)
        elif isinstance(entry, FixedValueEntry):
            self._check_bounds(st, act, entry.size_bits)
            self._advance(st, act, entry.size_bits)
        elif isinstance(entry, ArgumentEntry):  # command containers are not telemetry
            raise DecodeError(f"argument entry {entry.argument} in a telemetry container")

    def _decode_into(
        self, st: _State, key: str, ptype: DataType, act: NDArray[np.int64] | None
    ) -> None:
        if isinstance(ptype, AggregateType):
            for m in ptype.members:
                mtype = self.mdb.types[m.type]
                self._decode_into(st, f"{key}.{m.name}", mtype, act)
            return
        values = self._read_value(st, ptype, act)
        if values is None:
            return
        if key not in st.raw:
            st.order.append(key)
        if act is None:
            st.raw[key] = values
            st.present.pop(key, None)
        else:
            full = st.raw.get(key)
            if full is None or full.shape[1:] != values.shape[1:] or full.dtype != values.dtype:
                if values.dtype == object or values.ndim > 1:
                    full = (
                        np.empty(st.n, dtype=object)
                        if values.ndim == 1
                        else np.zeros((st.n, *values.shape[1:]), dtype=values.dtype)
                    )
                else:
                    full = np.zeros(st.n, dtype=values.dtype)
                present = np.zeros(st.n, dtype=bool)
            else:
                present = st.present.get(key, np.ones(st.n, dtype=bool)).copy()
            full[act] = values
            present[act] = True
            st.raw[key] = full
            st.present[key] = present

    # -- value readers ---------------------------------------------------------------------------

    def _read_value(
        self, st: _State, ptype: DataType, act: NDArray[np.int64] | None
    ) -> NDArray[Any] | None:
        if isinstance(ptype, ArrayType):
            return self._read_array(st, ptype, act)
        if isinstance(ptype, AbsoluteTimeType) and ptype.timecode is not None:
            return self._read_timecode(st, ptype.timecode, act)
        enc = ptype.encoding if not isinstance(ptype, AggregateType) else None
        if enc is None:
            self._fail(st, act, "no_encoding")
            return None
        return self._read_encoded(st, enc, act)

    def _read_encoded(
        self, st: _State, enc: DataEncoding, act: NDArray[np.int64] | None
    ) -> NDArray[Any]:
        if isinstance(enc, IntegerEncoding):
            u = self._read_uint(st, act, enc.size_bits, enc.byte_order)
            self._advance(st, act, enc.size_bits)
            return _signed(u, enc.size_bits, enc.encoding)
        if isinstance(enc, FloatEncoding):
            u = self._read_uint(st, act, enc.size_bits, enc.byte_order)
            self._advance(st, act, enc.size_bits)
            return _float(u, enc)
        if isinstance(enc, StringEncoding | BinaryEncoding):
            return self._read_bytes(st, enc, act)
        raise DecodeError(f"unsupported encoding {type(enc).__name__}")

    def _positions(self, st: _State, act: NDArray[np.int64] | None) -> NDArray[np.int64]:
        pos = st.materialize()
        return pos if act is None else pos[act]

    def _check_bounds(self, st: _State, act: NDArray[np.int64] | None, nbits: int) -> None:
        if act is None and st.fits(nbits):
            return
        pos = self._positions(st, act)
        over = pos + nbits > (st.end if act is None else st.end[act])
        if over.any():
            where = np.flatnonzero(over) if act is None else act[over]
            st.fail[where] = np.where(st.fail[where] == 0, _FAIL["too_short"], st.fail[where])
            # park failed packets at their end so later reads stay inside the buffer
            st.pos[where] = np.minimum(st.pos[where], st.end[where])
            st.rel = None if act is not None or over.any() else st.rel

    def _read_uint(
        self,
        st: _State,
        act: NDArray[np.int64] | None,
        nbits: int,
        byte_order: tuple[int, ...] | None = None,
    ) -> NDArray[np.unsignedinteger[Any]]:
        """Read an unsigned big-endian (or ``byte_order``) integer of ``nbits`` at each position."""
        if nbits < 1 or nbits > 64:
            raise DecodeError(f"integer size {nbits} bits outside 1..64")
        self._check_bounds(st, act, nbits)
        n = st.n if act is None else int(act.size)
        if n == 0:
            return np.zeros(0, dtype=_int_dtype(nbits))
        if act is None and st.fits(nbits) and byte_order is None:
            fast = self._read_matrix(st, nbits)
            if fast is not None:
                return fast
        pos = self._positions(st, act)
        if byte_order is not None:
            if nbits % 8:
                raise DecodeError("a byte order other than big-endian needs whole bytes")
            # read the bytes in transmission order, then put each at its significance
            tx = self._read_uint(st, act, nbits).astype(np.uint64)
            nb = nbits // 8
            acc = np.zeros(n, dtype=np.uint64)
            for j, sig in enumerate(byte_order):
                byte = (tx >> np.uint64(8 * (nb - 1 - j))) & np.uint64(0xFF)
                acc |= byte << np.uint64(8 * sig)
            return acc.astype(_int_dtype(nbits))
        shift_scalar: int | None
        if act is None and st.rel is not None and st.matrix is not None:
            rb, shift_scalar = divmod(st.rel, 8)
            k = (shift_scalar + nbits + 7) // 8
            if rb + k <= st.matrix.shape[1]:
                window = st.matrix[:, rb : rb + k]
            else:
                window = st.buf[(pos >> 3)[:, None] + np.arange(k)]
        else:
            shifts = pos & 7
            shift_scalar = int(shifts[0]) if np.all(shifts == shifts[0]) else None
            k = ((shift_scalar if shift_scalar is not None else 7) + nbits + 7) // 8
            window = st.buf[(pos >> 3)[:, None] + np.arange(k)]
        if shift_scalar == 0 and nbits in (8, 16, 32, 64):
            kb = nbits // 8
            return np.ascontiguousarray(window).view(f">u{kb}")[:, 0].astype(f"u{kb}")
        if k <= 8:
            acc = np.zeros(n, dtype=np.uint64)
            for j in range(k):
                acc = (acc << np.uint64(8)) | window[:, j]
            s = 8 * k - nbits - (shift_scalar if shift_scalar is not None else (pos & 7))
            acc = acc >> np.asarray(s, dtype=np.uint64)
            if nbits < 64:
                acc &= np.uint64((1 << nbits) - 1)
            return acc.astype(_int_dtype(nbits))
        # an unaligned 64-bit field spans 9 bytes: read it as two halves
        save_pos, save_rel = st.materialize().copy(), st.rel
        hi = self._read_uint(st, act, nbits - 32).astype(np.uint64)
        self._advance(st, act, nbits - 32)
        lo = self._read_uint(st, act, 32).astype(np.uint64)
        st.pos, st.rel = save_pos, save_rel
        return (hi << np.uint64(32)) | lo

    def _read_matrix(self, st: _State, nbits: int) -> NDArray[np.unsignedinteger[Any]] | None:
        """Fixed layout, equal lengths: read a field as strided columns of the byte matrix."""
        m = st.matrix
        assert m is not None
        assert st.rel is not None
        rb, shift = divmod(st.rel, 8)
        k = (shift + nbits + 7) // 8
        n, width = m.shape
        if shift == 0 and nbits in (8, 16, 32, 64) and m.flags.c_contiguous:
            kb = nbits // 8
            view = np.ndarray((n,), dtype=f">u{kb}", buffer=m, offset=rb, strides=(width,))
            return view.astype(f"u{kb}")
        if k > 8:
            return None
        acc = m[:, rb].astype(np.uint64)
        for j in range(1, k):
            acc <<= np.uint64(8)
            acc |= m[:, rb + j]
        extra = 8 * k - shift - nbits
        if extra:
            acc >>= np.uint64(extra)
        if nbits < 64:
            acc &= np.uint64((1 << nbits) - 1)
        return acc.astype(_int_dtype(nbits))

    def _read_timecode(
        self, st: _State, tc: CucTimeCode | CdsTimeCode, act: NDArray[np.int64] | None
    ) -> NDArray[np.float64]:
        """Seconds since the code's epoch of a CUC or CDS T-field (:mod:`falak.timecodes`)."""
        if isinstance(tc, CucTimeCode):
            coarse = self._read_uint(st, act, 8 * tc.coarse_bytes)
            self._advance(st, act, 8 * tc.coarse_bytes)
            fine: NDArray[Any] | int = 0
            if tc.fine_bytes:
                fine = self._read_uint(st, act, 8 * tc.fine_bytes)
                self._advance(st, act, 8 * tc.fine_bytes)
            return timecodes.cuc_from_ints(coarse, fine, tc.fine_bytes)
        days = self._read_uint(st, act, 8 * tc.day_bytes)
        self._advance(st, act, 8 * tc.day_bytes)
        ms = self._read_uint(st, act, 32)
        self._advance(st, act, 32)
        sub = None
        if tc.submillis_bytes:
            sub = self._read_uint(st, act, 8 * tc.submillis_bytes)
            self._advance(st, act, 8 * tc.submillis_bytes)
        return timecodes.cds_from_ints(days, ms, sub, tc.submillis_bytes)

    def _read_bytes(
        self, st: _State, enc: StringEncoding | BinaryEncoding, act: NDArray[np.int64] | None
    ) -> NDArray[np.object_]:
        """Strings and blobs: sizes may differ per packet, so this loops over packets."""
        rows = np.arange(st.n) if act is None else act
        out = np.empty(rows.size, dtype=object)
        st.materialize()
        fixed = enc.fixed_size_bits
        dyn = (
            self._dynamic(st, enc.dynamic_size, act).astype(np.int64)
            if enc.dynamic_size is not None
            else None
        )
        lead = enc.leading_size_bits
        term = enc.terminator if isinstance(enc, StringEncoding) else None
        buf = st.buf
        for j, r in enumerate(rows):
            pos = int(st.pos[r])
            end = int(st.end[r])
            if lead:
                if pos + lead > end:
                    self._fail(st, np.array([r]), "too_short")
                    out[j] = b""
                    continue
                size_bytes = _bits_to_int(buf, pos, lead)
                pos += lead
                nbits = 8 * size_bytes
            elif fixed is not None:
                nbits = fixed
            elif dyn is not None:
                nbits = int(dyn[j])
            elif term is not None:
                nbits = -1
            else:
                raise DecodeError("string or binary encoding without a size")
            if nbits < -1:
                self._fail(st, np.array([r]), "bad_size")
                out[j] = b""
                continue
            start = pos >> 3
            if nbits == -1:
                assert term is not None
                stop_limit = end >> 3
                if isinstance(enc, StringEncoding) and enc.max_size_bits:
                    stop_limit = min(stop_limit, start + enc.max_size_bits // 8)
                found = bytes(buf[start:stop_limit]).find(term) if not pos & 7 else -1
                if found < 0:
                    self._fail(st, np.array([r]), "too_short")
                    out[j] = b""
                    st.pos[r] = end
                    continue
                out[j] = bytes(buf[start : start + found])
                st.pos[r] = (start + found + len(term)) * 8
                continue
            if pos + nbits > end:
                self._fail(st, np.array([r]), "too_short")
                out[j] = b""
                st.pos[r] = end
                continue
            if pos & 7:  # an unaligned field: shift its bits into whole bytes
                value = _bits_to_int(buf, pos, nbits).to_bytes((nbits + 7) // 8, "big")
            else:
                value = bytes(buf[start : start + (nbits + 7) // 8])
            if term is not None:
                cut = value.find(term)
                if cut >= 0:
                    value = value[:cut]
            out[j] = value
            st.pos[r] = pos + nbits
        st.rel = None
        return out

    def _read_array(
        self, st: _State, atype: ArrayType, act: NDArray[np.int64] | None
    ) -> NDArray[Any] | None:
        etype = self.mdb.types[atype.element_type]
        rows = np.arange(st.n) if act is None else act
        counts = np.ones(rows.size, dtype=np.int64)
        fixed = True
        for dim in atype.dimensions:
            if dim.size is not None:
                counts *= dim.size
            else:
                assert dim.dynamic_size is not None
                counts *= np.maximum(self._dynamic(st, dim.dynamic_size, act).astype(np.int64), 0)
                fixed = False
        nmax = int(counts.max()) if counts.size else 0
        elements: list[NDArray[Any]] = []
        for e in range(nmax):
            sel_local = np.flatnonzero(counts > e)
            sel = rows[sel_local]
            if isinstance(etype, AggregateType):
                vals = np.empty(sel.size, dtype=object)
                members: dict[str, NDArray[Any]] = {}
                for m in etype.members:
                    mv = self._read_value(st, self.mdb.types[m.type], sel)
                    if mv is None:
                        return None
                    members[m.name] = mv
                for i in range(sel.size):
                    vals[i] = {k: _py(v[i]) for k, v in members.items()}
            else:
                got = self._read_value(st, etype, sel)
                if got is None:
                    return None
                vals = got
            full = np.empty(rows.size, dtype=object) if not fixed else None
            if full is not None:
                full[sel_local] = list(vals) if vals.dtype == object else vals.tolist()
                elements.append(full)
            else:
                elements.append(vals)
        if fixed and elements and all(el.dtype != object for el in elements):
            arr = np.stack(elements, axis=1)
            shape = tuple(d.size for d in atype.dimensions if d.size is not None)
            return arr.reshape((rows.size, *shape)) if len(shape) > 1 else arr
        out = np.empty(rows.size, dtype=object)
        for i in range(rows.size):
            c = int(counts[i])
            items = [el[i] for el in elements[:c]]
            out[i] = np.array(items) if items and not isinstance(items[0], dict) else items
        return out

    def _dynamic(
        self, st: _State, dv: DynamicValue, act: NDArray[np.int64] | None
    ) -> NDArray[np.float64]:
        vals = self._ref_values(st, dv.ref.parameter, dv.ref.member, dv.ref.calibrated)
        if vals is None:
            self._fail(st, act, "bad_size")
            n = st.n if act is None else act.size
            return np.zeros(n)
        v = np.asarray(vals, dtype=np.float64)
        if act is not None:
            v = v[act]
        return v * dv.slope + dv.intercept

    def _fail(self, st: _State, act: NDArray[np.int64] | None, reason: str) -> None:
        code = _FAIL[reason]
        if act is None:
            st.fail[st.fail == 0] = code
        else:
            sel = act[st.fail[act] == 0]
            st.fail[sel] = code

    # -- conditions --------------------------------------------------------------------------------

    def _ref_values(
        self, st: _State, parameter: str, member: tuple[str, ...], calibrated: bool
    ) -> NDArray[Any] | None:
        key = parameter + "".join("." + m for m in member)
        raw = st.raw.get(key)
        if raw is None:
            return None
        if not calibrated:
            return raw
        ptype = self._key_type(key)
        return raw if ptype is None else self._engineering(st, key, ptype, raw)

    def _evaluate(self, st: _State, cond: Condition) -> NDArray[np.bool_]:
        if isinstance(cond, AllOf):
            out = np.ones(st.n, dtype=bool)
            for c in cond.conditions:
                out &= self._evaluate(st, c)
            return out
        if isinstance(cond, AnyOf):
            out = np.zeros(st.n, dtype=bool)
            for c in cond.conditions:
                out |= self._evaluate(st, c)
            return out
        if isinstance(cond, Not):
            return ~self._evaluate(st, cond.condition)
        assert isinstance(cond, Comparison)
        ref = cond.ref
        vals = self._ref_values(st, ref.parameter, ref.member, ref.calibrated)
        if vals is None:
            return np.zeros(st.n, dtype=bool)
        key = ref.parameter + "".join("." + m for m in ref.member)
        target = _comparison_value(vals, cond.value, self._key_type(key), ref.calibrated)
        op = cond.operator
        with np.errstate(invalid="ignore"):
            if op == "==":
                res = vals == target
            elif op == "!=":
                res = vals != target
            elif op == "<":
                res = vals < target
            elif op == "<=":
                res = vals <= target
            elif op == ">":
                res = vals > target
            else:
                res = vals >= target
        res = np.asarray(res, dtype=bool)
        present = st.present.get(key)
        return res & present if present is not None else res

    # -- engineering values, monitoring, derived -------------------------------------------

    def _key_type(self, key: str) -> DataType | None:
        pname, members = self.mdb.split_member_key(key)  # a dot is legal in a name
        p = self.mdb.parameters.get(pname)
        if p is None or p.type is None:
            return None
        t: DataType | None = self.mdb.types.get(p.type)
        for m in members:
            if not isinstance(t, AggregateType):
                return None
            mt = next((x.type for x in t.members if x.name == m), None)
            t = self.mdb.types.get(mt) if mt else None
        return t

    def _engineering(
        self, st: _State, key: str, ptype: DataType, raw: NDArray[Any]
    ) -> NDArray[Any]:
        if isinstance(ptype, IntegerType | FloatType):
            if ptype.calibrator is not None and raw.dtype != object:

                def evaluate(c: Condition) -> NDArray[np.bool_]:
                    return self._evaluate(st, c)

                return calibrate(ptype.calibrator, raw, evaluate)
            if isinstance(ptype, FloatType) and raw.dtype.kind in "iu":
                return raw.astype(np.float64)
            return raw
        if isinstance(ptype, EnumeratedType):
            return _labels(ptype, raw)
        if isinstance(ptype, BooleanType):
            return raw != 0 if raw.dtype != object else raw.astype(bool)
        if isinstance(ptype, StringType):
            enc = ptype.encoding
            charset = enc.charset if isinstance(enc, StringEncoding) else "utf-8"
            out = np.empty(raw.size, dtype=object)
            for i, v in enumerate(raw):
                out[i] = v.decode(_codec(charset), errors="replace") if isinstance(v, bytes) else v
            return out
        if isinstance(ptype, AbsoluteTimeType):
            return self._absolute_time(st, ptype, raw)
        if isinstance(ptype, RelativeTimeType):
            return raw.astype(np.float64) * ptype.scale + ptype.offset
        return raw

    def _absolute_time(
        self, st: _State, ptype: AbsoluteTimeType, raw: NDArray[Any]
    ) -> NDArray[Any]:
        seconds = raw.astype(np.float64) * ptype.scale + ptype.offset
        if ptype.offset_from is not None:
            ref = ptype.offset_from
            base = self._ref_values(st, ref.parameter, ref.member, True)
            if base is None or base.dtype.kind != "M":
                return np.full(raw.shape, np.datetime64("NaT"), dtype="datetime64[ns]")
            shifted: NDArray[Any] = base + (seconds * 1e9).astype("timedelta64[ns]")
            return shifted
        epoch = ptype.epoch.epoch if ptype.epoch is not None else "TAI"
        if isinstance(ptype.timecode, CdsTimeCode):  # a UTC day count (CCSDS 301.0-B-4 §3.3)
            return timecodes.cds_seconds_to_datetime64(seconds, epoch)
        return timecodes.epoch_seconds_to_datetime64(seconds, epoch)

    def _monitor(
        self,
        st: _State,
        ptype: DataType,
        eng: NDArray[Any],
        present: NDArray[np.bool_] | None,
    ) -> NDArray[np.uint8] | None:
        alarm = getattr(ptype, "alarm", None)
        if alarm is None or eng.ndim != 1:
            return None

        def evaluate(c: Condition) -> NDArray[np.bool_]:
            return self._evaluate(st, c)

        if isinstance(alarm, NumericAlarm) and eng.dtype != object:
            level = check_numeric(alarm, eng, evaluate)
        elif isinstance(alarm, EnumerationAlarm):
            level = check_enumeration(alarm, eng, evaluate)
        else:
            return None
        if present is not None:
            level[~present] = 0
        return level

    def _add_derived(self, columns: dict[str, Column]) -> None:
        for p in self._derived:
            assert p.derivation is not None
            inputs = [columns.get(i) for i in p.derivation.inputs]
            if any(c is None for c in inputs) or p.qualified_name in columns:
                continue
            fn = self._function(p.derivation.function)
            args = [c.eng for c in inputs if c is not None]
            value = np.asarray(fn(*args))
            ptype = self.mdb.types.get(p.type) if p.type else None
            mon = None
            if self.do_limits and ptype is not None and value.ndim == 1:
                alarm = getattr(ptype, "alarm", None)
                if isinstance(alarm, NumericAlarm) and value.dtype != object:
                    mon = check_numeric(alarm, value)
            columns[p.qualified_name] = Column(p.qualified_name, p.name, value, value, None, mon)

    def _function(self, spec: str) -> Callable[..., Any]:
        """The derived function named ``spec``, from :mod:`falak.tm.derived` (never an import
        of a module the MDB names)."""
        fn = self._functions.get(spec)
        if fn is None:
            from falak.tm.derived import derived_function

            fn = self._functions[spec] = derived_function(spec)
        return fn

    def _transitions(self, results: list[ContainerResult]) -> list[AlarmTransition]:
        series: dict[str, list[tuple[NDArray[np.int64], NDArray[np.uint8], NDArray[Any]]]] = {}
        for res in results:
            for col in res.columns.values():
                if col.monitoring is not None:
                    entry = (res.packet_index, col.monitoring, col.eng)
                    series.setdefault(col.key, []).append(entry)
        out: list[AlarmTransition] = []
        for key, parts in series.items():
            idx = np.concatenate([p[0] for p in parts])
            lev = np.concatenate([p[1] for p in parts])
            order = np.argsort(idx, kind="stable")
            lev = lev[order]
            prev = np.empty_like(lev)
            prev[:1] = 0
            prev[1:] = lev[:-1]
            starts = np.cumsum([0] + [p[0].size for p in parts])
            for w in np.flatnonzero(lev != prev):
                g = int(order[w])
                part = int(np.searchsorted(starts, g, side="right")) - 1
                value = _py(parts[part][2][g - starts[part]])
                out.append(
                    AlarmTransition(
                        key, int(idx[g]), AlarmLevel(int(prev[w])), AlarmLevel(int(lev[w])), value
                    )
                )
        out.sort(key=lambda t: (t.index, t.parameter))
        return out


# ---------------------------------------------------------------------------------------------
# helpers


def _excess(
    results: list[ContainerResult], lengths: NDArray[np.int64]
) -> tuple[dict[str, NDArray[np.int64]], dict[str, int]]:
    """Packets of ``results`` with whole bytes after their container, by reason, and those
    bytes by reason (see :data:`EXCESS_REASONS`); ``lengths`` are the batch's packet bytes."""
    where: list[NDArray[np.int64]] = []
    extra: list[NDArray[np.int64]] = []
    for c in results:
        hit = np.flatnonzero(c.trailing_bits >= 8)
        if hit.size:
            where.append(c.packet_index[hit])
            extra.append(c.trailing_bits[hit] >> 3)
    if not where:
        return {}, {}
    idx = np.concatenate(where)
    nbytes = np.concatenate(extra)
    oversize = nbytes >= lengths[idx] - nbytes
    out: dict[str, NDArray[np.int64]] = {}
    total: dict[str, int] = {}
    for reason, sel in (("excess_bytes", ~oversize), ("oversize", oversize)):
        if sel.any():
            order = np.argsort(idx[sel], kind="stable")
            out[reason] = idx[sel][order]
            total[reason] = int(nbytes[sel].sum())
    return out, total


def _signed(u: NDArray[Any], nbits: int, encoding: str) -> NDArray[Any]:
    if encoding == "unsigned":
        return u
    dt = _int_dtype(nbits, signed=True)
    u64 = u.astype(np.uint64)
    if encoding == "twosComplement":
        if nbits == 64:
            return u64.view(np.int64)
        v = u64.astype(np.int64)
        neg = (u64 >> np.uint64(nbits - 1)) & np.uint64(1)
        v -= neg.astype(np.int64) << np.int64(nbits)
        return v.astype(dt)
    sign = ((u64 >> np.uint64(nbits - 1)) & np.uint64(1)).astype(bool)
    if encoding == "signMagnitude":
        mag = (u64 & np.uint64((1 << (nbits - 1)) - 1)).astype(np.int64)
        return np.where(sign, -mag, mag).astype(dt)
    if encoding == "onesComplement":
        mask = np.uint64((1 << nbits) - 1) if nbits < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
        inv = ((~u64) & mask).astype(np.int64)
        return np.where(sign, -inv, u64.astype(np.int64)).astype(dt)
    raise DecodeError(f"unknown integer encoding {encoding!r}")


def _float(u: NDArray[Any], enc: FloatEncoding) -> NDArray[np.floating[Any]]:
    if enc.encoding == "MILSTD_1750A":
        return _milstd1750a(u.astype(np.uint64), enc.size_bits)
    if enc.size_bits == 32:
        return u.astype(np.uint32).view(np.float32)
    if enc.size_bits == 64:
        return u.astype(np.uint64).view(np.float64)
    if enc.size_bits == 16:
        return u.astype(np.uint16).view(np.float16)
    raise DecodeError(f"IEEE 754 floats are 16, 32 or 64 bits, not {enc.size_bits}")


def _milstd1750a(u: NDArray[np.uint64], nbits: int) -> NDArray[np.float64]:
    """MIL-STD-1750A 32-bit (24-bit mantissa, 8-bit exponent) or 48-bit extended floats."""
    if nbits == 32:
        mant = (u >> np.uint64(8)).astype(np.int64)
        mant = np.where(mant >= 1 << 23, mant - (1 << 24), mant)
        exp = (u & np.uint64(0xFF)).astype(np.int64)
        exp = np.where(exp >= 128, exp - 256, exp)
        return mant.astype(np.float64) / float(1 << 23) * np.exp2(exp.astype(np.float64))
    if nbits == 48:
        hi = (u >> np.uint64(24)).astype(np.int64)  # 24-bit mantissa MSBs
        exp = ((u >> np.uint64(16)) & np.uint64(0xFF)).astype(np.int64)
        lo = (u & np.uint64(0xFFFF)).astype(np.int64)
        mant = (hi << 16) | lo
        mant = np.where(mant >= 1 << 39, mant - (1 << 40), mant)
        exp = np.where(exp >= 128, exp - 256, exp)
        return mant.astype(np.float64) / float(1 << 39) * np.exp2(exp.astype(np.float64))
    raise DecodeError(f"MIL-STD-1750A floats are 32 or 48 bits, not {nbits}")


def _bits_to_int(buf: NDArray[np.uint8], pos: int, nbits: int) -> int:
    start = pos >> 3
    stop = (pos + nbits + 7) >> 3
    value = int.from_bytes(bytes(buf[start:stop]), "big")
    extra = (stop - start) * 8 - (pos & 7) - nbits
    return (value >> extra) & ((1 << nbits) - 1)


def _labels(ptype: EnumeratedType, raw: NDArray[Any]) -> NDArray[np.object_]:
    values = np.asarray(raw)
    out = np.empty(values.shape, dtype=object)
    if values.dtype == object:  # enumerations with a binary encoding: big-endian codes
        values = np.array(
            [int.from_bytes(v, "big") if isinstance(v, bytes) else int(v) for v in values],
            dtype=np.int64,
        )
    undefined = np.ones(values.shape, dtype=bool)
    for ev in ptype.values:
        if ev.max_value is None:
            m = values == ev.value
        else:
            m = (values >= ev.value) & (values <= ev.max_value)
        out[m] = ev.label
        undefined &= ~m
    if undefined.any():
        for i in np.flatnonzero(undefined):
            out[i] = f"UNDEFINED({int(values[i])})"
    return out


def _comparison_value(
    vals: NDArray[Any], text: str, ptype: DataType | None, calibrated: bool
) -> Any:
    if vals.dtype == object:
        if isinstance(ptype, BinaryType):
            return bytes.fromhex(text.removeprefix("0x"))
        return text
    if vals.dtype.kind == "b":
        return text.strip().lower() in ("1", "true", "on", "yes") or (
            isinstance(ptype, BooleanType) and text == ptype.one_string
        )
    if vals.dtype.kind == "M":
        return np.datetime64(text.rstrip("Z"), "ns")
    try:
        value = (
            float(int(text, 0)) if text.strip().lower().startswith(("0x", "0b")) else float(text)
        )
    except ValueError:
        if isinstance(ptype, EnumeratedType) and not calibrated:
            for ev in ptype.values:
                if ev.label == text:
                    return ev.value
        return math.nan
    if vals.dtype.kind in "iu" and value.is_integer():
        return int(value)
    return value


def _codec(charset: str) -> str:
    c = charset.lower()
    return {"us-ascii": "ascii", "iso-8859-1": "latin-1", "utf-16": "utf-16"}.get(c, c)


def _py(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def merge_results(results: list[ContainerResult]) -> list[ContainerResult]:
    """Join results of the same container decoded from different length groups."""
    by_name: dict[str, list[ContainerResult]] = {}
    for r in results:
        by_name.setdefault(r.container, []).append(r)
    merged: list[ContainerResult] = []
    for name, parts in by_name.items():
        if len(parts) == 1:
            merged.append(parts[0])
            continue
        idx = np.concatenate([p.packet_index for p in parts])
        order = np.argsort(idx, kind="stable")
        keys: list[str] = []
        for p in parts:
            keys.extend(k for k in p.columns if k not in keys)
        columns: dict[str, Column] = {}
        for key in keys:
            cols = [p.columns.get(key) for p in parts]
            sizes = [len(p) for p in parts]
            raw = _concat([c.raw if c else None for c in cols], sizes)[order]
            eng = _concat([c.eng if c else None for c in cols], sizes)[order]
            if all(c is not None and c.present is None for c in cols):
                present = None
            else:
                present = np.concatenate(
                    [
                        (c.present if c.present is not None else np.ones(s, bool))
                        if c
                        else np.zeros(s, bool)
                        for c, s in zip(cols, sizes, strict=True)
                    ]
                )[order]
            mons = [c.monitoring if c else None for c in cols]
            mon = None
            if any(m is not None for m in mons):
                mon = np.concatenate(
                    [
                        m if m is not None else np.zeros(s, np.uint8)
                        for m, s in zip(mons, sizes, strict=True)
                    ]
                )[order]
            first = next(c for c in cols if c is not None)
            columns[key] = Column(key, first.name, raw, eng, present, mon)
        trailing = np.concatenate([p.trailing_bits for p in parts])[order]
        merged.append(ContainerResult(name, idx[order], columns, trailing))
    merged.sort(key=lambda r: int(r.packet_index[0]) if len(r) else 0)
    return merged


def _concat(arrays: list[NDArray[Any] | None], sizes: list[int]) -> NDArray[Any]:
    present = [a for a in arrays if a is not None]
    same = all(a.dtype == present[0].dtype and a.shape[1:] == present[0].shape[1:] for a in present)
    if same and len(present) == len(arrays):
        return np.concatenate(present)
    out = np.empty(sum(sizes), dtype=object)
    at = 0
    for a, s in zip(arrays, sizes, strict=True):
        if a is not None:
            for i in range(s):
                out[at + i] = a[i] if a.ndim == 1 else a[i].copy()
        at += s
    return out


def decode_stream(
    mdb: MissionDatabase,
    data: bytes | bytearray | memoryview | NDArray[np.uint8],
    *,
    root: str | None = None,
    prefix_bytes: int = 0,
    lenient_version: bool = False,
    calibrate: bool = True,
    check_limits: bool = True,
) -> tuple[DecodeResult, Any]:
    """Split a byte stream into CCSDS packets and decode them all.

    Returns the decode result and the :class:`falak.ccsds.spacepacket.SplitResult` (with the
    skipped byte ranges, counted by reason).
    """
    from falak.ccsds.spacepacket import split_packets

    split = split_packets(data, prefix_bytes=prefix_bytes, lenient_version=lenient_version)
    dec = Decoder(mdb, root, calibrate=calibrate, check_limits=check_limits)
    return dec.decode(data, split.offsets, split.lengths), split
