"""CCSDS 133.0-B-2 Space Packet Protocol: split a byte stream into space packets.

Reference: CCSDS 133.0-B-2, *Space Packet Protocol*, Blue Book, June 2020.

- §4.1.3 (Packet Primary Header, 6 octets): Packet Version Number (3 bits, ``000`` for version-1
  CCSDS packets, §4.1.3.2), Packet Identification (type bit, secondary header flag, 11-bit APID,
  §4.1.3.3), Packet Sequence Control (2-bit sequence flags, 14-bit sequence count, §4.1.3.4) and
  Packet Data Length (16 bits, "number of octets in the Packet Data Field minus one", §4.1.3.5).
  So the total packet length is ``data_length + 7`` octets, from 7 to 65,542.
- §4.1.3.3.4.4: APID ``11111111111`` (0x7FF) is reserved for Idle Packets.
- §4.1.4: the Packet Data Field holds at least one octet.

The splitter never raises on the content of the stream (CONVENTIONS.md: batch and stream APIs
count rejections by reason). Every input byte ends up in exactly one of:

1. a packet: ``[offsets[i], offsets[i] + lengths[i])``;
2. the framing prefix of a packet (``prefix_bytes`` > 0): ``[offsets[i] - prefix_bytes,
   offsets[i])``. Prefix bytes are framing, not errors, so they are *not* skipped ranges and do
   not appear in :meth:`SplitResult.rejected_counts`; :attr:`SplitResult.prefix_bytes_total`
   accounts for them;
3. a :class:`SkippedRange` with a reason:

   ``garbage``       bytes that form no acceptable packet (skipped while resynchronising);
   ``truncated``     an incomplete last packet (or fewer than 6 header bytes) at end of input;
   ``bad_version``   a packet-shaped unit whose version is not 0 (``lenient_version=False``);
   ``bad_length``    a packet-shaped unit longer than ``max_packet_bytes``;
   ``unknown_apid``  a well-formed packet whose APID is not in ``apids``;
   ``idle``          an idle packet (APID 0x7FF, §4.1.3.3.4.4), unless ``keep_idle=True``.

A rejected unit (unknown_apid, idle, bad_version, bad_length) includes its own prefix bytes.

Synchronisation. While locked (at the start of the input and after each good unit) the length
field is trusted, as CCSDS 133.0-B-2 intends and as ccsdspy and space_packet_parser do: a
header is accepted when its version is 0 (any version if ``lenient_version``), its length is at
most ``max_packet_bytes`` and the packet fits in the input. One check guards against a damaged
length field: if no confirmed chain (below, with any length allowed) starts right after the
packet, the packet is dropped as ``garbage`` up to a confirmed chain starting inside it: when
the header right after it is not acceptable (or overruns the input), a chain that does not
lead back to the packet's end and whose APID recurs (that of the packet or of the chain's
next headers); otherwise a chain whose first packet lies inside it and that runs on past
its end.

When a header is not acceptable the splitter resynchronises: it scans forward byte by byte for
the nearest offset that starts a *confirmed chain*: 4 acceptable headers (the first with an APID
in ``apids`` when given; idle counts), each packet fitting, at least 8 bytes long (zero fill
reads as 7-byte packets) and its length field pointing at the next, no two consecutive headers
byte-identical, and no packet of the chain containing a run of acceptable headers that lands
exactly on that packet's end (a false header whose length lands on a real packet boundary jumps
over real packets, and they give it away). The chain may end early exactly at the end of the
input. The bytes skipped are one ``garbage`` range (``truncated`` when they start with a header
whose packet runs past the end of the input and nothing acceptable follows). A header that is
rejected only for its version or its length is reported as one ``bad_version``/``bad_length``
unit, without resynchronising, when its length field points at the end of the input, at a header
with the same type, secondary-header flag and APID and the next sequence count (27 bits), or at
a confirmed chain while no confirmed chain starts inside the unit. This is how a stream of
version-1 packets read without ``lenient_version`` is counted packet by packet.

No splitter can be certain where packets start after damage (CCSDS packets carry no sync
marker); these rules keep the damage local in the property tests
(``tests/ccsds/test_spacepacket.py``), which check that every byte is accounted for.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from falak.errors import EncodeError, InputError

__all__ = [
    "IDLE_APID",
    "MAX_PACKET_BYTES",
    "PRIMARY_HEADER_BYTES",
    "REJECT_REASONS",
    "PacketSplitter",
    "SkippedRange",
    "SplitResult",
    "encode_packet",
    "primary_header_fields",
    "split_packets",
]

PRIMARY_HEADER_BYTES = 6
"""Octets in the Packet Primary Header (CCSDS 133.0-B-2 §4.1.3)."""
IDLE_APID = 0x7FF
"""APID reserved for Idle Packets (CCSDS 133.0-B-2 §4.1.3.3.4.4)."""
MAX_PACKET_BYTES = 65542
"""Largest packet the 16-bit Packet Data Length field can describe: 65535 + 7 octets."""
MIN_PACKET_BYTES = 7
"""Smallest packet: 6-octet header and a 1-octet data field (CCSDS 133.0-B-2 §4.1.4)."""

REJECT_REASONS: tuple[str, ...] = (
    "garbage",
    "truncated",
    "bad_version",
    "bad_length",
    "unknown_apid",
    "idle",
)
"""Reasons a :class:`SkippedRange` can carry; the index is the code used by the scan kernel."""

_R_GARBAGE = 0
_R_TRUNCATED = 1
_R_BAD_VERSION = 2
_R_BAD_LENGTH = 3
_R_UNKNOWN_APID = 4
_R_IDLE = 5

_STREAM_RESYNC_LIMIT = 1 << 20
"""A streaming splitter keeps at most about this many unresolved resync bytes buffered."""


@dataclass(frozen=True)
class SkippedRange:
    """Bytes ``[start, stop)`` (absolute offsets in the input) that are in no packet."""

    start: int
    stop: int
    reason: str

    @property
    def n_bytes(self) -> int:
        """Number of bytes in the range."""
        return self.stop - self.start


@dataclass
class SplitResult:
    """Packets found in (a chunk of) a byte stream, and the byte ranges that are in none.

    Attributes
    ----------
    offsets
        Absolute offset of each packet's primary header in the input (or stream), int64.
    lengths
        Total length of each packet in bytes, including the 6-byte header, int64.
    skipped
        Byte ranges in no packet, with their reason, in stream order.
    prefix_bytes
        Framing bytes before each packet: ``[offsets[i] - prefix_bytes, offsets[i])``.
    span_start, span_stop
        The absolute byte range this result accounts for; packets, their prefixes and the
        skipped ranges tile it exactly.
    data
        The bytes the offsets point into (``data[0]`` is absolute offset ``base_offset``); for
        :func:`split_packets` the input itself, for :class:`PacketSplitter` its internal buffer.
    base_offset
        Absolute stream offset of ``data[0]``.
    """

    offsets: NDArray[np.int64]
    lengths: NDArray[np.int64]
    skipped: list[SkippedRange]
    prefix_bytes: int = 0
    span_start: int = 0
    span_stop: int = 0
    data: NDArray[np.uint8] | None = field(default=None, repr=False)
    base_offset: int = 0

    @property
    def n_packets(self) -> int:
        """Number of packets found."""
        return int(self.offsets.shape[0])

    @property
    def prefix_bytes_total(self) -> int:
        """Framing prefix bytes of the packets found (not counted as rejections)."""
        return self.n_packets * self.prefix_bytes

    @property
    def local_offsets(self) -> NDArray[np.int64]:
        """Packet offsets relative to :attr:`data` (``offsets - base_offset``)."""
        return self.offsets - self.base_offset

    def packet_bytes(self, index: int) -> bytes:
        """Return the bytes of packet ``index`` (header included)."""
        if self.data is None:
            raise InputError("this SplitResult carries no data; split with split_packets()")
        start = int(self.offsets[index]) - self.base_offset
        return self.data[start : start + int(self.lengths[index])].tobytes()

    def rejected_counts(self) -> dict[str, int]:
        """Return the number of skipped ranges per reason (every reason is a key)."""
        counts = dict.fromkeys(REJECT_REASONS, 0)
        for rng in self.skipped:
            counts[rng.reason] += 1
        return counts

    def rejected_bytes(self) -> dict[str, int]:
        """Return the number of skipped bytes per reason (every reason is a key)."""
        totals = dict.fromkeys(REJECT_REASONS, 0)
        for rng in self.skipped:
            totals[rng.reason] += rng.stop - rng.start
        return totals


# --------------------------------------------------------------------------------------------
# numba kernel


@njit(cache=True)
def _header_ok(
    data: Any, h: Any, lenient: bool, max_total: int, apid_ok: Any, use_filter: bool
) -> bool:
    """Return whether the header at ``h`` (6 bytes available) is acceptable for resync."""
    b0 = np.int64(data[h])
    if not lenient and (b0 >> 5) != 0:
        return False
    total = ((np.int64(data[h + 4]) << 8) | np.int64(data[h + 5])) + 7
    if total > max_total:
        return False
    if use_filter:
        apid = ((b0 & 7) << 8) | np.int64(data[h + 1])
        if not apid_ok[apid]:
            return False
    return True


_RESYNC_CHAIN = 4
"""Headers in a row that confirm a synchronisation point (the point itself and 3 successors)."""
_RESYNC_MIN_BYTES = 8
"""Shortest packet a confirming chain may hold (a data-length field of 0 is what zeros read as)."""


@njit(cache=True)
def _chain_verdict(
    data: Any,
    c: Any,
    prefix: int,
    lenient: bool,
    max_total: int,
    apid_ok: Any,
    filter_first: bool,
    final: bool,
    tail_ok_first: bool,
) -> int:
    """Return 1 if ``c`` starts a confirmed chain of headers, 0 if not, 2 if more data is needed.

    A chain is ``_RESYNC_CHAIN`` acceptable headers, each packet fitting in the data and its
    length field pointing at the next, no two consecutive headers byte-identical. It may end
    early exactly at the end of final data; ``tail_ok_first`` lets ``c`` itself be a short
    tail (fewer than 6 bytes) of final data.
    """
    n = data.shape[0]
    prev = c
    for k in range(_RESYNC_CHAIN):
        if n - c < prefix + 6:
            if not final:
                return 2
            if k == 0:
                return 1 if tail_ok_first else 0
            # a chain may end exactly at the end of the data, not in a short tail (a
            # single false header followed by a few bytes would pass too easily)
            return 1 if c == n else 0
        hc = c + prefix
        if not _header_ok(data, hc, lenient, max_total, apid_ok, filter_first and k == 0):
            return 0
        if k > 0:
            # byte-identical consecutive headers (same APID and sequence count) are what
            # zero- or pattern-filled data looks like, not a packet stream
            same = True
            for i in range(6):
                if data[hc + i] != data[prev + i]:
                    same = False
                    break
            if same:
                return 0
        prev = hc
        total = ((np.int64(data[hc + 4]) << 8) | np.int64(data[hc + 5])) + 7
        if total < _RESYNC_MIN_BYTES:
            # zero-filled data reads as a run of 7-byte packets; real ones are rarely so short
            return 0
        if hc + total > n:
            # a chain may not run through a header whose packet overruns the end of the data
            return 0 if final else 2
        c = hc + total
    return 1


@njit(cache=True)
def _find_sync(
    data: Any,
    start: Any,
    limit: Any,
    prefix: int,
    lenient: bool,
    max_total: int,
    apid_ok: Any,
    use_filter: bool,
    final: bool,
    merge_at: Any,
    strict: bool,
    like: Any,
) -> tuple[Any, int]:
    """Return (q, status): status 1 = a confirmed chain starts at q, 0 = none before ``limit``
    (q = limit), 2 = undecided at q until more data arrives.

    A chain whose length fields lead to ``merge_at`` (the end of a unit already read while
    locked; -1 for none) only re-explains that unit and is not a candidate: the unit wins.
    With ``strict``, a candidate must also run on through acceptable headers past
    ``merge_at`` and be confirmed there: it has to contradict the unit, not just sit in it.
    With ``like`` >= 0 (the header of a packet read while locked), a candidate's type, flag
    and APID must also recur: equal that header's or one of its own chain's next 3 headers'
    (real streams repeat their few APIDs; a header read out of data does not).
    """
    n = data.shape[0]
    q = start
    while q < limit:
        if n - q < prefix + 6:
            return q, (0 if final else 2)
        v = _chain_verdict(data, q, prefix, lenient, max_total, apid_ok, use_filter, final, False)
        if v == 1 and merge_at >= 0:
            c = q
            valid = True
            while c < merge_at and n - c >= prefix + 6:
                hc = c + prefix
                if strict and not _header_ok(data, hc, lenient, max_total, apid_ok, False):
                    valid = False
                    break
                c = hc + ((np.int64(data[hc + 4]) << 8) | np.int64(data[hc + 5])) + 7
            if c == merge_at or (strict and not valid):
                v = 0
            elif strict:
                v = _chain_verdict(data, c, prefix, lenient, max_total, apid_ok, False, final, True)
        if v == 1 and like >= 0:
            hq = q + prefix
            key = ((np.int64(data[hq]) & 0x1F) << 8) | np.int64(data[hq + 1])
            seen = key == (((np.int64(data[like]) & 0x1F) << 8) | np.int64(data[like + 1]))
            c = hq + ((np.int64(data[hq + 4]) << 8) | np.int64(data[hq + 5])) + 7
            for _ in range(_RESYNC_CHAIN - 1):
                if seen or n - c < prefix + 6:
                    break
                hc = c + prefix
                seen = key == (((np.int64(data[hc]) & 0x1F) << 8) | np.int64(data[hc + 1]))
                c = hc + ((np.int64(data[hc + 4]) << 8) | np.int64(data[hc + 5])) + 7
            if not seen:
                v = 0
        if v == 1:
            nested = _members_nested(data, q, prefix, lenient, max_total, apid_ok, final)
            v = 2 if nested == 2 else 1 - nested
        if v != 0:
            return q, v
        q += 1
    return limit, 0


@njit(cache=True)
def _members_nested(
    data: Any,
    q: Any,
    prefix: int,
    lenient: bool,
    max_total: int,
    apid_ok: Any,
    final: bool,
) -> int:
    """Return 1 if any packet of the confirmed chain at ``q`` swallows a real packet
    (see :func:`_has_nested`), 0 if none does, 2 if undecided."""
    n = data.shape[0]
    c = q
    for _ in range(_RESYNC_CHAIN):
        if n - c < prefix + 6:
            break
        nested, _ = _has_nested(data, c, prefix, lenient, max_total, apid_ok, final, False)
        if nested != 0:
            return nested
        hc = c + prefix
        c = hc + ((np.int64(data[hc + 4]) << 8) | np.int64(data[hc + 5])) + 7
    return 0


@njit(cache=True)
def _has_nested(
    data: Any,
    q: Any,
    prefix: int,
    lenient: bool,
    max_total: int,
    apid_ok: Any,
    final: bool,
    locked: bool,
) -> tuple[int, Any]:
    """Return (1, r) if the packet at ``q`` swallows a packet starting at r that evidently
    belongs to another chain, (0, -1) if it does not, (2, r) if undecided at r.

    For a resynchronisation candidate (``locked`` False): a false header whose length lands
    on a real packet boundary b looks confirmed; the real packets it jumps over give it away:
    a chain of acceptable headers starting inside it lands exactly on b.

    For a packet read while locked: a chain starting inside it must run on through acceptable
    headers past its end without landing on it, and be confirmed (4 headers) there.
    """
    n = data.shape[0]
    hq = q + prefix
    end = hq + ((np.int64(data[hq + 4]) << 8) | np.int64(data[hq + 5])) + 7
    for r in range(q + 1, end - prefix - 6 + 1):
        hr = r + prefix
        if not _header_ok(data, hr, lenient, max_total, apid_ok, False):
            continue
        first = ((np.int64(data[hr + 4]) << 8) | np.int64(data[hr + 5])) + 7
        c = hr + first
        if c > end or first < _RESYNC_MIN_BYTES:
            continue
        valid = True
        while c < end:
            if n - c < prefix + 6:
                valid = False
                break
            hc = c + prefix
            if not _header_ok(data, hc, lenient, max_total, apid_ok, False):
                valid = False
                break
            step = ((np.int64(data[hc + 4]) << 8) | np.int64(data[hc + 5])) + 7
            c = hc + step
            if c > n or step < _RESYNC_MIN_BYTES:
                valid = False
                break
        if not valid:
            if not final and (c > n or n - c < prefix + 6):
                return 2, r
            continue
        if not locked:
            if c == end:
                return 1, r
            continue
        if c <= end:
            continue
        v = _chain_verdict(data, c, prefix, lenient, max_total, apid_ok, False, final, False)
        if v != 0:
            return v, r
    return 0, -1


@njit(cache=True)
def _scan(
    data: Any,
    prefix: int,
    lenient: bool,
    max_total: int,
    apid_ok: Any,
    use_filter: bool,
    keep_idle: bool,
    final: bool,
    start_in_resync: bool,
    resync_limit: int,
    wait_confirm: bool,
    pk_off: Any,
    pk_len: Any,
    sk_start: Any,
    sk_stop: Any,
    sk_reason: Any,
) -> tuple[int, int, int, bool]:
    """Split ``data``; return (n_packets, n_skipped, consumed, resume_in_resync).

    With ``final`` False the scan stops where it needs more bytes to decide, and ``consumed``
    says how many leading bytes are accounted for; the caller keeps the rest. A good packet
    whose following packets have not arrived yet is released at once unless ``wait_confirm``.
    """
    n = data.shape[0]
    npk = 0
    nsk = 0
    p: Any = 0
    resume = False
    resync = start_in_resync
    rs: Any = 0  # start of the stretch being resynchronised
    q: Any = 0  # next resync candidate
    overrun = False
    forced = start_in_resync
    min_unit = prefix + 6
    while True:
        if not resync:
            # ---- locked: trust the length field (fast path for a clean stream)
            if n - p < min_unit:
                if final and p < n:
                    sk_start[nsk] = p
                    sk_stop[nsk] = n
                    sk_reason[nsk] = _R_TRUNCATED
                    nsk += 1
                    p = n
                break
            h = p + prefix
            b0 = np.int64(data[h])
            total = ((np.int64(data[h + 4]) << 8) | np.int64(data[h + 5])) + 7
            s = h + total
            bad_version = not lenient and (b0 >> 5) != 0
            if bad_version or total > max_total:
                # a packet-shaped unit with a bad header: reject it as one unit when its length
                # field points at a plausible next header (acceptable, or the same type, flag
                # and APID as this one) or at the end of the input; otherwise resynchronise
                if s > n or (n - s < min_unit and not final):
                    if not final:
                        break
                    resync = True
                    rs = p
                    q = p + 1
                    overrun = False  # a bad header is no truncated packet
                    forced = False
                    continue
                linked = n - s < min_unit
                if not linked:
                    # the next unit has the same type, flag and APID and the next sequence
                    # count (CCSDS 133.0-B-2 §4.1.3.4.2.3): 27 bits agree, trust the link
                    hs = s + prefix
                    count_h = ((np.int64(data[h + 2]) & 0x3F) << 8) | np.int64(data[h + 3])
                    count_s = ((np.int64(data[hs + 2]) & 0x3F) << 8) | np.int64(data[hs + 3])
                    linked = (
                        (data[hs] & 0x1F) == (data[h] & 0x1F)
                        and data[hs + 1] == data[h + 1]
                        and count_s == ((count_h + 1) & 0x3FFF)
                    )
                if not linked and n - s >= min_unit:
                    # or a confirmed chain follows and none starts inside the unit (a bad
                    # header is weak evidence: a chain inside wins even if it leads to s)
                    linked = (
                        _chain_verdict(
                            data, s, prefix, lenient, MAX_PACKET_BYTES, apid_ok, False, final, True
                        )
                        == 1
                    )
                    if linked:
                        _, st = _find_sync(
                            data,
                            p + 1,
                            s,
                            prefix,
                            lenient,
                            max_total,
                            apid_ok,
                            use_filter,
                            final,
                            -1,
                            False,
                            -1,
                        )
                        if st == 2:
                            break
                        linked = st == 0
                if linked:
                    sk_start[nsk] = p
                    sk_stop[nsk] = s
                    sk_reason[nsk] = _R_BAD_VERSION if bad_version else _R_BAD_LENGTH
                    nsk += 1
                    p = s
                    continue
                resync = True
                rs = p
                q = p + 1
                overrun = False
                forced = False
                continue
            if s > n:
                if not final:
                    break
                resync = True
                rs = p
                q = p + 1
                overrun = True
                forced = False
                continue
            # confirm by what follows: if no confirmed chain (any length: a following
            # bad_length unit is no doubt) starts right after this packet, and one starts
            # inside this packet's extent, this length field is wrong
            v = _chain_verdict(
                data, s, prefix, lenient, MAX_PACKET_BYTES, apid_ok, False, final, True
            )
            if v == 2 and wait_confirm:
                break
            if v == 0:
                # where does the chain after this packet break? right at s (then this
                # length field is the suspect) or further on (then later damage is)
                bad_next = False
                if n - s >= min_unit:
                    hs = s + prefix
                    bad_next = not _header_ok(data, hs, lenient, MAX_PACKET_BYTES, apid_ok, False)
                    if not bad_next:
                        ts = ((np.int64(data[hs + 4]) << 8) | np.int64(data[hs + 5])) + 7
                        bad_next = hs + ts > n
                if bad_next:
                    qq, st = _find_sync(
                        data,
                        p + 1,
                        s,
                        prefix,
                        lenient,
                        max_total,
                        apid_ok,
                        use_filter,
                        final,
                        s,
                        False,
                        h,
                    )
                else:
                    # only drop this packet if it swallows a confirmed chain's first packet
                    st, qq = _has_nested(data, p, prefix, lenient, max_total, apid_ok, final, True)
                if st == 2:
                    break
                if st == 1:
                    sk_start[nsk] = p
                    sk_stop[nsk] = qq
                    sk_reason[nsk] = _R_GARBAGE
                    nsk += 1
                    p = qq
                    continue
            # v == 2 (streaming, the next packets have not arrived): trust, for low latency,
            # unless the caller asked for results identical to a one-shot split
            apid = ((b0 & 7) << 8) | np.int64(data[h + 1])
            if apid == IDLE_APID and not keep_idle:
                sk_start[nsk] = p
                sk_stop[nsk] = s
                sk_reason[nsk] = _R_IDLE
                nsk += 1
            elif use_filter and not apid_ok[apid]:
                sk_start[nsk] = p
                sk_stop[nsk] = s
                sk_reason[nsk] = _R_UNKNOWN_APID
                nsk += 1
            else:
                pk_off[npk] = h
                pk_len[npk] = total
                npk += 1
            p = s
        else:
            # ---- resynchronise: nearest confirmed chain at or after q
            q, st = _find_sync(
                data, q, n, prefix, lenient, max_total, apid_ok, use_filter, final, -1, False, -1
            )
            if st == 2:
                if q - rs < resync_limit:
                    # keep the whole unresolved stretch for the next call
                    p = rs
                    resume = forced
                else:
                    sk_start[nsk] = rs
                    sk_stop[nsk] = q
                    sk_reason[nsk] = _R_GARBAGE
                    nsk += 1
                    p = q
                    resume = True
                break
            stop = q if st == 1 else n
            if stop > rs:
                sk_start[nsk] = rs
                sk_stop[nsk] = stop
                sk_reason[nsk] = _R_TRUNCATED if (overrun and st == 0) else _R_GARBAGE
                nsk += 1
            p = stop
            resync = False
            forced = False
            if st == 0:
                break
    return npk, nsk, p, resume


# --------------------------------------------------------------------------------------------
# Python front end


def _as_uint8(data: bytes | bytearray | memoryview | NDArray[np.uint8]) -> NDArray[np.uint8]:
    """View ``data`` as a contiguous 1-D uint8 array without copying when possible."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise InputError(
                f"packet data must be a 1-D uint8 array, got {data.ndim}-D {data.dtype}; "
                "fix: pass bytes or np.frombuffer(raw, dtype=np.uint8)"
            )
        return np.ascontiguousarray(data)
    if isinstance(data, bytes | bytearray):
        return np.frombuffer(data, dtype=np.uint8)
    if isinstance(data, memoryview):
        return np.frombuffer(data.cast("B") if data.format != "B" else data, dtype=np.uint8)
    raise InputError(
        f"packet data must be bytes, bytearray, memoryview or a uint8 array, "
        f"got {type(data).__name__}"
    )


@dataclass(frozen=True)
class _Options:
    prefix_bytes: int
    lenient_version: bool
    apid_ok: NDArray[np.bool_]
    use_filter: bool
    max_packet_bytes: int
    keep_idle: bool


def _options(
    prefix_bytes: int,
    lenient_version: bool,
    apids: Collection[int] | None,
    max_packet_bytes: int,
    keep_idle: bool,
) -> _Options:
    if not isinstance(prefix_bytes, int) or prefix_bytes < 0:
        raise InputError(
            f"prefix_bytes must be an integer >= 0 (framing bytes before each packet), "
            f"got {prefix_bytes!r}"
        )
    if not MIN_PACKET_BYTES <= max_packet_bytes <= MAX_PACKET_BYTES:
        raise InputError(
            f"max_packet_bytes must be within {MIN_PACKET_BYTES}..{MAX_PACKET_BYTES} "
            f"(CCSDS 133.0-B-2 §4.1.3.5), got {max_packet_bytes}"
        )
    apid_ok = np.zeros(IDLE_APID + 1, dtype=np.bool_)
    use_filter = apids is not None
    if apids is not None:
        bad = [a for a in apids if not 0 <= int(a) <= IDLE_APID]
        if bad:
            raise InputError(f"APIDs must be within 0..2047 (11 bits), got {sorted(bad)[:5]}")
        apid_ok[np.asarray(list(apids), dtype=np.int64)] = True
        apid_ok[IDLE_APID] = True  # idle packets keep the splitter in sync; reported as "idle"
    return _Options(
        prefix_bytes, bool(lenient_version), apid_ok, use_filter, max_packet_bytes, keep_idle
    )


def _run(
    arr: NDArray[np.uint8],
    opts: _Options,
    *,
    final: bool,
    start_in_resync: bool,
    base: int,
    resync_limit: int,
    wait_confirm: bool = True,
) -> tuple[SplitResult, int, bool]:
    n = int(arr.shape[0])
    unit = opts.prefix_bytes + MIN_PACKET_BYTES
    pk_cap = n // unit + 1
    sk_cap = 2 * (n // unit) + 4
    pk_off = np.empty(pk_cap, dtype=np.int64)
    pk_len = np.empty(pk_cap, dtype=np.int64)
    sk_start = np.empty(sk_cap, dtype=np.int64)
    sk_stop = np.empty(sk_cap, dtype=np.int64)
    sk_reason = np.empty(sk_cap, dtype=np.int8)
    npk, nsk, consumed, resume = _scan(
        arr,
        opts.prefix_bytes,
        opts.lenient_version,
        opts.max_packet_bytes,
        opts.apid_ok,
        opts.use_filter,
        opts.keep_idle,
        final,
        start_in_resync,
        resync_limit,
        wait_confirm,
        pk_off,
        pk_len,
        sk_start,
        sk_stop,
        sk_reason,
    )
    skipped = [
        SkippedRange(int(a) + base, int(b) + base, REJECT_REASONS[int(r)])
        for a, b, r in zip(
            sk_start[:nsk].tolist(), sk_stop[:nsk].tolist(), sk_reason[:nsk].tolist(), strict=True
        )
    ]
    result = SplitResult(
        offsets=pk_off[:npk].copy() + base,
        lengths=pk_len[:npk].copy(),
        skipped=skipped,
        prefix_bytes=opts.prefix_bytes,
        span_start=base,
        span_stop=base + int(consumed),
        data=arr,
        base_offset=base,
    )
    return result, int(consumed), bool(resume)


def split_packets(
    data: bytes | bytearray | memoryview | NDArray[np.uint8],
    *,
    prefix_bytes: int = 0,
    lenient_version: bool = False,
    apids: Collection[int] | None = None,
    max_packet_bytes: int = MAX_PACKET_BYTES,
    keep_idle: bool = False,
) -> SplitResult:
    """Split a complete byte stream into CCSDS space packets.

    Parameters
    ----------
    data
        The stream: bytes-like or a 1-D uint8 array (not copied).
    prefix_bytes
        Non-CCSDS framing bytes before every packet (e.g. 4 for SUDA ``.spl`` files).
    lenient_version
        Accept any Packet Version Number (CCSDS 133.0-B-2 §4.1.3.2 requires ``000``).
    apids
        Keep only these APIDs; other well-formed packets become ``unknown_apid`` ranges. Also
        makes resynchronisation stricter (a candidate header must have one of these APIDs).
    max_packet_bytes
        Largest acceptable total packet length in bytes, header included (7..65542).
    keep_idle
        Return idle packets (APID 0x7FF) as packets instead of ``idle`` ranges.

    Returns
    -------
    SplitResult
        Packet offsets and lengths, and every byte range that is in no packet with its reason.
        Never raises on the content of ``data``; raises :class:`~falak.errors.InputError` only
        for bad options or a non-bytes ``data``.
    """
    opts = _options(prefix_bytes, lenient_version, apids, max_packet_bytes, keep_idle)
    arr = _as_uint8(data)
    result, _, _ = _run(
        arr, opts, final=True, start_in_resync=False, base=0, resync_limit=_STREAM_RESYNC_LIMIT
    )
    return result


class PacketSplitter:
    """Split a stream fed in chunks; same rules as :func:`split_packets`, absolute offsets.

    Each :meth:`feed` returns the packets and skipped ranges that became certain with that
    chunk; bytes that may belong to a packet still arriving stay buffered. :meth:`finish`
    settles the rest (an incomplete tail becomes ``truncated``). Each result's ``data`` holds
    the bytes its offsets point into (``data[offset - base_offset]``).

    Latency against exactness: by default (``exact=False``) a good packet is released as soon
    as it is complete, trusting its length field as CCSDS intends. :func:`split_packets`
    also checks that the next 4 headers chain on, so on a stream whose length fields are
    damaged the two can differ near the damage. With ``exact=True`` a packet is held until
    the next 4 packets are complete (or :meth:`finish`), and the packets and skipped ranges are
    those of :func:`split_packets` on the joined bytes, except that a run of unresynchronised
    bytes longer than about 1 MiB is reported as several ``garbage`` ranges (the buffer stays
    bounded). On a clean stream both modes give the packets of :func:`split_packets`.
    """

    def __init__(
        self,
        *,
        prefix_bytes: int = 0,
        lenient_version: bool = False,
        apids: Collection[int] | None = None,
        max_packet_bytes: int = MAX_PACKET_BYTES,
        keep_idle: bool = False,
        exact: bool = False,
    ) -> None:
        self._opts = _options(prefix_bytes, lenient_version, apids, max_packet_bytes, keep_idle)
        self._exact = bool(exact)
        self._buf: NDArray[np.uint8] = np.empty(0, dtype=np.uint8)
        self._base = 0
        self._resume = False
        self._limit = max(_STREAM_RESYNC_LIMIT, 4 * (max_packet_bytes + prefix_bytes))

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet settled into packets or skipped ranges."""
        return int(self._buf.shape[0])

    @property
    def position(self) -> int:
        """Absolute stream offset of the first unsettled byte."""
        return self._base

    def _step(self, final: bool) -> SplitResult:
        result, consumed, resume = _run(
            self._buf,
            self._opts,
            final=final,
            start_in_resync=self._resume,
            base=self._base,
            resync_limit=self._limit,
            wait_confirm=self._exact,
        )
        self._buf = self._buf[consumed:]
        self._base += consumed
        self._resume = resume
        return result

    def feed(self, chunk: bytes | bytearray | memoryview | NDArray[np.uint8]) -> SplitResult:
        """Add ``chunk`` to the stream; return what it completed."""
        new = _as_uint8(chunk)
        self._buf = np.concatenate([self._buf, new]) if self._buf.shape[0] else new.copy()
        return self._step(final=False)

    def finish(self) -> SplitResult:
        """Settle the buffered bytes at end of stream; the splitter is then empty."""
        result = self._step(final=True)
        self._resume = False
        return result


# --------------------------------------------------------------------------------------------
# header fields and encoding


def primary_header_fields(
    data: NDArray[np.uint8], offsets: NDArray[np.int64]
) -> dict[str, NDArray[Any]]:
    """Decode the primary-header fields of the packets at ``offsets`` (CCSDS 133.0-B-2 §4.1.3).

    Returns arrays keyed ``version``, ``type``, ``sec_hdr_flag`` (uint8), ``apid``,
    ``seq_count``, ``data_length`` (uint16) and ``seq_flags`` (uint8). ``offsets`` index
    ``data`` directly (use :attr:`SplitResult.local_offsets` for a streaming result).
    """
    arr = _as_uint8(data)
    off = np.asarray(offsets, dtype=np.int64)
    if off.size and (off.min() < 0 or off.max() + PRIMARY_HEADER_BYTES > arr.shape[0]):
        raise InputError(
            f"packet offsets must leave 6 header bytes inside the data "
            f"(0..{arr.shape[0] - PRIMARY_HEADER_BYTES}), got {off.min()}..{off.max()}"
        )
    hdr = arr[off[:, None] + np.arange(PRIMARY_HEADER_BYTES)].astype(np.uint16)
    b0, b1, b2, b3, b4, b5 = (hdr[:, i] for i in range(PRIMARY_HEADER_BYTES))
    return {
        "version": (b0 >> 5).astype(np.uint8),
        "type": ((b0 >> 4) & 1).astype(np.uint8),
        "sec_hdr_flag": ((b0 >> 3) & 1).astype(np.uint8),
        "apid": ((b0 & 7) << 8) | b1,
        "seq_flags": (b2 >> 6).astype(np.uint8),
        "seq_count": ((b2 & 0x3F) << 8) | b3,
        "data_length": (b4 << 8) | b5,
    }


def encode_packet(
    apid: int,
    payload: bytes,
    *,
    seq_count: int = 0,
    packet_type: int = 0,
    sec_hdr_flag: bool = False,
    seq_flags: int = 3,
    version: int = 0,
) -> bytes:
    """Build one space packet: primary header (CCSDS 133.0-B-2 §4.1.3) followed by ``payload``.

    ``payload`` is the whole Packet Data Field (secondary header included), 1..65536 bytes.
    ``seq_flags`` 3 means "unsegmented" (§4.1.3.4.2.2). Raises
    :class:`~falak.errors.EncodeError` naming the allowed range when a field does not fit.
    """
    limits = {
        "apid": (apid, IDLE_APID),
        "seq_count": (seq_count, 0x3FFF),
        "packet_type": (packet_type, 1),
        "seq_flags": (seq_flags, 3),
        "version": (version, 7),
    }
    for name, (value, top) in limits.items():
        if not 0 <= int(value) <= top:
            raise EncodeError(f"{name} must be within 0..{top}, got {value}")
    if not 1 <= len(payload) <= 65536:
        raise EncodeError(
            f"payload (packet data field) must be 1..65536 bytes (CCSDS 133.0-B-2 §4.1.4), "
            f"got {len(payload)}"
        )
    word0 = (version << 13) | (packet_type << 12) | (int(bool(sec_hdr_flag)) << 11) | apid
    word1 = (seq_flags << 14) | seq_count
    header = bytes(
        [
            word0 >> 8,
            word0 & 0xFF,
            word1 >> 8,
            word1 & 0xFF,
            (len(payload) - 1) >> 8,
            (len(payload) - 1) & 0xFF,
        ]
    )
    return header + bytes(payload)
