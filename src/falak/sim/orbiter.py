"""The lunar smallsat as the simulator runner flies it: orbit, contacts, camera, magnetometer.

:func:`create_model` builds an :class:`OrbiterModel` (the :class:`falak.sim.model.SpacecraftModel`
of the ORBITER MDB, ``falak/missions/orbiter/mdb.yaml``), an ICUBE-Q-like CubeSat, stepped in
simulated time only. The instruments are in :mod:`falak.sim.orbiter_instruments`.

**Orbit.** falak's own lunar propagation (:func:`falak.dynamics.lunar_orbit.propagate`:
GRGM1200A to degree 8, Earth and Sun from DE421, 60 s samples, cubic Hermite between them)
from the default 12 h elliptical polar orbit ``6142.4,0.6846,90,0,270,0`` (a, e, i, Ω, ω, ν in
MOON_PA frozen at the epoch: 200 km perilune over the south pole, the orbiter at perilune at
the epoch), or option ``elements`` (same form; ``frame`` ICRF or MOON_PA), or an OEM file
(option ``oem``; propagated on from its last state past its end). It is propagated two days
at a time as simulated time needs it. Left alone, the default orbit decays into the Moon
about 26 days after the epoch (docs/orbiter.md); from then on the orbiter stays at its last
state and an event says so.

**Eclipses** are the visible solar-disk fraction of :mod:`falak.dynamics.orbiter` (conical
shadows of the Moon and the Earth, the same computation as ``falak orbiter eclipses``).
**Contacts** are :func:`falak.dynamics.orbiter.contacts` with the catalogue's stations
(option ``stations``, default Karachi and Islamabad; ``all`` for the whole catalogue): the
orbiter above the station's limit (so the Moon is up there) and not behind the Moon; windows
of several stations are merged (via "Karachi + Islamabad"). The one-way light time of a
window is its mean range over c (≈ 1.28 s); option ``contacts=always`` keeps the orbiter in
contact (tests).

**Attitude, power, thermal.** Nadir pointing (body +Z to the Moon's centre, +X along the
velocity), with a small pointing jitter (0.02° 1σ). A 30 W array on a one-axis drive about +Y
gives ``30 W · sun fraction · cos β``; a 40 Wh battery carries the loads (avionics 4 W, radio
6 W in contact and 1.5 W out, camera 2.5 W for 5 s per image, magnetometer 0.5 W, battery
heater 3 W below 5 °C); SAFE mode below 20 % charge. Temperatures relax towards sunlit or
eclipse equilibria (30 min). The numbers are illustrative.

**Files.** IMAGE_TAKE renders a frame (:func:`~falak.sim.orbiter_instruments.render_image`)
and stores it as ``IMG_nnnnnn.pgm``; the magnetometer's samples go to ``MAG_nnnnnn.bin``,
closed every ``mag_file_s`` (3600 s), on MAG_FILE_CLOSE or when it is switched off. The
:class:`FileStore` holds ``recorder_mib`` MiB (256); a new file that does not fit overwrites
the oldest files (not the one being sent), each with a WARNING event naming it. The runner's
packet recorder (``--recorder-bytes``) holds the *telemetry* recorded out of contact: the two
are the mass memory's packet and file partitions. FILE_DUMP and RECORDER_DUMP queue files for
the downlink, which sends at ``downlink_kbps`` (128 kbit/s of packet bytes) while in contact
only, through a pluggable :class:`FileSender`: :class:`SegmentSender` (FILE_SEGMENT packets of
1024 bytes with a CRC-32 each, then FILE_END; ``file_downlink=segments``) or
:class:`CfdpSender` (the default, ``file_downlink=cfdp``: CCSDS CFDP class 2 with falak's
entity to the ground's entity 1, the server's ``cfdp:`` default, PDUs on APIDs 610 down and
611 up; the ground's PDUs reach the model through the runner's ``take_uplink_packet`` hook;
without a ground entity answering, a class 2 transfer ends FAILED after the entity's ACK
limit).
Truth is kept per image (:attr:`OrbiterModel.image_truth`: the noise-free render, every
pixel's ground point, the pointing) and, with option ``truth_dir``, written there as
``IMG_nnnnnn.npz``.

**Stepping.** The model takes any step; packets are due at their MDB periods, each stamped
with its own time. A step over more than 120 s of simulated time (a late start, a paused run)
sends no packets for the gap, and power and thermal cross gaps over an hour in 10 min steps.

Options of :func:`create_model` (:data:`OPTIONS`): ``elements``, ``frame``, ``oem``,
``degree``, ``third_bodies``, ``stations``, ``stations_file``, ``contacts`` (``stations`` or
``always``), ``recorder_mib``, ``downlink_kbps``, ``mag_rate_hz`` (1), ``mag_file_s``,
``battery_soc_pct``, ``polar_terrain`` (true: the synthetic south pole under the camera),
``truth_dir``, ``file_downlink`` (``cfdp`` or ``segments``), ``cfdp_class`` (2),
``cfdp_entity_id`` (2), ``cfdp_ground_id`` (1), ``cfdp_timers`` (a mapping of
:data:`falak.cfdp.TIMER_DEFAULTS` keys), ``loss`` (0: the probability, 0 … 1, that a CFDP
PDU's packet is lost on the link, each way — down on APID 610 and up on APID 611 — drawn from a
generator seeded by ``--seed``; the rest of the telemetry is not touched) and ``files_dir``
(a directory each file is written to, as ``NAME``, when the file store takes it: what the
orbiter wrote, for comparing with what the ground received).
"""

from __future__ import annotations

import datetime as _dt
import math
import zlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from falak.dynamics.lunar_orbit import (
    ForceModel,
    Trajectory,
    elements_frame_to_icrf,
    elements_to_state,
    propagate,
)
from falak.dynamics.moonframes import MOON_RADIUS_KM
from falak.dynamics.moonsky import SPEED_OF_LIGHT_KM_S
from falak.dynamics.orbiter import (
    EARTH_RADIUS_KM,
    _lit_fraction,
    _Sky,
    contacts,
    interpolate_state,
)
from falak.errors import InputError
from falak.mdb import MissionDatabase, load
from falak.sim.model import (
    AckStage,
    CommandOutcome,
    ContactWindow,
    OnboardEvent,
    TmPacket,
    cmd_ack_packet,
    event_tm_packet,
    merge_windows,
)
from falak.sim.orbiter_instruments import (
    CrustalField,
    Magnetometer,
    _rotation_xyz,
    mag_file_bytes,
    pgm_bytes,
    render_image,
)

__all__ = [
    "DEFAULT_ELEMENTS",
    "MDB_PATH",
    "OPTIONS",
    "CfdpSender",
    "FileSender",
    "FileStore",
    "OrbiterModel",
    "SegmentSender",
    "StoredFile",
    "create_model",
]

MDB_PATH = Path(__file__).resolve().parents[1] / "missions" / "orbiter" / "mdb.yaml"
"""The ORBITER mission database the model flies."""

OPTIONS = (
    "elements",
    "frame",
    "oem",
    "degree",
    "third_bodies",
    "stations",
    "stations_file",
    "contacts",
    "recorder_mib",
    "downlink_kbps",
    "mag_rate_hz",
    "mag_file_s",
    "battery_soc_pct",
    "polar_terrain",
    "truth_dir",
    "file_downlink",
    "cfdp_class",
    "cfdp_entity_id",
    "cfdp_ground_id",
    "cfdp_timers",
    "loss",
    "files_dir",
)
DEFAULT_ELEMENTS = (6142.4, 0.6846, 90.0, 0.0, 270.0, 0.0)
"""a_km, e, i_deg, raan_deg, argp_deg, ta_deg in MOON_PA at the epoch (docs/orbiter.md)."""
DEFAULT_STATIONS = ("Karachi", "Islamabad")

_NS = 1_000_000_000
_CATCH_UP_S = 120  # a model stepped over a longer gap sends no packets for it
_CHUNK_S = 2 * 86400.0
_SAMPLE_S = 60.0
_PERIODS_S = {"hk": 4.0, "att": 10.0, "pwr": 4.0, "th": 10.0, "mag": 4.0, "truth": 10.0}
_SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")
_SOURCES = (
    "ORBITER", "ATTITUDE", "POWER", "THERMAL", "CAMERA", "MAGNETOMETER", "FILES", "RECORDER",
    "TC_HANDLER", "SIMULATOR",
)  # fmt: skip
FAULTS = ("CLEAR_ALL", "MAG_OFFSET_JUMP", "BATTERY_DEGRADED", "CAMERA_FAILED", "HEATER_FAILED")

# -- power and thermal (illustrative numbers for a 6U-class lunar CubeSat) -------------------
ARRAY_PEAK_W = 30.0
BATTERY_WH = 40.0
AVIONICS_W = 4.0
RADIO_TX_W = 6.0
RADIO_RX_W = 1.5
CAMERA_W = 2.5
CAMERA_BUSY_S = 5.0
MAG_W = 0.5
HEATER_W = 3.0
HEATER_ON_C, HEATER_OFF_C = 5.0, 10.0
SAFE_SOC = 0.20
POINTING_JITTER_DEG = 0.02
SEGMENT_BYTES = 1024


@cache
def _mdb() -> MissionDatabase:
    return load(MDB_PATH)


# ---------------------------------------------------------------------------------------------
# Orbit


class OrbitTrack:
    """The orbiter's trajectory, propagated in two-day chunks as simulated time needs it."""

    def __init__(self, first: Trajectory, force: ForceModel, *, extend: bool = True) -> None:
        self.force = force
        self.epoch = first.epoch
        self.epoch_ns = _ns(first.epoch)
        self.traj = first
        self.sky = _Sky.build(first)
        self.extend = extend
        self.lost: str | None = None
        self._cache: dict[tuple[str, int], Any] = {}

    @property
    def end_ns(self) -> int:
        """Simulated UTC the trajectory reaches."""
        return self.epoch_ns + round(float(self.traj.t_s[-1]) * _NS)

    def ensure(self, until_ns: int) -> None:
        """Propagate on until ``until_ns`` (plus a sample) is covered."""
        while self.extend and self.lost is None and self.end_ns < until_ns + 2 * _SAMPLE_S * _NS:
            tr = self.traj
            t_end = self.epoch + _dt.timedelta(seconds=float(tr.t_s[-1]))
            try:
                nxt = propagate(t_end, tr.r_km[-1], tr.v_km_s[-1], _CHUNK_S, _SAMPLE_S, self.force)
            except InputError as exc:
                self.lost = str(exc)
                return
            off = float(tr.t_s[-1])
            self.traj = Trajectory(
                tr.epoch,
                np.concatenate([tr.t_s, nxt.t_s[1:] + off]),
                np.concatenate([tr.tdb_s, nxt.tdb_s[1:] + tr.tdb_s[-1]]),
                np.concatenate([tr.r_km, nxt.r_km[1:]]),
                np.concatenate([tr.v_km_s, nxt.v_km_s[1:]]),
                tr.meta,
            )
            self.sky = _Sky.build(self.traj)
            self._cache.clear()

    def t_s(self, now_ns: NDArray[np.int64] | int) -> NDArray[np.float64]:
        """UTC seconds since the trajectory's epoch."""
        return (np.atleast_1d(np.asarray(now_ns, dtype=np.int64)) - self.epoch_ns) / 1e9

    def _memo(self, key: str, now_ns: NDArray[np.int64] | int, fn: Any) -> Any:
        """Memoise scalar-time geometry (a step asks for the same instant several times)."""
        if not isinstance(now_ns, int | np.integer):
            return fn(now_ns)
        k = (key, int(now_ns))
        hit = self._cache.get(k)
        if hit is None:
            if len(self._cache) > 64:
                self._cache.clear()
            hit = self._cache[k] = fn(now_ns)
        return hit

    def state(self, now_ns: NDArray[np.int64] | int) -> tuple[NDArray[np.float64], ...]:
        """(r_km, v_km_s) Moon-centred ICRF at the times, each (N, 3)."""
        out: tuple[NDArray[np.float64], ...] = self._memo("rv", now_ns, self._state)
        return out

    def _state(self, now_ns: NDArray[np.int64] | int) -> tuple[NDArray[np.float64], ...]:
        t = np.atleast_1d(np.asarray(now_ns, dtype=np.int64))
        self.ensure(int(t.max()))
        return interpolate_state(self.traj, self.t_s(t))

    def icrf_to_me(self, now_ns: NDArray[np.int64] | int) -> NDArray[np.float64]:
        """ICRF → MOON_ME rotations at the times, (N, 3, 3)."""
        out: NDArray[np.float64] = self._memo("me", now_ns, self._icrf_to_me)
        return out

    def _icrf_to_me(self, now_ns: NDArray[np.int64] | int) -> NDArray[np.float64]:
        out: NDArray[np.float64] = self.sky.interp(self.sky.me, self.t_s(now_ns)).reshape(-1, 3, 3)
        return out

    def sun_fraction(self, now_ns: NDArray[np.int64] | int) -> NDArray[np.float64]:
        """Visible solar-disk fraction (Moon and Earth shadows, as falak orbiter eclipses)."""
        out: NDArray[np.float64] = self._memo("sun", now_ns, self._sun_fraction)
        return out

    def _sun_fraction(self, now_ns: NDArray[np.int64] | int) -> NDArray[np.float64]:
        r, _ = self.state(now_ns)
        sun, earth = self.sun_earth(now_ns)
        f_moon, _, _ = _lit_fraction(sun - r, -r, MOON_RADIUS_KM)
        f_earth, _, _ = _lit_fraction(sun - r, earth - r, EARTH_RADIUS_KM)
        out: NDArray[np.float64] = f_moon * f_earth
        return out

    def sun_earth(self, now_ns: NDArray[np.int64] | int) -> tuple[NDArray[np.float64], ...]:
        """The Sun and the Earth from the Moon, ICRF km, each (N, 3)."""
        out: tuple[NDArray[np.float64], ...] = self._memo("bodies", now_ns, self._sun_earth)
        return out

    def _sun_earth(self, now_ns: NDArray[np.int64] | int) -> tuple[NDArray[np.float64], ...]:
        earth, sun = self.sky.bodies(self.t_s(now_ns))
        return sun, earth


def _ns(t: _dt.datetime) -> int:
    d = t - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return (d.days * 86400 + d.seconds) * _NS + d.microseconds * 1000


def _dt_of(ns: int) -> _dt.datetime:
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=ns // 1000)


def body_from_icrf(r: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Nadir-pointing attitude: rows are body +X, +Y, +Z in ICRF (module doc), (N, 3, 3)."""
    r = np.atleast_2d(r)
    v = np.atleast_2d(v)
    z = -r / np.linalg.norm(r, axis=1)[:, None]
    x = v - np.einsum("ij,ij->i", v, z)[:, None] * z
    x /= np.linalg.norm(x, axis=1)[:, None]
    y = np.cross(z, x)
    out: NDArray[np.float64] = np.stack([x, y, z], axis=1)
    return out


def quaternion(m: NDArray[np.float64]) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w; scalar last, w ≥ 0) of rotation matrix ``m`` (Shepperd)."""
    t = float(np.trace(m))
    if t > 0:
        w = math.sqrt(1.0 + t) / 2
        x, y, z = (
            (m[2, 1] - m[1, 2]) / (4 * w),
            (m[0, 2] - m[2, 0]) / (4 * w),
            (m[1, 0] - m[0, 1]) / (4 * w),
        )
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = math.sqrt(max(0.0, 1.0 + m[i, i] - m[j, j] - m[k, k])) * 2
        q = [0.0, 0.0, 0.0]
        q[i] = s / 4
        q[j] = (m[j, i] + m[i, j]) / s
        q[k] = (m[k, i] + m[i, k]) / s
        w = (m[k, j] - m[j, k]) / s
        x, y, z = q
    if w < 0:
        x, y, z, w = -x, -y, -z, -w
    return float(x), float(y), float(z), float(w)


# ---------------------------------------------------------------------------------------------
# Files


@dataclass
class StoredFile:
    """A file in the file store."""

    file_id: int
    name: str
    kind: str  # IMAGE, MAGNETOMETER, OTHER (the MDB's FileKind)
    data: bytes
    created_ns: int
    state: str = "STORED"  # the MDB's FileState
    crc32: int = 0

    def __post_init__(self) -> None:
        self.crc32 = zlib.crc32(self.data)

    @property
    def size(self) -> int:
        """Bytes."""
        return len(self.data)


class FileStore:
    """The file partition of the mass memory: bounded in bytes, the oldest files overwritten."""

    def __init__(self, capacity_bytes: int) -> None:
        if capacity_bytes <= 0:
            raise ValueError(f"file store capacity must be > 0 bytes; got {capacity_bytes!r}")
        self.capacity_bytes = int(capacity_bytes)
        self.files: OrderedDict[int, StoredFile] = OrderedDict()
        self.used_bytes = 0
        self.overwritten = 0
        self._next_id = 1
        self._reserved: set[int] = set()

    def new_id(self) -> int:
        """A file id not in use (1 … 65535, wrapping), reserved until :meth:`add` uses it."""
        for _ in range(65535):
            fid = self._next_id
            self._next_id = self._next_id % 65535 + 1
            if fid not in self.files and fid not in self._reserved:
                self._reserved.add(fid)
                return fid
        raise ValueError("the file store has no free file id (65535 files held)")

    def add(self, f: StoredFile, protect: int | None = None) -> list[StoredFile]:
        """Store ``f``; return the files overwritten to make room (oldest first).

        ``protect`` is a file that must not be overwritten (the one being sent). A file larger
        than the store is refused with ValueError.
        """
        self._reserved.discard(f.file_id)
        if f.size > self.capacity_bytes:
            raise ValueError(
                f"{f.name} ({f.size} bytes) is larger than the file store "
                f"({self.capacity_bytes} bytes)"
            )
        lost: list[StoredFile] = []
        while self.used_bytes + f.size > self.capacity_bytes:
            victim = next((v for v in self.files.values() if v.file_id != protect), None)
            if victim is None:
                break
            self.remove(victim.file_id)
            self.overwritten += 1
            lost.append(victim)
        self.files[f.file_id] = f
        self.used_bytes += f.size
        return lost

    def remove(self, file_id: int) -> StoredFile:
        """Take a file out of the store (KeyError if it is not there)."""
        f = self.files.pop(file_id)
        self.used_bytes -= f.size
        return f

    @property
    def fill_percent(self) -> float:
        """Fill level, percent of capacity."""
        return 100.0 * self.used_bytes / self.capacity_bytes


class FileSender(Protocol):
    """How a file goes down: MDB segments today (:class:`SegmentSender`), CCSDS CFDP next.

    The model calls :meth:`begin` with a file, then :meth:`pump` every step while in contact
    with the bytes of link the step allows, until :attr:`done`; :meth:`receive` takes what the
    ground sends back (CFDP ACKs and NAKs; nothing for segments); :meth:`cancel` drops the
    file in progress.
    """

    done: bool
    bytes_sent: int

    def begin(self, f: StoredFile, now_ns: int) -> None:
        """Start sending ``f``."""
        ...

    def pump(self, now_ns: int, budget_bytes: int) -> tuple[list[TmPacket], int]:
        """Return the packets that fit in ``budget_bytes`` (stamped ``now_ns``) and their bytes."""
        ...

    def receive(self, data: bytes, now_ns: int) -> None:
        """Take a message from the ground (a CFDP PDU)."""
        ...

    def cancel(self) -> None:
        """Stop the file in progress."""
        ...


class SegmentSender:
    """File downlink as MDB packets: FILE_SEGMENT (id, offset, ≤ 1024 bytes, CRC-32), FILE_END."""

    PACKET_OVERHEAD = 6 + 6 + 2 + 4 + 4 + 4 + 2  # headers, id, offset, size, CRC, length

    def __init__(self, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.segment_bytes = segment_bytes
        self.file: StoredFile | None = None
        self.offset = 0
        self.segments = 0
        self.bytes_sent = 0
        self.done = True

    def begin(self, f: StoredFile, now_ns: int) -> None:
        """Start sending ``f`` from its first byte."""
        self.file, self.offset, self.segments, self.bytes_sent, self.done = f, 0, 0, 0, False

    def pump(self, now_ns: int, budget_bytes: int) -> tuple[list[TmPacket], int]:
        """Segments (and at the end the FILE_END) that fit in ``budget_bytes``."""
        f = self.file
        out: list[TmPacket] = []
        used = 0
        while f is not None and not self.done:
            if self.offset < f.size:
                chunk = f.data[self.offset : self.offset + self.segment_bytes]
                cost = len(chunk) + self.PACKET_OVERHEAD
                if used + cost > budget_bytes and (out or used > 0):
                    break
                out.append(
                    TmPacket(
                        "FILE_SEGMENT",
                        {
                            "SEG_FILE_ID": f.file_id,
                            "SEG_OFFSET": self.offset,
                            "SEG_FILE_SIZE": f.size,
                            "SEG_CRC32": zlib.crc32(chunk),
                            "SEG_DATA": chunk,
                        },
                        now_ns,
                    )
                )
                self.offset += len(chunk)
                self.segments += 1
                self.bytes_sent = self.offset
                used += cost
                if used >= budget_bytes:
                    break
            else:
                out.append(
                    TmPacket(
                        "FILE_END",
                        {
                            "END_FILE_ID": f.file_id,
                            "END_FILE_SIZE": f.size,
                            "END_CRC32": f.crc32,
                            "END_SEGMENTS": self.segments,
                            "END_NAME": f.name,
                        },
                        now_ns,
                    )
                )
                used += 40 + len(f.name)
                self.done = True
        return out, used

    def receive(self, data: bytes, now_ns: int) -> None:
        """Segments need no answer from the ground."""

    def cancel(self) -> None:
        """Stop the file in progress."""
        self.file, self.done = None, True


class CfdpSender:
    """File downlink with CCSDS CFDP (727.0-B-5): falak's :class:`falak.cfdp.Entity` on board.

    Each file is one Put to the ground's entity (``ground_id``, the server's ``cfdp:
    entity_id``), class 2 by default; its PDUs go down one per APID 610 packet
    (``CFDP_PDU_DOWN``), at most as many a step as the link's budget allows, and the ground's
    ACKs, NAKs and Finished PDUs come back through :meth:`receive`. The entity's timers run on
    simulated time; :meth:`pause` and :meth:`resume` suspend and resume the transactions at
    contact boundaries (§4.6.6). Files the ground puts to the orbiter are handed to
    ``on_received``.
    """

    PACKET_OVERHEAD = 6

    def __init__(
        self,
        *,
        entity_id: int = 2,
        ground_id: int = 1,
        cls: int = 2,
        segment_bytes: int = SEGMENT_BYTES,
        on_received: Any = None,
        timers: Mapping[str, float] | None = None,
        lose: Any = None,
    ) -> None:
        from collections import deque

        from falak.cfdp import Entity

        self._now_s = 0.0
        self._pending: deque[bytes] = deque()
        t: dict[str, Any] = dict(timers or {})  # falak.cfdp.TIMER_DEFAULTS keys
        self.entity = Entity(
            entity_id,
            self._pending.append,
            now=lambda: self._now_s,
            on_received=on_received,
            **t,
        )
        self.ground_id = ground_id
        self.cls = cls
        self.segment_bytes = segment_bytes
        self.tid: Any = None
        self._dropped: set[Any] = set()
        self.done = True
        self.bytes_sent = 0
        self.failed = ""
        self.lose = lose
        """``() -> bool``: True if the next PDU's packet is lost on the link (option loss)."""
        self.pdus_sent = 0
        """PDUs put on the link (the lost ones included), every transaction."""
        self.pdus_lost = 0
        """Of those, the ones the loss model dropped."""
        self.file_data_pdus = 0
        self.retransmitted_pdus = 0
        """File Data PDUs that repeat an offset already sent in their transaction (NAKed)."""
        self.retransmitted_bytes = 0
        self._offsets: dict[tuple[int, int], set[int]] = {}
        self._file_counts = (0, 0, 0, 0)  # pdus_sent, pdus_lost, retransmitted pdus/bytes

    def begin(self, f: StoredFile, now_ns: int) -> None:
        """Put ``f`` to the ground's entity."""
        self._now_s = now_ns / _NS
        self.tid = self.entity.put(
            self.ground_id, f.data, f.name, cls=self.cls, segment_size=self.segment_bytes
        )
        self.done, self.bytes_sent, self.failed = False, 0, ""
        self._file_counts = self._counts()

    def _counts(self) -> tuple[int, int, int, int]:
        return (self.pdus_sent, self.pdus_lost, self.retransmitted_pdus, self.retransmitted_bytes)

    def file_counts(self) -> tuple[int, int, int, int]:
        """PDUs sent, PDUs lost, File Data PDUs and octets retransmitted, of the current (or
        last) file since its :meth:`begin`."""
        now, then = self._counts(), self._file_counts
        return (now[0] - then[0], now[1] - then[1], now[2] - then[2], now[3] - then[3])

    def _count(self, pdu: bytes) -> None:
        """Count one PDU put on the link; a File Data PDU at an offset its transaction sent
        before is a retransmission."""
        from falak.cfdp.pdu import FileData, decode_pdu

        self.pdus_sent += 1
        if not pdu or not pdu[0] & 0x10:  # a file directive (§5.1: PDU type bit 0)
            return
        fd = decode_pdu(pdu)
        if not isinstance(fd, FileData):
            return
        self.file_data_pdus += 1
        seen = self._offsets.setdefault((fd.header.source_id, fd.header.seq), set())
        if fd.offset in seen:
            self.retransmitted_pdus += 1
            self.retransmitted_bytes += len(fd.data)
        else:
            seen.add(fd.offset)

    def pump(self, now_ns: int, budget_bytes: int) -> tuple[list[TmPacket], int]:
        """Run the entity and return the PDUs that fit in ``budget_bytes``."""
        self._now_s = now_ns / _NS
        room = budget_bytes // (self.segment_bytes + 40) - len(self._pending)
        if room >= 1:
            self.entity.pdus_per_tick = int(room)
            self.entity.tick()
        out: list[TmPacket] = []
        used = 0
        while self._pending:
            cost = len(self._pending[0]) + self.PACKET_OVERHEAD
            if used + cost > budget_bytes and used > 0:
                break
            pdu = self._pending.popleft()
            used += cost
            self._count(pdu)
            if self.lose is not None and self.lose():
                self.pdus_lost += 1  # sent, and lost on the way: the link's time is spent
                continue
            out.append(TmPacket("CFDP_PDU_DOWN", {"CFDP_PDU": pdu}, now_ns))
        st = next((t for t in self.entity.transactions() if t.id == self.tid), None)
        if st is not None:
            self.bytes_sent = st.progress
            if st.state in ("finished", "cancelled") and not self._pending and not self.done:
                self.done = True
                self.failed = "" if st.condition == "NO_ERROR" else st.condition
        return out, used

    def receive(self, data: bytes, now_ns: int) -> None:
        """Take a PDU from the ground."""
        self._now_s = now_ns / _NS
        self.entity.receive(data)

    def pause(self) -> None:
        """The contact ends: suspend every transaction."""
        self.entity.suspend_all()

    def resume(self) -> None:
        """The next contact starts: resume them (not the cancelled ones)."""
        self.entity.resume_all()
        for tid in self._dropped:
            self.entity.suspend(tid)

    def cancel(self) -> None:
        """Stop the file in progress: its transaction stays suspended for good (falak's entity
        has no Cancel.request) and is left to time out on the ground."""
        if self.tid is not None and not self.done:
            self.entity.suspend(self.tid)
            self._dropped.add(self.tid)
        self._pending.clear()
        self.done = True


def reassemble_segments(packets: Sequence[Mapping[str, Any]]) -> dict[int, bytes]:
    """Files from decoded FILE_SEGMENT values (any order, duplicates allowed), by file id.

    Only files whose every byte arrived and whose segments' CRC-32s match are returned.
    """
    parts: dict[int, dict[int, bytes]] = {}
    sizes: dict[int, int] = {}
    for p in packets:
        data = bytes(p["SEG_DATA"])
        if zlib.crc32(data) != int(p["SEG_CRC32"]):
            continue
        fid = int(p["SEG_FILE_ID"])
        parts.setdefault(fid, {})[int(p["SEG_OFFSET"])] = data
        sizes[fid] = int(p["SEG_FILE_SIZE"])
    out: dict[int, bytes] = {}
    for fid, segs in parts.items():
        buf = b"".join(segs[k] for k in sorted(segs))
        if len(buf) == sizes[fid] and sum(len(v) for v in segs.values()) == sizes[fid]:
            out[fid] = buf
    return out


@dataclass
class _Dump:
    file_id: int
    result: CommandOutcome | None = None


@dataclass
class _MagFile:
    file_id: int
    opened_ns: int
    rate_hz: float
    times: list[NDArray[np.int64]] = field(default_factory=list)
    raw: list[NDArray[np.float64]] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(len(t) for t in self.times)


# ---------------------------------------------------------------------------------------------
# The model


class OrbiterModel:
    """The orbiter model (see the module doc)."""

    def __init__(
        self,
        epoch_ns: int,
        track: OrbitTrack,
        *,
        seed: int,
        opts: Mapping[str, Any],
        stations: list[Any],
        sender: FileSender | None = None,
    ) -> None:
        self.mdb = _mdb()
        self.name = self.mdb.root.name
        self.epoch_ns = int(epoch_ns)
        self.track = track
        self.seed = int(seed)
        self.rng = np.random.default_rng(seed)
        self.stations = stations
        self.contacts_mode = str(opts.get("contacts", "stations"))
        if self.contacts_mode not in ("stations", "always"):
            raise ValueError("orbiter contacts must be 'stations' or 'always'")
        self.field = CrustalField.build(seed)
        self.mag = Magnetometer(np.random.default_rng([seed, 1]))
        self.store = FileStore(round(float(opts.get("recorder_mib", 256)) * 1024 * 1024))
        self.downlink_bytes_per_s = float(opts.get("downlink_kbps", 128.0)) * 1000.0 / 8.0
        if not self.downlink_bytes_per_s > 0:
            raise ValueError("downlink_kbps must be > 0")
        self.mag_rate_hz = float(opts.get("mag_rate_hz", 1.0))
        if not 0 <= self.mag_rate_hz <= 16:
            raise ValueError("mag_rate_hz must be within 0 … 16 samples per second")
        self.mag_file_s = float(opts.get("mag_file_s", 3600.0))
        self.polar = bool(opts.get("polar_terrain", True))
        td = opts.get("truth_dir")
        self.truth_dir = Path(str(td)) if td else None
        fd = opts.get("files_dir")
        self.files_dir = Path(str(fd)) if fd else None
        self.loss = float(opts.get("loss", 0.0))
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"orbiter option loss must be a probability 0 … 1; got {self.loss!r}")
        self._loss_rng = np.random.default_rng([seed, 2])
        self.uplink_pdus_lost = 0
        self.file_downlink = str(opts.get("file_downlink", "cfdp"))
        if sender is not None:
            self.sender: FileSender = sender
        elif self.file_downlink == "segments":
            self.sender = SegmentSender()
        elif self.file_downlink == "cfdp":
            cls = int(opts.get("cfdp_class", 2))
            self.sender = CfdpSender(
                entity_id=int(opts.get("cfdp_entity_id", 2)),
                ground_id=int(opts.get("cfdp_ground_id", 1)),
                cls=cls,
                on_received=self._uplinked,
                timers={str(k): float(v) for k, v in dict(opts.get("cfdp_timers", {})).items()},
                lose=self._lost if self.loss > 0 else None,
            )
        else:
            raise ValueError("orbiter file_downlink must be 'segments' or 'cfdp'")
        self.cfdp_apid_up = 611
        self.uplink_packets_taken = 0
        self._dl_contact = False
        self.mode = "NOMINAL"
        self.soc = float(opts.get("battery_soc_pct", 90.0)) / 100.0
        self.capacity_wh = BATTERY_WH
        self.solar_w = self.load_w = self.beta_deg = 0.0
        self.sun_frac = 1.0
        self.t_avionics, self.t_batt, self.t_camera, self.t_mag = 20.0, 15.0, 0.0, -10.0
        self.heater = False
        self.faults: set[str] = set()
        self.tc_accepted = 0
        self.tc_rejected = 0
        self.rec = (0.0, 0, 0)
        self.images = 0
        self.camera_busy_until_ns = 0
        self.image_truth: dict[int, dict[str, Any]] = {}
        self.last_mag = np.zeros(3)
        self.mag_open: _MagFile | None = None
        self.queue: list[_Dump] = []
        self.sending: _Dump | None = None
        self._budget = 0.0
        self._windows: list[ContactWindow] = []
        self._windows_until_ns: int | None = None
        self._contacts_cache: dict[tuple[int, int], list[ContactWindow]] = {}
        self._t = self.epoch_ns
        self._out: list[TmPacket] = []
        self._next = dict.fromkeys(_PERIODS_S, self.epoch_ns)
        self._next_mag_ns = self.epoch_ns
        self._lost_reported = False
        if self.mag_rate_hz > 0:
            self._open_mag(self.epoch_ns)

    # -- geometry -----------------------------------------------------------------------------

    def position_me_km(self, now_ns: int) -> NDArray[np.float64]:
        """True position in MOON_ME, km."""
        r, _ = self.track.state(now_ns)
        out: NDArray[np.float64] = self.track.icrf_to_me(now_ns)[0] @ r[0]
        return out

    def subpoint(self, now_ns: int) -> tuple[float, float, float]:
        """Sub-orbiter latitude, east longitude (MOON_ME, deg), altitude (km over 1737.4 km)."""
        p = self.position_me_km(now_ns)
        rn = float(np.linalg.norm(p))
        return (
            math.degrees(math.asin(p[2] / rn)),
            math.degrees(math.atan2(p[1], p[0])),
            rn - MOON_RADIUS_KM,
        )

    def sun_me_unit(self, now_ns: int) -> NDArray[np.float64]:
        """Unit vector from the Moon's centre to the Sun, MOON_ME."""
        sun, _ = self.track.sun_earth(now_ns)
        s = self.track.icrf_to_me(now_ns)[0] @ sun[0]
        out: NDArray[np.float64] = s / np.linalg.norm(s)
        return out

    def subpoint_sun_elevation_deg(self, now_ns: int) -> float:
        """The Sun's elevation over the sphere's horizon below the orbiter, degrees."""
        p = self.position_me_km(now_ns)
        return math.degrees(
            math.asin(float(p @ self.sun_me_unit(now_ns)) / float(np.linalg.norm(p)))
        )

    def field_body_nt(self, times_ns: NDArray[np.int64]) -> tuple[NDArray[np.float64], ...]:
        """True crustal field at the orbiter: (MOON_ME nT, body nT), each (N, 3)."""
        r, v = self.track.state(times_ns)
        me = self.track.icrf_to_me(times_ns)
        p_me = np.einsum("nij,nj->ni", me, r)
        b_me = self.field.field_nt(p_me)
        b_icrf = np.einsum("nji,nj->ni", me, b_me)
        b_body = np.einsum("nij,nj->ni", body_from_icrf(r, v), b_icrf)
        return b_me, b_body

    # -- contacts -----------------------------------------------------------------------------

    def _compute_windows(self, start_ns: int, stop_ns: int) -> list[ContactWindow]:
        if self.contacts_mode == "always":
            r, _ = self.track.state(start_ns)
            _, earth = self.track.sun_earth(start_ns)
            lt = float(np.linalg.norm(earth[0] - r[0])) / SPEED_OF_LIGHT_KM_S
            return [ContactWindow(start_ns, stop_ns, "DTE", lt)]
        self.track.ensure(stop_ns)
        stop_ns = min(stop_ns, self.track.end_ns)
        if stop_ns <= start_ns or start_ns < self.track.epoch_ns:
            return []
        ws = contacts(self.track.traj, self.stations, _dt_of(start_ns), _dt_of(stop_ns))
        raw = [
            ContactWindow(
                _ns(w.start),
                _ns(w.stop),
                str(w.fields["station"]),
                float(w.fields["mean_range_km"]) / SPEED_OF_LIGHT_KM_S,
            )
            for w in ws
        ]
        return merge_windows(raw)

    def contact_windows(self, start_ns: int, stop_ns: int) -> list[ContactWindow]:
        """Contact windows between ``start_ns`` and ``stop_ns`` (module doc), merged."""
        key = (int(start_ns), int(stop_ns))
        if key not in self._contacts_cache:
            self._contacts_cache[key] = self._compute_windows(*key)
        return list(self._contacts_cache[key])

    def in_contact(self, now_ns: int) -> bool:
        """Whether a station sees the orbiter at ``now_ns`` (the on-board contact plan)."""
        if self._windows_until_ns is None or now_ns + 43200 * _NS > self._windows_until_ns:
            start = now_ns if self._windows_until_ns is None else self._windows_until_ns
            stop = now_ns + 86400 * _NS
            self._windows = [w for w in self._windows if w.stop_ns > now_ns - 3600 * _NS]
            self._windows.extend(self._compute_windows(start, stop))
            self._windows = merge_windows(self._windows)
            self._windows_until_ns = stop
        return any(w.start_ns <= now_ns < w.stop_ns for w in self._windows)

    # -- physics ------------------------------------------------------------------------------

    def _advance(self, now_ns: int) -> None:
        while self._t < now_ns:
            # 30 s steps; a gap of more than an hour (a late start, a pause) in 10 min steps
            limit_s = 600 if now_ns - self._t > 3600 * _NS else 30
            dt_ns = min(now_ns - self._t, limit_s * _NS)
            self._t += dt_ns
            self._tick(dt_ns / _NS, self._t)

    def _tick(self, dt: float, t: int) -> None:
        if self.track.lost and not self._lost_reported:
            self._lost_reported = True
            self._event("CRITICAL", f"orbit propagation ended: {self.track.lost}", "ORBITER", 2)
        self.sun_frac = float(self.track.sun_fraction(t)[0])
        r, v = self.track.state(t)
        sun, _ = self.track.sun_earth(t)
        h = np.cross(r[0], v[0])
        s = sun[0] - r[0]
        self.beta_deg = math.degrees(
            math.asin(float(h @ s) / float(np.linalg.norm(h) * np.linalg.norm(s)))
        )
        self.solar_w = ARRAY_PEAK_W * self.sun_frac * math.cos(math.radians(self.beta_deg))
        contact = self.in_contact(t)
        load = AVIONICS_W + (RADIO_TX_W if contact else RADIO_RX_W)
        if t < self.camera_busy_until_ns:
            load += CAMERA_W
        if self.mag_rate_hz > 0:
            load += MAG_W
        if self.heater:
            load += HEATER_W
        self.load_w = load
        wh = (self.solar_w - load) * dt / 3600.0
        self.soc = min(1.0, max(0.0, self.soc + wh / self.capacity_wh))
        a = 1.0 - math.exp(-dt / 1800.0)
        lit = self.sun_frac
        self.t_avionics += (5.0 + 20.0 * lit + 1.5 * load - self.t_avionics) * a
        self.t_batt += (-5.0 + 20.0 * lit + (12.0 if self.heater else 0.0) - self.t_batt) * a
        self.t_camera += (-25.0 + 35.0 * lit - self.t_camera) * a
        self.t_mag += (-60.0 + 70.0 * lit - self.t_mag) * a
        if "HEATER_FAILED" in self.faults:
            self.heater = False
        elif self.t_batt < HEATER_ON_C:
            self.heater = True
        elif self.t_batt > HEATER_OFF_C:
            self.heater = False
        if self.mode == "NOMINAL" and self.soc < SAFE_SOC:
            self._safe(f"battery at {self.soc:.0%} < {SAFE_SOC:.0%}: SAFE mode", t)

    def _safe(self, why: str, t: int) -> None:
        self.mode = "SAFE"
        if self.mag_rate_hz > 0:
            self._close_mag(t)
        self.mag_rate_hz = 0.0
        self._event("WARNING", why, "POWER", 20)

    # -- magnetometer -------------------------------------------------------------------------

    def _open_mag(self, t: int) -> None:
        self.mag_open = _MagFile(self.store.new_id(), t, self.mag_rate_hz)
        step = round(_NS / self.mag_rate_hz)
        self._next_mag_ns = -(-t // step) * step  # samples on the rate's grid of UTC

    def _close_mag(self, t: int) -> None:
        m = self.mag_open
        self.mag_open = None
        if m is None:
            return
        if m.samples == 0:
            self.store._reserved.discard(m.file_id)
            return
        times = np.concatenate(m.times)
        raw = np.concatenate(m.raw)
        data = mag_file_bytes(m.rate_hz, times, raw)
        self._store(StoredFile(m.file_id, f"MAG_{m.file_id:06d}.bin", "MAGNETOMETER", data, t))

    def _sample_mag(self, until_ns: int) -> None:
        m = self.mag_open
        if m is None or self.mag_rate_hz <= 0:
            return
        step = round(_NS / self.mag_rate_hz)
        if self._next_mag_ns > until_ns:
            return
        n = (until_ns - self._next_mag_ns) // step + 1
        times = self._next_mag_ns + step * np.arange(n, dtype=np.int64)
        self._next_mag_ns = int(times[-1]) + step
        _, b_body = self.field_body_nt(times)
        raw = self.mag.measure(b_body)
        m.times.append(times)
        m.raw.append(raw)
        self.last_mag = raw[-1]
        if (int(times[-1]) - m.opened_ns) / _NS >= self.mag_file_s:
            self._close_mag(int(times[-1]))
            self._open_mag(int(times[-1]) + 1)

    # -- files --------------------------------------------------------------------------------

    def _lost(self) -> bool:
        """True if a CFDP packet is lost on the link (option ``loss``, seeded)."""
        return bool(self._loss_rng.random() < self.loss)

    def _store(self, f: StoredFile) -> None:
        protect = self.sending.file_id if self.sending is not None else None
        try:
            lost = self.store.add(f, protect)
        except ValueError as exc:
            self._event("ERROR", f"{exc}; not stored", "FILES", 40)
            return
        if self.files_dir is not None:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.files_dir / (f.name + ".tmp")
            tmp.write_bytes(f.data)
            tmp.replace(self.files_dir / f.name)  # whole or not at all, for a reader
        for v in lost:
            sent = "sent" if v.state == "SENT" else "never sent"
            v.state = "OVERWRITTEN"
            self._event(
                "WARNING",
                f"file store full: file {v.file_id} {v.name} ({v.size} bytes, {sent}) "
                f"overwritten by {f.name}",
                "FILES",
                41,
            )
            self._fail_dumps(v.file_id, f"file {v.file_id} {v.name} was overwritten")
        self._out.append(self._dir_packet(f, 0, 1, f.created_ns))

    def _dir_packet(self, f: StoredFile, index: int, count: int, t: int) -> TmPacket:
        return TmPacket(
            "FILE_DIRECTORY",
            {
                "DIR_FILE_ID": f.file_id,
                "DIR_KIND": f.kind,
                "DIR_STATE": f.state,
                "DIR_SIZE_BYTES": f.size,
                "DIR_CRC32": f.crc32,
                "DIR_CREATED_UNIX_S": f.created_ns // _NS,
                "DIR_INDEX": index,
                "DIR_COUNT": count,
                "DIR_NAME": f.name,
            },
            t,
        )

    def _fail_dumps(self, file_id: int, why: str) -> None:
        for d in [*self.queue, *([self.sending] if self.sending else [])]:
            if d.file_id == file_id and d.result is None:
                d.result = CommandOutcome(ok=False, reason="EXECUTION_FAILED", message=why)
        self.queue = [d for d in self.queue if d.file_id != file_id]
        if self.sending is not None and self.sending.file_id == file_id:
            self.sender.cancel()
            self.sending = None

    def _downlink(self, t0: int, t1: int) -> None:
        """Send file bytes from ``t0`` to ``t1`` while in contact (the link's rate)."""
        contact = self.in_contact(t1)
        if contact != self._dl_contact:  # a contact starts or ends: CFDP resumes or suspends
            hook = getattr(self.sender, "resume" if contact else "pause", None)
            if hook is not None:
                hook()
            self._dl_contact = contact
        if not contact:
            self._budget = 0.0
            return
        self._budget = min(
            self._budget + self.downlink_bytes_per_s * (t1 - t0) / _NS,
            self.downlink_bytes_per_s * 2.0,
        )
        while self._budget >= 1.0:
            if self.sending is None:
                if not self.queue:
                    self._budget = 0.0
                    return
                d = self.queue.pop(0)
                f = self.store.files.get(d.file_id)
                if f is None:
                    d.result = _no_file(d.file_id)
                    continue
                self.sending = d
                f.state = "SENDING"
                self.sender.begin(f, t1)
            packets, used = self.sender.pump(t1, int(self._budget))
            self._budget -= used
            self._out.extend(packets)
            if self.sender.done:
                d = self.sending
                self.sending = None
                sent = self.store.files.get(d.file_id)
                failed = str(getattr(self.sender, "failed", ""))
                if sent is not None:
                    sent.state = "STORED" if failed else "SENT"
                counts = getattr(self.sender, "file_counts", None)
                if counts is not None:
                    self._cfdp_event(d.file_id, sent, failed, *counts())
                d.result = (
                    CommandOutcome(
                        ok=False,
                        reason="EXECUTION_FAILED",
                        message=f"file {d.file_id}: the CFDP transaction ended {failed}",
                    )
                    if failed
                    else CommandOutcome()
                )
            elif not packets:
                return

    def _cfdp_event(
        self, file_id: int, f: StoredFile | None, failed: str, sent: int, lost: int, rpdus: int,
        rbytes: int,
    ) -> None:  # fmt: skip
        """The link's account of one file's CFDP downlink, as an event (FILES, id 44)."""
        name = f" {f.name}" if f is not None else ""
        how = f"ended {failed}" if failed else "down"
        pct = f" ({100.0 * lost / sent:.1f} %)" if sent else ""
        self._event(
            "WARNING" if failed else "INFO",
            f"file {file_id}{name} {how} by CFDP: {sent} PDUs sent, {lost} lost on the "
            f"link{pct}, {rpdus} File Data PDUs retransmitted ({rbytes} octets)",
            "FILES",
            44,
        )

    def status(self) -> dict[str, Any]:
        """The simulated link's CFDP counters since the start, JSON-ready: PDUs the orbiter
        put on the downlink and those the loss model (option ``loss``) dropped, File Data PDUs
        and octets retransmitted, and uplink packets taken (APID 611) and lost. Zeros (and
        ``file_downlink: segments``) when files go down as MDB segments."""
        snd = self.sender
        down = {
            k: int(getattr(snd, k, 0))
            for k in (
                "pdus_sent", "pdus_lost", "file_data_pdus", "retransmitted_pdus",
                "retransmitted_bytes",
            )
        }  # fmt: skip
        return {
            "file_downlink": self.file_downlink,
            "loss": self.loss,
            "cfdp_down": down,
            "cfdp_up": {
                "packets_taken": self.uplink_packets_taken,
                "pdus_lost": self.uplink_pdus_lost,
            },
        }

    # -- packets ------------------------------------------------------------------------------

    def _hk(self, t: int) -> TmPacket:
        lat, lon, alt = self.subpoint(t)
        _, v = self.track.state(t)
        files = list(self.store.files.values())
        unsent = sum(f.state in ("STORED", "SENDING") for f in files)
        return TmPacket(
            "ORBITER_HK",
            {
                "ORB_MODE": self.mode,
                "ORB_ALT_KM": max(alt, 0.0),
                "ORB_LAT_DEG": lat,
                "ORB_LON_DEG": lon,
                "ORB_SPEED_KM_S": float(np.linalg.norm(v[0])),
                "ORB_SUN_FRACTION_PCT": 100.0 * self.sun_frac,
                "ORB_IN_CONTACT": self.in_contact(t),
                "ORB_SPARE": 0,
                "ORB_TC_ACCEPTED": self.tc_accepted & 0xFFFF,
                "ORB_TC_REJECTED": self.tc_rejected & 0xFFFF,
                "REC_FILL_PCT": self.rec[0],
                "REC_PACKETS": self.rec[1],
                "REC_OVERWRITTEN": self.rec[2],
                "FS_FILL_PCT": self.store.fill_percent,
                "FS_USED_BYTES": self.store.used_bytes,
                "FS_CAPACITY_BYTES": min(self.store.capacity_bytes, 2**32 - 1),
                "FS_FILES": len(files),
                "FS_UNSENT": unsent,
                "FS_OVERWRITTEN": self.store.overwritten & 0xFFFF,
                "FS_OLDEST_ID": files[0].file_id if files else 0,
                "FS_NEWEST_ID": files[-1].file_id if files else 0,
                "DL_FILE_ID": self.sending.file_id if self.sending else 0,
                "DL_QUEUED": len(self.queue),
                "DL_BYTES_SENT": self.sender.bytes_sent if self.sending else 0,
            },
            t,
        )

    def _attitude(self, t: int) -> TmPacket:
        r, v = self.track.state(t)
        m = body_from_icrf(r, v)[0]
        q = quaternion(m)
        h = np.cross(r[0], v[0])
        w = m @ (h / float(r[0] @ r[0]))  # rad/s in body axes
        err = abs(float(self.rng.normal(0.0, POINTING_JITTER_DEG)))
        return TmPacket(
            "ATTITUDE",
            {
                "ATT_Q1": q[0],
                "ATT_Q2": q[1],
                "ATT_Q3": q[2],
                "ATT_Q4": q[3],
                "ATT_RATE_X_DEG_S": math.degrees(w[0]),
                "ATT_RATE_Y_DEG_S": math.degrees(w[1]),
                "ATT_RATE_Z_DEG_S": math.degrees(w[2]),
                "ATT_POINTING_ERR_DEG": err,
            },
            t,
        )

    def _power(self, t: int) -> TmPacket:
        v = 6.4 + 1.9 * self.soc  # 2-cell Li-ion: 6.4 V empty, 8.3 V full (illustrative)
        return TmPacket(
            "POWER",
            {
                "PWR_SOLAR_W": self.solar_w,
                "PWR_LOAD_W": self.load_w,
                "PWR_BATT_SOC_PCT": 100.0 * self.soc,
                "PWR_BUS_V": v,
                "PWR_BATT_I_A": (self.solar_w - self.load_w) / v,
                "PWR_SUN_BETA_DEG": self.beta_deg,
            },
            t,
        )

    def _thermal(self, t: int) -> TmPacket:
        return TmPacket(
            "THERMAL",
            {
                "TH_AVIONICS_C": self.t_avionics,
                "TH_BATT_C": self.t_batt,
                "TH_CAMERA_C": self.t_camera,
                "TH_MAG_C": self.t_mag,
                "TH_HEATER": self.heater,
                "TH_SPARE": 0,
            },
            t,
        )

    def _magnetometer(self, t: int) -> TmPacket:
        m = self.mag_open
        return TmPacket(
            "MAGNETOMETER",
            {
                "MAG_RATE_HZ": round(self.mag_rate_hz),
                "MAG_BX_NT": float(self.last_mag[0]),
                "MAG_BY_NT": float(self.last_mag[1]),
                "MAG_BZ_NT": float(self.last_mag[2]),
                "MAG_SAMPLES": m.samples if m else 0,
                "MAG_FILE_ID": m.file_id if m else 0,
            },
            t,
        )

    def truth(self, t: int) -> dict[str, Any]:
        """The SIM_TRUTH values at ``t``."""
        r, _ = self.track.state(t)
        lat, lon, alt = self.subpoint(t)
        b_me, _ = self.field_body_nt(np.array([t], dtype=np.int64))
        return {
            "TRUTH_X_KM": float(r[0, 0]),
            "TRUTH_Y_KM": float(r[0, 1]),
            "TRUTH_Z_KM": float(r[0, 2]),
            "TRUTH_LAT_DEG": lat,
            "TRUTH_LON_DEG": lon,
            "TRUTH_ALT_KM": max(alt, 0.0),
            "TRUTH_B_ME_X_NT": float(b_me[0, 0]),
            "TRUTH_B_ME_Y_NT": float(b_me[0, 1]),
            "TRUTH_B_ME_Z_NT": float(b_me[0, 2]),
            "TRUTH_SUN_FRACTION_PCT": 100.0 * float(self.track.sun_fraction(t)[0]),
        }

    def _truth_packet(self, t: int) -> TmPacket:
        return TmPacket("SIM_TRUTH", self.truth(t), t)

    def _event(self, severity: str, message: str, source: str = "ORBITER", eid: int = 0) -> None:
        self._out.append(self.event_packet(OnboardEvent(severity, message, source, eid)))

    # -- the protocol -------------------------------------------------------------------------

    def step(self, now_ns: int) -> list[TmPacket]:
        """Advance to ``now_ns``; return the packets due (each with its own time)."""
        self._catch_up(now_ns)
        out, self._out = self._out, []
        return out

    def _catch_up(self, now_ns: int) -> None:
        gap = now_ns - _CATCH_UP_S * _NS
        for key, due in self._next.items():  # started late or paused: no packets for the gap
            if due < gap:
                self._next[key] = now_ns
        if self._next_mag_ns < gap:  # nor magnetometer samples
            step = round(_NS / self.mag_rate_hz) if self.mag_rate_hz > 0 else _NS
            self._next_mag_ns = -(-now_ns // step) * step
        t_prev = self._t
        while True:
            key = min(self._next, key=self._next.__getitem__)
            due = self._next[key]
            if due > now_ns:
                break
            self._advance(due)
            self._sample_mag(due)
            make = {
                "hk": self._hk,
                "att": self._attitude,
                "pwr": self._power,
                "th": self._thermal,
                "mag": self._magnetometer,
                "truth": self._truth_packet,
            }[key]
            self._out.append(make(due))
            self._next[key] = due + round(_PERIODS_S[key] * _NS)
        self._advance(now_ns)
        self._sample_mag(now_ns)
        self._downlink(t_prev, now_ns)

    def execute(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Execute an orbiter command (MDB ``commands``); refusals say why."""
        self._catch_up(now_ns)
        outcome = self._execute(command, args, now_ns)
        if outcome.ok:
            self.tc_accepted += 1
        return outcome

    def _execute(self, command: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        if command == "NOOP":
            return CommandOutcome()
        if command == "SET_MODE":
            new = str(args["MODE"])
            if new == "NOMINAL" and self.soc < SAFE_SOC:
                return _refuse(f"SET_MODE NOMINAL: battery at {self.soc:.0%} < {SAFE_SOC:.0%}")
            old, self.mode = self.mode, new
            if new == "SAFE" and self.mag_rate_hz > 0:
                self._close_mag(now_ns)
                self.mag_rate_hz = 0.0
            ev = OnboardEvent("INFO", f"mode {old} -> {new}", "ORBITER", 10)
            return CommandOutcome(events=[ev])
        if command == "IMAGE_TAKE":
            return self._image(int(args.get("EXPOSURE_MS", 10)), now_ns)
        if command == "MAG_SET_RATE":
            rate = float(args["RATE_HZ"])
            if rate > 0 and self.mode != "NOMINAL":
                return _refuse(f"MAG_SET_RATE: {self.mode} mode; instruments off")
            if self.mag_open is not None:
                self._close_mag(now_ns)
            self.mag_rate_hz = rate
            if rate > 0:
                self._open_mag(now_ns)
            return CommandOutcome()
        if command == "MAG_FILE_CLOSE":
            if self.mag_open is None:
                return _refuse("MAG_FILE_CLOSE: no magnetometer file is open (rate 0)")
            self._close_mag(now_ns)
            self._open_mag(now_ns + 1)
            return CommandOutcome()
        if command == "FILE_LIST":
            files = list(self.store.files.values())
            pk = [self._dir_packet(f, i, len(files), now_ns) for i, f in enumerate(files)]
            return CommandOutcome(packets=pk)
        if command == "FILE_DUMP":
            fid = int(args["FILE_ID"])
            if fid not in self.store.files:
                return _no_file(fid)
            d = _Dump(fid)
            self.queue.append(d)
            return CommandOutcome(finish=lambda t: d.result)
        if command == "FILE_DELETE":
            fid = int(args["FILE_ID"])
            if fid not in self.store.files:
                return _no_file(fid)
            if self.sending is not None and self.sending.file_id == fid:
                return _refuse(f"FILE_DELETE: file {fid} is being sent; FILE_DUMP_ABORT first")
            f = self.store.remove(fid)
            f.state = "DELETED"
            self._fail_dumps(fid, f"file {fid} was deleted")
            return CommandOutcome(packets=[self._dir_packet(f, 0, 1, now_ns)])
        if command == "RECORDER_DUMP":
            queued = {d.file_id for d in self.queue} | (
                {self.sending.file_id} if self.sending else set()
            )
            for f in self.store.files.values():
                if f.state == "STORED" and f.file_id not in queued:
                    self.queue.append(_Dump(f.file_id))
            return CommandOutcome()
        if command == "FILE_DUMP_ABORT":
            for d in [*self.queue, *([self.sending] if self.sending else [])]:
                if d.result is None:
                    d.result = CommandOutcome(
                        ok=False, reason="EXECUTION_FAILED", message="aborted by FILE_DUMP_ABORT"
                    )
            if self.sending is not None:
                current = self.store.files.get(self.sending.file_id)
                if current is not None:
                    current.state = "STORED"
                self.sender.cancel()
            self.sending = None
            self.queue = []
            return CommandOutcome()
        return CommandOutcome(
            ok=False, reason="EXECUTION_FAILED", message=f"{command}: not implemented on board"
        )

    def _image(self, exposure_ms: int, now_ns: int) -> CommandOutcome:
        if self.mode != "NOMINAL":
            return _refuse(f"IMAGE_TAKE: {self.mode} mode; instruments off")
        if now_ns < self.camera_busy_until_ns:
            return _refuse("IMAGE_TAKE: the camera is reading out the last frame")
        if "CAMERA_FAILED" in self.faults:
            return CommandOutcome(
                ok=False, reason="EXECUTION_FAILED", message="IMAGE_TAKE: no frame from the camera"
            )
        t = now_ns + exposure_ms * 1_000_000 // 2  # mid-exposure
        r, v = self.track.state(t)
        me = self.track.icrf_to_me(t)[0]
        body = body_from_icrf(r, v)[0]
        jx, jy = self.rng.normal(0.0, POINTING_JITTER_DEG, 2)
        cam_to_me = me @ body.T @ _rotation_xyz((float(jx), float(jy), 0.0))  # body + jitter
        p_me = me @ r[0]
        image, truth = render_image(
            p_me, cam_to_me, self.sun_me_unit(t), exposure_ms, self.rng, seed=self.seed,
            polar=self.polar,
        )  # fmt: skip
        self.images += 1
        fid = self.store.new_id()
        name = f"IMG_{fid:06d}.pgm"
        truth.update({"time_ns": t, "file_id": fid, "name": name, "position_icrf_km": r[0]})
        self.image_truth[fid] = truth
        while len(self.image_truth) > 200:
            self.image_truth.pop(next(iter(self.image_truth)))
        if self.truth_dir is not None:
            self.truth_dir.mkdir(parents=True, exist_ok=True)
            arrays: dict[str, Any] = {k: np.asarray(v) for k, v in truth.items()}
            np.savez_compressed(self.truth_dir / f"IMG_{fid:06d}.npz", **arrays)
        done = now_ns + exposure_ms * 1_000_000
        self._store(StoredFile(fid, name, "IMAGE", pgm_bytes(image), done))
        self.camera_busy_until_ns = now_ns + round(CAMERA_BUSY_S * _NS)
        lit = float(np.mean(image > 8)) * 100.0
        rec = TmPacket(
            "CAMERA_IMAGE",
            {
                "IMG_FILE_ID": fid,
                "IMG_NUMBER": self.images & 0xFFFF,
                "IMG_EXPOSURE_MS": exposure_ms,
                "IMG_CENTER_LAT_DEG": _finite(truth["centre_lat_deg"]),
                "IMG_CENTER_LON_DEG": _finite(truth["centre_lon_deg"]),
                "IMG_RANGE_KM": _finite(truth["centre_range_km"]),
                "IMG_PIXEL_SCALE_M": _finite(truth["pixel_scale_m"]),
                "IMG_SUN_INCIDENCE_DEG": _finite(truth["sun_incidence_deg"]),
                "IMG_LIT_PCT": lit,
                "IMG_MEAN_DN": float(image.mean()),
            },
            done,
        )
        return CommandOutcome(complete_after_s=CAMERA_BUSY_S, packets=[rec])

    def inject_fault(self, fault: str, args: Mapping[str, Any], now_ns: int) -> CommandOutcome:
        """Inject a fault of the MDB's SimFault list, or clear them all with CLEAR_ALL."""
        self._catch_up(now_ns)
        if fault not in FAULTS:
            return _refuse(f"unknown fault {fault!r}; ORBITER faults: {', '.join(FAULTS)}")
        if fault == "CLEAR_ALL":
            self.faults.clear()
            self.capacity_wh = BATTERY_WH
            self.mag.extra_offset_nt = np.zeros(3)
        else:
            self.faults.add(fault)
            if fault == "BATTERY_DEGRADED":
                self.capacity_wh = BATTERY_WH / 2
            if fault == "MAG_OFFSET_JUMP":
                self.mag.extra_offset_nt = np.array([50.0, 0.0, 0.0])
        ev = OnboardEvent("WARNING", f"simulator: fault {fault}", "SIMULATOR", 90)
        return CommandOutcome(events=[ev])

    def ack_packet(
        self, command_apid: int, opcode: int, seq_count: int, stage: AckStage, reason: str
    ) -> TmPacket:
        """A CMD_ACK packet (as ROVER's and TIANGONG's)."""
        return cmd_ack_packet(command_apid, opcode, seq_count, stage, reason)

    def event_packet(self, event: OnboardEvent) -> TmPacket:
        """An EVENT packet; unknown severities become WARNING, unknown sources ORBITER."""
        severity = event.severity if event.severity in _SEVERITIES else "WARNING"
        source = event.source if event.source in _SOURCES else "ORBITER"
        return event_tm_packet(event, severity=severity, source=source)

    def take_uplink_packet(self, data: bytes, now_ns: int) -> bool:
        """Take an APID 611 packet (a CFDP PDU) before the command decoder; False for others."""
        if len(data) < 7 or ((data[0] & 7) << 8 | data[1]) != self.cfdp_apid_up:
            return False
        from falak.cfdp import unwrap
        from falak.errors import DecodeError

        self.uplink_packets_taken += 1
        self._catch_up(now_ns)
        if self.loss > 0 and self._lost():
            self.uplink_pdus_lost += 1  # lost on the way up
            return True
        try:
            pdu = unwrap(data, self.cfdp_apid_up)
        except DecodeError as exc:
            self._event("WARNING", f"CFDP packet refused: {exc}", "FILES", 42)
            return True
        self.sender.receive(pdu, now_ns)
        return True

    def _uplinked(self, rf: Any) -> None:
        """A file the ground sent up by CFDP: into the file store (kind OTHER)."""
        name = str(rf.name or f"UPLINK_{rf.transaction_seq:06d}.bin")
        how = "whole" if rf.complete else f"incomplete, missing {rf.missing}"
        f = StoredFile(self.store.new_id(), name, "OTHER", bytes(rf.data), self._t)
        self._event(
            "INFO", f"file {name} received from the ground ({rf.size} bytes, {how})", "FILES", 43
        )
        self._store(f)

    def set_recorder_status(self, fill_pct: float, packets: int, overwritten: int) -> None:
        """Take the runner's packet-recorder state for housekeeping."""
        self.rec = (float(fill_pct), int(packets), int(overwritten))

    def count_rejected(self, n: int = 1) -> None:
        """Count telecommands the runner's decoder rejected (housekeeping)."""
        self.tc_rejected += n


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else 0.0


def _refuse(message: str) -> CommandOutcome:
    return CommandOutcome(ok=False, reason="NOT_ALLOWED_IN_STATE", message=message)


def _no_file(fid: int) -> CommandOutcome:
    return CommandOutcome(ok=False, reason="NO_SUCH_FILE", message=f"no file {fid} in the store")


def build_track(epoch_ns: int, opts: Mapping[str, Any]) -> OrbitTrack:
    """The trajectory from the options: an OEM (then propagated on) or elements at the epoch."""
    degree = int(opts.get("degree", 8))
    third = opts.get("third_bodies", True)
    third_on = third if isinstance(third, bool) else str(third).lower() not in ("0", "false", "no")
    force = ForceModel(degree=degree, third_bodies=("earth", "sun") if third_on else ())
    epoch = _dt_of(epoch_ns)
    if opts.get("oem"):
        from falak.dynamics.oem import read_oem
        from falak.dynamics.orbiter import trajectory_from_oem

        if "elements" in opts:
            raise InputError("give the orbiter option oem=FILE or elements=..., not both")
        traj = trajectory_from_oem(read_oem(str(opts["oem"])))
        start = _ns(traj.epoch)
        if not start <= epoch_ns <= start + round(float(traj.t_s[-1]) * _NS):
            raise InputError(
                f"the simulator's epoch {epoch.isoformat()} is outside the OEM's span "
                f"({traj.epoch.isoformat()} + {traj.t_s[-1]:.0f} s); give an --epoch inside it"
            )
        return OrbitTrack(traj, force)
    text = opts.get("elements")
    if text is None:
        elements = DEFAULT_ELEMENTS
        frame = str(opts.get("frame", "MOON_PA"))
    else:
        parts = [float(p) for p in str(text).split(",")] if isinstance(text, str) else list(text)
        if len(parts) != 6:
            raise InputError(
                f"orbiter option elements={text!r} must be six numbers "
                "a_km,e,i_deg,raan_deg,argp_deg,ta_deg, e.g. 6142.4,0.6846,90,0,270,0"
            )
        elements = tuple(float(p) for p in parts)  # type: ignore[assignment]
        frame = str(opts.get("frame", "MOON_PA"))
    r, v = elements_to_state(*elements)
    rot = elements_frame_to_icrf(frame, epoch)
    first = propagate(epoch, rot @ r, rot @ v, _CHUNK_S, _SAMPLE_S, force)
    return OrbitTrack(first, force)


def create_model(
    epoch_ns: int, *, seed: int = 0, options: Mapping[str, Any] | None = None
) -> OrbiterModel:
    """Return the orbiter model starting at ``epoch_ns`` (options: the module doc)."""
    from falak.dynamics.stations import get_station, load_stations

    opts = dict(options or {})
    unknown = sorted(set(opts) - set(OPTIONS))
    if unknown:
        msg = f"orbiter model: unknown option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}"
        raise ValueError(msg)
    catalogue = load_stations(extra=opts.get("stations_file"))
    names = opts.get("stations", ",".join(DEFAULT_STATIONS))
    if isinstance(names, str):
        chosen = list(catalogue) if names.strip().lower() == "all" else names.split(",")
    else:
        chosen = [str(n) for n in names]
    stations = [get_station(n.strip(), catalogue) for n in chosen if n.strip()]
    track = build_track(int(epoch_ns), opts)
    return OrbiterModel(int(epoch_ns), track, seed=seed, opts=opts, stations=stations)
