"""CCSDS 727.0-B-5 CFDP entity: file sender and receiver, class 1 and class 2, in memory.

Reference: CCSDS 727.0-B-5, *CCSDS File Delivery Protocol (CFDP)*, Blue Book, July 2020.

One :class:`Entity` holds any number of transactions, sending and receiving at once. It never
touches a socket: PDUs go out through ``send_pdu`` and come in through :meth:`Entity.receive`;
its timers run on the injected ``now()`` (seconds), advanced by calling :meth:`Entity.tick`.

Procedures (section numbers of 727.0-B-5):

- Copy File (§4.6): Metadata, File Data segments, EOF (No Error, checksum, size).
  Class 1 (unacknowledged, §4.6.3.1): the receiver delivers the file at EOF when it is whole
  and its checksum matches; otherwise it waits ``check_interval_s`` up to ``check_limit``
  times for late (reordered) data (§4.6.3.3) and then delivers it *incomplete*, with the
  missing byte ranges. Class 2 (acknowledged, §4.6.4): the receiver acknowledges the EOF
  (Positive Acknowledgement procedure, §4.7), asks for what it misses with NAKs (immediate
  NAK for a gap as it appears, then the deferred NAK of the whole scope after EOF, repeated
  every ``nak_interval_s``; §4.6.4.3), and sends Finished when the file is whole; the sender
  retransmits what each NAK names and acknowledges the Finished. An EOF or Finished that is
  not acknowledged within ``ack_interval_s`` is sent again, up to ``ack_limit`` times, then
  the Positive ACK Limit Reached fault cancels the transaction (§4.7.1). ``nak_limit``
  NAK expiries without any new data give NAK Limit Reached.
- Checksums (§4.2.2): modular (default), CRC-32 (type 3) or null; a mismatch is the File
  Checksum Failure condition, reported in Finished and in :class:`ReceivedFile`.
- Suspend/Resume (§4.6.6): :meth:`Entity.suspend` stops sending and freezes the
  transaction's timers (for a contact that ends); :meth:`Entity.resume` restarts them. On
  resume a class 2 sender re-sends its EOF if it was waiting for its ACK, and a receiver that
  has seen EOF re-sends its NAK, so data lost while the link went down is asked for again.
- Inactivity (§4.6.3.2.4): a receiving transaction with no PDU for ``inactivity_s`` (while not
  suspended) ends with Inactivity Detected and is delivered incomplete.
- Prompt (NAK) and Keep Alive PDUs are answered (§4.6.4.3.4, §4.6.5).

Not implemented: proxy operations and other user-operation messages, filestore requests,
segmented records, keep-alive limits, the Cancel/Abandon fault handler choices beyond
cancellation (every fault cancels), and PDU segment metadata (decoded, not used).
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from falak.cfdp.pdu import (
    Ack,
    ChecksumType,
    Condition,
    DeliveryCode,
    Directive,
    Eof,
    FileData,
    FileStatus,
    Finished,
    Header,
    KeepAlive,
    Metadata,
    Nak,
    Pdu,
    Prompt,
    TransactionState,
    checksum,
    decode_pdu,
    encode_pdu,
)
from falak.errors import DecodeError, InputError

__all__ = [
    "NAK_SEGMENTS_PER_PDU",
    "TIMER_DEFAULTS",
    "Entity",
    "ReceivedFile",
    "TransactionId",
    "TransactionStatus",
    "missing_ranges",
]

TIMER_DEFAULTS: dict[str, float] = {
    "ack_interval_s": 10.0,
    "ack_limit": 10,
    "nak_interval_s": 10.0,
    "nak_limit": 10,
    "check_interval_s": 10.0,
    "check_limit": 2,
    "inactivity_s": 3600.0,
    "pdus_per_tick": 0,
}
"""Timer and pacing keywords of :class:`Entity` and their defaults (seconds, counts).

``pdus_per_tick`` caps the new File Data and retransmitted PDUs one :meth:`Entity.tick`
sends over all transactions (0: no cap, everything at once)."""

NAK_SEGMENTS_PER_PDU = 256
"""Segment requests per NAK PDU: 2 kB of requests, well inside one space packet."""

_CHECKSUMS = {"modular": ChecksumType.MODULAR, "crc32": ChecksumType.CRC32, "null": 0xF}


_CONDITIONS = {c.value for c in Condition}


def _cond_name(code: int) -> str:
    return Condition(code).name if code in _CONDITIONS else f"condition {code}"


class TransactionId(NamedTuple):
    """A transaction: the source entity's ID and its transaction sequence number (§1.3)."""

    source_id: int
    seq: int


@dataclass
class ReceivedFile:
    """A file delivered by the receiver: whole (``complete``) or with ``missing`` ranges.

    ``data`` has the file's ``size``; the octets of the ``missing`` ``[start, end)`` ranges are
    zeros. ``checksum`` is the one the sender's EOF stated (0 when no EOF arrived);
    ``condition`` names how the transaction ended (``NO_ERROR``, ``FILE_CHECKSUM_FAILURE``, ...).
    When the Metadata PDU never arrived (class 1), ``name`` is empty and ``complete`` False even
    if every octet came.
    """

    source_id: int
    transaction_seq: int
    name: str
    data: bytes
    size: int
    checksum: int
    complete: bool
    missing: list[tuple[int, int]]
    condition: str = "NO_ERROR"
    source_name: str = ""
    checksum_type: int = ChecksumType.MODULAR
    path: Path | None = None


@dataclass
class TransactionStatus:
    """What one transaction is doing, for listings (:meth:`Entity.transactions`)."""

    id: TransactionId
    role: str  # "send" or "receive"
    peer_id: int
    cls: int
    name: str
    size: int | None
    progress: int  # octets sent (first time) or received
    state: str  # "active", "suspended", "finished", "cancelled"
    condition: str
    missing: list[tuple[int, int]]
    file_bytes_sent: int = 0  # file data octets in File Data PDUs, retransmissions included
    retransmitted_bytes: int = 0


def missing_ranges(have: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """Return the ``[start, end)`` ranges of ``[0, size)`` not covered by sorted ``have``."""
    out, pos = [], 0
    for a, b in have:
        if a > pos:
            out.append((pos, min(a, size)))
        pos = max(pos, b)
        if pos >= size:
            break
    if pos < size:
        out.append((pos, size))
    return [(a, b) for a, b in out if b > a]


def _add_range(have: list[tuple[int, int]], a: int, b: int) -> int:
    """Merge ``[a, b)`` into the sorted disjoint list ``have``; return the new octets."""
    if b <= a:
        return 0
    i = bisect.bisect_left(have, (a, a))
    if i > 0 and have[i - 1][1] >= a:
        i -= 1
    j, new, lo, hi, pos = i, 0, a, b, a
    while j < len(have) and have[j][0] <= b:
        s, e = have[j]
        new += max(0, min(s, b) - pos)
        pos = max(pos, e)
        lo, hi = min(lo, s), max(hi, e)
        j += 1
    new += max(0, b - pos)
    have[i:j] = [(lo, hi)]
    return new


class _Timer:
    """A countdown on the entity clock that can be frozen (suspend) and restarted."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.left: float | None = None
        self.count = 0

    def start(self, now: float, interval: float) -> None:
        self.deadline, self.left = now + interval, None

    def stop(self) -> None:
        self.deadline = self.left = None

    def freeze(self, now: float) -> None:
        if self.deadline is not None:
            self.left, self.deadline = max(0.0, self.deadline - now), None

    def thaw(self, now: float) -> None:
        if self.left is not None:
            self.deadline, self.left = now + self.left, None

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline


@dataclass
class _Send:
    tid: TransactionId
    header: Header
    data: bytes
    dest_name: bytes
    source_name: bytes
    cls: int
    segment: int
    checksum_type: int
    closure: bool
    cks: int = 0
    next_offset: int = 0
    metadata_sent: bool = False
    eof_sent: bool = False
    eof_acked: bool = False
    retransmit: list[tuple[int, int]] = field(default_factory=list)
    metadata_again: bool = False
    state: str = "active"
    condition: str = "NO_ERROR"
    ack_timer: _Timer = field(default_factory=_Timer)
    file_bytes_sent: int = 0
    retransmitted: int = 0
    suspended: bool = False
    size: int = 0
    inactivity: _Timer = field(default_factory=_Timer)


@dataclass
class _Recv:
    tid: TransactionId
    header: Header
    cls: int
    buf: bytearray = field(default_factory=bytearray)
    have: list[tuple[int, int]] = field(default_factory=list)
    size: int | None = None
    name: str = ""
    source_name: str = ""
    checksum_type: int = ChecksumType.MODULAR
    closure: bool = False
    metadata: bool = False
    eof: Eof | None = None
    high_water: int = 0
    received: int = 0
    state: str = "active"
    condition: str = "NO_ERROR"
    delivered: bool = False
    finished: Finished | None = None
    check_timer: _Timer = field(default_factory=_Timer)
    nak_timer: _Timer = field(default_factory=_Timer)
    ack_timer: _Timer = field(default_factory=_Timer)
    inactivity: _Timer = field(default_factory=_Timer)
    suspended: bool = False


class Entity:
    """One CFDP entity (CCSDS 727.0-B-5): sends and receives files, class 1 and class 2.

    Parameters
    ----------
    entity_id
        This entity's CFDP entity ID (0 .. 2**64 - 1).
    send_pdu
        Called with every encoded PDU to transmit (wrap it in a space packet with
        :func:`falak.cfdp.wrap`).
    store
        Directory where received files are also written, under their destination name
        (sub-directories allowed; absolute names and ``..`` are refused and counted); a file
        delivered incomplete is written as ``NAME.partial``. None keeps files in memory only.
    now
        Clock in seconds for the timers (default ``time.monotonic``; simulators pass theirs).
    on_received
        Called once per received transaction with its :class:`ReceivedFile`, whole or not.
    **timers
        Any of :data:`TIMER_DEFAULTS`.
    """

    def __init__(
        self,
        entity_id: int,
        send_pdu: Callable[[bytes], None],
        *,
        store: Path | None = None,
        now: Callable[[], float] = time.monotonic,
        on_received: Callable[[ReceivedFile], None] | None = None,
        **timers: float,
    ) -> None:
        unknown = sorted(set(timers) - set(TIMER_DEFAULTS))
        if unknown:
            raise InputError(
                f"unknown CFDP timer option(s) {', '.join(unknown)}; "
                f"known: {', '.join(TIMER_DEFAULTS)}"
            )
        self.entity_id = entity_id
        self.send_pdu = send_pdu
        self.store = store
        self.now = now
        self.on_received = on_received
        t = {**TIMER_DEFAULTS, **timers}
        self.ack_interval_s = float(t["ack_interval_s"])
        self.ack_limit = int(t["ack_limit"])
        self.nak_interval_s = float(t["nak_interval_s"])
        self.nak_limit = int(t["nak_limit"])
        self.check_interval_s = float(t["check_interval_s"])
        self.check_limit = int(t["check_limit"])
        self.inactivity_s = float(t["inactivity_s"])
        self.pdus_per_tick = int(t["pdus_per_tick"])
        self._seq = 0
        self._send: dict[TransactionId, _Send] = {}
        self._recv: dict[TransactionId, _Recv] = {}
        self._opened: dict[TransactionId, int] = {}  # the order transactions began, both roles
        self.received: list[ReceivedFile] = []
        self.rejected: Counter[str] = Counter()
        """PDUs :meth:`receive` could not use, by reason (``decode``, ``not for us``, ...)."""
        self.pdus_sent = 0
        self.pdus_received = 0
        """PDUs that decoded (some may still be rejected, e.g. ``not for us``)."""
        self.bytes_sent = 0

    # ------------------------------------------------------------ user requests

    def put(
        self,
        dest_id: int,
        data: bytes,
        dest_name: str,
        *,
        source_name: str = "",
        cls: int = 2,
        segment_size: int = 1024,
        checksum_type: str = "modular",
        closure: bool = False,
        crc: bool = False,
    ) -> TransactionId:
        """Start sending ``data`` to entity ``dest_id`` as ``dest_name`` (Put.request, §3.4.1).

        ``cls`` 1 (unacknowledged) or 2 (acknowledged); ``segment_size`` is the file data per
        File Data PDU (octets); ``checksum_type`` ``modular``, ``crc32`` or ``null``;
        ``closure`` asks a class 1 receiver for a Finished PDU; ``crc`` adds the PDU CRC-16.
        The PDUs go out on the next :meth:`tick` calls.
        """
        if cls not in (1, 2):
            raise InputError(
                f"CFDP class must be 1 (unacknowledged) or 2 (acknowledged), got {cls}"
            )
        if segment_size < 1:
            raise InputError(f"segment_size must be >= 1 octet, got {segment_size}")
        if checksum_type not in _CHECKSUMS:
            raise InputError(
                f"checksum_type must be one of {', '.join(_CHECKSUMS)}, got {checksum_type!r}"
            )
        self._seq += 1
        tid = TransactionId(self.entity_id, self._seq)
        id_octets = max(1, (max(self.entity_id, dest_id).bit_length() + 7) // 8)
        header = Header(
            source_id=self.entity_id,
            seq=self._seq,
            dest_id=dest_id,
            acknowledged=cls == 2,
            crc=crc,
            large_file=len(data) > 0xFFFFFFFF,
            id_octets=id_octets,
            seq_octets=4,
        )
        kind = _CHECKSUMS[checksum_type]
        tx = _Send(
            tid,
            header,
            bytes(data),
            dest_name.encode(),
            (source_name or dest_name).encode(),
            cls,
            segment_size,
            kind,
            closure and cls == 1,
        )
        tx.cks = checksum(tx.data, kind)
        tx.size = len(tx.data)
        self._send[tid] = tx
        self._opened[tid] = len(self._opened)
        return tid

    def suspend(self, tid: TransactionId) -> None:
        """Suspend a transaction (§4.6.6): stop sending, freeze its timers."""
        now = self.now()
        if tid in self._send:
            s = self._send[tid]
            if s.state == "active":
                s.suspended = True
                s.ack_timer.freeze(now)
                s.inactivity.freeze(now)
        elif tid in self._recv:
            r = self._recv[tid]
            if r.state == "active":
                r.suspended = True
                for t in (r.check_timer, r.nak_timer, r.ack_timer, r.inactivity):
                    t.freeze(now)
        else:
            raise InputError(f"no CFDP transaction {tid}; see Entity.transactions()")

    def resume(self, tid: TransactionId) -> None:
        """Resume a suspended transaction (§4.6.6); ask again for what was lost meanwhile."""
        now = self.now()
        if tid in self._send:
            s = self._send[tid]
            if s.suspended:
                s.suspended = False
                s.ack_timer.thaw(now)
                s.inactivity.thaw(now)
                if s.eof_sent and s.cls == 2 and not s.eof_acked:
                    self._send_eof(s)
        elif tid in self._recv:
            r = self._recv[tid]
            if r.suspended:
                r.suspended = False
                for t in (r.check_timer, r.nak_timer, r.ack_timer, r.inactivity):
                    t.thaw(now)
                if r.cls == 2 and r.eof is not None and r.state == "active":
                    if r.finished is not None:
                        self._emit(r.finished)
                    else:
                        self._nak(r, now)
        else:
            raise InputError(f"no CFDP transaction {tid}; see Entity.transactions()")

    def suspend_all(self) -> None:
        """Suspend every active transaction (the contact ends)."""
        for tid in [*self._send, *self._recv]:
            self.suspend(tid)

    def resume_all(self) -> None:
        """Resume every suspended transaction (the next contact starts)."""
        for tid in [*self._send, *self._recv]:
            self.resume(tid)

    def transactions(self) -> list[TransactionStatus]:
        """Return the status of every transaction this entity has seen, oldest first (in the
        order they began: a send at :meth:`put`, a receive at its first PDU), both roles."""
        out = [self._send_status(s) for s in self._send.values()] + [
            self._recv_status(r) for r in self._recv.values()
        ]
        out.sort(key=lambda t: self._opened.get(t.id, -1))
        return out

    def status(self, tid: TransactionId) -> TransactionStatus:
        """Return one transaction's status (cheaper than :meth:`transactions`)."""
        tid = TransactionId(*tid)
        if tid in self._send:
            return self._send_status(self._send[tid])
        if tid in self._recv:
            return self._recv_status(self._recv[tid])
        raise InputError(f"no CFDP transaction {tid}; see Entity.transactions()")

    def cancel(self, tid: TransactionId) -> None:
        """Cancel a transaction (Cancel.request, §4.6.7, Notice of Cancellation).

        A sender sends EOF (Cancel Request Received) with its progress, so the receiver ends
        the transaction too and delivers what it has, incomplete; a receiver delivers what it
        has and (class 2) tells the sender with a Finished PDU.
        """
        tid = TransactionId(*tid)
        if tid in self._send:
            s = self._send[tid]
            if s.state == "active":
                s.suspended = False
                self._fault_send(s, Condition.CANCEL_REQUEST_RECEIVED)
        elif tid in self._recv:
            r = self._recv[tid]
            if r.state == "active" and r.finished is None:
                r.suspended = False
                self._finish(r, Condition.CANCEL_REQUEST_RECEIVED, deliver=True)
        else:
            raise InputError(f"no CFDP transaction {tid}; see Entity.transactions()")

    def _send_status(self, s: _Send) -> TransactionStatus:
        return TransactionStatus(
            s.tid,
            "send",
            s.header.dest_id,
            s.cls,
            s.dest_name.decode(errors="replace"),
            s.size,
            s.next_offset,
            "suspended" if s.suspended else s.state,
            s.condition,
            list(s.retransmit),
            s.file_bytes_sent,
            s.retransmitted,
        )

    def _recv_status(self, r: _Recv) -> TransactionStatus:
        return TransactionStatus(
            r.tid,
            "receive",
            r.tid.source_id,
            r.cls,
            r.name,
            r.size,
            r.received,
            "suspended" if r.suspended else r.state,
            r.condition,
            missing_ranges(r.have, r.size) if r.size is not None else [],
        )

    def busy(self) -> bool:
        """True while any transaction is active (suspended ones included)."""
        return any(s.state == "active" for s in self._send.values()) or any(
            r.state == "active" for r in self._recv.values()
        )

    # ------------------------------------------------------------ transmission

    def _emit(self, pdu: Pdu) -> None:
        raw = encode_pdu(pdu)
        self.pdus_sent += 1
        self.bytes_sent += len(raw)
        self.send_pdu(raw)

    def _send_eof(self, s: _Send) -> None:
        self._emit(Eof(s.header, s.cks, s.size))
        s.eof_sent = True
        if s.cls == 2:
            s.ack_timer.start(self.now(), self.ack_interval_s)
        elif s.closure:  # class 1 with closure: wait this long for the Finished
            s.inactivity.start(self.now(), self.ack_interval_s * self.ack_limit)

    def _segment(self, s: _Send, a: int, b: int, again: bool) -> int:
        n = 0
        for off in range(a, b, s.segment):
            chunk = s.data[off : min(b, off + s.segment)]
            self._emit(FileData(s.header, off, chunk))
            s.file_bytes_sent += len(chunk)
            if again:
                s.retransmitted += len(chunk)
            n += 1
        return n

    def tick(self) -> None:
        """Send what is due and run the timers (NAK, ACK, check, inactivity); call often."""
        now = self.now()
        budget = self.pdus_per_tick or -1
        for s in list(self._send.values()):
            if s.state != "active" or s.suspended:
                continue
            budget = self._tick_send(s, now, budget)
        for r in list(self._recv.values()):
            if r.state == "active" and not r.suspended:
                self._tick_recv(r, now)

    def _tick_send(self, s: _Send, now: float, budget: int) -> int:
        if not s.metadata_sent or s.metadata_again:
            self._emit(
                Metadata(s.header, s.size, s.source_name, s.dest_name, s.checksum_type, s.closure)
            )
            s.metadata_sent, s.metadata_again = True, False
        # retransmissions first (§4.6.4.2.3), then new data
        while s.retransmit and budget != 0:
            a, b = s.retransmit[0]
            end = min(b, a + s.segment * (budget if budget > 0 else 1 << 40))
            n = self._segment(s, a, end, again=True)
            budget = budget - n if budget > 0 else budget
            if end >= b:
                s.retransmit.pop(0)
            else:
                s.retransmit[0] = (end, b)
        size = s.size
        if s.next_offset < size and budget != 0:
            end = size if budget < 0 else min(size, s.next_offset + s.segment * budget)
            n = self._segment(s, s.next_offset, end, again=False)
            budget = budget - n if budget > 0 else budget
            s.next_offset = end
        if s.next_offset >= size and not s.eof_sent:
            self._send_eof(s)
            if s.cls == 1 and not s.closure:
                s.state = "finished"  # class 1: Notice of Completion after EOF (§4.6.3.2.1)
                s.data = b""
        if s.ack_timer.expired(now):
            s.ack_timer.count += 1
            if s.ack_timer.count > self.ack_limit:
                self._fault_send(s, Condition.POSITIVE_ACK_LIMIT_REACHED)
            else:
                self._send_eof(s)
        if s.inactivity.expired(now):  # no Finished came (§4.6.3.2.4)
            s.inactivity.stop()
            if s.cls == 2:
                self._fault_send(s, Condition.INACTIVITY_DETECTED)
            else:
                s.state, s.condition, s.data = "finished", Condition.INACTIVITY_DETECTED.name, b""
        return budget

    def _fault_send(self, s: _Send, cond: Condition) -> None:
        s.state, s.condition = "cancelled", cond.name
        s.ack_timer.stop()
        s.inactivity.stop()
        self._emit(Eof(s.header, s.cks, s.next_offset, cond, self._id_bytes(s.header)))
        s.data = b""

    def _id_bytes(self, h: Header) -> bytes:
        return self.entity_id.to_bytes(h.id_octets, "big")

    # ------------------------------------------------------------ reception

    def receive(self, pdu: bytes) -> None:
        """Take any PDU from a peer; never raises on its content (rejections are counted)."""
        try:
            p = decode_pdu(pdu)
        except DecodeError:
            self.rejected["decode"] += 1
            return
        h = p.header
        self.pdus_received += 1
        if h.toward_sender:
            if h.source_id != self.entity_id:
                self.rejected["not for us"] += 1
                return
            s = self._send.get(TransactionId(h.source_id, h.seq))
            if s is None:
                self.rejected["unknown transaction"] += 1
                return
            self._on_sender_pdu(s, p)
            return
        if h.dest_id != self.entity_id:
            self.rejected["not for us"] += 1
            return
        tid = TransactionId(h.source_id, h.seq)
        r = self._recv.get(tid)
        if r is None:
            if not isinstance(p, Metadata | FileData | Eof):
                self.rejected["unknown transaction"] += 1
                return
            r = _Recv(tid, h, 2 if h.acknowledged else 1)
            self._recv[tid] = r
            self._opened[tid] = len(self._opened)
        self._on_receiver_pdu(r, p)

    def _on_sender_pdu(self, s: _Send, p: Pdu) -> None:
        if isinstance(p, Ack):
            if p.directive == Directive.EOF:
                if not s.eof_acked and s.state == "active":
                    s.inactivity.start(self.now(), self.inactivity_s)  # now wait for Finished
                s.eof_acked = True
                s.ack_timer.stop()
                s.ack_timer.count = 0
            else:
                self.rejected["unexpected ACK"] += 1
        elif isinstance(p, Nak):
            if s.state != "active":
                return
            for a, b in p.segments:
                if a == 0 and b == 0:
                    s.metadata_again = True
                elif b > a:
                    self._queue(s, a, min(b, s.size))
        elif isinstance(p, Finished):
            # Finished from the receiver: acknowledge it (class 2) and complete (§4.6.4.2.4)
            if s.cls == 2:
                self._emit(
                    Ack(
                        Header(**{**s.header.__dict__, "toward_sender": False}),
                        Directive.FINISHED,
                        1,
                        p.condition,
                        TransactionState.TERMINATED,
                    )
                )
            if s.state == "active":
                s.state = "finished"
                s.condition = _cond_name(p.condition)
                s.ack_timer.stop()
                s.inactivity.stop()
                s.data = b""
                s.retransmit.clear()
        elif isinstance(p, KeepAlive):
            pass
        else:
            self.rejected["unexpected PDU"] += 1

    def _queue(self, s: _Send, a: int, b: int) -> None:
        if b <= a:
            return
        merged: list[tuple[int, int]] = list(s.retransmit)
        _add_range(merged, a, b)
        s.retransmit = merged

    def _on_receiver_pdu(self, r: _Recv, p: Pdu) -> None:
        now = self.now()
        if not r.suspended:
            r.inactivity.start(now, self.inactivity_s)
        if isinstance(p, Ack):
            if p.directive == Directive.FINISHED and r.finished is not None:
                r.ack_timer.stop()
                if r.state == "active":
                    r.state = "finished"
            else:
                self.rejected["unexpected ACK"] += 1
            return
        if r.finished is not None or r.state != "active":
            # after Finished: a retransmitted EOF means the sender missed our ACK
            if isinstance(p, Eof) and r.cls == 2:
                self._ack_eof(r, p)
                if r.finished is not None and r.state == "active":
                    self._emit(r.finished)
            return
        if isinstance(p, Metadata):
            if not r.metadata:
                r.metadata = True
                r.size = p.file_size
                r.name = p.dest_name.decode(errors="replace")
                r.source_name = p.source_name.decode(errors="replace")
                r.checksum_type = p.checksum_type
                r.closure = p.closure_requested
                if len(r.buf) < p.file_size:
                    r.buf.extend(bytes(p.file_size - len(r.buf)))
        elif isinstance(p, FileData):
            end = p.offset + len(p.data)
            if r.size is not None and end > r.size:
                self.rejected["file data past the file size"] += 1
                return
            if len(r.buf) < end:
                r.buf.extend(bytes(end - len(r.buf)))
            r.buf[p.offset : end] = p.data
            new = _add_range(r.have, p.offset, end)
            r.received += new
            if new:
                r.nak_timer.count = 0
                if r.nak_timer.deadline is not None:
                    # data still coming in answer to the NAK: ask again only after a quiet
                    # interval, not for what is already on its way
                    r.nak_timer.start(now, self.nak_interval_s)
            if r.cls == 2 and r.eof is None and p.offset > r.high_water:
                # immediate NAK of the gap (§4.6.4.3.1)
                self._emit(self._nak_pdu(r, r.high_water, p.offset, [(r.high_water, p.offset)]))
            if r.cls == 2 and not r.metadata and r.eof is None and r.high_water == 0:
                self._emit(self._nak_pdu(r, 0, 0, [(0, 0)]))
            r.high_water = max(r.high_water, end)
        elif isinstance(p, Eof):
            if p.condition != Condition.NO_ERROR:
                if r.cls == 2:
                    self._ack_eof(r, p)
                r.eof = p
                cond = (
                    p.condition if p.condition in _CONDITIONS else Condition.CANCEL_REQUEST_RECEIVED
                )
                self._finish(r, Condition(cond), deliver=True)
                return
            if r.cls == 2:
                self._ack_eof(r, p)
            if r.eof is None:
                r.eof = p
                if r.size is None:
                    r.size = p.file_size
                if len(r.buf) < p.file_size:
                    r.buf.extend(bytes(p.file_size - len(r.buf)))
                if r.high_water > p.file_size:
                    self._finish(r, Condition.FILE_SIZE_ERROR, deliver=True)
                    return
                if r.cls == 2 and not self._whole(r):
                    self._nak(r, now)
                elif r.cls == 1 and not self._whole(r):
                    r.check_timer.start(now, self.check_interval_s)
        elif isinstance(p, Prompt):
            if p.keep_alive:
                self._emit(KeepAlive(self._back(r), r.received))
            elif r.cls == 2:
                self._nak(r, now)
            return
        else:
            self.rejected["unexpected PDU"] += 1
            return
        if r.eof is not None and self._whole(r):
            self._complete(r)

    def _back(self, r: _Recv) -> Header:
        return Header(**{**r.header.__dict__, "toward_sender": True, "crc": r.header.crc})

    def _ack_eof(self, r: _Recv, p: Eof) -> None:
        self._emit(Ack(self._back(r), Directive.EOF, 0, p.condition, TransactionState.ACTIVE))

    def _whole(self, r: _Recv) -> bool:
        return r.metadata and r.size is not None and r.received >= r.size

    def _nak_pdu(self, r: _Recv, start: int, end: int, segs: list[tuple[int, int]]) -> Nak:
        return Nak(self._back(r), start, end, tuple(segs))

    def _nak(self, r: _Recv, now: float) -> None:
        """Send the NAK sequence for the whole scope (§4.6.4.3.3): NAKs of at most
        ``NAK_SEGMENTS_PER_PDU`` requests each, whose scopes tile ``[0, file size)``."""
        size = r.size if r.size is not None else r.high_water
        segs = ([] if r.metadata else [(0, 0)]) + missing_ranges(r.have, size)
        n = NAK_SEGMENTS_PER_PDU
        for i in range(0, len(segs), n):
            start = 0 if i == 0 else segs[i][0]
            end = size if i + n >= len(segs) else segs[i + n][0]
            self._emit(self._nak_pdu(r, start, end, segs[i : i + n]))
        r.nak_timer.start(now, self.nak_interval_s)

    def _tick_recv(self, r: _Recv, now: float) -> None:
        if r.inactivity.expired(now):
            self._finish(r, Condition.INACTIVITY_DETECTED, deliver=True)
            return
        if r.check_timer.expired(now):
            r.check_timer.count += 1
            if r.check_timer.count >= self.check_limit:
                self._finish(r, Condition.CHECK_LIMIT_REACHED, deliver=True)
                return
            r.check_timer.start(now, self.check_interval_s)
        if r.nak_timer.expired(now):
            r.nak_timer.count += 1
            if r.nak_timer.count > self.nak_limit:
                self._finish(r, Condition.NAK_LIMIT_REACHED, deliver=True)
                return
            self._nak(r, now)
        if r.ack_timer.expired(now) and r.finished is not None:
            r.ack_timer.count += 1
            if r.ack_timer.count > self.ack_limit:
                r.state = "cancelled"
                r.condition = Condition.POSITIVE_ACK_LIMIT_REACHED.name
                return
            self._emit(r.finished)
            r.ack_timer.start(now, self.ack_interval_s)

    def _complete(self, r: _Recv) -> None:
        assert r.eof is not None
        assert r.size is not None
        data = bytes(r.buf[: r.size])
        cond = Condition.NO_ERROR
        if r.checksum_type in (ChecksumType.MODULAR, ChecksumType.CRC32, ChecksumType.NULL):
            kind = r.checksum_type
            if kind != ChecksumType.NULL and checksum(data, kind) != r.eof.checksum:
                cond = Condition.FILE_CHECKSUM_FAILURE
        else:
            cond = Condition.UNSUPPORTED_CHECKSUM_TYPE
        self._finish(r, cond, deliver=True)

    def _finish(self, r: _Recv, cond: Condition, *, deliver: bool) -> None:
        now = self.now()
        for t in (r.check_timer, r.nak_timer, r.inactivity):
            t.stop()
        size = r.size if r.size is not None else len(r.buf)
        missing = missing_ranges(r.have, size)
        whole = not missing and r.metadata and r.eof is not None
        ok = bool(whole) and cond in (Condition.NO_ERROR, Condition.UNSUPPORTED_CHECKSUM_TYPE)
        r.condition = cond.name
        if deliver and not r.delivered:
            r.delivered = True
            self._deliver(r, ok, missing, cond)
        r.buf = bytearray()
        if r.cls == 2 or r.closure:
            r.finished = Finished(
                self._back(r),
                cond,
                DeliveryCode.COMPLETE if ok else DeliveryCode.INCOMPLETE,
                FileStatus.RETAINED,
                (),
                None if cond == Condition.NO_ERROR else self._id_bytes(r.header),
            )
            self._emit(r.finished)
        if r.cls == 2:
            # class 2: the Finished is acknowledged (Positive ACK procedure, §4.7); until
            # then the transaction stays active, answering retransmitted EOFs
            r.ack_timer.start(now, self.ack_interval_s)
        else:
            r.state = "finished"

    def _deliver(self, r: _Recv, ok: bool, missing: list[tuple[int, int]], cond: Condition) -> None:
        size = r.size if r.size is not None else len(r.buf)
        data = bytes(r.buf[:size])
        path = None
        if self.store is not None and r.name:
            path = self._store_path(r.name if ok else r.name + ".partial")
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        rf = ReceivedFile(
            r.tid.source_id,
            r.tid.seq,
            r.name,
            data,
            size,
            r.eof.checksum if r.eof is not None else 0,
            ok,
            missing,
            cond.name,
            r.source_name,
            r.checksum_type,
            path,
        )
        self.received.append(rf)
        if self.on_received is not None:
            self.on_received(rf)

    def _store_path(self, name: str) -> Path | None:
        assert self.store is not None
        parts = Path(name).parts
        if not parts or Path(name).is_absolute() or ".." in parts:
            self.rejected["unsafe file name"] += 1
            return None
        return self.store.joinpath(*parts)
