"""falak.sim.spacecraft: packets, acknowledgements, rejections and the status of the runner.

The runner flies the TESTSAT model (and a fake model on the TIANGONG MDB for the simulator
control command) on loopback UDP sockets the test binds; simulated time comes from a
:class:`~falak.clock.ScaledClock` on a host clock the test moves by hand, and the test calls
:meth:`Spacecraft.step` itself, so nothing depends on the machine's speed.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import falak
from falak.ccsds.crc import crc16_ccitt
from falak.clock import ScaledClock
from falak.errors import InputError
from falak.mdb import load
from falak.sim.model import AckStage, CommandOutcome, ContactWindow, OnboardEvent, TmPacket
from falak.sim.spacecraft import PacketBuilder, Spacecraft, parse_udp_url
from falak.sim.testsat import create_model
from falak.tc.encoder import CommandEncoder
from falak.tm.decoder import Decoder

S = 1_000_000_000
EPOCH = 1_694_131_200 * S  # 2023-09-08T00:00:00Z
# OBT is CUC seconds since 1958-01-01 TAI: 4383 days to 1970 (378,691,200 s) plus the Unix
# seconds plus TAI-UTC = 37 s since 2017-01-01 (IERS Bulletin C 52)
OBT_AT_EPOCH_S = 1_694_131_200 + 378_691_200 + 37


class Host:
    """The host clock, moved by the test."""

    def __init__(self) -> None:
        self.ns = 10**18

    def __call__(self) -> int:
        return self.ns


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    return s


def _drain(s: socket.socket) -> list[bytes]:
    out = []
    s.settimeout(0.05)
    while True:
        try:
            out.append(s.recv(65536))
        except TimeoutError:
            return out


def _decode(mdb: Any, packets: list[bytes]) -> Any:
    lens = [len(p) for p in packets]
    offs = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    return Decoder(mdb).decode(b"".join(packets), offs, lens)


class Rig:
    def __init__(self, model: Any, tmp_path: Path, speed: float = 1.0) -> None:
        self.host = Host()
        self.clock = ScaledClock(EPOCH, speed, self.host.ns, host_ns=self.host)
        self.tm, self.pb = _sock(), _sock()
        self.model = model
        self.sc = Spacecraft(
            model,
            self.clock,
            tm=self.tm.getsockname(),
            playback=self.pb.getsockname(),
            tc=("127.0.0.1", 0),
            status_path=tmp_path / "status.json",
        )
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.enc = CommandEncoder(model.mdb)

    def send(self, packet: bytes) -> None:
        self.up.sendto(packet, self.sc.tc_address)

    def advance(self, seconds: float, step_s: float = 0.25) -> None:
        n = round(seconds / step_s)
        for _ in range(max(n, 1)):
            self.host.ns += round(step_s * S / self.clock.speed)
            self.sc.step()

    def close(self) -> None:
        self.sc.close()
        for s in (self.tm, self.pb, self.up):
            s.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(create_model(EPOCH), tmp_path)
    yield r
    r.close()


def _with_crc(packet: bytes | bytearray) -> bytes:
    b = bytearray(packet)
    b[4:6] = (len(b) - 7).to_bytes(2, "big")
    b[-2:] = crc16_ccitt(bytes(b[:-2])).to_bytes(2, "big")
    return bytes(b)


def _acks(r: Rig, packets: list[bytes]) -> list[tuple[int, int, str]]:
    res = _decode(r.model.mdb, packets)
    try:
        c = res.container("CMD_ACK")
    except KeyError:
        return []
    return list(
        zip(
            c.column("ACK_OPCODE").eng.tolist(),
            c.column("ACK_SEQ_COUNT").eng.tolist(),
            c.column("ACK_STAGE").eng.tolist(),
            strict=True,
        )
    )


def _events(r: Rig, packets: list[bytes]) -> list[str]:
    res = _decode(r.model.mdb, packets)
    try:
        return list(res.container("EVENT").column("EVENT_MESSAGE").eng)
    except KeyError:
        return []


# -- packets ------------------------------------------------------------------------------------


def test_housekeeping_headers_and_on_board_time() -> None:
    model = create_model(EPOCH)
    b = PacketBuilder(model.mdb)
    packets = [b.build(model.hk(EPOCH), EPOCH + k * S) for k in range(3)]
    res = _decode(model.mdb, packets)
    assert res.failed_counts() == {}
    hk = res.container("HK")
    assert hk.column("APID").raw.tolist() == [100, 100, 100]
    assert hk.column("CCSDS_SEQ_COUNT").raw.tolist() == [0, 1, 2]
    assert hk.column("CCSDS_SEC_HDR_FLAG").raw.tolist() == [1, 1, 1]
    assert hk.column("CCSDS_SEQ_FLAGS").raw.tolist() == [3, 3, 3]
    # CCSDS 133.0-B-2 §4.1.3.5: the length field is the data length minus one
    assert [p[4] << 8 | p[5] for p in packets] == [len(p) - 7 for p in packets]
    obt = hk.column("OBT").raw.tolist()
    assert obt == pytest.approx([OBT_AT_EPOCH_S + k for k in range(3)], abs=2.0**-16)
    # engineering values come back within a count: BATT_V 1 mV, TEMP_BATT's spline 0.04 degC
    assert hk.column("BATT_V").eng[0] == pytest.approx(model.battery_voltage_v(), abs=0.01)
    assert hk.column("TEMP_BATT").eng[0] == pytest.approx(15.0, abs=0.04)
    assert hk.column("MODE").eng.tolist() == ["NOMINAL"] * 3
    assert b.generated == {100: 3}


def test_a_value_beyond_its_field_is_clipped_and_counted() -> None:
    model = create_model(EPOCH)
    b = PacketBuilder(model.mdb)
    hk = model.hk(EPOCH)
    values = {**hk.values, "BATT_V": 99.0}  # 1 mV per count in a uint16: at most 65.535 V
    res = _decode(model.mdb, [b.build(TmPacket("HK", values), EPOCH)])
    assert res.container("HK").column("BATT_V").eng[0] == pytest.approx(65.535)
    assert b.clipped == 1


def test_parse_udp_url() -> None:
    assert parse_udp_url("udp://127.0.0.1:10015") == ("127.0.0.1", 10015)
    with pytest.raises(InputError, match=r"'tcp://x:1' is not a UDP address; use udp://HOST:PORT"):
        parse_udp_url("tcp://x:1")


# -- telecommands -------------------------------------------------------------------------------


def test_a_good_command_is_acknowledged_by_stage(rig: Rig) -> None:
    rig.advance(1)
    _drain(rig.tm)
    rig.send(rig.enc.encode("SET_MODE", {"NEW_MODE": "SCIENCE"}, seq_count=42).binary)
    rig.advance(3)  # SET_MODE completes 1 s after acceptance
    got = _drain(rig.tm)
    assert _acks(rig, got) == [(2, 42, "RECEIVED"), (2, 42, "ACCEPTED"), (2, 42, "COMPLETE")]
    assert _events(rig, got) == ["mode NOMINAL -> SCIENCE"]
    assert rig.model.mode == "SCIENCE"
    st = rig.sc.status()["commands"]
    assert (st["received"], st["accepted"], st["completed"], st["failed"]) == (1, 1, 1, 0)


BAD = ["unknown opcode", "bad crc", "wrong length", "argument out of range"]


def _bad(enc: CommandEncoder, kind: str, seq: int) -> bytes:
    if kind == "unknown opcode":
        b = bytearray(enc.encode("NOOP", seq_count=seq).binary)
        b[6] = 0x42
        return _with_crc(b)
    if kind == "bad crc":
        b = bytearray(enc.encode("NOOP", seq_count=seq).binary)
        b[-1] ^= 0xFF
        return bytes(b)
    if kind == "wrong length":
        raw = enc.encode("SET_MODE", {"NEW_MODE": "SAFE"}, seq_count=seq).binary
        return _with_crc(raw[:-2] + b"\0" + raw[-2:])
    b = bytearray(enc.encode("SET_HEATER", {"SETPOINT": 10}, seq_count=seq).binary)
    b[7:9] = (65535).to_bytes(2, "big")  # -40 + 0.01 * 65535 = 615.35 degC, valid -20..40
    return _with_crc(b)


@pytest.mark.parametrize(
    ("kind", "reason", "opcode", "text"),
    [
        ("unknown opcode", "UNKNOWN_OPCODE", 0x42, "no TESTSAT command has OPCODE = 66 (0x42)"),
        ("bad crc", "BAD_CRC", 1, "the packet's CRC is 0x"),
        ("wrong length", "BAD_LENGTH", 2, "SET_MODE is 10 bytes long but the packet has 11"),
        (
            "argument out of range",
            "ARGUMENT_OUT_OF_RANGE",
            3,
            "SET_HEATER: argument SETPOINT = 615.35 degC (raw 65535) is outside -20..40 degC",
        ),
    ],
)
def test_each_bad_command_is_failed_with_an_event(
    rig: Rig, kind: str, reason: str, opcode: int, text: str
) -> None:
    rig.advance(1)
    _drain(rig.tm)
    rig.send(_bad(rig.enc, kind, 7))
    rig.advance(1)
    got = _drain(rig.tm)
    assert _acks(rig, got) == [(opcode, 7, "FAILED")]
    (event,) = _events(rig, got)
    assert event.startswith(f"TC_HANDLER: telecommand rejected, {reason}: {text}")
    assert event.endswith("(APID 200, sequence count 7)")
    assert rig.sc.status()["commands"]["rejected"] == {reason: 1}
    # and the spacecraft flies on: HK keeps coming, a good command still works
    rig.send(rig.enc.encode("NOOP", seq_count=8).binary)
    rig.advance(2)
    got = _drain(rig.tm)
    assert (1, 8, "COMPLETE") in _acks(rig, got)
    assert len(_decode(rig.model.mdb, got).container("HK")) >= 2


def test_garbage_datagrams_never_stop_the_runner(rig: Rig) -> None:
    for junk in (b"", b"\x00", b"\xff" * 600, bytes(range(256))):
        rig.send(junk)
    rig.advance(1)
    st = rig.sc.status()
    assert st["commands"]["received"] == 4
    assert sum(st["commands"]["rejected"].values()) == 4
    assert st["errors"] == {}


def test_a_refused_command_fails_with_the_models_reason(rig: Rig) -> None:
    rig.send(rig.enc.encode("REBOOT", seq_count=1).binary)
    rig.advance(1)
    _drain(rig.tm)
    rig.send(rig.enc.encode("SET_MODE", {"NEW_MODE": "SCIENCE"}, seq_count=2).binary)
    rig.advance(1)
    got = _drain(rig.tm)
    assert _acks(rig, got) == [(2, 2, "RECEIVED"), (2, 2, "FAILED")]
    assert _events(rig, got) == [
        "TC_HANDLER: SET_MODE (seq 2) failed: SET_MODE SCIENCE from SAFE: go to NOMINAL first"
    ]
    assert rig.sc.status()["commands"]["failed"] == 1


# -- a model that misbehaves, and the simulator-control command ---------------------------------


class FakeStation:
    """A model on the TIANGONG MDB that records faults and raises on FURN_START."""

    def __init__(self) -> None:
        self.mdb = load(Path(falak.__file__).parent / "missions" / "tiangong" / "mdb.yaml")
        self.name = "TIANGONG"
        self.faults: list[tuple[str, dict[str, Any]]] = []
        self.recorder_status: tuple[float, int, int] | None = None
        self.rejected = 0

    def step(self, now_ns: int) -> list[TmPacket]:
        return []

    def execute(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        if command == "FURN_START":
            raise RuntimeError("furnace model bug")
        return CommandOutcome()

    def inject_fault(self, fault: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        self.faults.append((fault, dict(args)))
        return CommandOutcome()

    def contact_windows(self, start_ns: int, stop_ns: int) -> list[ContactWindow]:
        return [ContactWindow(start_ns, stop_ns, "Karachi")]

    def ack_packet(
        self, command_apid: int, opcode: int, seq_count: int, stage: AckStage, reason: str
    ) -> TmPacket:
        return TmPacket(
            "CMD_ACK",
            {
                "ACK_APID": command_apid,
                "ACK_SPARE": 0,
                "ACK_OPCODE": opcode,
                "ACK_SEQ_COUNT": seq_count,
                "ACK_SPARE2": 0,
                "ACK_STAGE": stage,
                "ACK_REASON": reason,
            },
        )

    def event_packet(self, event: OnboardEvent) -> TmPacket:
        return TmPacket(
            "EVENT",
            {
                "EVENT_ID": event.event_id,
                "EVENT_SEVERITY": event.severity,
                "EVENT_SOURCE": event.source,
                "EVENT_MESSAGE": event.message,
            },
        )

    def set_recorder_status(self, fill_pct: float, packets: int, overwritten: int) -> None:
        self.recorder_status = (fill_pct, packets, overwritten)

    def count_rejected(self, n: int = 1) -> None:
        self.rejected += n


def test_sim_inject_fault_goes_to_inject_fault(tmp_path: Path) -> None:
    r = Rig(FakeStation(), tmp_path)
    try:
        cmd = r.enc.encode("SIM_INJECT_FAULT", {"FAULT": "COLD_STOWAGE_FAILURE", "UNIT": "C_PLUS4"})
        r.send(cmd.binary)
        r.advance(1)
        assert r.model.faults == [("COLD_STOWAGE_FAILURE", {"UNIT": "C_PLUS4"})]
        res = _decode(r.model.mdb, _drain(r.tm))
        ack = res.container("CMD_ACK")
        assert ack.column("ACK_APID").eng.tolist() == [2040] * 3
        assert ack.column("ACK_STAGE").eng.tolist() == ["RECEIVED", "ACCEPTED", "COMPLETE"]
        assert r.model.recorder_status == (0.0, 0, 0)
    finally:
        r.close()


def test_a_model_exception_is_a_failed_command_not_a_crash(tmp_path: Path) -> None:
    r = Rig(FakeStation(), tmp_path)
    try:
        r.send(r.enc.encode("FURN_START", seq_count=5).binary)
        r.send(b"\x00\x01")  # and a rejected one: the model's hook counts it
        r.advance(1)
        res = _decode(r.model.mdb, _drain(r.tm))
        ack = res.container("CMD_ACK")
        assert ack.column("ACK_STAGE").eng.tolist() == ["RECEIVED", "FAILED"]
        assert ack.column("ACK_REASON").eng.tolist() == ["OK", "EXECUTION_FAILED"]
        messages = res.container("EVENT").column("EVENT_MESSAGE").eng.tolist()
        assert messages[0] == "FURN_START (seq 5) failed: RuntimeError: furnace model bug"
        assert messages[1].startswith("telecommand rejected, BAD_LENGTH: a telecommand of 2 bytes")
        assert r.sc.status()["errors"] == {"model": 1}
        assert r.model.rejected == 1
    finally:
        r.close()


# -- contacts and the status file ---------------------------------------------------------------


def test_out_of_contact_telemetry_is_dumped_and_counts_match(tmp_path: Path) -> None:
    model = create_model(EPOCH, options={"contact_period_s": 60, "contact_duration_s": 20})
    r = Rig(model, tmp_path)
    try:
        r.advance(30)  # in contact 0..20 s, then out
        r.send(r.enc.encode("NOOP", seq_count=1).binary)  # at 30 s: not heard
        r.advance(35)  # the next contact starts at 60 s: the recorder is dumped
        r.sc.write_status()
        st = json.loads((tmp_path / "status.json").read_text())
        rt, pb = _drain(r.tm), _drain(r.pb)
        assert st["commands"]["dropped_out_of_contact"] == 1
        assert st["commands"]["received"] == 0
        assert st["sent_realtime"] == len(rt)
        assert st["dumped"] == len(pb) > 30
        assert sum(st["generated"].values()) == len(rt) + len(pb)
        assert st["recorder"] == {
            "packets": 0,
            "bytes": 0,
            "overwritten": 0,
            "capacity_bytes": 64 * 1024 * 1024,
            "playback_pending": 0,
        }
        # the dump fills the gap: sequence counts of HK are complete
        res = _decode(model.mdb, rt + pb)
        seq = sorted(res.container("HK").column("CCSDS_SEQ_COUNT").raw.tolist())
        assert seq == list(range(len(seq)))
        # realtime: generated in a window; playback: generated in the gap 20..60 s
        rt_t = _decode(model.mdb, rt).container("HK").column("OBT").raw - OBT_AT_EPOCH_S
        pb_t = _decode(model.mdb, pb).container("HK").column("OBT").raw - OBT_AT_EPOCH_S
        assert all(t < 20 or t >= 60 for t in rt_t.tolist())
        assert all(20 <= t < 60 for t in pb_t.tolist())
        assert st["contacts"][:2] == [
            [EPOCH, EPOCH + 20 * S, "TESTSAT ground station"],
            [EPOCH + 60 * S, EPOCH + 80 * S, "TESTSAT ground station"],
        ]
        assert st["in_contact"] is True
    finally:
        r.close()


def test_status_keys(rig: Rig, tmp_path: Path) -> None:
    rig.advance(2)
    rig.sc.write_status()
    st = json.loads((tmp_path / "status.json").read_text())
    assert list(st) == [
        "spacecraft",
        "now_ns",
        "generated",
        "sent_realtime",
        "dumped",
        "recorder",
        "commands",
        "contacts",
        "in_contact",
        "clock",
        "errors",
        "send_errors",
        "clipped_values",
        "pid",
    ]
    assert st["spacecraft"] == "TESTSAT"
    assert st["now_ns"] == EPOCH + 2 * S
    assert st["generated"] == {"100": 3}  # HK at 0, 1 and 2 s
    assert st["clock"] == {"epoch_ns": EPOCH, "speed": 1.0, "reference_host_ns": 10**18}
    assert list(tmp_path.iterdir()) == [tmp_path / "status.json"]  # no temporary file left


def test_status_file_carries_the_models_own_status(tmp_path: Path) -> None:
    """A model with a ``status()`` (the orbiter's CFDP counters) has it in the status file under
    ``model``, as the model reports it at that moment."""
    model = create_model(EPOCH)
    calls: list[int] = []

    def model_status() -> dict[str, Any]:
        calls.append(1)
        return {"cfdp_down": {"pdus_sent": 7 + len(calls)}}

    model.status = model_status  # type: ignore[attr-defined]
    r = Rig(model, tmp_path)
    try:
        r.advance(1)
        r.sc.write_status()
        st = json.loads((tmp_path / "status.json").read_text())
    finally:
        r.close()
    assert list(st)[-1] == "model"
    assert st["model"] == {"cfdp_down": {"pdus_sent": 7 + len(calls)}}


def test_merge_windows_unions_overlaps_names_both_and_keeps_the_longest_light_time() -> None:
    from falak.sim.model import merge_windows

    got = merge_windows(
        [
            ContactWindow(50, 80, "Kashi", 1.3),
            ContactWindow(0, 60, "Karachi", 1.2),
            ContactWindow(70, 90, "Karachi", 1.4),
            ContactWindow(100, 110, "Kashi", 1.25),
        ]
    )
    assert got == [
        ContactWindow(0, 90, "Karachi + Kashi", 1.4),
        ContactWindow(100, 110, "Kashi", 1.25),
    ]
