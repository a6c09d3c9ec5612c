"""The orbiter simulator's account of its lossy CFDP link: PDUs sent and lost, retransmissions.

The model's own loss model (option ``loss``) drops the PDUs; the ground is falak's CFDP entity
behind a loss-free link with the 1.3 s light time, so every PDU the model reports as sent and
not lost must reach the ground, and the truth of what was retransmitted is read from the PDUs
that arrived with spacepackets' parser (an implementation falak did not write).
"""

from __future__ import annotations

import re
from collections import Counter

from spacepackets.cfdp.pdu import FileDataPdu, PduFactory

from falak.cfdp import Entity, LossyLink, ReceivedFile, wrap
from falak.sim.orbiter import create_model

S = 1_000_000_000
EPOCH = 1_852_848_000 * S  # 2028-09-18T00:00:00Z, as tests/sim/test_orbiter.py


def test_status_and_event_count_the_pdus_lost_and_retransmitted() -> None:
    opts = {
        "mag_rate_hz": 0,
        "contacts": "always",
        "polar_terrain": False,
        "file_downlink": "cfdp",
        "cfdp_timers": {"ack_interval_s": 5, "nak_interval_s": 5},
        "loss": 0.1,
    }
    m = create_model(EPOCH, seed=4, options=opts)
    before = m.status()
    assert before["cfdp_down"] == dict.fromkeys(
        ("pdus_sent", "pdus_lost", "file_data_pdus", "retransmitted_pdus", "retransmitted_bytes"),
        0,
    )
    t = EPOCH + 3 * 3600 * S
    m.step(t)
    assert m.execute("IMAGE_TAKE", {"EXPOSURE_MS": 10}, t).ok
    f = m.store.files[1]
    clock = [t / S]
    received: list[ReceivedFile] = []
    arrived: list[bytes] = []
    seq = [0]

    def to_orbiter(pdu: bytes) -> None:
        seq[0] += 1
        up.send(wrap(pdu, 611, seq[0], packet_type=1))

    ground = Entity(1, to_orbiter, now=lambda: clock[0], on_received=received.append)

    def at_ground(pdu: bytes) -> None:
        arrived.append(pdu)
        ground.receive(pdu)

    down = LossyLink(at_ground, lambda: clock[0], delay_s=1.3)
    up = LossyLink(
        lambda pkt: m.take_uplink_packet(pkt, round(clock[0] * S)), lambda: clock[0], delay_s=1.3
    )
    dump = m.execute("FILE_DUMP", {"FILE_ID": 1}, t + S)
    assert dump.finish is not None
    tt = t + S
    events: list[str] = []

    def step() -> None:
        nonlocal tt
        tt += S // 2
        clock[0] = tt / S
        for p in m.step(tt):
            if p.container == "CFDP_PDU_DOWN":
                down.send(bytes(p.values["CFDP_PDU"]))
            elif p.container == "EVENT":
                events.append(str(p.values["EVENT_MESSAGE"]))
        ground.tick()
        down.poll()
        up.poll()

    while dump.finish(tt) is None:
        assert tt < t + 900 * S, "the transfer did not end in 15 minutes"
        step()
    for _ in range(20):  # the last packets and the event
        step()
    (rf,) = received
    assert rf.complete
    assert rf.data == f.data

    st = m.status()
    down_st = st["cfdp_down"]
    assert (st["file_downlink"], st["loss"]) == ("cfdp", 0.1)
    # what the model says went down and was not lost is exactly what the ground got
    assert down_st["pdus_sent"] - down_st["pdus_lost"] == len(arrived) == down.delivered
    # 10 % loss: the lost fraction within 4 sigma of the binomial
    n, k = down_st["pdus_sent"], down_st["pdus_lost"]
    assert abs(k - 0.1 * n) < 4 * (n * 0.1 * 0.9) ** 0.5, (k, n)
    # the retransmissions, from the PDUs that arrived (spacepackets' parser)
    offsets = Counter(
        pdu.offset
        for pdu in map(PduFactory.from_raw, arrived)
        if isinstance(pdu, FileDataPdu)
    )  # fmt: skip
    segments = -(-f.size // 1024) if f.size else 0
    assert len(offsets) == segments  # every segment arrived at least once
    repeats_arrived = sum(c - 1 for c in offsets.values())
    # each retransmission either arrived (a repeat here) or was lost on the way
    assert repeats_arrived <= down_st["retransmitted_pdus"] <= repeats_arrived + k
    assert down_st["retransmitted_pdus"] > 0
    assert down_st["file_data_pdus"] == segments + down_st["retransmitted_pdus"]
    # the octet count agrees with the CFDP entity's own
    (tx,) = [x for x in m.sender.entity.transactions() if x.role == "send"]  # type: ignore[attr-defined]
    assert down_st["retransmitted_bytes"] == tx.retransmitted_bytes > 0
    # the uplink: packets taken, and the loss model's share of them lost
    assert st["cfdp_up"]["packets_taken"] == up.delivered > 0
    assert 0 <= st["cfdp_up"]["pdus_lost"] <= up.delivered

    # the event says the same numbers for this file
    (ev,) = [e for e in events if "by CFDP:" in e]
    got = re.fullmatch(
        r"file 1 IMG_000001\.pgm down by CFDP: (\d+) PDUs sent, (\d+) lost on the link "
        r"\((\d+\.\d) %\), (\d+) File Data PDUs retransmitted \((\d+) octets\)",
        ev,
    )
    assert got is not None, ev
    sent, lost, pct, rpdus, rbytes = got.groups()
    assert int(sent) <= n  # the file's PDUs: up to its Finished's ACK, not later ones
    assert int(lost) <= k
    assert float(pct) == round(100 * int(lost) / int(sent), 1)
    assert (int(rpdus), int(rbytes)) == (
        down_st["retransmitted_pdus"],
        down_st["retransmitted_bytes"],
    )


def test_status_without_cfdp_reports_segments_and_zeros() -> None:
    m = create_model(EPOCH, seed=0, options={"mag_rate_hz": 0, "file_downlink": "segments"})
    st = m.status()
    assert st["file_downlink"] == "segments"
    assert set(st["cfdp_down"].values()) == {0}
    assert st["cfdp_up"] == {"packets_taken": 0, "pdus_lost": 0}
