"""cfdp-py (and spacepackets' PDU codecs) behind the same small interface as falak's Entity.

The independent CFDP implementation falak is tested and benchmarked against: cfdp-py 0.7
(https://github.com/us-irs/cfdp-py), one SourceHandler and one DestHandler per entity. Its
handlers take one transaction each (so puts queue), read and write files through a
NativeFilestore under ``workdir``, and time out on the wall clock (``time.time``), so tests
that lose packets use short timers. PDUs cross as bytes: ``send_pdu`` gets ``pack()``ed
PDUs, :meth:`CfdppyEntity.receive` parses with ``PduFactory.from_raw``.

Two acknowledgements cfdp-py 0.7 does not send, which the adapter sends in its place (counted
in :attr:`CfdppyEntity.answered`). CCSDS 727.0-B-5 §4.7 (Positive Acknowledgment procedures)
has every EOF and every Finished PDU acknowledged, a repeat included: a repeat is how the peer
says the first ACK was lost. Without these, one lost ACK on a lossy link stalls the transfer
(found by ``benchmarks/cfdp.py`` at 10 % loss; reproduced in ``tests/cfdp/test_cfdppy_peer.py``):

* **a repeated Finished after the sender is done.** ``SourceHandler`` sends ACK (Finished) and
  resets to IDLE at once; a Finished that arrives after that (because that ACK was lost) raises
  ``NoRemoteEntityConfigFound`` in ``_check_inserted_packet`` (cfdp-py's own TODO there: "This
  can happen if a packet is received for which no transaction was started"), and no ACK goes
  out. The receiver repeats Finished to its ACK limit, then declares POSITIVE_ACK_LIMIT_REACHED,
  whose Notice of Cancellation sends Finished (cancel) and waits for its ACK again, forever: the
  ``DestHandler`` never abandons (§4.11.2.2.3 has any fault while a cancel PDU is being
  transferred abandon the transaction; cfdp-py does that for the EOF (cancel) only). The
  adapter acknowledges a Finished of a transaction its source handler is not running, with
  transaction status TERMINATED when it is one this entity sent, else UNRECOGNIZED (§5.2.4).
* **a repeated EOF after the receiver has moved past it.** ``DestHandler`` drops an EOF in the
  WAITING_FOR_MISSING_DATA and WAITING_FOR_FINISHED_ACK steps without acknowledging it, while
  ``SourceHandler`` in WAITING_FOR_EOF_ACK refuses the Finished (``PduIgnoredForSource``):
  both wait for each other until their ACK limits. The adapter acknowledges such an EOF (status
  ACTIVE). This is the first defect fixed upstream by us-irs/cfdp-py pull request 54
  ("Fix cfdp defects which stall an acknowledged transfer on a lossy link", merged after 0.7.0).

The adapter also keeps the history cfdp-py leaves to its user (``acknowledge_inactive_eof_pdu``'s
docstring): an EOF of a transaction the destination handler has finished is acknowledged
(TERMINATED) and other late PDUs of it are dropped (counted in :attr:`CfdppyEntity.rejected`
as ``late``) rather than starting a new transaction in the IDLE handler.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from cfdppy import (
    CfdpUserBase,
    IndicationConfig,
    LocalEntityConfig,
    PutRequest,
    RemoteEntityConfig,
    RemoteEntityConfigTable,
)
from cfdppy.defs import CfdpState
from cfdppy.filestore import NativeFilestore
from cfdppy.handler import DestHandler, SourceHandler
from cfdppy.handler.dest import TransactionStep as DestStep
from cfdppy.mib import CheckTimerProvider, DefaultFaultHandlerBase, EntityType
from cfdppy.user import TransactionFinishedParams
from spacepackets.cfdp import ChecksumType, ConditionCode, TransactionId, TransmissionMode
from spacepackets.cfdp.defs import Direction
from spacepackets.cfdp.pdu import (
    AckPdu,
    DirectiveType,
    EofPdu,
    FinishedPdu,
    MetadataPdu,
    PduFactory,
)
from spacepackets.cfdp.pdu.ack import TransactionStatus
from spacepackets.cfdp.pdu.helper import PduHolder
from spacepackets.countdown import Countdown
from spacepackets.seqcount import SeqCountProvider
from spacepackets.util import ByteFieldU16, UnsignedByteField

__all__ = ["CfdppyEntity"]


class _Faults(DefaultFaultHandlerBase):
    def __init__(self) -> None:
        super().__init__()
        self.faults: list[str] = []

    def notice_of_suspension_cb(self, tid: TransactionId, cond: ConditionCode, p: int) -> None:
        self.faults.append(f"suspension {cond.name}")

    def notice_of_cancellation_cb(self, tid: TransactionId, cond: ConditionCode, p: int) -> None:
        self.faults.append(f"cancellation {cond.name}")

    def abandoned_cb(self, tid: TransactionId, cond: ConditionCode, p: int) -> None:
        self.faults.append(f"abandoned {cond.name}")

    def ignore_cb(self, tid: TransactionId, cond: ConditionCode, p: int) -> None:
        self.faults.append(f"ignored {cond.name}")


class _User(CfdpUserBase):
    def __init__(self, owner: CfdppyEntity) -> None:
        super().__init__(NativeFilestore())
        self.owner = owner

    def transaction_finished_indication(self, params: TransactionFinishedParams) -> None:
        self.owner._finished(params)

    # every other indication (CfdpUserBase's abstract methods): nothing to do
    def transaction_indication(self, *a: Any) -> None: ...
    def eof_sent_indication(self, *a: Any) -> None: ...
    def eof_recv_indication(self, *a: Any) -> None: ...
    def metadata_recv_indication(self, *a: Any) -> None: ...
    def file_segment_recv_indication(self, *a: Any) -> None: ...
    def report_indication(self, *a: Any) -> None: ...
    def suspended_indication(self, *a: Any) -> None: ...
    def resumed_indication(self, *a: Any) -> None: ...
    def fault_indication(self, *a: Any) -> None: ...
    def abandoned_indication(self, *a: Any) -> None: ...


class _Timers(CheckTimerProvider):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def provide_check_timer(
        self, local_entity_id: UnsignedByteField, remote_entity_id: UnsignedByteField,
        entity_type: EntityType,
    ) -> Countdown:  # fmt: skip
        return Countdown(timedelta(seconds=self.seconds))


class CfdppyEntity:
    """A cfdp-py source + destination handler pair talking bytes, like falak's Entity."""

    def __init__(
        self,
        entity_id: int,
        peer_id: int,
        send_pdu: Callable[[bytes], None],
        *,
        workdir: Path,
        timer_s: float = 10.0,
        limit: int = 10,
        ack_limit: int | None = None,
        segment_size: int = 1024,
        checksum: ChecksumType = ChecksumType.MODULAR,
    ) -> None:
        self.workdir = workdir
        (workdir / "recv").mkdir(parents=True, exist_ok=True)
        self.send_pdu = send_pdu
        self.id = ByteFieldU16(entity_id)
        self.peer = ByteFieldU16(peer_id)
        self.faults = _Faults()
        cfg = LocalEntityConfig(self.id, IndicationConfig(), self.faults)
        remote = RemoteEntityConfig(
            entity_id=self.peer,
            max_file_segment_len=segment_size,
            max_packet_len=segment_size + 64,
            closure_requested=False,
            crc_on_transmission=False,
            default_transmission_mode=TransmissionMode.ACKNOWLEDGED,
            crc_type=checksum,
            positive_ack_timer_interval_seconds=timer_s,
            positive_ack_timer_expiration_limit=limit if ack_limit is None else ack_limit,
            nak_timer_interval_seconds=timer_s,
            nak_timer_expiration_limit=limit,
            check_limit=limit,
        )
        table = RemoteEntityConfigTable([remote])
        user = _User(self)
        self.source = SourceHandler(cfg, user, table, _Timers(timer_s), SeqCountProvider(16))
        self.dest = DestHandler(cfg, user, table, _Timers(timer_s))
        self._queue: deque[tuple[bytes, str, int]] = deque()
        self._n = 0
        self._dest_files: dict[str, Path] = {}
        self.received: list[tuple[str, bytes, ConditionCode, int]] = []
        self.sent_finished: list[tuple[int, ConditionCode]] = []
        self.rejected: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        """ACKs the adapter sent in cfdp-py's place (see the module docstring)."""
        self._sent_done: set[int] = set()  # sequence numbers of this entity's finished sends
        self._recv_done: set[tuple[int, int]] = set()  # (source id, seq) finished here

    def put(self, dest_id: int, data: bytes, dest_name: str, *, cls: int = 2) -> None:
        """Queue a file for sending (cfdp-py sends one transaction at a time)."""
        assert dest_id == self.peer.value
        self._queue.append((data, dest_name, cls))

    def _finished(self, params: TransactionFinishedParams) -> None:
        tid = params.transaction_id
        fp = params.finished_params
        if tid.source_id.value == self.id.value:
            self.sent_finished.append((tid.seq_num.value, fp.condition_code))
            self._sent_done.add(tid.seq_num.value)
            return
        self._recv_done.add((tid.source_id.value, tid.seq_num.value))
        name = self._current_dest_name
        path = self.workdir / "recv" / name
        data = path.read_bytes() if path.exists() else b""
        self.received.append((name, data, fp.condition_code, fp.delivery_code))

    _current_dest_name = ""

    def _drain(self, handler: SourceHandler | DestHandler) -> None:
        while handler.packets_ready:
            holder: PduHolder | None = handler.get_next_packet()
            assert holder is not None
            assert holder.pdu is not None
            self.send_pdu(bytes(holder.pdu.pack()))

    def busy(self) -> bool:
        """True while a transaction runs or a put waits."""
        return (
            bool(self._queue)
            or self.source.state != CfdpState.IDLE
            or (self.dest.state != CfdpState.IDLE)
        )

    def tick(self) -> None:
        """Start a queued put when idle; run both handlers' state machines."""
        if self.source.state == CfdpState.IDLE and self._queue:
            data, name, cls = self._queue.popleft()
            self._n += 1
            src = self.workdir / "send" / f"{self._n}.bin"
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(data)
            mode = TransmissionMode.ACKNOWLEDGED if cls == 2 else TransmissionMode.UNACKNOWLEDGED
            self.source.put_request(
                PutRequest(self.peer, src, Path(name), trans_mode=mode, closure_requested=False)
            )
        for _ in range(100000):
            self.source.state_machine()
            if not self.source.packets_ready:
                break
            self._drain(self.source)
        self.dest.state_machine()
        self._drain(self.dest)

    def receive(self, raw: bytes) -> None:
        """Give one PDU (bytes) to the handler it is for; count what cfdp-py refuses."""
        try:
            pdu = PduFactory.from_raw(raw)
        except Exception as exc:
            self.rejected[type(exc).__name__] += 1
            return
        if pdu is None:
            self.rejected["unparsed"] += 1
            return
        if self._answer_in_place_of_cfdppy(pdu):
            return
        try:
            if pdu.direction.value == 1:  # toward the file sender
                self.source.state_machine(pdu)  # type: ignore[arg-type]
                self._drain(self.source)
            else:
                meta_name = getattr(pdu, "dest_file_name", None)
                if meta_name:
                    self._current_dest_name = meta_name
                    # cfdp-py writes where the Metadata names: keep it inside workdir
                    params = dataclasses.replace(  # unpack() leaves params' names empty
                        pdu.params,
                        source_file_name=pdu.source_file_name,
                        dest_file_name=str(self.workdir / "recv" / meta_name),
                    )
                    pdu = MetadataPdu(pdu.pdu_header.pdu_conf, params, pdu.options)
                self.dest.state_machine(pdu)
                self._drain(self.dest)
        except Exception as exc:
            self.rejected[type(exc).__name__] += 1

    def _ack(self, pdu: EofPdu | FinishedPdu, status: TransactionStatus) -> None:
        conf = dataclasses.replace(pdu.pdu_header.pdu_conf)
        if isinstance(pdu, EofPdu):
            conf.direction = Direction.TOWARDS_SENDER
            acked = DirectiveType.EOF_PDU
        else:
            conf.direction = Direction.TOWARDS_RECEIVER
            acked = DirectiveType.FINISHED_PDU
        cond = int(pdu.condition_code)
        if cond > 0xF:  # spacepackets' EofPdu.unpack keeps the nibble unshifted (data & 0xF0)
            cond >>= 4
        self.send_pdu(bytes(AckPdu(conf, acked, ConditionCode(cond), status).pack()))

    def _answer_in_place_of_cfdppy(self, pdu: Any) -> bool:
        """Send the ACKs cfdp-py 0.7 leaves out (module docstring); True: the PDU is dealt with."""
        seq = pdu.transaction_seq_num.value
        if isinstance(pdu, FinishedPdu):
            src = self.source
            if src.state == CfdpState.IDLE or src.transaction_seq_num.value != seq:
                known = seq in self._sent_done
                self._ack(
                    pdu, TransactionStatus.TERMINATED if known else TransactionStatus.UNRECOGNIZED
                )
                self.answered["ACK(Finished) of a closed transaction"] += 1
                return True
            return False
        if pdu.direction.value == 1:
            return False
        tid = (pdu.source_entity_id.value, seq)
        dest = self.dest
        mine = dest.state != CfdpState.IDLE and (
            dest.transaction_id is not None and dest.transaction_id.seq_num.value == seq
        )
        if not mine and tid in self._recv_done:
            if isinstance(pdu, EofPdu):
                self._ack(pdu, TransactionStatus.TERMINATED)
                self.answered["ACK(EOF) of a closed transaction"] += 1
            else:
                self.rejected["late"] += 1
            return True
        if mine and isinstance(pdu, EofPdu) and dest.step in _EOF_DROPPED:
            self._ack(pdu, TransactionStatus.ACTIVE)
            self.answered[f"ACK(EOF) in {dest.step.name}"] += 1
            return True
        return False


_EOF_DROPPED = frozenset({DestStep.WAITING_FOR_MISSING_DATA, DestStep.WAITING_FOR_FINISHED_ACK})
"""Steps in which cfdp-py 0.7's DestHandler drops an EOF unacknowledged."""
