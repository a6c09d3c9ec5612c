"""On-board event packets become archive events (source ``onboard``) and ``events`` bus
messages, live only: replay rebuilds parameters without repeating the events."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from falak.archive import open_archive
from falak.links import UdpLink
from falak.processor import EVENTS_TOPIC, Processor, replay
from falak.processor.events import OnboardEvents

from .testsat import TAI_1958_TO_UNIX_S, TAI_MINUS_UTC_S, event_packet, hk_packet, load_testsat


def wait_until(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


def test_testsat_marks_its_event_container() -> None:
    assert OnboardEvents(load_testsat()).containers == ["/TESTSAT/EVENT"]


def test_event_packets_are_archived_and_published_once(tmp_path: Path) -> None:
    db = load_testsat()
    unix_s = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    obt = unix_s + TAI_1958_TO_UNIX_S + TAI_MINUS_UTC_S  # CUC, TAI epoch 1958 (mdb.yaml)
    packets = [
        event_packet(1, obt, 42, 1, "battery heater stuck on"),
        hk_packet(2, obt + 0.5),
        event_packet(3, obt + 1.0, 7, 3, "safe mode entered"),
    ]
    with open_archive(tmp_path / "a") as archive:
        link = UdpLink("udp0", "127.0.0.1", 0)
        proc = Processor(db, archive, links=[link], batch_max_age_s=0.01)
        sub = proc.subscribe([EVENTS_TOPIC], maxsize=1000)
        proc.start()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for p in packets:
                    s.sendto(p, ("127.0.0.1", link.port))
            wait_until(lambda: proc.stats().decoded >= 3)
            wait_until(
                lambda: len([e for e in archive.read_events() if e.source == "onboard"]) == 2
            )
        finally:
            proc.stop()
        onboard = [e for e in archive.read_events() if e.source == "onboard"]
        published = [d.payload for d in sub.drain() if d.payload[1] != "info"]
        ids = [int(i) for b in archive.read_packets() for i in b.ids]  # raw ids, in order
        replay(archive, db)  # rebuilds parameters: must not repeat the events
        assert [e for e in archive.read_events() if e.source == "onboard"] == onboard
    first, second = onboard
    assert (first.severity, first.message) == ("warning", "battery heater stuck on")
    assert first.attrs == {"container": "/TESTSAT/EVENT", "packet_id": ids[0], "event_id": 42}
    assert (second.severity, second.message) == ("critical", "safe mode entered")
    assert second.attrs["event_id"] == 7
    # the event's time is the packet's on-board time (CUC fine bits: 1/65536 s)
    assert abs(first.time_ns - int(unix_s * 1e9)) < 20_000
    assert [(t, sev, msg) for t, sev, msg in published] == [
        (first.time_ns, "warning", "battery heater stuck on"),
        (second.time_ns, "critical", "safe mode entered"),
    ]
