"""The simulator runner: one process flies one spacecraft model over UDP on loopback.

The runner owns everything a model must not touch (:mod:`falak.sim.model`):

- the clock: a :class:`~falak.clock.ScaledClock` given the run's three numbers, so the
  simulator and the server agree on simulated time; the model is stepped to simulated now on
  every tick of the loop (``tick_s`` host seconds, a model takes any step length);
- the packets: a :class:`PacketBuilder` turns a model's (container, engineering values)
  into bytes with :class:`falak.tm.encoder.ContainerEncoder`, filling the CCSDS primary header
  (CCSDS 133.0-B-2 §4.1.3: version 0, telemetry, secondary header flag, the APID of the
  container's restriction, unsegmented, a 14-bit sequence count per APID, the data length
  minus one) and the on-board time parameter (the first absolute time of the header, e.g.
  TESTSAT's CUC ``OBT``, seconds since its epoch: 1958-01-01 TAI, leap seconds applied);
- the ground link (:mod:`falak.sim.groundlink`): contacts, light time, recorder and playback;
- the telecommands: datagrams received on the TC port are decoded with the MDB
  (:mod:`falak.tc.decoder`). A rejected command is acknowledged FAILED with the rejection's
  reason when its header could be read, and always reported in an event packet saying why.
  A good one is acknowledged RECEIVED, executed by the model (``SIM_INJECT_FAULT`` goes to
  :meth:`~falak.sim.model.SpacecraftModel.inject_fault`), then ACCEPTED and COMPLETE (after
  the model's ``complete_after_s``), or FAILED with the model's reason and an event.

A model may have optional methods the runner calls when they exist:
``set_recorder_status(fill_pct, packets, overwritten)`` after every step (for housekeeping),
``count_rejected(n)`` for each command the decoder rejected, and
``take_uplink_packet(data, now_ns) -> bool`` for each uplinked packet before it is decoded
as a command: True means the model took it (the orbiter's CFDP PDUs on APID 611). A packet's
:attr:`~falak.sim.model.TmPacket.time_ns`, when set, is its on-board time; otherwise the
time of the step that returned it.

Nothing a datagram holds stops the runner: every error is logged, counted in the status and
the loop goes on. The status file (JSON, keys in :meth:`Spacecraft.status`) is rewritten
atomically every ``status_every_s`` host seconds and at exit.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import logging
import math
import os
import select
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from falak import timecodes
from falak.clock import ScaledClock
from falak.errors import FalakError, InputError
from falak.mdb.model import (
    AbsoluteTimeType,
    AggregateType,
    ArrayType,
    BooleanType,
    DataType,
    EnumeratedType,
    FloatEncoding,
    FloatType,
    IntegerEncoding,
    IntegerType,
    MissionDatabase,
    ParameterEntry,
    StringEncoding,
    short_name,
)
from falak.sim.groundlink import GroundLink
from falak.sim.model import AckStage, CommandOutcome, OnboardEvent, SpacecraftModel, TmPacket
from falak.sim.recorder import Recorder
from falak.tc.decoder import REJECTION_REASONS, CommandDecoder, CommandRejection, DecodedCommand
from falak.tc.encoder import inverse_calibrate
from falak.tm.encoder import ContainerEncoder

__all__ = ["FAULT_COMMAND", "PacketBuilder", "Spacecraft", "parse_udp_url", "write_json_atomic"]

log = logging.getLogger("falak.sim")

FAULT_COMMAND = "SIM_INJECT_FAULT"
"""The simulator-control command of the MDBs whose FAULT argument goes to ``inject_fault``."""

_NS = 1_000_000_000
_EVENT_TEXT_BYTES = 255  # the MDBs' EventText: one length byte
_TAI_EPOCHS = ("TAI", "GPS", "J2000")  # epochs that count continuous SI seconds
_MAX_SUBSTEPS = 10_000


def parse_udp_url(url: str) -> tuple[str, int]:
    """Return (host, port) of ``udp://HOST:PORT``; raise InputError with the form otherwise."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme.lower() != "udp" or port is None or not parts.hostname:
        raise InputError(
            f"{url!r} is not a UDP address; use udp://HOST:PORT, e.g. udp://127.0.0.1:10015"
        )
    return parts.hostname, port


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` atomically (a reader never sees half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Telemetry packets from engineering values


@dataclass
class _Layout:
    """How the runner fills a container's header: which parameters mean what."""

    apid: int
    header: dict[str, Any]
    """Raw values of the CCSDS primary header fields, by parameter qualified name."""
    seq_param: str | None
    length_param: str | None
    time_param: str | None
    time_type: AbsoluteTimeType | None


class PacketBuilder:
    """Build telemetry packets from a model's engineering values (see the module doc).

    Values the model gives for header fields are overridden: the runner owns the header,
    the sequence counts and the on-board time. Numbers outside a field's raw range are
    clipped to it and counted in :attr:`clipped` (a telemetry point does not stop a packet).
    """

    def __init__(self, mdb: MissionDatabase) -> None:
        self.mdb = mdb
        self.encoder = ContainerEncoder(mdb)
        self._layouts: dict[str, _Layout] = {}
        self._params: dict[str, tuple[str, DataType]] = {}
        self._seq: dict[int, int] = {}
        self.generated: dict[int, int] = {}
        self.clipped = 0

    def layout(self, container: str) -> _Layout:
        """Find (once) the header fields and APID of a container."""
        c = self.mdb.container(container)
        hit = self._layouts.get(c.qualified_name)
        if hit is not None:
            return hit
        chain = self.encoder.chain(c)
        restr = self.encoder.restriction_values(c)
        pos = 0
        roles: dict[int, str] = {}
        time_param = None
        time_type = None
        for cont in chain:
            for e in cont.entries:
                if not isinstance(e, ParameterEntry) or e.location is not None:
                    pos = -1_000_000  # positions unknown after this: roles by position stop
                    continue
                p = self.mdb.parameters[e.parameter]
                t = self.mdb.types.get(p.type or "")
                if isinstance(t, AbsoluteTimeType) and time_param is None:
                    time_param, time_type = p.qualified_name, t
                enc = getattr(t, "encoding", None)
                size = enc.size_bits if isinstance(enc, IntegerEncoding) else None
                if size is None:
                    pos = -1_000_000
                    continue
                if 0 <= pos < 48:
                    roles[pos] = p.qualified_name
                pos += size
        header: dict[str, Any] = {}
        # CCSDS 133.0-B-2 §4.1.3: bit 0 version (0), 3 type (0 = telemetry), 4 secondary
        # header flag, 5 APID, 16 sequence flags (3 = unsegmented), 18 count, 32 length
        if 0 in roles:
            header[roles[0]] = 0
        if 3 in roles:
            header[roles[3]] = 0
        if 4 in roles:
            header[roles[4]] = 1 if time_param is not None else 0
        if 16 in roles:
            header[roles[16]] = 3
        apid_param = roles.get(5)
        apid = restr.get(apid_param) if apid_param else None
        if apid_param is None or not isinstance(apid, int):
            raise FalakError(
                f"container {c.name}: no APID == N in its restrictions, so the runner cannot "
                "send it as a space packet"
            )
        header[apid_param] = apid
        layout = _Layout(apid, header, roles.get(18), roles.get(32), time_param, time_type)
        self._layouts[c.qualified_name] = layout
        return layout

    def obt_seconds(self, t: AbsoluteTimeType, now_ns: int) -> float:
        """Seconds since the type's epoch at UTC ``now_ns`` (the on-board time field)."""
        epoch = (t.epoch.epoch if t.epoch is not None else "TAI").strip().upper()
        utc = np.array([now_ns], dtype="datetime64[ns]")
        if epoch in _TAI_EPOCHS:
            zero = timecodes.epoch_seconds_to_datetime64([0.0], epoch)
            return float(
                timecodes.datetime64_to_tai_seconds(utc)[0]
                - timecodes.datetime64_to_tai_seconds(zero)[0]
            )
        zero_ns = int(timecodes.epoch_seconds_to_datetime64([0.0], epoch)[0].astype(np.int64))
        return (now_ns - zero_ns) / 1e9

    def build(self, packet: TmPacket, now_ns: int) -> bytes:
        """Encode one packet, stamped ``now_ns``, with the next sequence count of its APID."""
        c = self.mdb.container(packet.container)
        lay = self.layout(c.qualified_name)
        raw: dict[str, Any] = {}
        for name, value in packet.values.items():
            hit = self._params.get(name)
            if hit is None:  # the MDB's lookup by short name scans every parameter: once
                p = self.mdb.parameter(name)
                t = self.mdb.types.get(p.type or "")
                if t is None:
                    raise FalakError(f"parameter {p.name} has no type")
                hit = self._params[name] = (p.qualified_name, t)
            raw[hit[0]] = self._raw(hit[1], value)
        raw.update(lay.header)
        seq = self._seq.get(lay.apid, 0)
        if lay.seq_param:
            raw[lay.seq_param] = seq
        if lay.time_param and lay.time_type is not None:
            raw[lay.time_param] = self.obt_seconds(lay.time_type, now_ns)
        if lay.length_param:
            raw[lay.length_param] = 0
        data = bytearray(self.encoder.encode(c, raw))
        if lay.length_param:
            data[4:6] = (len(data) - 7).to_bytes(2, "big")  # data length minus one
        self._seq[lay.apid] = (seq + 1) & 0x3FFF
        self.generated[lay.apid] = self.generated.get(lay.apid, 0) + 1
        return bytes(data)

    def _raw(self, t: DataType, eng: Any) -> Any:
        """Return the raw value of engineering value ``eng`` of type ``t``."""
        if isinstance(t, EnumeratedType):
            if isinstance(eng, str):
                for ev in t.values:
                    if ev.label == eng:
                        return ev.value
                labels = ", ".join(ev.label for ev in t.values)
                raise FalakError(f"{eng!r} is no label of {short_name(t.name)} ({labels})")
            return int(eng)  # a code (an IntEnum of the model)
        if isinstance(t, BooleanType):
            if isinstance(t.encoding, StringEncoding):
                return t.one_string if eng else t.zero_string
            return 1 if eng else 0
        if isinstance(t, IntegerType | FloatType):
            enc = t.encoding
            v = float(eng)
            if isinstance(enc, IntegerEncoding):
                n = enc.size_bits
                lo, hi = (
                    (0, (1 << n) - 1)
                    if enc.encoding == "unsigned"
                    else (-(1 << (n - 1)) + (enc.encoding != "twosComplement"), (1 << (n - 1)) - 1)
                )
                if t.calibrator is not None:
                    try:
                        v = inverse_calibrate(t.calibrator, v, lo, hi)
                    except ValueError:
                        v = _nearest_end(t, v, lo, hi)
                if not math.isfinite(v):
                    v = 0.0
                r = round(v)
                if not lo <= r <= hi:
                    self.clipped += 1
                    r = min(max(r, lo), hi)
                return int(r)
            if t.calibrator is not None and isinstance(enc, FloatEncoding):
                return inverse_calibrate(t.calibrator, v, -math.inf, math.inf)
            return v
        if isinstance(t, ArrayType):
            et = self.mdb.types[t.element_type]
            return [self._raw(et, x) for x in eng]
        if isinstance(t, AggregateType):
            return {m.name: self._raw(self.mdb.types[m.type], eng[m.name]) for m in t.members}
        return eng

    def next_seq(self, apid: int) -> int:
        """The sequence count the next packet of ``apid`` gets."""
        return self._seq.get(apid, 0)


def _nearest_end(t: IntegerType | FloatType, eng: float, lo: float, hi: float) -> float:
    """The end of the raw range whose calibration is nearer ``eng`` (a value beyond a table)."""
    from falak.tm.calibration import calibrate

    assert t.calibrator is not None
    ends = calibrate(t.calibrator, np.array([lo, hi], dtype=np.float64))
    return lo if abs(float(ends[0]) - eng) <= abs(float(ends[1]) - eng) else hi


# ---------------------------------------------------------------------------------------------
# The runner


@dataclass
class CommandCounters:
    """Telecommands by what became of them (the status file's ``commands``)."""

    received: int = 0
    accepted: int = 0
    completed: int = 0
    failed: int = 0
    rejected: dict[str, int] = field(default_factory=dict)


@dataclass(order=True)
class _Pending:
    due_ns: int
    order: int
    command_apid: int = field(compare=False)
    opcode: int = field(compare=False)
    seq_count: int = field(compare=False)
    outcome: CommandOutcome | None = field(default=None, compare=False)


class Spacecraft:
    """Fly a model: step it, send its telemetry, take its telecommands (see the module doc).

    Parameters
    ----------
    model
        The spacecraft model (:class:`falak.sim.model.SpacecraftModel`).
    clock
        The run's clock (same three numbers as the server's).
    tm, playback
        ``(host, port)`` the realtime and the playback telemetry are sent to.
    tc
        ``(host, port)`` to listen on for telecommands (port 0: any free one, see
        :attr:`tc_address`).
    status_path
        Where to write the status JSON (None: nowhere).
    recorder_bytes
        On-board recorder capacity.
    tick_s
        Host seconds between two turns of the loop.
    sim_tick_s
        Simulated seconds between two steps of the model: a turn of the loop steps it as
        often as simulated time moved on (at ``--speed 60`` a 0.02 s turn is 1.2 s, three
        steps of 0.5 s), so each packet carries the on-board time of its own step.
    status_every_s
        Host seconds between two status files.
    playback_packets_per_ms
        Pace of a recorder dump.
    """

    def __init__(
        self,
        model: SpacecraftModel,
        clock: ScaledClock,
        *,
        tm: tuple[str, int],
        playback: tuple[str, int],
        tc: tuple[str, int],
        status_path: Path | None = None,
        recorder_bytes: int = 64 * 1024 * 1024,
        tick_s: float = 0.02,
        sim_tick_s: float = 0.5,
        status_every_s: float = 2.0,
        playback_packets_per_ms: float = 5.0,
    ) -> None:
        self.model = model
        self.clock = clock
        self.mdb = model.mdb
        self.builder = PacketBuilder(self.mdb)
        self.decoder = CommandDecoder(self.mdb)
        self.tick_s = tick_s
        if not sim_tick_s > 0:
            raise ValueError(f"the model's step must be > 0 s; got {sim_tick_s!r}")
        self.sim_tick_s = sim_tick_s
        self.status_every_s = status_every_s
        self.status_path = status_path
        self._tm_addr = tm
        self._pb_addr = playback
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tc = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tc.bind(tc)
        self._tc.setblocking(False)
        self.recorder = Recorder(recorder_bytes)
        self.link = GroundLink(
            model.contact_windows,
            self.recorder,
            lambda b: self._send(b, self._tm_addr),
            lambda b: self._send(b, self._pb_addr),
            playback_packets_per_ms=playback_packets_per_ms,
        )
        self.commands = CommandCounters()
        self.errors: dict[str, int] = {}
        self.send_errors = 0
        self._pending: list[_Pending] = []
        self._order = 0
        self._now_ns = clock.now_ns()  # the model starts here: at the clock's now
        self._stop = threading.Event()
        self._lock = threading.Lock()

    @property
    def tc_address(self) -> tuple[str, int]:
        """The (host, port) the runner listens on for telecommands."""
        host, port = self._tc.getsockname()[:2]
        return str(host), int(port)

    # -- sockets ------------------------------------------------------------------------------

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self._out.sendto(data, addr)
        except OSError as exc:  # nobody listening (ICMP port unreachable), buffer full
            self.send_errors += 1
            if self.send_errors <= 3:
                log.warning("cannot send telemetry to %s:%d: %s", addr[0], addr[1], exc)

    def _count_error(self, kind: str, exc: BaseException) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if self.errors[kind] <= 5:
            log.warning("%s: %s: %s", kind, type(exc).__name__, exc)

    # -- telemetry ----------------------------------------------------------------------------

    def emit(self, packet: TmPacket, now_ns: int) -> None:
        """Encode a model packet (at its ``time_ns``, else ``now_ns``) for the ground link."""
        t = getattr(packet, "time_ns", None)
        if t is not None:
            now_ns = int(t)
        try:
            data = self.builder.build(packet, now_ns)
        except (FalakError, ValueError, TypeError, KeyError) as exc:
            self._count_error("encode", exc)
            return
        self.link.downlink(data, now_ns)

    def _ack(
        self, apid: int, opcode: int, seq: int, stage: AckStage, reason: str, now: int
    ) -> None:
        try:
            packet = self.model.ack_packet(apid, opcode, seq, stage, reason)
        except Exception as exc:  # a model bug must not stop the spacecraft
            self._count_error("model", exc)
            return
        self.emit(packet, now)

    def _event(self, severity: str, message: str, now: int, event_id: int = 0) -> None:
        text = message.encode("utf-8")[:_EVENT_TEXT_BYTES].decode("utf-8", "ignore")
        try:
            packet = self.model.event_packet(OnboardEvent(severity, text, "TC_HANDLER", event_id))
        except Exception as exc:
            self._count_error("model", exc)
            return
        self.emit(packet, now)

    # -- telecommands -------------------------------------------------------------------------

    def handle_telecommand(self, data: bytes, now_ns: int) -> None:
        """Decode, acknowledge and execute one telecommand that reached the spacecraft."""
        take = getattr(self.model, "take_uplink_packet", None)
        if take is not None:  # optional hook: packets that are no command (CFDP PDUs)
            try:
                if take(data, now_ns):
                    return
            except Exception as exc:
                self._count_error("model", exc)
                return
        self.commands.received += 1
        try:
            out = self.decoder.decode(data)
        except Exception as exc:  # the decoder promises not to raise; count it if it does
            self._count_error("decoder", exc)
            out = CommandRejection(REJECTION_REASONS[0], f"cannot decode: {exc}")
        if isinstance(out, CommandRejection):
            self._reject(out, now_ns)
            return
        self._execute(out, now_ns)

    def _reject(self, r: CommandRejection, now_ns: int) -> None:
        self.commands.rejected[r.reason] = self.commands.rejected.get(r.reason, 0) + 1
        count = getattr(self.model, "count_rejected", None)
        if count is not None:  # optional hook: the model's housekeeping counts rejections
            try:
                count(1)
            except Exception as exc:
                self._count_error("model", exc)
        if r.apid is not None and r.seq_count is not None:
            self._ack(r.apid, r.opcode or 0, r.seq_count, "FAILED", r.reason, now_ns)
        code = REJECTION_REASONS.index(r.reason) + 1 if r.reason in REJECTION_REASONS else 0
        self._event("WARNING", f"telecommand rejected, {r.reason}: {r.message}", now_ns, code)

    def _execute(self, cmd: DecodedCommand, now_ns: int) -> None:
        apid = cmd.apid if cmd.apid is not None else 0
        opcode = cmd.opcode if cmd.opcode is not None else 0
        seq = cmd.seq_count if cmd.seq_count is not None else 0
        self._ack(apid, opcode, seq, "RECEIVED", "OK", now_ns)
        try:
            if cmd.name == FAULT_COMMAND:
                args = dict(cmd.arguments)
                fault = str(args.pop("FAULT", ""))
                outcome = self.model.inject_fault(fault, args, now_ns)
            else:
                outcome = self.model.execute(cmd.name, cmd.arguments, now_ns)
        except Exception as exc:
            self._count_error("model", exc)
            outcome = CommandOutcome(
                ok=False, reason="EXECUTION_FAILED", message=f"{type(exc).__name__}: {exc}"
            )
        if not outcome.ok:
            self.commands.failed += 1
            self._ack(apid, opcode, seq, "FAILED", outcome.reason, now_ns)
            why = outcome.message or outcome.reason
            self._event("WARNING", f"{cmd.name} (seq {seq}) failed: {why}", now_ns)
            return
        self.commands.accepted += 1
        self._ack(apid, opcode, seq, "ACCEPTED", "OK", now_ns)
        for p in outcome.packets:
            self.emit(p, now_ns)
        for ev in outcome.events:
            try:
                self.emit(self.model.event_packet(ev), now_ns)
            except Exception as exc:
                self._count_error("model", exc)
        due = now_ns + round(max(outcome.complete_after_s, 0.0) * _NS)
        self._order += 1
        heapq.heappush(self._pending, _Pending(due, self._order, apid, opcode, seq, outcome))
        self._complete_due(now_ns)

    def _complete_due(self, now_ns: int) -> None:
        later: list[_Pending] = []
        while self._pending and self._pending[0].due_ns <= now_ns:
            p = heapq.heappop(self._pending)
            finish = p.outcome.finish if p.outcome is not None else None
            if finish is not None:  # the model says when the activity ends (a rover drive)
                try:
                    end = finish(now_ns)
                except Exception as exc:
                    self._count_error("model", exc)
                    end = CommandOutcome(ok=False, reason="EXECUTION_FAILED", message=str(exc))
                if end is None:
                    later.append(p)
                    continue
                for pk in end.packets:
                    self.emit(pk, now_ns)
                for ev in end.events:
                    self.emit(self.model.event_packet(ev), now_ns)
                if not end.ok:
                    self.commands.failed += 1
                    self._ack(p.command_apid, p.opcode, p.seq_count, "FAILED", end.reason, now_ns)
                    why = end.message or end.reason
                    self._event("WARNING", f"command (seq {p.seq_count}) failed: {why}", now_ns)
                    continue
            self.commands.completed += 1
            self._ack(p.command_apid, p.opcode, p.seq_count, "COMPLETE", "OK", now_ns)
        for p in later:  # asked again after the next step
            heapq.heappush(self._pending, p)

    # -- the loop -----------------------------------------------------------------------------

    def step(self) -> None:
        """One tick: step the model, take telecommands, deliver what is due."""
        now = self.clock.now_ns()
        tick_ns = round(self.sim_tick_s * _NS)
        t = self._now_ns
        if now - t > _MAX_SUBSTEPS * tick_ns:  # the host slept (suspended): do not replay it
            t = now - _MAX_SUBSTEPS * tick_ns
        while t < now:
            t = min(t + tick_ns, now)
            self._step_model(t)
        self._now_ns = now
        while True:
            try:
                data = self._tc.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._count_error("tc socket", exc)
                break
            self.link.uplink(data, now)
        for tc in self.link.poll(now):
            try:
                self.handle_telecommand(tc, now)
            except Exception as exc:  # never let one command stop the spacecraft
                self._count_error("telecommand", exc)
        self._complete_due(now)
        self.link.poll(now)  # acks generated now go out in this tick

    def _step_model(self, now: int) -> None:
        try:
            packets = self.model.step(now)
        except Exception as exc:
            self._count_error("model", exc)
            return
        for p in packets:
            self.emit(p, now)
        report = getattr(self.model, "set_recorder_status", None)
        if report is not None:  # optional hook: the model's housekeeping shows the recorder
            try:
                r = self.recorder
                report(r.fill_percent, len(r) + self.link.playback_pending, r.overwritten_packets)
            except Exception as exc:
                self._count_error("model", exc)

    def stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler or another thread)."""
        self._stop.set()

    def run(self, duration_s: float | None = None) -> None:
        """Run until :meth:`stop` or for ``duration_s`` host seconds; write the status at exit."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        next_status = 0.0
        try:
            while not self._stop.is_set():
                t0 = time.monotonic()
                if deadline is not None and t0 >= deadline:
                    break
                self.step()
                if self.status_path is not None and t0 >= next_status:
                    self.write_status()
                    next_status = t0 + self.status_every_s
                wait = self.tick_s - (time.monotonic() - t0)
                if wait > 0:
                    with contextlib.suppress(InterruptedError, OSError, ValueError):
                        select.select([self._tc], [], [], wait)
        finally:
            self.link.flush()
            if self.status_path is not None:
                self.write_status()

    def close(self) -> None:
        """Close the sockets."""
        self._tc.close()
        self._out.close()

    # -- status -------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The status as a JSON-ready dict (ISSUE 13 §5 keys, then the runner's own; under
        ``model`` the spacecraft model's own ``status()``, e.g. the orbiter's CFDP counters)."""
        c = self.link.counters
        out = {
            "spacecraft": self.model.name,
            "now_ns": self._now_ns,
            "generated": {str(k): v for k, v in sorted(self.builder.generated.items())},
            "sent_realtime": c.sent_realtime,
            "dumped": c.dumped,
            "recorder": {
                "packets": len(self.recorder),
                "bytes": self.recorder.used_bytes,
                "overwritten": self.recorder.overwritten_packets,
                "capacity_bytes": self.recorder.capacity_bytes,
                "playback_pending": self.link.playback_pending,
            },
            "commands": {
                "received": self.commands.received,
                "accepted": self.commands.accepted,
                "completed": self.commands.completed,
                "failed": self.commands.failed,
                "rejected": dict(sorted(self.commands.rejected.items())),
                "dropped_out_of_contact": c.tc_dropped_out_of_contact,
            },
            "contacts": [[w.start_ns, w.stop_ns, w.via] for w in self.link.windows],
            "in_contact": self.link.in_contact,
            "clock": self.clock.as_dict(),
            "errors": dict(sorted(self.errors.items())),
            "send_errors": self.send_errors,
            "clipped_values": self.builder.clipped,
            "pid": os.getpid(),
        }
        model_status = getattr(self.model, "status", None)  # a model's own counters, if any
        if callable(model_status):
            out["model"] = model_status()
        return out

    def write_status(self) -> None:
        """Write the status file atomically (errors are logged, not raised)."""
        if self.status_path is None:
            return
        try:
            write_json_atomic(self.status_path, self.status())
        except OSError as exc:
            self._count_error("status file", exc)
