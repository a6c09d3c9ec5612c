"""The live chain end to end: a UDP sender on loopback, the processor, subscribers, replay."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest

from falak.archive import open_archive
from falak.bus import Delivery
from falak.links import UdpLink
from falak.processor import ParameterValues, Processor, Staleness, replay

from .testsat import hk_packet, load_testsat

N = 300
HK = ["BATT_V", "BATT_I", "TEMP_BATT", "TEMP_OBC", "MODE", "HEATER", "HK_SPARE", "SW_VERSION"]


def wait_until(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def values(deliveries: list[Delivery], topic: str) -> ParameterValues:
    parts = [
        d.payload for d in deliveries if d.topic == topic and isinstance(d.payload, ParameterValues)
    ]
    return ParameterValues(
        topic,
        parts[0].name,
        parts[0].container,
        np.concatenate([p.time_ns for p in parts]),
        np.concatenate([p.recv_time_ns for p in parts]),
        np.concatenate([p.raw for p in parts]),
        np.concatenate([p.eng for p in parts]),
        np.concatenate([p.status for p in parts]) if parts[0].status is not None else None,
        None,
    )


def test_udp_end_to_end_subscribers_see_every_value(tmp_path: Path) -> None:
    db = load_testsat()
    counts = 7000 + (np.arange(N) % 50) * 10  # 7.0 .. 7.49 V, in limits
    counts[100:110] = 8500  # 8.5 V: above the 8.4 V warning limit (mdb.yaml Voltage alarm)
    obt0 = 2_000_000_000.0
    pk = [hk_packet(i, obt0 + i, int(counts[i])) for i in range(N)]
    with open_archive(tmp_path / "a") as archive:
        link = UdpLink("udp0", "127.0.0.1", 0)
        proc = Processor(db, archive, links=[link], batch_max_age_s=0.02, staleness_tolerance=0.5)
        everything = proc.subscribe(maxsize=100_000)
        some = proc.subscribe(["BATT_V", "/TESTSAT/MODE", "alarms", "staleness"])
        proc.start()
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for p in pk:
                tx.sendto(p, ("127.0.0.1", link.port))
                time.sleep(0.001)  # a fixed-rate sender: about 1000 packets/s at most
            wait_until(lambda: proc.stats().decoded == N)
            # no HK packet after the last: every HK parameter expires 0.5 periods later
            wait_until(lambda: proc.stats().expired_parameters == len(HK))
        finally:
            tx.close()
            proc.stop()
        got_all = everything.drain()
        got_some = some.drain()
        # counters are exact
        ls = link.stats()
        assert (ls.packets, ls.bytes) == (N, sum(len(p) for p in pk))
        assert sum(ls.rejected.values()) == 0
        st = proc.stats()
        assert (st.packets_archived, st.decoded, st.failed, st.errors) == (N, N, {}, 0)
        assert archive.packet_stats().n_packets == N
        # every subscriber saw every value of the parameters it asked for
        for name in HK:
            v = values(got_all, f"/TESTSAT/{name}")
            assert len(v) == N, name
        batt = values(got_some, "/TESTSAT/BATT_V")
        assert batt.eng.tolist() == pytest.approx((counts * 0.001).tolist(), abs=1e-12)
        assert np.all(np.diff(batt.recv_time_ns) > 0)
        # generation time is the on-board time (OBT, whole seconds): 1 s apart
        assert np.all(np.diff(batt.time_ns) == 1_000_000_000)
        assert (batt.status[100:110] == 2).all()  # WARNING
        assert (np.delete(batt.status, np.s_[100:110]) == 0).all()
        assert [d.seq for d in got_some] == list(range(1, len(got_some) + 1))
        assert [d.seq for d in got_all] == list(range(1, len(got_all) + 1))
        alarms = [d.payload.state for d in got_some if d.topic == "alarms"]
        assert alarms == ["triggered", "normal"]  # BATT_V, unacknowledged: still listed
        assert [a.parameter for a in proc.alarms.active()] == ["/TESTSAT/BATT_V"]
        # staleness goes to the parameter's own topic and to "staleness" (all parameters)
        stale = [(d.topic, d.payload) for d in got_some if isinstance(d.payload, Staleness)]
        on_topic = {(t, s.parameter, s.expired) for t, s in stale if t != "staleness"}
        assert on_topic == {("/TESTSAT/BATT_V", "/TESTSAT/BATT_V", True),
                            ("/TESTSAT/MODE", "/TESTSAT/MODE", True)}  # fmt: skip
        assert {s.parameter for t, s in stale if t == "staleness"} == {f"/TESTSAT/{n}" for n in HK}
        assert archive.read_parameter("BATT_V").eng.tolist() == batt.eng.tolist()
        # replay rebuilds identical parameter values
        before = {n: archive.read_parameter(n) for n in HK}
        res = replay(archive, db)
        assert (res.packets, res.decoded, res.samples_deleted) == (N, N, N)
        for n in HK:
            after = archive.read_parameter(n)
            assert after.time_ns.tolist() == before[n].time_ns.tolist()
            assert after.eng.tolist() == before[n].eng.tolist()
            assert after.raw.tolist() == before[n].raw.tolist()
            assert after.status.tolist() == before[n].status.tolist()
        events = [e.message for e in archive.read_events()]
        assert events == ["processor started", "processor stopped"]


def test_bad_packets_are_archived_and_marked(tmp_path: Path) -> None:
    """A packet that decodes into no container is still archived raw, and counted."""
    from falak.ccsds.spacepacket import encode_packet
    from falak.links.base import ReceivedBatch

    good = hk_packet(0, 2e9)
    unknown = encode_packet(555, b"\x00" * 10)  # no TESTSAT container has APID 555
    data = np.frombuffer(good + unknown, np.uint8)
    with open_archive(tmp_path / "a") as archive:
        proc = Processor(load_testsat(), archive)
        ids = proc.process(
            [
                ReceivedBatch(
                    "t",
                    data,
                    np.array([0, len(good)]),
                    np.array([len(good), len(unknown)]),
                    np.array([10, 11]),
                )
            ]
        )
        st = archive.packet_stats()
        assert st.n_packets == 2
        assert st.failed == {"no_container": 1}
        (batch,) = archive.read_packets()
        assert batch.ids.tolist() == ids.tolist()
        assert batch.status.tolist() == ["", "no_container"]
        assert proc.stats().failed == {"no_container": 1}
