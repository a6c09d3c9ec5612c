"""Repair a plan after an event, changing as little as possible.

Events (YAML or dict, times ISO 8601 UTC). Repetitions count from 0 everywhere: in plan files,
in event files and in the ``E/S #K`` labels of the messages (``#0`` is the first).

- ``{type: session-failed, experiment: E, session: S, repetition: K}`` — the occurrence must be
  repeated: its activities leave the plan (kept under ``history``), later repetitions are
  renumbered down by one, which frees the last repetition for the repeat;
- ``{type: rack-down, rack: R, start: T0, end: T1}``;
- ``{type: cold-storage-outage, temperature_c: C, start: T0, end: T1}`` (no transfers into that
  store meanwhile);
- ``{type: crew-unavailable, crew: NAME, start: T0, end: T1}`` (``end`` defaults to a day later).

Events act from ``now`` on; the past is frozen. An occurrence whose activities have all ended by
``now`` is *done*: it stays exactly where it is, whatever the event (if the renumbering after a
failure leaves two done occurrences out of order, that is history, reported in ``past`` and
not repaired). Method: the event is applied to the campaign; the independent checker reads the
old plan against the changed campaign; the occurrences it names that are not done are
*touched* (those already under way are aborted and go to ``history``). Every other occurrence
is fixed in place; the solver places the touched ones again (hinted at their old place, each
step of displacement penalised) and may add sessions not yet planned, all starting at or after
``now``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from falak.errors import InputError
from falak.planning.campaign.checker import Violation, check_plan
from falak.planning.campaign.cpmodel import placements_of
from falak.planning.campaign.model import (
    Activity,
    Campaign,
    OccurrenceKey,
    Plan,
    Unavailability,
)
from falak.planning.campaign.orbit_env import Environment
from falak.planning.campaign.solver import SolveOptions, solve
from falak.utctime import parse_utc

__all__ = ["ReplanResult", "apply_event", "replan"]

EVENT_TYPES = ("session-failed", "rack-down", "cold-storage-outage", "crew-unavailable")


@dataclass
class ReplanResult:
    """The repaired plan, the campaign with the event applied, and what changed (sentences)."""

    plan: Plan
    campaign: Campaign
    changes: list[str]
    kept: int
    moved: int
    dropped: int
    added: int
    #: broken rules among done occurrences only (the past; left as it was)
    past: list[Violation] = dataclasses.field(default_factory=list)


def _time(ev: Mapping[str, Any], key: str, c: Campaign) -> int:
    v = ev.get(key)
    if v is None:
        raise InputError(f"event {ev.get('type')!r} needs '{key}' (ISO 8601 UTC)")
    t = v if isinstance(v, _dt.datetime) else parse_utc(str(v))
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return round(c.to_minute(t))


def apply_event(
    c: Campaign, event: Mapping[str, Any], now_min: int
) -> tuple[Campaign, OccurrenceKey | None]:
    """Return the campaign with the event applied from ``now_min`` on, and the failed occurrence."""
    if not isinstance(event, Mapping) or event.get("type") not in EVENT_TYPES:
        raise InputError(
            f"an event is a mapping with type one of {', '.join(EVENT_TYPES)}; got {event!r}"
        )
    kind = str(event["type"])
    if kind == "session-failed":
        en, sn = str(event.get("experiment")), str(event.get("session"))
        try:
            e = c.experiment(en)
            s = e.session(sn)
        except KeyError:
            raise InputError(f"session-failed: no session {en}/{sn} in the campaign") from None
        raw = event.get("repetition", 0)
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < s.repetitions:
            raise InputError(
                f"session-failed: repetition {raw!r} is out of range: {en}/{sn} has "
                f"repetitions 0..{s.repetitions - 1} (they count from 0, as in plan files)"
            )
        return c, (en, sn, raw)
    start = max(_time(event, "start", c), now_min)
    end = (
        _time(event, "end", c)
        if event.get("end") is not None or kind != "crew-unavailable"
        else _time(event, "start", c) + 1440
    )
    if end <= start:
        raise InputError(f"{kind}: the event is over before now ({end} <= {start} min)")
    u = Unavailability(start, end, kind)
    if kind == "rack-down":
        name = str(event.get("rack"))
        if name not in {r.name for r in c.racks}:
            raise InputError(f"rack-down: unknown rack {name!r}")
        racks = tuple(
            dataclasses.replace(r, down=(*r.down, u)) if r.name == name else r for r in c.racks
        )
        return dataclasses.replace(c, racks=racks), None
    if kind == "cold-storage-outage":
        temp = int(event.get("temperature_c", 0))
        if temp not in {s.temperature_c for s in c.cold_storage}:
            raise InputError(f"cold-storage-outage: no store at {temp} °C")
        stores = tuple(
            dataclasses.replace(s, outages=(*s.outages, u)) if s.temperature_c == temp else s
            for s in c.cold_storage
        )
        return dataclasses.replace(c, cold_storage=stores), None
    name = str(event.get("crew"))
    if name not in {p.name for p in c.crew}:
        raise InputError(f"crew-unavailable: unknown crew member {name!r}")
    crew = tuple(
        dataclasses.replace(p, unavailable=(*p.unavailable, u)) if p.name == name else p
        for p in c.crew
    )
    return dataclasses.replace(c, crew=crew), None


def _dependents(c: Campaign) -> dict[OccurrenceKey, list[OccurrenceKey]]:
    """Return, per occurrence, the occurrences whose constraints refer to it."""
    out: dict[OccurrenceKey, list[OccurrenceKey]] = {}
    for e, s, k in c.occurrences():
        key = (e.name, s.name, k)
        if k > 0:
            out.setdefault((e.name, s.name, k - 1), []).append(key)
        for pr in s.after:
            other = c.experiment(pr.after_experiment).session(pr.after_session)
            ref = (pr.after_experiment, pr.after_session, min(k, other.repetitions - 1))
            out.setdefault(ref, []).append(key)
    return out


def replan(
    c: Campaign,
    env: Environment,
    plan: Plan,
    now: _dt.datetime,
    event: Mapping[str, Any],
    *,
    time_limit_s: float = 30.0,
    deterministic: bool = False,
) -> ReplanResult:
    """Repair ``plan`` after ``event`` at time ``now`` (see the module docstring)."""
    now_min = c.to_minute(now)
    now_step = math.ceil(now_min / c.step_min - 1e-9)
    c2, failed = apply_event(c, event, math.floor(now_min))
    history: list[Activity] = []
    acts = list(plan.activities)
    if failed is not None:
        en, sn, k = failed
        if not any(a.key == failed for a in acts):
            planned = sorted({a.repetition for a in acts if (a.experiment, a.session) == (en, sn)})
            raise InputError(
                f"session-failed: {en}/{sn} #{k} is not in the plan (planned repetitions: "
                f"{', '.join(map(str, planned)) or 'none'}; they count from 0)"
            )
        history += [a for a in acts if a.key == failed]
        acts = [
            dataclasses.replace(a, repetition=a.repetition - 1)
            if (a.experiment, a.session) == (en, sn) and a.repetition > k
            else a
            for a in acts
            if a.key != failed
        ]
    old = Plan(plan.status, acts)
    last_end: dict[OccurrenceKey, float] = {}
    for act in acts:
        last_end[act.key] = max(last_end.get(act.key, -math.inf), act.end_min)
    done = {key for key, end in last_end.items() if end <= now_min + 1e-9}
    started = {a.key for a in acts if a.start_min < now_min} - done
    touched: set[OccurrenceKey] = set()
    aborted: set[OccurrenceKey] = set()
    past: list[Violation] = []
    for _ in range(10):
        current = Plan("", [a for a in acts if a.key not in aborted])
        hit: set[OccurrenceKey] = set()
        past = []
        for v in check_plan(c2, env, current, check_objective=False):
            live = set(v.occurrences) - done
            if v.occurrences and not live:
                past.append(v)
            hit |= live
        new_aborted = hit & started - aborted
        touched |= hit - started
        if not new_aborted:
            break
        aborted |= new_aborted
    # whatever depends on a touched or aborted occurrence (a later repetition, a successor by
    # precedence) is touched too: keeping it fixed could strand its predecessor
    deps = _dependents(c2)
    stack = list(touched | aborted)
    while stack:
        for d in deps.get(stack.pop(), ()):
            if d not in touched and d not in started and d not in done:
                touched.add(d)
                stack.append(d)
    history += [a for a in acts if a.key in aborted]
    keep_plan = Plan("", [a for a in acts if a.key not in aborted and a.key not in touched])
    fixed = placements_of(c2, keep_plan)
    old_places = placements_of(c2, old)
    hints = {k: old_places[k] for k in touched if k in old_places}
    new = solve(
        c2,
        env,
        SolveOptions(time_limit_s=time_limit_s, deterministic=deterministic),
        fixed=fixed,
        hints=hints,
        frozen_before=now_step,
        displacement_weight=1,
    )
    new_places = placements_of(c2, new)
    changes: list[str] = []
    if failed is not None:
        changes.append(
            f"{failed[0]}/{failed[1]} #{failed[2]} failed: it moves to the history, later "
            "repetitions are renumbered and the last one is free for the repeat"
        )
    for ab in sorted(aborted):
        changes.append(f"{ab[0]}/{ab[1]} #{ab[2]} was in progress and is aborted by the event")
    moved = dropped = added = 0
    step = c.step_min
    for key in sorted(set(old_places) | set(new_places)):
        a, b = old_places.get(key), new_places.get(key)
        lab = f"{key[0]}/{key[1]} #{key[2]}"
        if a is not None and b is None:
            dropped += 1
            changes.append(f"{lab} dropped from the plan")
        elif a is None and b is not None:
            added += 1
            changes.append(
                f"{lab} added at {c.to_datetime(b.start * step):%Y-%m-%dT%H:%MZ} on {b.rack}"
            )
        elif a is not None and b is not None and a != b:
            moved += 1
            changes.append(
                f"{lab} moved {c.to_datetime(a.start * step):%Y-%m-%dT%H:%MZ} {a.rack} "
                f"{'+'.join(a.crew)} -> {c.to_datetime(b.start * step):%Y-%m-%dT%H:%MZ} "
                f"{b.rack} {'+'.join(b.crew)}"
            )
    kept = sum(1 for q in old_places if q in new_places and old_places[q] == new_places[q])
    for v in past:
        changes.append(f"done before now, left as it was: {v}")
    if not changes:
        changes.append("nothing had to change")
    new.extra["history"] = [
        {
            "experiment": a.experiment,
            "session": a.session,
            "repetition": a.repetition,
            "kind": a.kind,
            "start": c.to_datetime(a.start_min).isoformat().replace("+00:00", "Z"),
            "end": c.to_datetime(a.end_min).isoformat().replace("+00:00", "Z"),
        }
        for a in history
    ]
    new.extra["changes"] = changes
    return ReplanResult(new, c2, changes, kept, moved, dropped, added, past)
