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

   ``garbage``       bytes that form no acceptable packet (skipped while resynchronising, or a
                     unit whose length field swallowed real packets, up to the first of them);
   ``truncated``     an incomplete last packet (or fewer than 6 header bytes) at end of input;
   ``bad_version``   a packet-shaped unit whose version is not 0 (``lenient_version=False``);
   ``bad_length``    a packet-shaped unit longer than ``max_packet_bytes``;
   ``unknown_apid``  a well-formed packet whose APID is not in ``apids``;
   ``idle``          an idle packet (APID 0x7FF, §4.1.3.3.4.4), unless ``keep_idle=True``;
   ``fill``          zero bytes: a ``garbage`` or ``truncated`` range that is all zeros, or
                     the run of zeros such a range starts with (at least ``prefix_bytes + 7``).

A rejected unit (unknown_apid, idle, bad_version, bad_length) includes its own prefix bytes.

The stream's own regularities are the evidence. Per APID the splitter remembers the length and
the Packet Sequence Count of the last packet (14 bits, +1 per packet of an APID, §4.1.3.4.2), and
whether that packet was *confirmed*: its count followed the last one of its APID, or the packet
right after it continued it (same APID and length, next count). An unconfirmed packet does not
overwrite a confirmed entry (it is kept as a candidate, promoted when the next packet continues
it), so one damaged header does not erase what the stream has established. A header *continues
its stream* when it has the length and the next count of its APID's entry (or candidate).

Locked (at the start of the input and after each good unit), the splitter reads the header at
its position. A header is acceptable when its version is 0 (any version if
``lenient_version``), its length is at most ``max_packet_bytes`` and the packet fits in the
input. Six zero octets are zero fill (unless APID 0 is an established 7-byte stream whose count
wraps to 0): the splitter resynchronises after them. A packet that continues its stream and is
followed by a header that continues its own is accepted at once (the cost on a clean stream: two
table look-ups per packet). Any other packet is *suspicious* and is first searched for evidence
that it swallowed real packets: a confirmed chain (below) starting inside it whose first header
has an APID confirmed in the tables (or the packet's own APID) and a sequence count 1 to 64 ahead
of that APID's last one. The chain's first header may run past the packet's end (a byte of the
packet was lost, and its length field reaches into the next packet). Chance matches need 11 bits
of APID, about 8 of count and three more headers that chain; real packets give themselves away.
With evidence at r, the unit from the packet to the start of the packets before r is rejected as
``garbage`` (that start is the offset whose chain of packets lands on r in the most steps: packets
of APIDs not confirmed yet may lie in between), and the splitter relocks there. Without evidence
the packet is accepted if it or its successor continues its stream; otherwise a fallback judges
it by the chains around it: if no confirmed chain (with any length allowed) starts right after
the packet, the packet is dropped as ``garbage`` up to a confirmed chain starting inside it:
when the header right after it is not acceptable (or overruns the input), a chain that does not
lead back to the packet's end and whose APID recurs with its sequence count stepping on (that of
the packet, or of the chain's next headers); otherwise a chain whose first packet lies inside it
and that runs on past its end.

When a header is not acceptable the splitter resynchronises: it scans forward byte by byte for
the nearest offset that starts a *confirmed chain*: 4 acceptable headers (the first with an APID
in ``apids`` when given; idle counts), none starting with four zero octets (APID 0, sequence
flags 00, count 0: what zero-laden data reads as), each packet fitting, at least 8 bytes long
(zero fill reads as 7-byte packets) and its length field pointing at the next, at most one pair
of consecutive headers byte-identical (a duplicated packet, common when two ground stations'
passes overlap; more is pattern fill), and, unless its first sequence count is *vouched for*, no
packet of the chain containing a run of acceptable headers that lands exactly on that packet's
end (a false header whose length lands on a real packet boundary jumps over real packets, and
they give it away). A count is vouched for when it is 1 to 64 ahead of its APID's confirmed last
count, or 1 to 64 behind the count of the next packet of the same APID and length in its own
chain. A candidate nothing vouches for yields to a vouched candidate inside its first packet.
The chain may end early exactly at the end of the input, or after its first packet where a run
of at least ``prefix_bytes + 7`` zero bytes starts (fill is a boundary). The bytes skipped are
one ``garbage`` range (``truncated`` when they start with a header whose packet runs past the
end of the input and nothing acceptable follows; ``fill`` as above). A header that is rejected
only for its version or its length is reported as one ``bad_version``/``bad_length`` unit,
without resynchronising, when no evidence (as above) shows it swallowed real packets and its
length field points at the end of the input, at a header with the same type, secondary-header
flag and APID and the next sequence count (27 bits), or at a confirmed chain while no confirmed
chain starts inside the unit. This is how a stream of version-1 packets read without
``lenient_version`` is counted packet by packet.

No splitter can be certain where packets start after damage (CCSDS packets carry no sync
marker); these rules keep the damage local. The property tests
(``tests/ccsds/test_spacepacket.py``) check that every byte is accounted for, and
``tests/ccsds/test_spacepacket_damage.py`` that after single and multiple corruptions of real
files (length fields, deleted bytes, flipped header bits, duplicated packets, zero fill) every
packet the damage did not touch is found. What the rules cannot see: a stream without
sequence counts (all zero) or whose counts do not step by one gets only the fallback, and a
packet whose data holds real packets with continuing counts (a tunnel) is cut where they start.
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
    "fill",
)
"""Reasons a :class:`SkippedRange` can carry; the index is the code used by the scan kernel."""

_R_GARBAGE = 0
_R_TRUNCATED = 1
_R_BAD_VERSION = 2
_R_BAD_LENGTH = 3
_R_UNKNOWN_APID = 4
_R_IDLE = 5
_R_FILL = 6

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

_COUNT_WINDOW = 64
"""How far (1..64) a sequence count may run ahead of its APID's last one and still continue it."""


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

    A chain is ``_RESYNC_CHAIN`` acceptable headers, none starting with four zero octets,
    each packet fitting in the data and its length field pointing at the next, at most one
    pair of consecutive headers byte-identical (a duplicated packet; more is pattern fill).
    It may end early exactly at the end of final data, or after its first packet where zero
    fill starts; ``tail_ok_first`` lets ``c`` itself be
    a short tail (fewer than 6 bytes) of final data.
    """
    n = data.shape[0]
    prev = c
    repeats = False
    for k in range(_RESYNC_CHAIN):
        if n - c < prefix + 6:
            if not final:
                return 2
            if k == 0:
                return 1 if tail_ok_first else 0
            # a chain may end exactly at the end of the data, not in a short tail (a
            # single false header followed by a few bytes would pass too easily)
            return 1 if c == n else 0
        if k > 0 and data[c - 1] != 0 and n - c >= prefix + 7:
            # a chain may end where zero fill starts (at least prefix + 7 zero bytes, right
            # after a non-zero byte: the start of the run, not a length landing inside one),
            # as it may at the end of the data: fill is a boundary, not a packet
            zeros = True
            for i in range(prefix + 7):
                if data[c + i] != 0:
                    zeros = False
                    break
            if zeros:
                return 1
        hc = c + prefix
        if not _header_ok(data, hc, lenient, max_total, apid_ok, filter_first and k == 0):
            return 0
        if data[hc] == 0 and data[hc + 1] == 0 and data[hc + 2] == 0 and data[hc + 3] == 0:
            # APID 0 with sequence flags 00 and count 0: what zero-laden data reads as
            return 0
        if k > 0:
            # byte-identical consecutive headers (same APID and sequence count) are what
            # zero- or pattern-filled data looks like; one pair is a duplicated packet (two
            # ground stations overlapping), two pairs are a pattern
            same = True
            for i in range(6):
                if data[hc + i] != data[prev + i]:
                    same = False
                    break
            if same:
                if repeats:
                    return 0
                repeats = True
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
def _vouched(data: Any, q: Any, prefix: int, tables: Any) -> bool:
    """Return whether the sequence count of the header at ``q`` (first of a confirmed chain)
    continues the stream: 1.._COUNT_WINDOW ahead of the last count of its APID in ``tables``
    (when confirmed there), or behind the count of the next packet of the same APID and
    length in its own chain (time fields in secondary headers step on like counts, but the
    length fields they are read with do not repeat)."""
    n = data.shape[0]
    hq = q + prefix
    apid = ((np.int64(data[hq]) & 7) << 8) | np.int64(data[hq + 1])
    count = ((np.int64(data[hq + 2]) & 0x3F) << 8) | np.int64(data[hq + 3])
    if tables[2, apid] and 0 < ((count - tables[1, apid]) & 0x3FFF) <= _COUNT_WINDOW:
        return True
    total = ((np.int64(data[hq + 4]) << 8) | np.int64(data[hq + 5])) + 7
    c = hq + total
    for _ in range(_RESYNC_CHAIN - 1):
        if n - c < prefix + 6:
            break
        hc = c + prefix
        step = ((np.int64(data[hc + 4]) << 8) | np.int64(data[hc + 5])) + 7
        if ((np.int64(data[hc]) & 7) << 8) | np.int64(data[hc + 1]) == apid:
            later = ((np.int64(data[hc + 2]) & 0x3F) << 8) | np.int64(data[hc + 3])
            return bool(step == total and 0 < ((later - count) & 0x3FFF) <= _COUNT_WINDOW)
        c = hc + step
    return False


@njit(cache=True)
def _apid_at(data: Any, h: Any) -> Any:
    """Return the APID of the header at ``h``."""
    return ((np.int64(data[h]) & 7) << 8) | np.int64(data[h + 1])


@njit(cache=True)
def _two_continue(data: Any, q: Any, prefix: int, lenient: bool, tables: Any, final: bool) -> int:
    """Return 1 if the header at ``q`` and the one its length points at both continue their
    APIDs (the first a confirmed one, 1.._COUNT_WINDOW ahead in ``tables``; the second the
    same APID after it, or a confirmed one), 0 if not, 2 if the second has not arrived."""
    n = data.shape[0]
    hq = q + prefix
    if not lenient and (np.int64(data[hq]) >> 5) != 0:
        return 0
    apid = ((np.int64(data[hq]) & 7) << 8) | np.int64(data[hq + 1])
    count = ((np.int64(data[hq + 2]) & 0x3F) << 8) | np.int64(data[hq + 3])
    if not tables[2, apid] or not 0 < ((count - tables[1, apid]) & 0x3FFF) <= _COUNT_WINDOW:
        return 0
    c = hq + ((np.int64(data[hq + 4]) << 8) | np.int64(data[hq + 5])) + 7
    if n - c < prefix + 6:
        return 2 if (c + prefix + 6 > n and not final) else 0
    hc = c + prefix
    b2 = np.int64(data[hc])
    if not lenient and (b2 >> 5) != 0:
        return 0
    apid2 = ((b2 & 7) << 8) | np.int64(data[hc + 1])
    count2 = ((np.int64(data[hc + 2]) & 0x3F) << 8) | np.int64(data[hc + 3])
    if apid2 == apid:
        return 1 if 0 < ((count2 - count) & 0x3FFF) <= _COUNT_WINDOW else 0
    if tables[2, apid2]:
        return 1 if 0 < ((count2 - tables[1, apid2]) & 0x3FFF) <= _COUNT_WINDOW else 0
    return 0


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
    tables: Any,
) -> tuple[Any, int]:
    """Return (q, status): status 1 = a confirmed chain starts at q, 0 = none before ``limit``
    (q = limit), 2 = undecided at q until more data arrives.

    A chain whose length fields lead to ``merge_at`` (the end of a unit already read while
    locked; -1 for none) only re-explains that unit and is not a candidate: the unit wins.
    With ``strict``, a candidate must also run on through acceptable headers past
    ``merge_at`` and be confirmed there: it has to contradict the unit, not just sit in it.
    With ``like`` >= 0 (the header of a packet read while locked), a candidate's type, flag
    and APID must also recur, with its sequence count continuing (1.._COUNT_WINDOW ahead of
    that header's, or behind one of its own chain's next 3 headers'): real streams repeat
    their few APIDs with counts that step on; zero-laden data repeats APID 0, count 0.
    Neither that rule nor the nested-packet rule (:func:`_members_nested`) applies to a
    candidate whose sequence count vouches for it (:func:`_vouched`): real data can hold
    runs of header-like bytes that land on packet ends, a continuing sequence count is a
    packet.
    """
    n = data.shape[0]
    q = start
    while q < limit:
        if n - q < prefix + 6:
            return q, (0 if final else 2)
        v = _chain_verdict(data, q, prefix, lenient, max_total, apid_ok, use_filter, final, False)
        if v == 0 and merge_at < 0 and (not use_filter or apid_ok[_apid_at(data, q + prefix)]):
            # a chain that breaks on later damage still counts when its first two headers
            # continue confirmed APIDs
            v = _two_continue(data, q, prefix, lenient, tables, final)
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
        vouched = v == 1 and _vouched(data, q, prefix, tables)
        if v == 1 and like >= 0 and not vouched:
            hq = q + prefix
            key = ((np.int64(data[hq]) & 0x1F) << 8) | np.int64(data[hq + 1])
            count = ((np.int64(data[hq + 2]) & 0x3F) << 8) | np.int64(data[hq + 3])
            other = like
            c = hq + ((np.int64(data[hq + 4]) << 8) | np.int64(data[hq + 5])) + 7
            seen = False
            for _ in range(_RESYNC_CHAIN):
                if other < 0:
                    if n - c < prefix + 6:
                        break
                    other = c + prefix
                    c = other + ((np.int64(data[other + 4]) << 8) | np.int64(data[other + 5])) + 7
                if key == (((np.int64(data[other]) & 0x1F) << 8) | np.int64(data[other + 1])):
                    later = ((np.int64(data[other + 2]) & 0x3F) << 8) | np.int64(data[other + 3])
                    gap = (count - later) & 0x3FFF if other == like else (later - count) & 0x3FFF
                    seen = bool(0 < gap <= _COUNT_WINDOW)
                    if seen:
                        break
                other = -1
            if not seen:
                v = 0
        if v == 1 and not vouched:
            nested = _members_nested(data, q, prefix, lenient, max_total, apid_ok, final)
            v = 2 if nested == 2 else 1 - nested
        if v == 1 and not vouched and merge_at < 0:
            # a candidate nothing vouches for yields to a vouched one inside its first packet
            hq = q + prefix
            end = hq + ((np.int64(data[hq + 4]) << 8) | np.int64(data[hq + 5])) + 7
            for q2 in range(q + 1, min(end, limit)):
                if n - q2 < prefix + 6:
                    break
                v2 = _chain_verdict(
                    data, q2, prefix, lenient, max_total, apid_ok, use_filter, final, False
                )
                if v2 == 2:
                    return q2, 2
                if v2 == 1 and _vouched(data, q2, prefix, tables):
                    return q2, 1
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
def _add_skip(
    data: Any,
    start: Any,
    stop: Any,
    reason: int,
    min_fill: int,
    sk_start: Any,
    sk_stop: Any,
    sk_reason: Any,
    nsk: int,
) -> int:
    """Record ``[start, stop)`` with ``reason``; return the new number of ranges.

    ``garbage`` and ``truncated`` ranges that are all zero bytes become ``fill``; one that
    starts with at least ``min_fill`` zero bytes is recorded as ``fill`` up to its first
    non-zero byte and ``reason`` after it.
    """
    if reason in (_R_GARBAGE, _R_TRUNCATED):
        z = start
        while z < stop and data[z] == 0:
            z += 1
        if z == stop:
            reason = _R_FILL
        elif z - start >= min_fill:
            sk_start[nsk] = start
            sk_stop[nsk] = z
            sk_reason[nsk] = _R_FILL
            nsk += 1
            start = z
    sk_start[nsk] = start
    sk_stop[nsk] = stop
    sk_reason[nsk] = reason
    return nsk + 1


@njit(cache=True)
def _continues(tables: Any, apid: Any, count: Any, total: Any) -> bool:
    """Return whether a header is what its APID's stream predicts: the length of, and the
    sequence count after (CCSDS 133.0-B-2 §4.1.3.4.2), the APID's last packet or candidate."""
    before = (count - 1) & 0x3FFF
    return bool(
        (tables[0, apid] == total and tables[1, apid] == before)
        or (tables[3, apid] == total and tables[4, apid] == before)
    )


@njit(cache=True)
def _remember(tables: Any, apid: Any, count: Any, total: Any, confirmed: bool) -> None:
    """Record an accepted packet in its APID's entry of ``tables``.

    A confirmed packet (its sequence count continues its APID's, or the next packet continues
    it) replaces the entry. An unconfirmed one does too unless the entry is confirmed; then it
    is only a candidate, promoted when a packet continues it (a count reset, a length
    change), so that one damaged header does not erase what the stream has established.
    """
    before = (count - 1) & 0x3FFF
    if (tables[0, apid] > 0 and tables[1, apid] == before) or (
        tables[3, apid] > 0 and tables[4, apid] == before
    ):
        confirmed = True  # its sequence count continues the APID's (27 bits agree)
    if confirmed or not tables[2, apid]:
        tables[0, apid] = total
        tables[1, apid] = count
        tables[2, apid] = confirmed
    else:
        tables[3, apid] = total
        tables[4, apid] = count


@njit(cache=True)
def _back_chain(data: Any, p: Any, r: Any, prefix: int, lenient: bool) -> Any:
    """Return where, in ``(p, r]``, the packets before the evidence at ``r`` start.

    Packets of APIDs not confirmed yet may lie between the rejected unit at ``p`` and ``r``:
    the start is the offset whose chain of packets (acceptable headers, at least 8 bytes
    each) lands exactly on ``r`` in the most steps, the earliest of those; ``r`` if none does.
    A false header whose length lands on ``r`` makes a chain of one step, and real packets
    make a longer one. One pass from ``r`` backwards (each offset's chain is one step and
    then the chain of the offset it points at).
    """
    steps = np.zeros(r - p, dtype=np.int32)  # steps[x - p]: packets from x to r, 0: none
    best = r
    most = 0
    for x in range(r - 1, p, -1):
        hx = x + prefix
        if not lenient and (np.int64(data[hx]) >> 5) != 0:
            continue
        total = ((np.int64(data[hx + 4]) << 8) | np.int64(data[hx + 5])) + 7
        if total < _RESYNC_MIN_BYTES:
            continue
        y = hx + total
        if y == r:
            steps[x - p] = 1
        elif y < r and steps[y - p] > 0:
            steps[x - p] = steps[y - p] + 1
        if steps[x - p] >= most and steps[x - p] > 0:
            most = steps[x - p]
            best = x
    return best


@njit(cache=True)
def _evidence_inside(
    data: Any,
    p: Any,
    s: Any,
    prefix: int,
    lenient: bool,
    apid_ok: Any,
    tables: Any,
    final: bool,
    wait: bool,
) -> tuple[int, Any]:
    """Return (1, r) if the unit ``[p, s)`` swallowed real packets starting at r, (0, -1) if
    there is no such evidence, (2, r) if undecided at r until more data arrives.

    The evidence is a confirmed chain (:func:`_chain_verdict`) starting inside the unit (its
    first header may run past ``s``: then a byte of the unit was lost) whose first sequence
    count continues the stream: 1.._COUNT_WINDOW ahead of the count in the unit's own header
    for the same APID, or of the confirmed last count of its APID in the tables, or 1.._COUNT_
    WINDOW behind the next packet of the same APID and length in its own chain when that
    packet starts inside the unit (at the start of a stream nothing is confirmed). Chance
    matches need 11 bits of APID, 8 of count and 3 more headers that chain (or, for a
    confirmed APID, a second header right after whose count continues too: the chain may
    break on more damage): real packets swallowed by a damaged length field give themselves
    away, data does not. Without ``wait`` (low-latency streaming), candidates that need more
    data are passed over. The rejected
    unit ends where :func:`_back_chain` says, not before the usual length of its APID when
    its header continues that APID's count (only its length field is damaged).
    """
    n = data.shape[0]
    hp = p + prefix
    apid_p = ((np.int64(data[hp]) & 7) << 8) | np.int64(data[hp + 1])
    count_p = ((np.int64(data[hp + 2]) & 0x3F) << 8) | np.int64(data[hp + 3])
    for r in range(p + 1, s):
        hr = r + prefix
        if hr + 6 > n:
            if final or not wait:
                break
            return 2, r
        b0 = np.int64(data[hr])
        if not lenient and (b0 >> 5) != 0:
            continue
        apid = ((b0 & 7) << 8) | np.int64(data[hr + 1])
        count = ((np.int64(data[hr + 2]) & 0x3F) << 8) | np.int64(data[hr + 3])
        follows = apid == apid_p and 0 < ((count - count_p) & 0x3FFF) <= _COUNT_WINDOW
        if not follows and tables[2, apid]:
            follows = 0 < ((count - tables[1, apid]) & 0x3FFF) <= _COUNT_WINDOW
        if not follows:
            # or its own chain vouches for it, within the unit (no look-ahead beyond it)
            total = ((np.int64(data[hr + 4]) << 8) | np.int64(data[hr + 5])) + 7
            c = hr + total
            for _ in range(_RESYNC_CHAIN - 1):
                if c > s or n - c < prefix + 6:
                    break
                hc = c + prefix
                step = ((np.int64(data[hc + 4]) << 8) | np.int64(data[hc + 5])) + 7
                if ((np.int64(data[hc]) & 7) << 8) | np.int64(data[hc + 1]) == apid:
                    later = ((np.int64(data[hc + 2]) & 0x3F) << 8) | np.int64(data[hc + 3])
                    follows = step == total and 0 < ((later - count) & 0x3FFF) <= _COUNT_WINDOW
                    break
                if step < _RESYNC_MIN_BYTES:
                    break
                c = hc + step
        if not follows:
            continue
        v = _chain_verdict(data, r, prefix, lenient, MAX_PACKET_BYTES, apid_ok, False, final, False)
        if v == 0:
            # the chain may break on later damage: two headers in a row that both continue
            # confirmed APIDs are evidence enough
            v = _two_continue(data, r, prefix, lenient, tables, final)
        if v == 2:
            if wait:
                return 2, r
            continue
        if v != 1:
            continue
        lo = p
        if tables[2, apid_p] and tables[1, apid_p] == ((count_p - 1) & 0x3FFF):
            # the unit's header continues its APID but for the length: the real packet most
            # likely had its APID's usual length, and ends there
            end = hp + tables[0, apid_p]
            if end <= r:
                lo = end - 1
        return 1, _back_chain(data, lo, r, prefix, lenient)
    return 0, -1


@njit(cache=True)
def _confirm_by_chain(
    data: Any,
    p: Any,
    s: Any,
    h: Any,
    prefix: int,
    lenient: bool,
    max_total: int,
    apid_ok: Any,
    use_filter: bool,
    final: bool,
    wait_confirm: bool,
    tables: Any,
) -> tuple[int, Any]:
    """Judge a packet ``[p, s)`` that neither its own APID's stream nor its successor vouches
    for, by the chains around it; return (0, -1) to keep it, (1, q) to drop ``[p, q)``, (2, -1)
    to wait for more data.

    If no confirmed chain (any length: a following bad_length unit is no doubt) starts right
    after the packet, the packet is dropped up to a confirmed chain starting inside it: when
    the header right after it is not acceptable (or overruns the input), a chain that does not
    lead back to the packet's end and whose APID recurs; otherwise a chain whose first packet
    lies inside it and that runs on past its end.
    """
    n = data.shape[0]
    min_unit = prefix + 6
    v = _chain_verdict(data, s, prefix, lenient, MAX_PACKET_BYTES, apid_ok, False, final, True)
    if v == 2 and wait_confirm:
        return 2, -1
    if v != 0:
        # v == 2 (streaming, the next packets have not arrived): trust, for low latency
        return 0, -1
    # where does the chain after this packet break? right at s (then this length field is
    # the suspect) or further on (then later damage is)
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
            tables,
        )
    else:
        # only drop this packet if it swallows a confirmed chain's first packet
        st, qq = _has_nested(data, p, prefix, lenient, max_total, apid_ok, final, True)
    if st == 2:
        return 2, -1
    if st == 1:
        return 1, qq
    return 0, -1


@njit(cache=True)
def _scan(
    data: Any,
    start: Any,
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
    tables: Any,
    pk_off: Any,
    pk_len: Any,
    sk_start: Any,
    sk_stop: Any,
    sk_reason: Any,
) -> tuple[int, int, int, bool, bool]:
    """Split ``data[start:]``; return (n_packets, n_skipped, consumed, resume_in_resync, full).

    With ``final`` False the scan stops where it needs more bytes to decide, and ``consumed``
    says how many leading bytes are accounted for; the caller keeps the rest. A good packet
    whose successor's header has not arrived yet is released at once unless ``wait_confirm``.
    ``tables`` (int64, shape (2, 2048)) holds per APID the length (0: not seen) and sequence
    count of the last packet, and is updated in place. ``full`` says the output arrays are
    nearly full: the caller calls again from ``consumed`` (locked) with fresh arrays.
    """
    n = data.shape[0]
    npk = 0
    nsk = 0
    p: Any = start
    resume = False
    resync = start_in_resync
    rs: Any = start  # start of the stretch being resynchronised
    q: Any = start  # next resync candidate
    overrun = False
    forced = start_in_resync
    min_unit = prefix + 6
    min_fill = prefix + 7
    sk_room = sk_start.shape[0] - 4
    pk_room = pk_off.shape[0] - 1
    while True:
        if not resync:
            if nsk > sk_room or npk > pk_room:
                return npk, nsk, p, False, True
            # ---- locked: read the header at p
            if n - p < min_unit:
                if final and p < n:
                    nsk = _add_skip(
                        data, p, n, _R_TRUNCATED, min_fill, sk_start, sk_stop, sk_reason, nsk
                    )
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
                # real packets swallowed by the unit win over any link
                st, r1 = _evidence_inside(
                    data, p, s, prefix, lenient, apid_ok, tables, final, wait_confirm
                )
                if st == 2:
                    break
                if st == 1:
                    nsk = _add_skip(
                        data, p, r1, _R_GARBAGE, min_fill, sk_start, sk_stop, sk_reason, nsk
                    )
                    p = r1
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
                            tables,
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
            apid = ((b0 & 7) << 8) | np.int64(data[h + 1])
            count = ((np.int64(data[h + 2]) & 0x3F) << 8) | np.int64(data[h + 3])
            if (
                total == 7
                and b0 == 0
                and data[h + 1] == 0
                and data[h + 2] == 0
                and data[h + 3] == 0
                and not _continues(tables, 0, 0, 7)
            ):
                # six zero octets: zero fill, not an APID-0 packet; resynchronise after the
                # zeros (a header has a non-zero octet among its first six)
                z = h + 6
                while z < n and data[z] == 0:
                    z += 1
                resync = True
                rs = p
                q = max(p + 1, z - min_unit + 1)
                overrun = False
                forced = False
                continue
            # ---- does this packet's APID stream vouch for it, and for the next header?
            own_ok = _continues(tables, apid, count, total)
            next_same = False
            if n - s >= min_unit:
                hs = s + prefix
                b0s = np.int64(data[hs])
                apid_s = ((b0s & 7) << 8) | np.int64(data[hs + 1])
                count_s = ((np.int64(data[hs + 2]) & 0x3F) << 8) | np.int64(data[hs + 3])
                total_s = ((np.int64(data[hs + 4]) << 8) | np.int64(data[hs + 5])) + 7
                if not lenient and (b0s >> 5) != 0:
                    next_ok = False
                elif apid_s == apid:
                    next_ok = total_s == total and count_s == ((count + 1) & 0x3FFF)
                    next_same = next_ok
                else:
                    next_ok = _continues(tables, apid_s, count_s, total_s)
            elif final:
                next_ok = s == n
            elif wait_confirm:
                break
            else:
                next_ok = True  # low latency: release now, trusting the length field
            if not (own_ok and next_ok):
                # suspicious: did this packet swallow real ones (its length is damaged) or
                # does it end inside one (a byte of it was lost)?
                st, r1 = _evidence_inside(
                    data, p, s, prefix, lenient, apid_ok, tables, final, wait_confirm
                )
                if st == 2:
                    break
                if st == 1:
                    nsk = _add_skip(
                        data, p, r1, _R_GARBAGE, min_fill, sk_start, sk_stop, sk_reason, nsk
                    )
                    p = r1
                    continue
                before = (count - 1) & 0x3FFF
                counted = (tables[0, apid] > 0 and tables[1, apid] == before) or (
                    tables[3, apid] > 0 and tables[4, apid] == before
                )
                if not own_ok and not next_ok and not counted:
                    # (a header whose APID and sequence count continue is a real header)
                    st, qq = _confirm_by_chain(
                        data,
                        p,
                        s,
                        h,
                        prefix,
                        lenient,
                        max_total,
                        apid_ok,
                        use_filter,
                        final,
                        wait_confirm,
                        tables,
                    )
                    if st == 2:
                        break
                    if st == 1:
                        nsk = _add_skip(
                            data, p, qq, _R_GARBAGE, min_fill, sk_start, sk_stop, sk_reason, nsk
                        )
                        p = qq
                        continue
            _remember(tables, apid, count, total, own_ok or next_same)
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
                data,
                q,
                n,
                prefix,
                lenient,
                max_total,
                apid_ok,
                use_filter,
                final,
                -1,
                False,
                -1,
                tables,
            )
            if st == 2:
                if q - rs < resync_limit:
                    # keep the whole unresolved stretch for the next call
                    p = rs
                    resume = forced
                else:
                    nsk = _add_skip(
                        data, rs, q, _R_GARBAGE, min_fill, sk_start, sk_stop, sk_reason, nsk
                    )
                    p = q
                    resume = True
                break
            stop = q if st == 1 else n
            if stop > rs:
                reason = _R_TRUNCATED if (overrun and st == 0) else _R_GARBAGE
                nsk = _add_skip(data, rs, stop, reason, min_fill, sk_start, sk_stop, sk_reason, nsk)
            p = stop
            resync = False
            forced = False
            if st == 0:
                break
    return npk, nsk, p, resume, False


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


def _new_tables() -> NDArray[np.int64]:
    """Per-APID state of the stream (:func:`_remember`): last packet length (0: none), its
    sequence count, 1 if it was confirmed, and an unconfirmed candidate's length and count."""
    return np.zeros((5, IDLE_APID + 1), dtype=np.int64)


def _run(
    arr: NDArray[np.uint8],
    opts: _Options,
    *,
    final: bool,
    start_in_resync: bool,
    base: int,
    resync_limit: int,
    tables: NDArray[np.int64],
    wait_confirm: bool = True,
) -> tuple[SplitResult, int, bool]:
    n = int(arr.shape[0])
    unit = opts.prefix_bytes + MIN_PACKET_BYTES
    pk_cap = n // unit + 2
    sk_cap = n // unit + 8
    offsets: list[NDArray[np.int64]] = []
    lengths: list[NDArray[np.int64]] = []
    skipped: list[SkippedRange] = []
    consumed = 0
    while True:
        pk_off = np.empty(pk_cap, dtype=np.int64)
        pk_len = np.empty(pk_cap, dtype=np.int64)
        sk_start = np.empty(sk_cap, dtype=np.int64)
        sk_stop = np.empty(sk_cap, dtype=np.int64)
        sk_reason = np.empty(sk_cap, dtype=np.int8)
        npk, nsk, consumed, resume, full = _scan(
            arr,
            consumed,
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
            tables,
            pk_off,
            pk_len,
            sk_start,
            sk_stop,
            sk_reason,
        )
        offsets.append(pk_off[:npk] + base)
        lengths.append(pk_len[:npk].copy())
        skipped.extend(
            SkippedRange(int(a) + base, int(b) + base, REJECT_REASONS[int(r)])
            for a, b, r in zip(
                sk_start[:nsk].tolist(),
                sk_stop[:nsk].tolist(),
                sk_reason[:nsk].tolist(),
                strict=True,
            )
        )
        if not full:
            break
        # many short skipped ranges (hostile input): carry on from where the scan stopped
        start_in_resync = False
        sk_cap = 2 * sk_cap
    result = SplitResult(
        offsets=offsets[0] if len(offsets) == 1 else np.concatenate(offsets),
        lengths=lengths[0] if len(lengths) == 1 else np.concatenate(lengths),
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
        arr,
        opts,
        final=True,
        start_in_resync=False,
        base=0,
        resync_limit=_STREAM_RESYNC_LIMIT,
        tables=_new_tables(),
    )
    return result


class PacketSplitter:
    """Split a stream fed in chunks; same rules as :func:`split_packets`, absolute offsets.

    Each :meth:`feed` returns the packets and skipped ranges that became certain with that
    chunk; bytes that may belong to a packet still arriving stay buffered. :meth:`finish`
    settles the rest (an incomplete tail becomes ``truncated``). Each result's ``data`` holds
    the bytes its offsets point into (``data[offset - base_offset]``).

    Latency against exactness: by default (``exact=False``) a good packet is released as soon
    as it is complete, trusting its length field as CCSDS intends when the next header has not
    arrived, and passing over evidence (see the module doc) that would need bytes not received
    yet; :func:`split_packets` judges every packet with what follows it, so on a stream whose
    length fields are damaged the two can differ near the damage (a packet that lost a byte
    and is released before the next header arrives hides that header). With ``exact=True`` a
    packet is held until the next header has arrived and, for a suspicious packet, until the
    evidence about it is complete (at most 4 packets further), or :meth:`finish`; the packets
    and skipped ranges are then those of :func:`split_packets` on the joined bytes, except
    that a run of unresynchronised bytes longer than about 1 MiB is reported as several
    ``garbage`` ranges (the buffer stays bounded). The per-APID lengths and sequence counts
    carry over from one :meth:`feed` to the next. On a clean stream both modes give the
    packets of :func:`split_packets`.
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
        self._tables = _new_tables()
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
            tables=self._tables,
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
