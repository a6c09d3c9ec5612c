"""The orbiter's downlink plan, checked by an independent replay of the file store and the link.

:func:`replay` below is written from the ORBITER simulator's rules (``falak/sim/orbiter.py``:
``FileStore.add`` overwrites the oldest files, never the one being sent; ``_downlink`` sends
the queued files one after the other only in contact; ``missions/orbiter/README.md``) and
shares no code with :mod:`falak.planning.orbiter.downlink`: it takes the stack's FILE_DUMP
commands (file id, release time), delivers each to the orbiter a light time later if the
orbiter is in contact then, and steps events in float seconds. The planner's plans must
replay to exactly what they claim (files down, files lost), never dump outside a contact or
after an overwrite, and — on small random instances — lose no more bytes of any priority
than the best of *every* ordered choice of files, replayed the same way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from falak.planning.orbiter.downlink import (
    IMAGE_BYTES,
    Contact,
    Link,
    RecorderFile,
    dump_stack,
    mag_file_bytes,
    plan_downlink,
    plan_json,
    recorder_files,
)
from falak.utctime import parse_ns

S = 1_000_000_000

# -- the independent replay ------------------------------------------------------------------


@dataclass
class _F:
    fid: int
    size: int
    created: float
    priority: int
    state: str = "future"  # future, stored, sending, sent, overwritten


def _cfdp_link_bytes(size: int) -> int:
    # falak's CFDP entity, measured in test_cfdp_overhead_is_what_the_planner_assumes
    return size + 20 * math.ceil(size / 1024) + 78


def replay(
    files: Sequence[tuple[int, int, float, int]],
    contacts: Sequence[tuple[float, float]],
    commands: Sequence[tuple[float, int]],
    *,
    capacity: int,
    rate_bps: float,
    light_time_s: float,
    turnaround_s: float,
    end_s: float,
    protect: bool = True,
) -> dict[str, object]:
    """Fly the store and the link: files (id, size, created s, priority), FILE_DUMPs (at s, id).

    Returns the ids delivered, the ids overwritten never sent (by the end), the dumps' link
    intervals, and problems (a command not heard, a dump of a file overwritten first).
    """
    fs = {fid: _F(fid, size, created, prio) for fid, size, created, prio in files}
    order = sorted(fs.values(), key=lambda f: (f.created, f.fid))
    store: list[_F] = []
    queue: list[int] = []
    problems: list[str] = []
    delivered: list[int] = []
    intervals: list[tuple[int, float, float]] = []
    arrivals = sorted((at + light_time_s, fid) for at, fid in commands)

    def in_contact(t: float) -> bool:
        return any(a <= t < b for a, b in contacts)

    def next_contact_time(t: float) -> float | None:
        """The next time >= t inside a contact."""
        for a, b in sorted(contacts):
            if t < b:
                return max(t, a)
        return None

    sending: _F | None = None
    left_s = 0.0  # link seconds left on the file being sent (data, then turnaround)
    started = 0.0
    t = min([0.0, *(f.created for f in order), *(a for a, _ in contacts)])
    events_store = list(order)
    while True:
        # the next event: a file stored, a command arriving, the current dump ending
        cands = []
        if events_store:
            cands.append(events_store[0].created)
        if arrivals:
            cands.append(arrivals[0][0])
        if sending is not None:
            # link time runs only in contact: walk the contacts
            tt, need = t, left_s
            done_at = None
            for a, b in sorted(contacts):
                if b <= tt:
                    continue
                lo = max(a, tt)
                if lo + need <= b:
                    done_at = lo + need
                    break
                need -= b - lo
            if done_at is not None:
                cands.append(done_at)
        elif queue:
            nc = next_contact_time(t)
            if nc is not None and nc > t:
                cands.append(nc)
        nxt = min(cands) if cands else None
        if nxt is None or nxt > end_s:
            break
        # link time used between t and nxt
        if sending is not None:
            used = sum(max(0.0, min(b, nxt) - max(a, t)) for a, b in contacts)
            left_s -= used
        t = nxt
        if sending is not None and left_s <= 1e-9:
            sending.state = "sent"
            delivered.append(sending.fid)
            intervals.append((sending.fid, started, t))
            sending = None
        while arrivals and arrivals[0][0] <= t:
            at, fid = arrivals.pop(0)
            if not in_contact(at):
                problems.append(f"FILE_DUMP {fid} reaches the orbiter at {at} out of contact")
            elif fs[fid].state not in ("stored",):
                problems.append(f"FILE_DUMP {fid} at {at}: file is {fs[fid].state}")
            else:
                queue.append(fid)
        while events_store and events_store[0].created <= t:
            f = events_store.pop(0)
            if f.size > capacity:
                f.state = "overwritten"
                continue
            while store and sum(x.size for x in store) + f.size > capacity:
                victims = [x for x in store if not (protect and x is sending)]
                if not victims:
                    break
                v = victims[0]
                store.remove(v)
                if v is sending:
                    problems.append(f"file {v.fid} overwritten while being sent")
                    sending = None
                if v.state != "sent":
                    v.state = "overwritten"
                if v.fid in queue:
                    problems.append(f"file {v.fid} overwritten before its queued dump")
                    queue.remove(v.fid)
            store.append(f)
            f.state = "stored"
        if sending is None and queue and in_contact(t):
            fid = queue.pop(0)
            sending = fs[fid]
            sending.state = "sending"
            started = t
            left_s = _cfdp_link_bytes(sending.size) * 8 / rate_bps + turnaround_s
    overwritten = [f.fid for f in order if f.state == "overwritten"]
    return {
        "delivered": delivered,
        "overwritten": overwritten,
        "intervals": intervals,
        "problems": problems,
    }


# -- instances ---------------------------------------------------------------------------------

LT, MARGIN, TURN = 0.5, 0.5, 2.0
RATE = 8000.0  # one byte per ms: every duration of the instances is whole milliseconds


def _instance(sizes, gaps, prios, contacts):  # type: ignore[no-untyped-def]
    t = 0
    files = []
    for k, (size, gap, prio) in enumerate(zip(sizes, gaps, prios, strict=False)):
        t += gap
        files.append(RecorderFile(f"F{k + 1}", size, t * S, prio, k + 1))
    return files, [Contact(a * S, b * S, "X") for a, b in contacts]


def _link() -> Link:
    return Link(rate_bps=RATE, light_time_s=LT, margin_s=MARGIN, turnaround_s=TURN)


def _replay_plan(files, contacts, plan, capacity, end_s, protect=True):  # type: ignore[no-untyped-def]
    doc = dump_stack(plan)
    cmds = [(parse_ns(s["at"]) / S, s["arguments"]["FILE_ID"]) for s in doc["steps"]]
    return replay(
        [(f.file_id, f.size_bytes, f.created_ns / S, f.priority) for f in files],
        [(c.start_ns / S, c.end_ns / S) for c in contacts],
        cmds,
        capacity=capacity,
        rate_bps=RATE,
        light_time_s=LT,
        turnaround_s=TURN,
        end_s=end_s,
        protect=protect,
    )


def _best_by_brute_force(files, contacts, capacity, end_s):  # type: ignore[no-untyped-def]
    """Lexicographic best (lost bytes per priority, highest first) over every ordered subset."""
    prios = sorted({f.priority for f in files})
    spans = [(c.start_ns / S, c.end_ns / S) for c in contacts]
    best = None
    ids = [f.file_id for f in files]
    by_id = {f.file_id: f for f in files}
    for r in range(len(ids) + 1):
        for sub in itertools.combinations(ids, r):
            for perm in itertools.permutations(sub):
                # each command at the earliest time it can be heard: file stored, in contact,
                # not before the command before it
                cmds, last, ok = [], 0.0, True
                for fid in perm:
                    t0 = max(last, by_id[fid].created_ns / S + MARGIN)
                    when = next(
                        (max(t0, a + MARGIN) for a, b in spans if max(t0, a + MARGIN) + LT < b),
                        None,
                    )
                    if when is None:
                        ok = False
                        break
                    cmds.append((when, fid))
                    last = when
                if not ok:
                    continue
                out = replay(
                    [(f.file_id, f.size_bytes, f.created_ns / S, f.priority) for f in files],
                    spans, cmds, capacity=capacity, rate_bps=RATE, light_time_s=LT,
                    turnaround_s=TURN, end_s=end_s, protect=False,
                )  # fmt: skip
                lost = set(out["overwritten"])  # type: ignore[arg-type]
                key = tuple(
                    sum(by_id[i].size_bytes for i in lost if by_id[i].priority == p) for p in prios
                )
                if best is None or key < best:
                    best = key
    return best


def _lost_key(plan, files):  # type: ignore[no-untyped-def]
    prios = sorted({f.priority for f in files})
    return tuple(sum(x.file.size_bytes for x in plan.lost if x.file.priority == p) for p in prios)


# -- tests -------------------------------------------------------------------------------------


def test_cfdp_overhead_is_what_the_planner_assumes() -> None:
    # falak's own entity (falak/cfdp, CCSDS 727.0-B-5) sends an image and a magnetometer file
    # as the simulator does (1024-byte segments); each PDU goes in a 6-byte-header packet
    from falak.cfdp import Entity

    for size in (IMAGE_BYTES, mag_file_bytes(1.0), 1, 1024, 1025):
        out: list[bytes] = []
        e = Entity(2, out.append, now=lambda: 0.0)
        e.put(1, b"x" * size, "IMG_000002.pgm", cls=2, segment_size=1024)
        for _ in range(size // 1024 + 10):
            e.tick()
        assert sum(len(p) + 6 for p in out) == Link().link_bytes(size) == _cfdp_link_bytes(size)


def test_file_sizes_are_the_simulators() -> None:
    # falak/sim/orbiter_instruments.py: pgm_bytes of a 512 x 512 frame; mag_file_bytes of a
    # closed hour at 1 Hz (3601 samples: one on each end of the hour)
    import numpy as np

    from falak.sim import orbiter_instruments as oi

    assert len(oi.pgm_bytes(np.zeros((512, 512), np.uint8))) == IMAGE_BYTES == 262159
    t = np.arange(3601, dtype=np.int64) * S
    assert len(oi.mag_file_bytes(1.0, t, np.zeros((3601, 3)))) == mag_file_bytes(1.0) == 72036


def test_everything_fits_oldest_first_and_replays() -> None:
    files, contacts = _instance([1000] * 6, [10] * 6, [1] * 6, [(15, 45), (60, 100)])
    plan = plan_downlink(files, contacts, link=_link(), capacity_bytes=10_000)
    assert plan.method.startswith("oldest first")
    assert [d.file.name for d in plan.dumps] == [f"F{k}" for k in range(1, 7)]
    assert plan.lost == []
    assert plan.pending == []
    out = _replay_plan(files, contacts, plan, 10_000, 200.0)
    assert out["problems"] == []
    assert out["delivered"] == [1, 2, 3, 4, 5, 6]
    for fid, a, b in out["intervals"]:  # type: ignore[attr-defined]
        d = next(d for d in plan.dumps if d.file.file_id == fid)
        # the replay starts the dump when the command arrives; the plan says the same
        assert a == pytest.approx(d.start_ns / S, abs=1e-6)
        assert b == pytest.approx(d.end_ns / S, abs=1e-6)


def test_overload_loses_the_files_it_must_and_says_why() -> None:
    # three 3000-byte files 10 s apart in a 5000-byte store, one contact too short for two
    # dumps (3.098 s + 2 s turnaround each): the second file overwrites the first at t=20 s
    files, contacts = _instance([3000, 3000, 3000], [10, 10, 10], [2, 1, 2], [(21, 28)])
    plan = plan_downlink(files, contacts, link=_link(), capacity_bytes=5000, end_ns=40 * S)
    assert [d.file.name for d in plan.dumps] == ["F2"]  # the priority-1 file
    assert [x.file.name for x in plan.lost] == ["F1"]
    assert [x.file.name for x in plan.pending] == ["F3"]  # nothing comes after it
    assert plan.lost[0].reason == (
        "capacity: overwritten at 1970-01-01T00:00:20Z by F2; between its storage and then the "
        "contacts offer 0.0 s of link, it needs 5.1 s"
    )
    assert plan.pending[0].reason.startswith("still on board at the plan's end; no contact after")
    doc = plan_json(plan)
    assert doc["summary"] == {"files": 3, "down": 1, "lost": 1, "lost_bytes": 3000, "pending": 1}
    out = _replay_plan(files, contacts, plan, 5000, 40.0)
    assert out["problems"] == []
    assert out["delivered"] == [2]
    assert out["overwritten"] == [1]


def test_the_stack_loads_against_the_orbiter_mdb() -> None:
    from falak.commanding.stack import parse_stack
    from falak.mdb import load
    from falak.planning.stackdoc import stack_yaml
    from falak.sim.orbiter import MDB_PATH

    files, contacts = _instance([1000] * 4, [10] * 4, [1] * 4, [(15, 60)])
    plan = plan_downlink(files, contacts, link=_link(), capacity_bytes=10_000)
    mdb = load(MDB_PATH)
    stack = parse_stack(stack_yaml(dump_stack(plan, spacecraft=mdb.root.name)), mdb, file="dl.yaml")
    assert [s.command.split("/")[-1] for s in stack.steps] == ["FILE_DUMP"] * 4
    assert [s.arguments["FILE_ID"] for s in stack.steps] == [1, 2, 3, 4]
    assert stack.on_failure == "continue"


def test_recorder_files_follow_the_simulators_id_counter() -> None:
    # MAG file 1 opens at the start; images take the next ids as they are taken; the hourly
    # close of MAG 1 opens MAG (next id)
    t0 = parse_ns("2028-03-01T00:00:00Z")
    files = recorder_files([t0 + 600 * S, t0 + 4000 * S], t0, t0 + 7200 * S, exposure_ms=[100, 100])
    assert [(f.name, f.created_ns - t0) for f in files] == [
        ("IMG_000002.pgm", 600 * S + 100_000_000),
        ("MAG_000001.bin", 3600 * S),
        ("IMG_000004.pgm", 4000 * S + 100_000_000),
        ("MAG_000003.bin", 7200 * S),
    ]
    assert [f.priority for f in files] == [1, 2, 1, 2]


@st.composite
def _small(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(2, 5))
    sizes = draw(st.lists(st.sampled_from([500, 1000, 2000, 3000]), min_size=n, max_size=n))
    gaps = draw(st.lists(st.integers(1, 15), min_size=n, max_size=n))
    prios = draw(st.lists(st.integers(1, 2), min_size=n, max_size=n))
    k = draw(st.integers(1, 3))
    edges = sorted(draw(st.lists(st.integers(0, 80), min_size=2 * k, max_size=2 * k, unique=True)))
    contacts = [(edges[2 * i], edges[2 * i + 1]) for i in range(k)]
    capacity = draw(st.sampled_from([3000, 4000, 6000]))
    return sizes, gaps, prios, contacts, capacity


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_small())
def test_plans_replay_and_lose_no_more_than_the_best_plan(case) -> None:  # type: ignore[no-untyped-def]
    sizes, gaps, prios, contacts_s, capacity = case
    files, contacts = _instance(sizes, gaps, prios, contacts_s)
    end_s = 100.0
    plan = plan_downlink(files, contacts, link=_link(), capacity_bytes=capacity, end_ns=100 * S)
    assert plan.optimal
    if plan.dumps:
        out = _replay_plan(files, contacts, plan, capacity, end_s)
        # dumps only inside contacts, at the rate, no file dumped after it was overwritten
        assert out["problems"] == []
        assert sorted(out["delivered"]) == sorted(d.file.file_id for d in plan.dumps)  # type: ignore[arg-type]
        for fid, a, b in out["intervals"]:  # type: ignore[attr-defined]
            f = next(f for f in files if f.file_id == fid)
            inside = sum(max(0.0, min(y, b) - max(x, a)) for x, y in contacts_s)
            assert inside == pytest.approx(_cfdp_link_bytes(f.size_bytes) * 8 / RATE + TURN)
        lost_replayed = set(out["overwritten"])  # type: ignore[arg-type]
    else:
        lost_replayed = set(
            replay(
                [(f.file_id, f.size_bytes, f.created_ns / S, f.priority) for f in files],
                contacts_s, [], capacity=capacity, rate_bps=RATE, light_time_s=LT,
                turnaround_s=TURN, end_s=end_s,
            )["overwritten"]  # type: ignore[arg-type]
        )  # fmt: skip
    assert lost_replayed == {x.file.file_id for x in plan.lost}
    # nothing lost that a feasible plan could have saved: the best ordered choice loses no
    # fewer bytes of priority 1, then 2
    assert _lost_key(plan, files) == _best_by_brute_force(files, contacts, capacity, end_s)


def test_a_south_pole_day_fits_the_default_store() -> None:
    # 24 hourly magnetometer files and 20 images over a day, 128 kbit/s in two 2 h contacts:
    # 6.8 MB of files, far below 256 MiB: nothing is lost, everything but the last
    # magnetometer file (closed as the last contact ends) goes down
    t0 = parse_ns("2028-03-01T00:00:00Z")
    images = [t0 + (1800 + 3600 * k) * S for k in range(20)]
    files = recorder_files(images, t0, t0 + 86400 * S, exposure_ms=[180] * 20)
    contacts = [
        Contact(t0 + 10 * 3600 * S, t0 + 12 * 3600 * S),
        Contact(t0 + 22 * 3600 * S, t0 + 24 * 3600 * S),
    ]
    plan = plan_downlink(files, contacts)
    assert plan.lost == []
    assert len(plan.dumps) == len(files) - 1 == 43
    assert [x.file.name for x in plan.pending] == ["MAG_000044.bin"]
    assert plan.pending[0].reason == (
        "still on board at the plan's end; no contact after it is stored at "
        "2028-03-02T00:00:00Z can hear a FILE_DUMP before the plan's end"
    )
