"""The ground's CFDP entity (server.files.FileService): a spacecraft's files come down over a
lossy, delayed link into the archive whole, answers go up through the uplink, a transfer cut
by the end of a contact resumes at the next one, and files go up too (issue 15)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from falak.archive import open_archive
from falak.cfdp import Entity, LossyLink, unwrap, wrap
from falak.links.tc import TcUplink
from falak.planning.traverse.windows import UplinkWindows
from falak.server.config import CfdpConfig
from falak.server.files import FileService

NS = 1_000_000_000
T0 = 1_764_000_000 * NS
LIGHT_S = 1.28  # Earth-Moon one-way light time


class Clock:
    """Simulated time the test moves (ns)."""

    speed = 1.0

    def __init__(self) -> None:
        self.t = T0

    def now_ns(self) -> int:
        return self.t

    def host_seconds(self, s: float) -> float:
        return s


class Uplink(TcUplink):
    """The uplink, delivering into the spacecraft's side of the lossy link."""

    def __init__(self, up: LossyLink) -> None:
        super().__init__("uplink")
        self.up = up

    @property
    def url(self) -> str:
        return "test://uplink"

    def send(self, data: bytes) -> int:
        self.up.send(data)
        return 0

    def _transmit(self, data: bytes) -> None:  # pragma: no cover - send() is overridden
        raise AssertionError

    def _close(self) -> None:
        pass


def _ground_and_spacecraft(
    tmp_path: Path, loss: float, windows: UplinkWindows | None = None, rate_bps: float | None = None
) -> tuple[Clock, FileService, Entity, list[LossyLink], list[bytes]]:
    clock = Clock()
    now = lambda: clock.t / NS  # noqa: E731
    archive = open_archive(tmp_path / "a")
    received_up: list[bytes] = []
    seq = [0]

    def down_deliver(packet: bytes) -> None:
        if all(link.up for link in links):  # out of contact, what was in flight is lost
            ground.on_packets([packet], np.array([clock.t]))

    down = LossyLink(down_deliver, now, loss=loss, delay_s=LIGHT_S, rate_bps=rate_bps, seed=1)

    def sc_send(pdu: bytes) -> None:
        seq[0] += 1
        down.send(wrap(pdu, 610, seq[0]))

    spacecraft = Entity(2, sc_send, now=now, on_received=lambda f: received_up.append(f.data),
                        nak_interval_s=4.0, ack_interval_s=4.0)  # fmt: skip

    def up_deliver(packet: bytes) -> None:
        if all(link.up for link in links):
            spacecraft.receive(unwrap(packet, 611))

    up = LossyLink(up_deliver, now, loss=loss, delay_s=LIGHT_S, seed=2)
    links = [down, up]
    events: list[tuple[str, str]] = []
    ground = FileService(
        "ORBITER", CfdpConfig(timers={"nak_interval_s": 4.0, "ack_interval_s": 4.0}), archive,
        Uplink(up), clock, windows=windows, event=lambda sev, msg, **_: events.append((sev, msg)),
    )  # fmt: skip
    ground.events_seen = events  # type: ignore[attr-defined]
    return clock, ground, spacecraft, links, received_up


def ground_events(ground: FileService) -> list[tuple[str, str]]:
    return ground.events_seen  # type: ignore[attr-defined,no-any-return]


def _run(clock: Clock, ground: FileService, sc: Entity, links: list[LossyLink], s: float) -> None:
    for _ in range(int(s / 0.1)):
        clock.t += NS // 10
        sc.tick()
        ground.tick()
        for link in links:
            link.poll()


def test_an_image_comes_down_whole_over_a_lossy_link_into_the_archive(tmp_path: Path) -> None:
    image = random.Random(7).randbytes(200_000)
    clock, ground, sc, links, _ = _ground_and_spacecraft(tmp_path, loss=0.05)
    sc.put(1, image, "img/nac_0001.pgm", cls=2, segment_size=1000)
    _run(clock, ground, sc, links, 120.0)
    files = ground.archive.list_files()
    assert len(files) == 1, ground.transactions()
    meta, data = ground.archive.read_file(files[0].id)
    assert data == image  # byte-identical through 5 % loss each way
    assert meta.complete
    assert meta.name == "img/nac_0001.pgm"
    assert meta.source == "ORBITER (CFDP entity 2)"
    assert meta.key == "cfdp:2:1"
    assert meta.checksum.startswith("modular:")
    assert meta.attrs["condition"] == "NO_ERROR"
    assert links[0].dropped > 0  # loss happened and was repaired
    assert ground.pdus_sent > 0  # NAKs/ACK/Finished went up
    (tx,) = sc.transactions()
    assert tx.state == "finished"


def test_a_transfer_cut_by_the_end_of_a_contact_resumes_at_the_next(tmp_path: Path) -> None:
    data = random.Random(3).randbytes(60_000)
    windows = UplinkWindows([(T0, T0 + 5 * NS), (T0 + 600 * NS, T0 + 3600 * NS)])
    # 64 kbit/s down: the 60 kB file takes 7.5 s, longer than the first contact's 5 s
    clock, ground, sc, links, _ = _ground_and_spacecraft(
        tmp_path, loss=0.0, windows=windows, rate_bps=64_000
    )
    tid = sc.put(1, data, "mag/0001.csv", cls=2, segment_size=500)
    _run(clock, ground, sc, links, 5.0)  # part of the file is down ...
    assert not ground.archive.list_files()
    for link in links:
        link.up = False  # ... and the contact ends: nothing passes either way
    sc.suspend(tid)
    _run(clock, ground, sc, links, 100.0)  # the gap: far beyond the NAK limit's 40 s
    (rx,) = [t for t in ground.transactions() if t.role == "receive"]
    assert rx.state == "suspended"
    clock.t = T0 + 600 * NS  # the next contact
    for link in links:
        link.up = True
    sc.resume(tid)
    _run(clock, ground, sc, links, 60.0)
    (f,) = ground.archive.list_files()
    assert f.complete
    assert ground.archive.read_file(f.id)[1] == data
    assert [m for _, m in ground_events(ground)] == [
        "CFDP transactions suspended: contact ends",
        "CFDP transactions resumed: contact starts",
        "file mag/0001.csv received: 60000 bytes, checksum good",
    ]


def test_files_go_up_to_the_spacecraft(tmp_path: Path) -> None:
    table = b"EXPOSURE_MS,GAIN\n12,2\n" * 100
    clock, ground, sc, links, received_up = _ground_and_spacecraft(tmp_path, loss=0.1)
    ground.put(table, "tables/camera.tbl", cls=2, user="otto")
    _run(clock, ground, sc, links, 60.0)
    assert received_up == [table]
    assert ground_events(ground) == [
        ("info", "file tables/camera.tbl (2200 bytes) sent by otto, class 2")
    ]
