"""cfdp-py (and spacepackets' PDU codecs) behind the same small interface as falak's Entity.

The independent CFDP implementation falak is tested and benchmarked against: cfdp-py 0.7
(https://github.com/us-irs/cfdp-py), one SourceHandler and one DestHandler per entity. Its
handlers take one transaction each (so puts queue), read and write files through a
NativeFilestore under ``workdir``, and time out on the wall clock (``time.time``), so tests
that lose packets use short timers. PDUs cross as bytes: ``send_pdu`` gets ``pack()``ed
PDUs, :meth:`CfdppyEntity.receive` parses with ``PduFactory.from_raw``.
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
from cfdppy.mib import CheckTimerProvider, DefaultFaultHandlerBase, EntityType
from cfdppy.user import TransactionFinishedParams
from spacepackets.cfdp import ChecksumType, ConditionCode, TransactionId, TransmissionMode
from spacepackets.cfdp.pdu import MetadataPdu, PduFactory
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
            positive_ack_timer_expiration_limit=limit,
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

    def put(self, dest_id: int, data: bytes, dest_name: str, *, cls: int = 2) -> None:
        """Queue a file for sending (cfdp-py sends one transaction at a time)."""
        assert dest_id == self.peer.value
        self._queue.append((data, dest_name, cls))

    def _finished(self, params: TransactionFinishedParams) -> None:
        tid = params.transaction_id
        fp = params.finished_params
        if tid.source_id.value == self.id.value:
            self.sent_finished.append((tid.seq_num.value, fp.condition_code))
            return
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
