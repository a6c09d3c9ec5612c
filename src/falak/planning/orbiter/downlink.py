"""Downlink plan of the orbiter's file store: which files go down in which contact, what is lost.

The model (what the ORBITER simulator does, ``falak/sim/orbiter.py``)
-------------------------------------------------------------------
- **The store is a ring.** It holds ``capacity_bytes`` (256 MiB); a new file that does not
  fit overwrites the oldest files, *sent or not* (a sent file stays until ``FILE_DELETE``).
  Plans do not delete: with every file kept, file ``i`` (oldest first) is overwritten when
  the first later file ``j`` is stored with ``size_i + … + size_j > capacity`` — its
  *deadline* ``d_i`` is fixed by what is stored, whatever goes down. (Deleting sent files
  only frees room sooner, so a plan stays valid with deletes; it also would destroy a file
  whose CFDP transfer failed and went back to STORED.) Files already on board (``sent`` or
  not) count, oldest first. A file larger than the store is never stored: lost.
- **The link.** Files go down one after the other, in the order their ``FILE_DUMP`` s were
  queued, only inside contacts; a file cut by a contact's end goes on at the next. A file of
  ``s`` bytes takes ``s + 20 · ceil(s / 1024) + 78`` bytes of link (:meth:`Link.link_bytes`:
  falak's CFDP entity, 1024-byte segments: a 1038-byte file-data PDU and a 6-byte space
  packet header per segment, Metadata and EOF PDUs in their packets, measured in
  ``tests/planning/test_orbiter_downlink.py``) at ``rate_bps`` bits per second, then
  ``turnaround_s`` (default two light times + 1 s: class 2's EOF down and Finished up)
  before the next file starts. The link runs for the whole contact (a transfer cut by the
  last contact's end goes on at this one's start); a ``FILE_DUMP`` is heard on board from
  ``margin_s + light_time_s`` after a contact's start (released at start + margin, a light
  time on the way) until its end, and no earlier than that after the file is stored, so a
  file can start when its command is first heard or when the file before it ends.
- **Machine time.** Counting only contact time, ``M(t)`` seconds of link are available
  before ``t``. File ``i`` is released at ``R_i = M(h_i)``, ``h_i`` when its command is
  first heard, and is
  saved when its dump, ``p_i`` link seconds, ends by ``D_i = M(d_i)`` (and by the end of
  the last contact). Times are whole milliseconds (releases rounded up, durations up,
  deadlines down: a plan feasible in the model is feasible in continuous time).

The algorithm and its guarantee
-------------------------------
1. **Order.** Releases and deadlines are *agreeable*: an older file is stored no later and
   overwritten no later than a newer one. For a chosen set of files, sending them oldest
   first (earliest deadline first, which is creation order here) is optimal: if a plan sends
   a newer ``j`` just before an older ``i``, swapping them keeps both on time (``i`` now ends
   earlier than before; ``j`` ends where ``i`` ended, ``≤ d_i ≤ d_j``; ``i`` is released no
   later than ``j``). So a set is *feasible* exactly when the oldest-first schedule,
   ``C_i = max(C_prev, R_i) + p_i``, meets every ``D_i`` (:func:`edf_schedule`).
2. **Everything fits?** If the oldest-first schedule of every file is feasible, that is the
   plan: nothing is lost.
3. **Overloaded.** Otherwise which files to give up is a knapsack-like choice (maximising
   saved bytes under release times and deadlines is NP-hard in general), solved exactly
   with CP-SAT (OR-Tools) on the chain ``C_i ≥ C_{i-1} + p_i x_i``, ``C_i ≥ (R_i + p_i)
   x_i``, ``x_i ⇒ C_i ≤ D_i``, lexicographically: first the bytes saved of priority 1 (the
   highest), then 2, …; files whose overwrite is after the plan's end cannot be lost and
   come last (bytes sent before the end). Each stage is solved to optimality (status
   reported; ``optimal`` false if a stage hit ``time_limit_s``), and the chosen set is
   re-scheduled by step 1 and checked.

Guarantee: no file is lost that a feasible plan could have saved without losing more bytes
of the same or a higher priority; with every file savable, none is lost. "Feasible" is in
this model: each file down before the store reaches it (the simulator's exemption of the
file being sent, which overwrites the next oldest instead, is not planned on) and no
deletes (which could only save more). ``tests/planning/
test_orbiter_downlink.py`` checks plans with an independent event-driven replay of the store
and the link and against brute force over every subset on small random instances.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from falak.errors import InputError
from falak.planning.stackdoc import POLICIES
from falak.utctime import format_ns, parse_ns

__all__ = [
    "IMAGE_BYTES",
    "Contact",
    "DownlinkPlan",
    "Dump",
    "Link",
    "LostFile",
    "RecorderFile",
    "contacts_from_json",
    "deadlines_ns",
    "dump_stack",
    "edf_schedule",
    "files_from_json",
    "mag_file_bytes",
    "merge_contacts",
    "plan_downlink",
    "plan_json",
    "plan_png",
    "recorder_files",
]

#: An ORBITER image file: a binary PGM, ``P5\n512 512\n255\n`` (15 bytes) and 512 × 512 bytes.
IMAGE_BYTES = 15 + 512 * 512
#: A magnetometer file's header (``FKMAG001``, rate, count) and bytes per sample (README).
MAG_HEADER_BYTES = 16
MAG_RECORD_BYTES = 20
_NS = 1_000_000_000
_MS = 1_000_000


def mag_file_bytes(rate_hz: float, file_s: float = 3600.0) -> int:
    """Return the size of an hourly magnetometer file: a sample on each end of the hour."""
    return MAG_HEADER_BYTES + MAG_RECORD_BYTES * (round(rate_hz * file_s) + 1)


@dataclass(frozen=True)
class RecorderFile:
    """A file in (or to come into) the orbiter's file store."""

    name: str
    size_bytes: int
    created_ns: int
    """When it is stored (closed), ns since 1970 UTC."""
    priority: int = 1
    """1 is the highest."""
    file_id: int | None = None
    kind: str = "OTHER"
    sent: bool = False
    """Already down (it still takes room in the store)."""


@dataclass(frozen=True)
class Contact:
    """A contact window (several stations' windows merged), ns since 1970 UTC."""

    start_ns: int
    end_ns: int
    station: str = ""


@dataclass(frozen=True)
class Link:
    """The file downlink: rate, light time, CFDP overheads and command latencies."""

    rate_bps: float = 128_000.0
    light_time_s: float = 1.28
    margin_s: float = 2.0
    """After a contact's start (or a file's creation) before the FILE_DUMP is released."""
    turnaround_s: float | None = None
    """Between one file's last byte and the next file; default 2 light times + 1 s."""
    segment_bytes: int = 1024
    segment_overhead_bytes: int = 20
    file_overhead_bytes: int = 78

    def __post_init__(self) -> None:
        if not self.rate_bps > 0:
            raise InputError(f"link rate {self.rate_bps!r} bit/s must be > 0")
        if not self.light_time_s >= 0 or not self.margin_s >= 0:
            raise InputError("light time and margin must be ≥ 0 s")

    @property
    def turnaround(self) -> float:
        """Seconds between one file's last byte and the next file's first (class 2 Finished)."""
        return 2 * self.light_time_s + 1.0 if self.turnaround_s is None else self.turnaround_s

    @property
    def lead_s(self) -> float:
        """From a contact's start (or a file's creation) to the first byte that can go down."""
        return self.light_time_s + self.margin_s

    def link_bytes(self, size_bytes: int) -> int:
        """Bytes of link a file of ``size_bytes`` takes (module doc)."""
        segments = max(1, -(-size_bytes // self.segment_bytes))
        return size_bytes + self.segment_overhead_bytes * segments + self.file_overhead_bytes

    def dump_ms(self, size_bytes: int) -> int:
        """Link milliseconds of one file's dump, turnaround included (rounded up)."""
        return math.ceil(
            self.link_bytes(size_bytes) * 8000.0 / self.rate_bps + self.turnaround * 1000.0
        )


@dataclass(frozen=True)
class Dump:
    """One file's dump: when (UTC ns) and in which contacts (index, start, end, bytes)."""

    file: RecorderFile
    command_ns: int
    """When its FILE_DUMP is released (heard on board a light time later)."""
    start_ns: int
    end_ns: int
    pieces: tuple[tuple[int, int, int, int], ...]
    deadline_ns: int | None


@dataclass(frozen=True)
class LostFile:
    """A file the plan does not save, with the reason."""

    file: RecorderFile
    overwritten_ns: int | None
    """None: never stored (larger than the store)."""
    reason: str


@dataclass
class DownlinkPlan:
    """A downlink plan (see the module doc)."""

    files: list[RecorderFile]
    contacts: list[Contact]
    link: Link
    capacity_bytes: int
    dumps: list[Dump]
    lost: list[LostFile]
    pending: list[LostFile]
    """Not down by the plan's end but not overwritten before it."""
    optimal: bool
    method: str
    end_ns: int
    overwrites: list[tuple[int, RecorderFile, RecorderFile | None]] = field(default_factory=list)
    """Every overwrite: (time, the file overwritten, the file that overwrote it)."""


# -- inputs -------------------------------------------------------------------------------------


def merge_contacts(contacts: Sequence[Contact]) -> list[Contact]:
    """Return contacts sorted, overlapping or touching windows merged (stations joined by ``+``)."""
    out: list[Contact] = []
    for c in sorted(contacts, key=lambda c: (c.start_ns, c.end_ns)):
        if c.end_ns <= c.start_ns:
            continue
        if out and c.start_ns <= out[-1].end_ns:
            last = out[-1]
            names = [n for n in last.station.split(" + ") if n]
            if c.station and c.station not in names:
                names.append(c.station)
            out[-1] = Contact(last.start_ns, max(last.end_ns, c.end_ns), " + ".join(names))
        else:
            out.append(c)
    return out


def contacts_from_json(doc: Any, *, file: str = "contacts JSON") -> list[Contact]:
    """Read ``falak orbiter contacts --json`` (``[{"start", "stop", "station"}]``), merged."""
    items = doc.get("contacts") if isinstance(doc, Mapping) else doc
    if not isinstance(items, list):
        raise InputError(
            f"{file}: expected the list printed by 'falak orbiter contacts --json' "
            '([{"start": ISO, "stop": ISO, "station": NAME}])'
        )
    out = []
    for i, c in enumerate(items):
        if not isinstance(c, Mapping) or "start" not in c or not ("stop" in c or "end" in c):
            raise InputError(f"{file}: contact {i} has no 'start' and 'stop'")
        start = parse_ns(str(c["start"]), f"{file}: contact {i} start")
        stop = parse_ns(str(c.get("stop", c.get("end"))), f"{file}: contact {i} stop")
        out.append(Contact(start, stop, str(c.get("station", ""))))
    return merge_contacts(out)


def files_from_json(doc: Any, *, file: str = "files JSON") -> list[RecorderFile]:
    """Read a files document: ``{"files": [{"name", "size_bytes", "created", ...}]}``.

    Each file: ``name``, ``size_bytes``, ``created`` (ISO UTC), and optionally ``priority``
    (1, the highest), ``file_id``, ``kind``, ``sent`` (false).
    """
    items = doc.get("files") if isinstance(doc, Mapping) else doc
    if not isinstance(items, list):
        raise InputError(
            f'{file}: expected {{"files": [{{"name": ..., "size_bytes": N, "created": ISO, '
            '"priority": 1, "file_id": N}}]}}'
        )
    out = []
    for i, f in enumerate(items):
        try:
            out.append(
                RecorderFile(
                    name=str(f["name"]),
                    size_bytes=int(f["size_bytes"]),
                    created_ns=parse_ns(str(f["created"]), f"{file}: file {i} created"),
                    priority=int(f.get("priority", 1)),
                    file_id=None if f.get("file_id") is None else int(f["file_id"]),
                    kind=str(f.get("kind", "OTHER")),
                    sent=bool(f.get("sent", False)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{file}: file {i} needs name, size_bytes (integer) and created (ISO UTC): {exc}"
            ) from None
        if out[-1].size_bytes <= 0 or out[-1].priority < 1:
            raise InputError(f"{file}: file {i}: size_bytes must be > 0 and priority ≥ 1")
    return out


def recorder_files(
    image_times_ns: Sequence[int],
    start_ns: int,
    end_ns: int,
    *,
    exposure_ms: Sequence[int] | None = None,
    mag_rate_hz: float = 1.0,
    mag_file_s: float = 3600.0,
    first_file_id: int = 1,
    image_priority: int = 1,
    mag_priority: int = 2,
) -> list[RecorderFile]:
    """Return the files the simulator will store: the images and hourly magnetometer files.

    Ids follow the simulator's one counter: a magnetometer file takes its id when it opens
    (at ``start_ns`` and at each close), an image when it is taken; an image is stored when
    its exposure ends, a magnetometer file when it closes (:func:`mag_file_bytes`; the
    simulator closes it at the step after the hour, so a few samples more). Check the ids
    with ``FILE_LIST`` before loading a stack of them.
    """
    events: list[tuple[int, int, str, int]] = []  # (time, order, kind, index)
    exp = list(exposure_ms) if exposure_ms is not None else [0] * len(image_times_ns)
    for k, t in enumerate(image_times_ns):
        events.append((int(t), 1, "image", k))
    period_ns = round(mag_file_s * _NS)
    if mag_rate_hz > 0:
        t = start_ns
        while t + period_ns <= end_ns:
            t += period_ns
            events.append((t, 0, "mag", 0))
    events.sort()
    next_id = first_file_id
    out = []
    mag_id: int | None = None
    if mag_rate_hz > 0:
        mag_id, next_id = next_id, next_id + 1
    for t, _, kind, k in events:
        if kind == "image":
            fid, next_id = next_id, next_id + 1
            out.append(
                RecorderFile(
                    f"IMG_{fid:06d}.pgm",
                    IMAGE_BYTES,
                    t + exp[k] * _MS,
                    image_priority,
                    fid,
                    "IMAGE",
                )
            )
        else:
            assert mag_id is not None
            out.append(
                RecorderFile(
                    f"MAG_{mag_id:06d}.bin", mag_file_bytes(mag_rate_hz, mag_file_s), t,
                    mag_priority, mag_id, "MAGNETOMETER",
                )
            )  # fmt: skip
            mag_id, next_id = next_id, next_id + 1
    out.sort(key=lambda f: f.created_ns)
    return out


# -- the model ----------------------------------------------------------------------------------


def deadlines_ns(
    files: Sequence[RecorderFile], capacity_bytes: int
) -> list[tuple[int | None, int | None]]:
    """Return, per file (oldest first), when it is overwritten and by which file (indices).

    ``(None, None)``: not overwritten by these files. A file larger than the store gives
    ``(created_ns, None)``: it is never stored.
    """
    out: list[tuple[int | None, int | None]] = [(None, None)] * len(files)
    held: list[int] = []
    used = 0
    for j, f in enumerate(files):
        if f.size_bytes > capacity_bytes:
            out[j] = (f.created_ns, None)
            continue
        while held and used + f.size_bytes > capacity_bytes:
            v = held.pop(0)
            used -= files[v].size_bytes
            out[v] = (f.created_ns, j)
        held.append(j)
        used += f.size_bytes
    return out


class _Clock:
    """Machine time: milliseconds of usable link before a UTC time (module doc)."""

    def __init__(self, contacts: Sequence[Contact], lead_ms: int) -> None:
        spans = [(-(-c.start_ns // _MS), c.end_ns // _MS) for c in contacts]  # ms since 1970
        self.index = [i for i, (a, b) in enumerate(spans) if b > a]
        self.spans = [spans[i] for i in self.index]
        self.lead_ms = lead_ms
        self.before: list[int] = []
        acc = 0
        for a, b in self.spans:
            self.before.append(acc)
            acc += b - a
        self.total = acc

    def heard(self, t_ms: int) -> int | None:
        """The first time from ``t_ms`` a command released ``lead`` earlier is heard, or None.

        A command is heard on board in a contact from ``lead`` after its start (released
        ``margin`` after the start, a light time on the way) until its end.
        """
        for a, b in self.spans:
            lo = max(t_ms, a + self.lead_ms)
            if lo < b:
                return lo
        return None

    def m(self, t_ms: int) -> int:
        acc = 0
        for a, b in self.spans:
            if t_ms <= a:
                return acc
            if t_ms < b:
                return acc + t_ms - a
            acc += b - a
        return acc

    def wall(self, m: int, *, start: bool) -> int:
        """UTC ms where machine time ``m`` is reached (``start``: the next span at a boundary)."""
        for k, (a, b) in enumerate(self.spans):
            lo = self.before[k]
            if (lo <= m < lo + b - a) if start else (lo < m <= lo + b - a):
                return a + m - lo
        return self.spans[-1][1] if self.spans else 0

    def pieces(self, m0: int, m1: int) -> list[tuple[int, int, int, int, int]]:
        """(span, wall start, wall end, machine start, machine end) of machine [m0, m1], ms."""
        out = []
        for k, (a, b) in enumerate(self.spans):
            lo, hi = self.before[k], self.before[k] + b - a
            x0, x1 = max(m0, lo), min(m1, hi)
            if x1 > x0:
                out.append((k, a + x0 - lo, a + x1 - lo, x0, x1))
        return out


def edf_schedule(
    release_ms: Sequence[int], dump_ms: Sequence[int], chosen: Sequence[int]
) -> list[tuple[int, int]]:
    """Return the oldest-first schedule of ``chosen`` (indices, in order), machine ms."""
    c = 0
    out = []
    for i in chosen:
        s = max(c, release_ms[i])
        c = s + dump_ms[i]
        out.append((s, c))
    return out


def _solve(
    release: list[int],
    dur: list[int],
    due: list[int],
    weights: list[tuple[int, list[int]]],
    time_limit_s: float,
) -> tuple[list[int], bool]:
    """Choose files by CP-SAT, lexicographically over ``weights`` [(tier, bytes per file)]."""
    from ortools.sat.python import cp_model

    n = len(release)
    horizon = max([*due, 0]) + 1
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{i}") for i in range(n)]
    c = [m.new_int_var(0, horizon + sum(dur), f"c{i}") for i in range(n)]
    for i in range(n):
        m.add(c[i] >= (c[i - 1] if i else 0) + dur[i] * x[i])
        m.add(c[i] >= (release[i] + dur[i]) * x[i])
        m.add(c[i] <= due[i]).only_enforce_if(x[i])
    optimal = True
    best: list[int] = []
    for _, w in weights:
        if not any(w):
            continue
        expr = sum(w[i] * x[i] for i in range(n))
        m.maximize(expr)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = time_limit_s
        solver.parameters.num_workers = 2
        status = solver.solve(m)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            raise InputError("the downlink model has no solution (the empty plan should fit)")
        optimal = optimal and status == cp_model.OPTIMAL
        best = [int(solver.value(v)) for v in x]
        m.clear_objective()  # type: ignore[no-untyped-call]  # ortools stubs
        m.add(expr >= round(solver.objective_value))
    return [i for i in range(n) if best and best[i]], optimal


def plan_downlink(
    files: Sequence[RecorderFile],
    contacts: Sequence[Contact],
    *,
    link: Link | None = None,
    capacity_bytes: int = 256 * 1024 * 1024,
    end_ns: int | None = None,
    time_limit_s: float = 20.0,
) -> DownlinkPlan:
    """Plan the downlink of ``files`` in ``contacts`` (see the module doc).

    Parameters
    ----------
    files
        Everything in the store and to come into it (``sent`` files take room only).
    contacts
        Contact windows (merged here).
    end_ns
        The plan's end (default: the end of the last contact): a file not down by then is
        *pending* unless it was overwritten before.
    """
    link = link or Link()
    if capacity_bytes <= 0:
        raise InputError(f"recorder capacity {capacity_bytes} bytes must be > 0")
    contacts = merge_contacts(contacts)
    files = sorted(files, key=lambda f: f.created_ns)
    if end_ns is None:
        end_ns = contacts[-1].end_ns if contacts else max((f.created_ns for f in files), default=0)
    end: int = end_ns
    clock = _Clock(contacts, math.ceil(link.lead_s * 1000))
    dl = deadlines_ns(files, capacity_bytes)
    end_m = clock.m(end // _MS)
    lead_ms = math.ceil(link.lead_s * 1000)
    heard: dict[int, int] = {}
    for i, f in enumerate(files):
        h = clock.heard(-(-f.created_ns // _MS) + lead_ms)
        if not f.sent and f.size_bytes <= capacity_bytes and h is not None and h * _MS < end:
            heard[i] = h
    todo = sorted(heard)
    release = [clock.m(heard[i]) for i in todo]
    dur = [link.dump_ms(files[i].size_bytes) for i in todo]
    over: list[int | None] = []
    for i in todo:
        t_over = dl[i][0]
        over.append(t_over if t_over is not None and t_over <= end else None)
    due = [end_m if t is None else min(end_m, clock.m(t // _MS)) for t in over]
    losable = [t is not None for t in over]
    everything = list(range(len(todo)))
    sched = edf_schedule(release, dur, everything)
    if all(e <= due[k] for k, (_, e) in zip(everything, sched, strict=True)):
        chosen, optimal, method = everything, True, "oldest first: every file fits"
    else:
        tiers = sorted({files[i].priority for i, ok in zip(todo, losable, strict=True) if ok})
        weights = [
            (
                p,
                [
                    files[i].size_bytes if ok and files[i].priority == p else 0
                    for i, ok in zip(todo, losable, strict=True)
                ],
            )
            for p in tiers
        ]
        weights.append(
            (0, [0 if ok else files[i].size_bytes for i, ok in zip(todo, losable, strict=True)])
        )
        chosen, optimal = _solve(release, dur, due, weights, time_limit_s)
        method = "CP-SAT (priority tiers, then bytes), oldest first"
        sched = edf_schedule(release, dur, chosen)
        if any(e > due[k] for k, (_, e) in zip(chosen, sched, strict=True)):
            raise InputError("internal: the solver's choice does not schedule (please report)")
    dumps = []
    for k, (s, e) in zip(chosen, sched, strict=True):
        i = todo[k]
        f = files[i]
        pieces = []
        data_end = s + link.link_bytes(f.size_bytes) * 8000.0 / link.rate_bps
        for span, a, b, x0, x1 in clock.pieces(s, e):
            nbytes = round(max(0.0, min(x1, data_end) - x0) * link.rate_bps / 8000.0)
            pieces.append((clock.index[span], a * _MS, b * _MS, nbytes))
        dumps.append(
            Dump(
                f,
                heard[i] * _MS - round(link.light_time_s * _NS),
                clock.wall(s, start=True) * _MS,
                clock.wall(e, start=False) * _MS,
                tuple(pieces),
                dl[i][0],
            )
        )
    kept = {todo[k] for k in chosen}
    lost, pending = [], []
    usable_s = clock.total / 1000.0
    for i, f in enumerate(files):
        if f.sent or i in kept:
            continue
        t_over, by = dl[i]
        if f.size_bytes > capacity_bytes:
            lost.append(
                LostFile(
                    f,
                    None,
                    f"capacity: {f.size_bytes} bytes is larger than the {capacity_bytes}-byte "
                    "store: never stored",
                )
            )
            continue
        if f.created_ns > end:
            pending.append(LostFile(f, t_over, "stored after the plan's end"))
            continue
        if i not in heard:
            why = (
                f"no contact after it is stored at {format_ns(f.created_ns, 0)} can hear a "
                "FILE_DUMP before the plan's end"
            )
            if t_over is not None and t_over <= end:
                lost.append(
                    LostFile(f, t_over, f"capacity: overwritten at {format_ns(t_over, 0)}; {why}")
                )
            else:
                pending.append(LostFile(f, t_over, f"still on board at the plan's end; {why}"))
            continue
        if t_over is not None and t_over <= end:
            k = todo.index(i)
            window_s = max(0, due[k] - release[k]) / 1000.0
            need_s = dur[k] / 1000.0
            who = files[by].name if by is not None else "?"
            if need_s > window_s:
                why = (
                    f"capacity: overwritten at {format_ns(t_over, 0)} by {who}; between its "
                    f"storage and then the contacts offer {window_s:.1f} s of link, it needs "
                    f"{need_s:.1f} s"
                )
            else:
                why = (
                    f"capacity: overwritten at {format_ns(t_over, 0)} by {who}; the link time "
                    f"before then ({window_s:.1f} s usable from its storage) goes to files of "
                    "the same or higher priority that save more bytes"
                )
            lost.append(LostFile(f, t_over, why))
        else:
            when = (
                f"overwritten at {format_ns(t_over, 0)}"
                if t_over is not None
                else "not overwritten by the files planned"
            )
            pending.append(
                LostFile(
                    f, t_over,
                    f"still on board at the plan's end ({when}); the {usable_s:.0f} s of link "
                    "in the plan's contacts went to other files",
                )
            )  # fmt: skip
    overwrites = [
        (t, files[i], files[j] if j is not None else None)
        for i, (t, j) in enumerate(dl)
        if t is not None and t <= end and files[i].size_bytes <= capacity_bytes
    ]
    return DownlinkPlan(
        files=list(files), contacts=contacts, link=link, capacity_bytes=capacity_bytes,
        dumps=dumps, lost=lost, pending=pending, optimal=optimal, method=method,
        end_ns=end, overwrites=overwrites,
    )  # fmt: skip


# -- outputs -----------------------------------------------------------------------------------


def _iso(t_ns: int) -> str:
    return format_ns(t_ns, 3)


def _fjson(f: RecorderFile) -> dict[str, Any]:
    return {
        "name": f.name,
        "file_id": f.file_id,
        "kind": f.kind,
        "size_bytes": f.size_bytes,
        "created": _iso(f.created_ns),
        "priority": f.priority,
    }


def plan_json(plan: DownlinkPlan) -> dict[str, Any]:
    """Return the plan as JSON: link, per contact its dumps, lost and pending files."""
    per: dict[int, list[dict[str, Any]]] = {}
    for d in plan.dumps:
        for k, a, b, nbytes in d.pieces:
            per.setdefault(k, []).append(
                {
                    "name": d.file.name,
                    "file_id": d.file.file_id,
                    "start": _iso(a),
                    "end": _iso(b),
                    "bytes": nbytes,
                }
            )
    link = plan.link
    return {
        "format": "falak-downlink-plan/1",
        "method": plan.method,
        "optimal": plan.optimal,
        "end": _iso(plan.end_ns),
        "recorder_bytes": plan.capacity_bytes,
        "link": {
            "rate_bps": link.rate_bps,
            "light_time_s": link.light_time_s,
            "margin_s": link.margin_s,
            "turnaround_s": link.turnaround,
            "cfdp_overhead": (
                f"{link.segment_overhead_bytes} bytes per {link.segment_bytes}-byte segment "
                f"+ {link.file_overhead_bytes} bytes per file"
            ),
        },
        "contacts": [
            {
                "start": _iso(c.start_ns),
                "end": _iso(c.end_ns),
                "station": c.station,
                "bytes": sum(p["bytes"] for p in per.get(k, [])),
                "dumps": per.get(k, []),
            }
            for k, c in enumerate(plan.contacts)
        ],
        "dumps": [
            {
                **_fjson(d.file),
                "start": _iso(d.start_ns),
                "end": _iso(d.end_ns),
                "overwritten": _iso(d.deadline_ns) if d.deadline_ns is not None else None,
            }
            for d in plan.dumps
        ],
        "lost": [
            {
                **_fjson(x.file),
                "overwritten": _iso(x.overwritten_ns) if x.overwritten_ns else None,
                "reason": x.reason,
            }
            for x in plan.lost
        ],
        "pending": [{**_fjson(x.file), "reason": x.reason} for x in plan.pending],
        "summary": {
            "files": sum(not f.sent for f in plan.files),
            "down": len(plan.dumps),
            "lost": len(plan.lost),
            "lost_bytes": sum(x.file.size_bytes for x in plan.lost),
            "pending": len(plan.pending),
        },
    }


def dump_stack(
    plan: DownlinkPlan,
    *,
    name: str | None = None,
    spacecraft: str | None = None,
    policy: str = "continue",
) -> dict[str, Any]:
    """Return the plan as a stack of ``FILE_DUMP`` steps, oldest first, each ``verify: none``.

    A step is released at the first time its command can be heard (``margin_s`` after the
    later of a contact's start and the file's storage, a light time before it reaches the
    orbiter in contact); the on-board queue then sends the files one after the other. The
    stack does not wait for a stage (``verify: none``): waiting for ``accepted`` would hold
    each next command for a round trip and could push it past a contact's end, and the
    planned times are the model's; every FILE_DUMP's MDB verifiers (``complete`` when the
    CFDP Finished PDU is back, a day's window) still run in the command history. No
    ``FILE_DELETE``: the store overwrites the oldest, sent files included (module doc).
    """
    if policy not in POLICIES:
        raise InputError(f"stack policy {policy!r} is not one of {', '.join(POLICIES)}")
    if not plan.dumps:
        raise InputError("the downlink plan sends no file: nothing to put in a stack")
    steps = []
    last = 0
    for d in plan.dumps:
        if d.file.file_id is None:
            raise InputError(
                f"{d.file.name} has no file_id: FILE_DUMP needs one (FILE_LIST gives it)"
            )
        at = max(d.command_ns, last)
        last = at
        steps.append(
            {
                "command": "FILE_DUMP",
                "arguments": {"FILE_ID": d.file.file_id},
                "at": format_ns(at, 0 if at % _NS == 0 else 3),
                "verify": "none",
                "comment": f"{d.file.name} ({d.file.size_bytes} bytes, priority "
                f"{d.file.priority}): down {_iso(d.start_ns)}..{_iso(d.end_ns)}",
            }
        )
    doc: dict[str, Any] = {
        "stack": name
        or "downlink-"
        + format_ns(plan.dumps[0].start_ns, 0)[:16].replace("-", "").replace(":", "").lower()
    }
    if spacecraft is not None:
        doc["spacecraft"] = spacecraft
    doc["description"] = (
        f"{len(steps)} files down in {len({p[0] for d in plan.dumps for p in d.pieces})} contacts, "
        f"{len(plan.lost)} lost, {len(plan.pending)} left on board ({plan.method})"
    )
    doc["on_failure"] = policy
    doc["steps"] = steps
    return doc


def plan_png(plan: DownlinkPlan, path: Path) -> None:
    """Draw the plan: unsent and stored bytes over time, contacts shaded, dumps, overwrites."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = min([*(f.created_ns for f in plan.files), *(c.start_ns for c in plan.contacts)], default=0)

    def h(t: int) -> float:
        return (t - t0) / 3.6e12

    down_at = {id(d.file): d.end_ns for d in plan.dumps}
    over_at = {id(f): t for t, f, _ in plan.overwrites}
    events = sorted(
        {t0, plan.end_ns, *(f.created_ns for f in plan.files), *down_at.values(), *over_at.values()}
    )
    stored, unsent = [], []
    for t in events:
        held = [f for f in plan.files if f.created_ns <= t and over_at.get(id(f), t + 1) > t]
        stored.append(sum(f.size_bytes for f in held) / 2**20)
        unsent.append(
            sum(f.size_bytes for f in held if not f.sent and down_at.get(id(f), t + 1) > t) / 2**20
        )
    fig, ax = plt.subplots(figsize=(11, 4.5), dpi=100)
    for c in plan.contacts:
        ax.axvspan(h(c.start_ns), h(c.end_ns), color="tab:green", alpha=0.15, lw=0)
    ax.step([h(t) for t in events], stored, where="post", color="0.5", label="stored (MiB)")
    ax.step(
        [h(t) for t in events], unsent, where="post", color="tab:blue", label="not yet down (MiB)"
    )
    ax.axhline(plan.capacity_bytes / 2**20, color="k", ls="--", lw=0.8, label="capacity")
    for d in plan.dumps:
        for _, a, b, _n in d.pieces:
            ax.plot(
                [h(a), h(b)],
                [-0.03 * plan.capacity_bytes / 2**20] * 2,
                color="tab:green",
                lw=6,
                solid_capstyle="butt",
            )
    lost = {id(x.file) for x in plan.lost}
    for t, f, _ in plan.overwrites:
        colour = "tab:red" if id(f) in lost else "0.6"
        ax.plot(h(t), plan.capacity_bytes / 2**20, marker="x", color=colour, ms=7)
    ax.plot([], [], "x", color="tab:red", label="unsent file overwritten (lost)")
    ax.plot([], [], "x", color="0.6", label="sent file overwritten")
    ax.set_xlabel(f"hours after {format_ns(t0, 0)}")
    ax.set_ylabel("MiB")
    ax.set_title(
        f"downlink plan: {len(plan.dumps)} files down, {len(plan.lost)} lost, "
        f"{len(plan.pending)} left on board (contacts shaded, dumps in green)"
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
