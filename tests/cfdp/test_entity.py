"""falak's CFDP entity (CCSDS 727.0-B-5 §4) between two falak entities on a simulated clock.

Links lose packets at random (seeded), delay them 1.3 s one way (Earth-Moon light time, about
1.28 s) and, where said, reorder them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from falak.cfdp import Entity, checksum, decode_pdu, encode_pdu
from falak.cfdp.pdu import FileData, Metadata
from falak.errors import InputError
from tests.cfdp.harness import file_bytes, pair


def test_class1_without_loss_arrives_whole_and_checksummed() -> None:
    data = file_bytes(100_000)
    p = pair()
    tid = p.a.put(2, data, "img/0001.raw", cls=1)
    p.run()
    (rf,) = p.got
    assert (rf.source_id, rf.transaction_seq) == tid == (1, 1)
    assert rf.data == data
    assert rf.complete
    assert rf.missing == []
    assert rf.name == "img/0001.raw"
    assert rf.size == 100_000
    assert rf.checksum == checksum(data)
    assert rf.condition == "NO_ERROR"
    (send,) = p.a.transactions()
    assert (send.role, send.state, send.cls, send.progress) == ("send", "finished", 1, 100_000)
    assert send.retransmitted_bytes == 0


@pytest.mark.parametrize(("loss", "seed"), [(0.05, 1), (0.20, 2)])
def test_class2_under_loss_arrives_byte_identical(loss: float, seed: int) -> None:
    data = file_bytes(300_000, seed)
    p = pair(loss=loss, seed=seed)
    p.a.put(2, data, "mag/0001.dat", cls=2, segment_size=1000)
    p.run()
    (rf,) = p.got
    assert rf.complete
    assert rf.data == data
    assert rf.condition == "NO_ERROR"
    (send,) = p.a.transactions()
    (recv,) = p.b.transactions()
    assert send.state == recv.state == "finished"
    assert p.down.dropped > 0  # the link really lost PDUs, which were sent again
    # each PDU is lost with probability `loss`: a retransmission round resends ~loss of it
    assert loss * 0.5 < send.retransmitted_bytes / len(data) < loss * 2


def test_class2_recovers_lost_metadata_eof_and_finished() -> None:
    """Drop the first Metadata, the first EOF and the first Finished: all come again."""
    data = file_bytes(5000)
    dropped: set[str] = set()

    def tamper(raw: bytes) -> bytes | None:
        kind = type(decode_pdu(raw)).__name__
        if kind in ("Metadata", "Eof") and kind not in dropped:
            dropped.add(kind)
            return None
        return raw

    p = pair(tamper=tamper)
    lost_finished = []
    up_send = p.up.send

    def up(raw: bytes) -> None:
        if type(decode_pdu(raw)).__name__ == "Finished" and not lost_finished:
            lost_finished.append(raw)
            return
        up_send(raw)

    p.b.send_pdu = up
    p.a.put(2, data, "x", cls=2)
    p.run()
    assert dropped == {"Metadata", "Eof"}
    assert lost_finished
    (rf,) = p.got
    assert rf.complete
    assert rf.data == data
    assert [t.state for t in p.a.transactions() + p.b.transactions()] == ["finished"] * 2


def test_class1_under_loss_reports_exactly_the_missing_ranges() -> None:
    data = file_bytes(10_000)
    lost: list[tuple[int, int]] = []

    def tamper(raw: bytes) -> bytes | None:
        pdu = decode_pdu(raw)
        if isinstance(pdu, FileData) and pdu.offset in (2048, 3072, 9216):
            lost.append((pdu.offset, pdu.offset + len(pdu.data)))
            return None
        return raw

    p = pair(tamper=tamper)
    p.a.put(2, data, "x", cls=1, segment_size=1024)
    p.run()
    (rf,) = p.got
    assert not rf.complete
    assert rf.missing == [(2048, 4096), (9216, 10_000)]  # adjacent losses merge
    assert lost == [(2048, 3072), (3072, 4096), (9216, 10_000)]
    assert rf.condition == "CHECK_LIMIT_REACHED"  # §4.6.3.3: waited for late data, none came
    assert rf.data[:2048] == data[:2048]
    assert rf.data[2048:4096] == bytes(2048)


def test_class1_waits_for_reordered_data_after_eof() -> None:
    """With jitter the EOF can overtake File Data; the check timer waits for it (§4.6.3.3)."""
    data = file_bytes(50_000)
    p = pair(jitter_s=2.0, seed=3)
    p.a.put(2, data, "x", cls=1, segment_size=500)
    p.run()
    (rf,) = p.got
    assert rf.complete
    assert rf.data == data


def test_suspend_mid_transfer_then_resume_completes() -> None:
    data = file_bytes(200_000)
    p = pair(loss=0.05, seed=4, pdus_per_tick=2)
    tid = p.a.put(2, data, "x", cls=2, segment_size=1000)
    for _ in range(40):  # 80 of 200 segments out in 2 s, the last 1.3 s of them in flight
        p.a.tick()
        p.b.tick()
        p.down.poll()
        p.up.poll()
        p.clock.t += 0.05
    p.down.up = p.up.up = False  # the contact ends: what is in flight is lost
    p.a.suspend(tid)
    p.b.suspend(tid)
    assert [t.state for t in p.a.transactions()] == ["suspended"]
    sent_before = p.a.transactions()[0].progress
    for _ in range(200):  # 12 hours without contact: no timer fires, nothing is sent
        p.clock.t += 216.0
        p.a.tick()
        p.b.tick()
    assert p.a.transactions()[0].progress == sent_before == 80_000
    assert p.got == []
    p.down.up = p.up.up = True  # the next contact
    p.a.resume(tid)
    p.b.resume(tid)
    p.run()
    (rf,) = p.got
    assert rf.complete
    assert rf.data == data


def test_resume_after_eof_asks_again_for_what_the_outage_lost() -> None:
    data = file_bytes(20_000)
    p = pair(nak_interval_s=1e6, ack_interval_s=1e6)  # only the resume can recover
    tid = p.a.put(2, data, "x", cls=2)
    p.a.tick()  # everything goes out at once ...
    p.down.up = False
    p.down._queue = p.down._queue[:5]  # ... and the outage loses all but the first 5 PDUs
    p.down.up = True
    p.clock.t += 2.0
    p.down.poll()
    p.b.suspend_all()
    p.a.suspend(tid)
    p.clock.t += 1000.0
    p.b.resume_all()
    p.a.resume(tid)  # re-sends EOF: the receiver learns the size and NAKs the rest
    p.run()
    (rf,) = p.got
    assert rf.complete
    assert rf.data == data


def test_checksum_mismatch_is_detected_and_reported_to_the_sender() -> None:
    data = file_bytes(8000)

    def tamper(raw: bytes) -> bytes | None:
        pdu = decode_pdu(raw)
        if isinstance(pdu, FileData) and pdu.offset == 1024:
            bad = bytes([pdu.data[0] ^ 0xFF]) + pdu.data[1:]
            return encode_pdu(FileData(pdu.header, pdu.offset, bad))
        return raw

    for cls in (1, 2):
        p = pair(tamper=tamper)
        p.a.put(2, data, "x", cls=cls)
        p.run()
        (rf,) = p.got
        assert not rf.complete
        assert rf.missing == []
        assert rf.condition == "FILE_CHECKSUM_FAILURE"
        if cls == 2:
            assert p.a.transactions()[0].condition == "FILE_CHECKSUM_FAILURE"


def test_crc32_checksum_and_pdu_crc() -> None:
    data = file_bytes(5000)
    p = pair(loss=0.1, seed=5)
    p.a.put(2, data, "x", cls=2, checksum_type="crc32", crc=True)
    p.run()
    (rf,) = p.got
    assert rf.complete
    assert rf.data == data
    assert rf.checksum_type == 3


def test_many_transactions_at_once_both_ways() -> None:
    files = {f"f{i}": file_bytes(3000 + 977 * i, i) for i in range(6)}
    p = pair(loss=0.1, seed=6)
    for name, d in files.items():
        p.a.put(2, d, name, cls=2)
    back = file_bytes(4000, 99)
    got_a: list = []
    p.a.on_received = got_a.append
    p.b.put(1, back, "table.bin", cls=2)  # an uplink while files come down
    p.run()
    assert {rf.name: rf.data for rf in p.got} == files
    assert [rf.data for rf in got_a] == [back]


def test_a_sender_whose_finished_never_comes_gives_up_after_inactivity() -> None:
    p = pair(inactivity_s=30.0)
    drop_finished = p.up.send
    p.b.send_pdu = lambda raw: (
        None if type(decode_pdu(raw)).__name__ == "Finished" else (drop_finished(raw))
    )
    p.a.put(2, b"x" * 100, "x", cls=2)
    p.run(limit_s=120)
    (send,) = p.a.transactions()
    assert (send.state, send.condition, send.size) == ("cancelled", "INACTIVITY_DETECTED", 100)


def test_class1_with_closure_gets_a_finished() -> None:
    p = pair()
    p.a.put(2, b"abc", "x", cls=1, closure=True)
    p.run()
    (send,) = p.a.transactions()
    assert (send.state, send.condition) == ("finished", "NO_ERROR")
    assert p.got[0].complete


def test_positive_ack_limit_cancels_a_transfer_nobody_answers() -> None:
    p = pair(ack_interval_s=1.0, ack_limit=3)
    p.up.up = False  # the receiver's ACKs never arrive
    p.a.put(2, b"x" * 100, "x", cls=2)
    p.run(limit_s=60)
    (send,) = p.a.transactions()
    assert (send.state, send.condition) == ("cancelled", "POSITIVE_ACK_LIMIT_REACHED")


def test_received_files_land_in_the_store(tmp_path: Path) -> None:
    p = pair()
    p.b.store = tmp_path
    p.a.put(2, b"hello", "img/a.raw", cls=1)
    p.a.put(2, b"evil", "../escape", cls=1)
    p.run()
    p.a.put(2, b"x" * 3000, "img/b.raw", cls=1)
    p.a.send_pdu = lambda raw: None if isinstance(decode_pdu(raw), FileData) else p.down.send(raw)
    p.run()
    assert (tmp_path / "img" / "b.raw.partial").read_bytes() == bytes(3000)
    assert not (tmp_path / "img" / "b.raw").exists()
    assert (tmp_path / "img" / "a.raw").read_bytes() == b"hello"
    assert p.got[0].path == tmp_path / "img" / "a.raw"
    assert p.got[1].path is None
    assert p.b.rejected["unsafe file name"] == 1
    assert not (tmp_path.parent / "escape").exists()


def test_receive_counts_what_it_cannot_use() -> None:
    e = Entity(5, lambda p: None, now=lambda: 0.0)
    e.receive(b"\x00garbage")
    from falak.cfdp.pdu import Header

    e.receive(encode_pdu(Metadata(Header(1, 1, 9), 10, b"a", b"b")))  # for entity 9
    assert dict(e.rejected) == {"decode": 1, "not for us": 1}


def test_bad_arguments_name_the_fix() -> None:
    with pytest.raises(InputError, match=r"unknown CFDP timer option\(s\) nak_s; known: ack_"):
        Entity(1, lambda p: None, nak_s=3)
    e = Entity(1, lambda p: None)
    with pytest.raises(InputError, match=r"CFDP class must be 1 \(unacknowledged\) or 2"):
        e.put(2, b"", "x", cls=3)
    with pytest.raises(InputError, match=r"checksum_type must be one of modular, crc32, null"):
        e.put(2, b"", "x", checksum_type="md5")
    with pytest.raises(InputError, match=r"no CFDP transaction \(1, 7\)"):
        e.suspend((1, 7))  # type: ignore[arg-type]


def test_empty_file() -> None:
    p = pair(loss=0.0)
    p.a.put(2, b"", "empty", cls=2)
    p.run()
    (rf,) = p.got
    assert rf.complete
    assert rf.data == b""
    assert rf.size == 0


def test_cancel_by_the_sender_ends_both_sides_with_what_arrived() -> None:
    data = file_bytes(50_000)
    p = pair(pdus_per_tick=10)
    tid = p.a.put(2, data, "x", cls=2, segment_size=1000)
    for _ in range(3):  # 30 segments out
        p.a.tick()
        p.clock.t += 0.05
    p.a.cancel(tid)
    p.run()
    (rf,) = p.got
    assert (rf.complete, rf.condition) == (False, "CANCEL_REQUEST_RECEIVED")
    assert rf.missing == [(30_000, 50_000)]  # 3 ticks of 10 File Data PDUs went out
    assert p.a.status(tid).state == "cancelled"
    assert p.b.status(tid).state == "finished"


def test_cancel_by_the_receiver_is_reported_to_the_sender() -> None:
    p = pair(pdus_per_tick=1)
    tid = p.a.put(2, file_bytes(20_000), "x", cls=2)
    for _ in range(40):  # until the receiver has the transaction
        p.a.tick()
        p.down.poll()
        p.clock.t += 0.05
    p.b.cancel(tid)
    p.run()
    assert p.a.status(tid).condition == "CANCEL_REQUEST_RECEIVED"
    assert p.got[0].condition == "CANCEL_REQUEST_RECEIVED"
    with pytest.raises(
        InputError, match=r"no CFDP transaction TransactionId\(source_id=1, seq=9\)"
    ):
        p.a.status((1, 9))  # type: ignore[arg-type]


def test_transactions_are_listed_in_the_order_they_began_both_roles() -> None:
    """GET /archive/transfers says "oldest first": a file received before one is sent is listed
    before it, whatever the role."""
    p = pair()
    p.b.put(1, file_bytes(2000, 1), "down.bin", cls=2)  # a's receive begins first
    p.run()
    p.a.put(2, file_bytes(1500, 2), "up.bin", cls=2)  # then a sends
    p.run()
    p.b.put(1, file_bytes(1000, 3), "down2.bin", cls=2)
    p.run()
    assert [(t.role, t.name) for t in p.a.transactions()] == [
        ("receive", "down.bin"),
        ("send", "up.bin"),
        ("receive", "down2.bin"),
    ]
