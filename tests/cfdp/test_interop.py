"""falak's CFDP entity against cfdp-py 0.7, an implementation falak did not write, both ways.

cfdp-py's timers run on the wall clock, so these tests run in real time with 50 ms timers over
links of 10 ms delay; falak's entity uses ``time.monotonic`` here too. The lost-PDU truth is
read with spacepackets' own parser, not falak's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from spacepackets.cfdp import ConditionCode
from spacepackets.cfdp.pdu import FileDataPdu, PduFactory

from falak.cfdp import Entity, LossyLink, ReceivedFile
from tests.cfdp.cfdppy_peer import CfdppyEntity
from tests.cfdp.harness import file_bytes

TIMER_S = 0.05
LATE_PDU_REFUSALS = {"PduIgnoredForSource", "NoRemoteEntityConfigFound", "late"}
"""What cfdp-py's source handler raises for a PDU of a transaction it has closed, and ``late``:
what the adapter drops for a transaction cfdp-py's destination handler has closed (a repeated
ACK of a Finished). On a loaded machine a 50 ms timer can fire before the answer arrives, and
the peer repeats its PDU (§4.7.1) after cfdp-py has answered the first one and gone idle."""


def _run(a: Any, b: Any, down: LossyLink, up: LossyLink, limit_s: float = 30.0) -> None:
    start = time.monotonic()
    while time.monotonic() - start < limit_s:
        a.tick()
        b.tick()
        down.poll()
        up.poll()
        if not (a.busy() or b.busy() or down.in_flight() or up.in_flight()):
            return
        time.sleep(0.0005)
    raise AssertionError(f"transfer not done after {limit_s} s")


def _links(
    a_receive: Callable[[bytes], None],
    b_receive: Callable[[bytes], None],
    loss: float,
    seed: int,
) -> tuple[LossyLink, LossyLink]:
    now = time.monotonic
    down = LossyLink(b_receive, now, loss=loss, delay_s=0.01, seed=seed)
    up = LossyLink(a_receive, now, loss=loss, delay_s=0.01, seed=seed + 1)
    return down, up


def _falak(entity_id: int, send: Callable[[bytes], None], got: list[ReceivedFile]) -> Entity:
    return Entity(
        entity_id,
        send,
        on_received=got.append,
        ack_interval_s=TIMER_S,
        nak_interval_s=TIMER_S,
        check_interval_s=TIMER_S,
        ack_limit=50,
        nak_limit=50,
    )


@pytest.mark.parametrize(("cls", "loss"), [(1, 0.0), (2, 0.0), (2, 0.05), (2, 0.2)])
def test_falak_sends_cfdp_py_receives(cls: int, loss: float, tmp_path: Path) -> None:
    data = file_bytes(60_000, cls)
    links: dict[str, LossyLink] = {}
    a = _falak(1, lambda p: links["down"].send(p), [])
    b = CfdppyEntity(
        2, 1, lambda p: links["up"].send(p), workdir=tmp_path, timer_s=TIMER_S, limit=50
    )
    links["down"], links["up"] = _links(a.receive, b.receive, loss, seed=10 + cls)
    a.put(2, data, "img/0001.raw", cls=cls)
    _run(a, b, links["down"], links["up"])
    assert set(b.rejected) <= LATE_PDU_REFUSALS
    ((name, got, cond, _delivery),) = b.received
    assert (name, cond) == ("img/0001.raw", ConditionCode.NO_ERROR)
    assert got == data
    if cls == 2:
        (send,) = a.transactions()
        assert (send.state, send.condition) == ("finished", "NO_ERROR")
        assert (send.retransmitted_bytes > 0) == (loss > 0)


@pytest.mark.parametrize(("cls", "loss"), [(1, 0.0), (2, 0.0), (2, 0.05), (2, 0.2)])
def test_cfdp_py_sends_falak_receives(cls: int, loss: float, tmp_path: Path) -> None:
    data = file_bytes(60_000, 10 + cls)
    got: list[ReceivedFile] = []
    links: dict[str, LossyLink] = {}
    a = CfdppyEntity(
        1, 2, lambda p: links["down"].send(p), workdir=tmp_path, timer_s=TIMER_S, limit=50
    )
    b = _falak(2, lambda p: links["up"].send(p), got)
    links["down"], links["up"] = _links(a.receive, b.receive, loss, seed=20 + cls)
    a.put(2, data, "mag/0001.dat", cls=cls)
    _run(a, b, links["down"], links["up"])
    assert dict(b.rejected) == {}
    assert set(a.rejected) <= LATE_PDU_REFUSALS
    (rf,) = got
    assert rf.complete
    assert rf.data == data
    assert rf.name == "mag/0001.dat"
    if cls == 2:
        assert [c for _, c in a.sent_finished] == [ConditionCode.NO_ERROR]  # got our Finished
        assert a.faults.faults == []


def test_cfdp_py_class1_under_loss_falak_reports_the_missing_ranges(tmp_path: Path) -> None:
    data = file_bytes(20_000, 3)
    got: list[ReceivedFile] = []
    lost: list[tuple[int, int]] = []
    links: dict[str, LossyLink] = {}

    def send(raw: bytes) -> None:
        pdu = PduFactory.from_raw(raw)  # spacepackets' parser names what is lost
        if isinstance(pdu, FileDataPdu) and pdu.offset // 1024 in (3, 4, 11):
            lost.append((pdu.offset, pdu.offset + len(pdu.file_data)))
            return
        links["down"].send(raw)

    a = CfdppyEntity(1, 2, send, workdir=tmp_path, timer_s=TIMER_S)
    b = _falak(2, lambda p: links["up"].send(p), got)
    links["down"], links["up"] = _links(a.receive, b.receive, 0.0, seed=0)
    a.put(2, data, "x", cls=1)
    _run(a, b, links["down"], links["up"])
    (rf,) = got
    assert lost == [(3072, 4096), (4096, 5120), (11264, 12288)]
    assert not rf.complete
    assert rf.missing == [(3072, 5120), (11264, 12288)]
