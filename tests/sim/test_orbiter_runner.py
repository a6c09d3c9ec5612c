"""The orbiter on the simulator runner over loopback UDP: commands, files, decoding with the MDB.

The runner (:mod:`falak.sim.spacecraft`) flies the orbiter model on sockets the test binds;
the host clock is moved by hand. Every packet that comes down is decoded with falak's decoder
and the ORBITER MDB: the acknowledgements of IMAGE_TAKE and FILE_DUMP, the file directory
entry, and the file itself rebuilt from its FILE_SEGMENT packets byte for byte.
"""

from __future__ import annotations

import socket
import zlib

import numpy as np

from falak.clock import ScaledClock
from falak.sim.orbiter import create_model, reassemble_segments
from falak.sim.spacecraft import Spacecraft
from falak.tc.encoder import CommandEncoder
from falak.tm.decoder import Decoder

S = 1_000_000_000
EPOCH = 1_852_848_000 * S + 3 * 3600 * S  # 2028-09-18T03:00:00Z, in sunlight


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


def _drain(s: socket.socket) -> list[bytes]:
    out = []
    while True:
        try:
            out.append(s.recv(65536))
        except BlockingIOError:
            return out


def test_an_image_is_taken_dumped_and_decoded_byte_identical() -> None:
    model = create_model(
        EPOCH,
        seed=0,
        options={
            "contacts": "always",
            "polar_terrain": False,
            "mag_rate_hz": 1,
            "file_downlink": "segments",
        },
    )
    host = [10**18]
    clock = ScaledClock(EPOCH, 1.0, host[0], host_ns=lambda: host[0])
    tm, pb = _sock(), _sock()
    sc = Spacecraft(
        model, clock, tm=tm.getsockname(), playback=pb.getsockname(), tc=("127.0.0.1", 0)
    )
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    enc = CommandEncoder(model.mdb)
    got: list[bytes] = []

    def advance(seconds: float) -> None:
        for _ in range(round(seconds / 0.5)):
            host[0] += S // 2
            sc.step()
            got.extend(_drain(tm))

    try:
        advance(2.0)
        up.sendto(enc.encode("IMAGE_TAKE", {"EXPOSURE_MS": 10}, seq_count=31).binary, sc.tc_address)
        advance(8.0)
        fid = max(model.store.files)
        up.sendto(enc.encode("FILE_DUMP", {"FILE_ID": fid}, seq_count=32).binary, sc.tc_address)
        up.sendto(enc.encode("FILE_DUMP", {"FILE_ID": 999}, seq_count=33).binary, sc.tc_address)
        advance(30.0)  # 262 kB at 128 kbit/s: ~17 s, plus the 1.2 s light time each way
    finally:
        sc.close()
        for s in (tm, pb, up):
            s.close()
    lens = [len(p) for p in got]
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    res = Decoder(model.mdb).decode(b"".join(got), offs, lens)
    ack = res.container("CMD_ACK")
    rows = list(
        zip(
            ack.column("ACK_SEQ_COUNT").eng.tolist(),
            ack.column("ACK_STAGE").eng.tolist(),
            ack.column("ACK_REASON").eng.tolist(),
            strict=True,
        )
    )
    assert [r[1:] for r in rows if r[0] == 31] == [
        ("RECEIVED", "OK"),
        ("ACCEPTED", "OK"),
        ("COMPLETE", "OK"),
    ]
    assert [r[1:] for r in rows if r[0] == 32] == [
        ("RECEIVED", "OK"),
        ("ACCEPTED", "OK"),
        ("COMPLETE", "OK"),
    ]
    assert [r[1:] for r in rows if r[0] == 33] == [("RECEIVED", "OK"), ("FAILED", "NO_SUCH_FILE")]
    events = res.container("EVENT").column("EVENT_MESSAGE").eng.tolist()
    assert "FILE_DUMP (seq 33) failed: no file 999 in the store" in events
    # the directory entry of the new file, and the file rebuilt from its segments
    d = res.container("FILE_DIRECTORY")
    names = d.column("DIR_NAME").eng.tolist()
    assert f"IMG_{fid:06d}.pgm" in names
    seg = res.container("FILE_SEGMENT")
    values = [
        {
            k: seg.column(k).eng[i]
            for k in ("SEG_FILE_ID", "SEG_OFFSET", "SEG_FILE_SIZE", "SEG_CRC32", "SEG_DATA")
        }
        for i in range(len(seg.column("SEG_FILE_ID").eng))
    ]
    files = reassemble_segments(values)
    data = model.store.files[fid].data
    assert files == {fid: data}
    end = res.container("FILE_END")
    assert end.column("END_CRC32").eng.tolist() == [zlib.crc32(data)]
    # housekeeping decodes: the file store holds the image and an open magnetometer file id
    hk = res.container("ORBITER_HK")
    assert hk.column("FS_FILES").eng.tolist()[-1] == 1
    assert hk.column("ORB_MODE").eng.tolist()[-1] == "NOMINAL"
    assert 190.0 < hk.column("ORB_ALT_KM").eng.tolist()[0] < 8700.0
    mag = res.container("MAGNETOMETER")
    assert mag.column("MAG_RATE_HZ").eng.tolist()[-1] == 1


def test_a_file_comes_down_by_cfdp_over_the_runner_and_the_mdb_reads_its_pdus() -> None:
    from falak.cfdp import Entity, ReceivedFile, unwrap, wrap

    opts = {
        "contacts": "always",
        "polar_terrain": False,
        "mag_rate_hz": 0,
        "file_downlink": "cfdp",
        "cfdp_timers": {"ack_interval_s": 5, "nak_interval_s": 5},
    }
    model = create_model(EPOCH, seed=0, options=opts)
    host = [10**18]
    clock = ScaledClock(EPOCH, 1.0, host[0], host_ns=lambda: host[0])
    tm, pb = _sock(), _sock()
    sc = Spacecraft(
        model, clock, tm=tm.getsockname(), playback=pb.getsockname(), tc=("127.0.0.1", 0)
    )
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    enc = CommandEncoder(model.mdb)
    received: list[ReceivedFile] = []
    seq = [0]

    def to_orbiter(pdu: bytes) -> None:  # the ground's answers, up in APID 611 packets
        seq[0] += 1
        up.sendto(wrap(pdu, 611, seq[0], packet_type=1), sc.tc_address)

    ground = Entity(1, to_orbiter, now=lambda: clock.now_ns() / S, on_received=received.append)
    got: list[bytes] = []

    def advance(seconds: float) -> None:
        for _ in range(round(seconds / 0.5)):
            host[0] += S // 2
            sc.step()
            for p in _drain(tm):
                got.append(p)
                if ((p[0] & 7) << 8 | p[1]) == 610:
                    ground.receive(unwrap(p, 610))
            ground.tick()

    try:
        advance(1.0)
        up.sendto(enc.encode("IMAGE_TAKE", {"EXPOSURE_MS": 10}, seq_count=41).binary, sc.tc_address)
        advance(8.0)
        fid = max(model.store.files)
        up.sendto(enc.encode("FILE_DUMP", {"FILE_ID": fid}, seq_count=42).binary, sc.tc_address)
        advance(40.0)
    finally:
        sc.close()
        for s in (tm, pb, up):
            s.close()
    (rf,) = received
    assert rf.complete
    assert rf.data == model.store.files[fid].data
    lens = [len(p) for p in got]
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    res = Decoder(model.mdb).decode(b"".join(got), offs, lens)
    # the MDB's CFDP_PDU_DOWN reads each PDU as the whole data field, as falak.cfdp.unwrap does
    pdus = [bytes(x) for x in res.container("CFDP_PDU_DOWN").column("CFDP_PDU").eng]
    raw = [unwrap(p, 610) for p in got if ((p[0] & 7) << 8 | p[1]) == 610]
    assert pdus == raw
    assert len(pdus) > 256  # Metadata, 257 File Data PDUs, EOF, ACK of Finished
    ack = res.container("CMD_ACK")
    rows = list(
        zip(
            ack.column("ACK_SEQ_COUNT").eng.tolist(),
            ack.column("ACK_STAGE").eng.tolist(),
            strict=True,
        )
    )
    assert [r[1] for r in rows if r[0] == 42] == ["RECEIVED", "ACCEPTED", "COMPLETE"]
    # the ground's PDUs were taken by the orbiter's entity, not decoded as commands
    assert sc.commands.received == 2
    assert model.uplink_packets_taken >= 2  # EOF ACK and Finished at least
