"""The cfdp-py adapter's stand-in ACKs: one lost ACK no longer stalls a cfdp-py transfer.

cfdp-py 0.7 to cfdp-py 0.7 (the benchmark's independent side), class 2, over links that drop
exactly one chosen PDU (read with spacepackets' parser). Without the adapter's ACKs the lost
ACK (Finished) leaves cfdp-py's receiver cancelling and re-cancelling without end; that
behaviour of cfdp-py itself is pinned here too, so the workaround is known to be needed (and
the test says so when a cfdp-py release makes it unnecessary).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cfdppy.defs import CfdpState
from spacepackets.cfdp import ConditionCode
from spacepackets.cfdp.pdu import AckPdu, DirectiveType, PduFactory
from spacepackets.cfdp.pdu.ack import TransactionStatus

from falak.cfdp import LossyLink
from tests.cfdp.cfdppy_peer import CfdppyEntity
from tests.cfdp.harness import file_bytes

TIMER_S = 0.02
LIMIT = 5


def _drop_first(acked: DirectiveType, link: list[LossyLink], dropped: list[bytes]) -> Callable:
    """A send function that loses the first ACK of ``acked`` and passes everything else."""

    def send(raw: bytes) -> None:
        pdu = PduFactory.from_raw(raw)
        if isinstance(pdu, AckPdu) and pdu.directive_code_of_acked_pdu == acked and not dropped:
            dropped.append(raw)
            return
        link[0].send(raw)

    return send


def _pair(tmp_path: Path, lose: DirectiveType) -> tuple[CfdppyEntity, CfdppyEntity, list, list]:
    down: list[LossyLink] = []
    up: list[LossyLink] = []
    dropped: list[bytes] = []
    kw = {"timer_s": TIMER_S, "limit": LIMIT}
    a_send = _drop_first(lose, down, dropped) if lose == DirectiveType.FINISHED_PDU else None
    b_send = _drop_first(lose, up, dropped) if lose == DirectiveType.EOF_PDU else None
    a = CfdppyEntity(1, 2, a_send or (lambda p: down[0].send(p)), workdir=tmp_path / "a", **kw)
    b = CfdppyEntity(2, 1, b_send or (lambda p: up[0].send(p)), workdir=tmp_path / "b", **kw)
    down.append(LossyLink(b.receive, time.monotonic))
    up.append(LossyLink(a.receive, time.monotonic))
    return a, b, [down[0], up[0]], dropped


def _run(a: CfdppyEntity, b: CfdppyEntity, links: list[LossyLink], limit_s: float) -> bool:
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        a.tick()
        b.tick()
        for link in links:
            link.poll()
        if not (a.busy() or b.busy() or any(x.in_flight() for x in links)):
            return True
        time.sleep(0.0005)
    return False


@pytest.mark.parametrize(
    ("lose", "answered_by", "answer"),
    [
        (DirectiveType.FINISHED_PDU, "sender", "ACK(Finished) of a closed transaction"),
        (DirectiveType.EOF_PDU, "receiver", "ACK(EOF) in WAITING_FOR_FINISHED_ACK"),
    ],
)
def test_one_lost_ack_and_the_transfer_still_completes(
    lose: DirectiveType, answered_by: str, answer: str, tmp_path: Path
) -> None:
    data = file_bytes(20_000, 5)
    a, b, links, dropped = _pair(tmp_path, lose)
    a.put(2, data, "f.bin", cls=2)
    assert _run(a, b, links, limit_s=10.0), (a.source.step, b.dest.step, a.answered, b.answered)
    assert len(dropped) == 1
    ((name, got, cond, _dc),) = b.received
    assert (name, got, cond) == ("f.bin", data, ConditionCode.NO_ERROR)
    assert [c for _, c in a.sent_finished] == [ConditionCode.NO_ERROR]
    assert a.faults.faults == b.faults.faults == []
    helper = a if answered_by == "sender" else b
    assert helper.answered[answer] >= 1


def test_cfdp_py_alone_never_recovers_from_a_lost_ack_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cfdp-py 0.7's own behaviour, the adapter's stand-in ACKs switched off (the evidence).

    The sender resets after its ACK (Finished) and refuses the repeats; the receiver reaches
    its ACK limit, cancels, sends Finished (cancel), reaches the limit again, cancels again,
    and never abandons. If this starts failing, a cfdp-py release has fixed it and the
    adapter's workaround can go.
    """
    monkeypatch.setattr(CfdppyEntity, "_answer_in_place_of_cfdppy", lambda self, pdu: False)
    data = file_bytes(20_000, 6)
    a, b, links, _dropped = _pair(tmp_path, DirectiveType.FINISHED_PDU)
    a.put(2, data, "f.bin", cls=2)
    # one ACK-limit cycle is LIMIT * TIMER_S = 0.1 s: 1.5 s holds many
    assert not _run(a, b, links, limit_s=1.5)
    assert a.source.state == CfdpState.IDLE
    assert a.sent_finished
    assert b.dest.state == CfdpState.BUSY  # the receiver is not, and will not be
    cancels = b.faults.faults.count("cancellation POSITIVE_ACK_LIMIT_REACHED")
    assert cancels >= 3
    assert not [f for f in b.faults.faults if f.startswith("abandoned")]
    assert a.rejected["NoRemoteEntityConfigFound"] > 0  # the repeats cfdp-py refused
    assert b.received[0][1] == data  # the file itself had arrived whole


def test_ack_of_a_cancel_eof_carries_its_condition(tmp_path: Path) -> None:
    """spacepackets 0.x parses an EOF's condition code without the shift (0x10 for code 1);
    the adapter's ACK must still carry code 1 (it raised ValueError packing 0x10 << 4)."""
    from spacepackets.cfdp.conf import PduConfig
    from spacepackets.cfdp.pdu import EofPdu

    eof = EofPdu(
        PduConfig.default(),
        file_checksum=b"\0" * 4,
        file_size=10,
        condition_code=ConditionCode.POSITIVE_ACK_LIMIT_REACHED,
    )
    parsed = PduFactory.from_raw(bytes(eof.pack()))
    assert parsed.condition_code == 0x10  # the quirk, as spacepackets has it
    sent: list[bytes] = []
    ent = CfdppyEntity(2, 1, sent.append, workdir=tmp_path)
    ent._ack(parsed, TransactionStatus.ACTIVE)
    (ack,) = map(PduFactory.from_raw, sent)
    assert isinstance(ack, AckPdu)
    assert ack.directive_code_of_acked_pdu == DirectiveType.EOF_PDU
    assert ack.condition_code_of_acked_pdu == ConditionCode.POSITIVE_ACK_LIMIT_REACHED
