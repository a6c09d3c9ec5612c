"""Independent plan checker: reads the campaign rules afresh and lists every violation.

This module shares no constraint code with :mod:`falak.planning.campaign.solver`: it works in
minutes on the activities as written in a plan file (not in solver steps), uses the exact
(unrounded) eclipse and contact windows, and sweeps resources over time instead of modelling
them. It is the referee for any plan, whoever made it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from falak.planning.campaign.model import KINDS, Activity, Campaign, OccurrenceKey, Plan, Session
from falak.planning.campaign.orbit_env import Environment

__all__ = ["Violation", "check_plan", "science_value"]

_CREW_KINDS = ("prep", "run", "stow")
_RACK_KINDS = ("prep", "run", "unattended", "stow")
_EPS = 1e-6


@dataclass(frozen=True)
class Violation:
    """One broken rule: its name, a sentence, and the occurrences involved."""

    rule: str
    message: str
    occurrences: tuple[OccurrenceKey, ...] = ()

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def _label(key: OccurrenceKey) -> str:
    return f"{key[0]}/{key[1]} #{key[2]}"  # repetitions count from 0, as in plan files


def _hm(c: Campaign, minute: float) -> str:
    return c.to_datetime(minute).strftime("%Y-%m-%dT%H:%MZ")


def science_value(c: Campaign, plan: Plan) -> float:
    """Return the priority-weighted science of a plan (sum of priorities of sessions done)."""
    keys = {a.key for a in plan.activities}
    prio = {e.name: e.priority for e in c.experiments}
    return float(sum(prio.get(k[0], 0) for k in keys))


def _inside_any(a: float, b: float, windows: tuple[tuple[float, float], ...]) -> bool:
    return any(w0 <= a + _EPS and b <= w1 + _EPS for w0, w1 in windows)


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 < b1 - _EPS and b0 < a1 - _EPS


def check_plan(
    c: Campaign, env: Environment, plan: Plan, *, check_objective: bool = True
) -> list[Violation]:
    """Validate a plan against every rule of its campaign; return all violations (none = valid)."""
    out: list[Violation] = []
    sessions: dict[tuple[str, str], tuple[int, Session]] = {
        (e.name, s.name): (e.priority, s) for e in c.experiments for s in e.sessions
    }
    crew_by_name = {p.name: p for p in c.crew}
    rack_by_name = {r.name: r for r in c.racks}
    occ: dict[OccurrenceKey, dict[str, list[Activity]]] = defaultdict(lambda: defaultdict(list))

    # --- every activity on its own
    for a in plan.activities:
        lab = _label(a.key)
        if (a.experiment, a.session) not in sessions:
            out.append(Violation("unknown", f"{a.experiment}/{a.session} is not in the campaign"))
            continue
        s = sessions[a.experiment, a.session][1]
        if not 0 <= a.repetition < s.repetitions:
            out.append(
                Violation(
                    "repetitions",
                    f"{lab}: the session has only {s.repetitions} repetition(s)",
                    (a.key,),
                )
            )
        if a.kind not in KINDS:
            out.append(Violation("unknown", f"{lab}: unknown activity kind {a.kind!r}", (a.key,)))
            continue
        if a.end_min <= a.start_min:
            out.append(Violation("duration", f"{lab} {a.kind}: ends before it starts", (a.key,)))
        if a.start_min % c.step_min or a.end_min % c.step_min:
            out.append(
                Violation(
                    "plan step",
                    f"{lab} {a.kind}: {_hm(c, a.start_min)} is off the {c.step_min}-min grid",
                    (a.key,),
                )
            )
        if a.start_min < 0 or a.end_min > c.horizon_min:
            out.append(Violation("horizon", f"{lab} {a.kind}: outside the campaign", (a.key,)))
        for who in a.crew:
            if who not in crew_by_name:
                out.append(Violation("unknown", f"{lab}: unknown crew member {who!r}", (a.key,)))
        if a.rack is not None and a.rack not in rack_by_name:
            out.append(Violation("unknown", f"{lab}: unknown rack {a.rack!r}", (a.key,)))
        occ[a.key][a.kind].append(a)

    # --- structure of each occurrence
    spans: dict[OccurrenceKey, tuple[int, int]] = {}  # rack chain [start, end)
    ready: dict[OccurrenceKey, int] = {}  # data ready (end of unattended part)
    for key, kinds in occ.items():
        if (key[0], key[1]) not in sessions:
            continue
        s = sessions[key[0], key[1]][1]
        lab = _label(key)
        expected = {
            "prep": s.prep_min > 0,
            "run": True,
            "unattended": s.unattended_max_min > 0,
            "stow": s.stow_min > 0,
            "sample-transfer": s.sample is not None,
            "downlink": s.data_mb > 0,
        }
        bad = False
        for kind, need in expected.items():
            n = len(kinds.get(kind, []))
            if kind == "unattended" and s.unattended_min == 0 and n == 0:
                continue
            if n != int(need):
                out.append(
                    Violation(
                        "session structure",
                        f"{lab}: expected {int(need)} {kind} activit{'y' if need else 'ies'}, "
                        f"found {n}",
                        (key,),
                    )
                )
                bad = True
        if bad:
            continue
        chain = [kinds[k][0] for k in _RACK_KINDS if kinds.get(k)]
        want = {"prep": s.prep_min, "run": s.run_min, "stow": s.stow_min}
        for a in chain:
            d = a.end_min - a.start_min
            if a.kind in want and d != want[a.kind]:
                out.append(
                    Violation(
                        "duration",
                        f"{lab}: {a.kind} lasts {d} min, the session says {want[a.kind]}",
                        (key,),
                    )
                )
            if a.kind == "unattended" and not s.unattended_min <= d <= s.unattended_max_min:
                out.append(
                    Violation(
                        "duration",
                        f"{lab}: unattended part lasts {d} min, allowed "
                        f"{s.unattended_min}-{s.unattended_max_min}",
                        (key,),
                    )
                )
            if a.rack is None or a.rack not in s.racks:
                out.append(
                    Violation(
                        "rack",
                        f"{lab}: {a.kind} on rack {a.rack}, allowed {', '.join(s.racks)}",
                        (key,),
                    )
                )
        for a, b in pairwise(chain):
            if a.end_min != b.start_min or a.rack != b.rack:
                out.append(
                    Violation(
                        "session structure",
                        f"{lab}: {a.kind} and {b.kind} must follow each other on one rack",
                        (key,),
                    )
                )
        tended = [kinds[k][0] for k in _CREW_KINDS if kinds.get(k)]
        crews = {tuple(sorted(a.crew)) for a in tended}
        if len(crews) != 1:
            out.append(Violation("crew", f"{lab}: crew changes within the session", (key,)))
        for a in tended:
            if len(set(a.crew)) != s.crew:
                out.append(
                    Violation(
                        "crew",
                        f"{lab}: {a.kind} has {len(set(a.crew))} crew, needs {s.crew}",
                        (key,),
                    )
                )
            if s.qualification is not None:
                for who in a.crew:
                    p = crew_by_name.get(who)
                    if p is not None and s.qualification not in p.qualifications:
                        out.append(
                            Violation(
                                "qualification",
                                f"{lab}: {who} is not qualified '{s.qualification}'",
                                (key,),
                            )
                        )
        for kind in ("unattended", "downlink"):
            for a in kinds.get(kind, []):
                if a.crew:
                    out.append(Violation("crew", f"{lab}: {kind} has crew listed", (key,)))
        for kind in ("sample-transfer", "downlink"):
            for a in kinds.get(kind, []):
                if a.rack is not None:
                    out.append(Violation("rack", f"{lab}: {kind} occupies a rack", (key,)))
        spans[key] = (chain[0].start_min, chain[-1].end_min)
        run = kinds["run"][0]
        ready[key] = kinds["unattended"][0].end_min if kinds.get("unattended") else run.end_min
        # time window
        if s.window_min is not None:
            w0, w1 = s.window_min
            if spans[key][0] < w0 or spans[key][1] > w1:
                out.append(
                    Violation(
                        "window",
                        f"{lab}: {_hm(c, spans[key][0])}-{_hm(c, spans[key][1])} is outside its "
                        f"window {_hm(c, w0)}-{_hm(c, w1)}",
                        (key,),
                    )
                )
        # ground support: a whole pass over Pakistan during the run
        if s.ground_support and not any(
            run.start_min <= a0 + _EPS and b0 <= run.end_min + _EPS
            for a0, b0 in env.support_passes_min
        ):
            out.append(
                Violation(
                    "ground support",
                    f"{lab}: no whole pass over Pakistan during the run "
                    f"{_hm(c, run.start_min)}-{_hm(c, run.end_min)}",
                    (key,),
                )
            )
        # downlink
        for a in kinds.get("downlink", []):
            need_min = s.data_mb * 8.0 / c.downlink_rate_mbps / 60.0
            if a.end_min - a.start_min + _EPS < need_min:
                out.append(
                    Violation(
                        "downlink",
                        f"{lab}: downlink of {a.end_min - a.start_min} min is too short for "
                        f"{s.data_mb:g} MB at {c.downlink_rate_mbps:g} Mbit/s",
                        (key,),
                    )
                )
            if not _inside_any(a.start_min, a.end_min, env.contacts_min):
                out.append(
                    Violation(
                        "downlink",
                        f"{lab}: downlink {_hm(c, a.start_min)} is outside every contact window",
                        (key,),
                    )
                )
            if a.start_min < ready[key] or a.end_min > ready[key] + c.downlink_within_min:
                out.append(
                    Violation(
                        "downlink",
                        f"{lab}: downlink must lie within {c.downlink_within_min} min after the "
                        "data are ready",
                        (key,),
                    )
                )
        # sample transfer
        for a in kinds.get("sample-transfer", []):
            assert s.sample is not None
            if a.end_min - a.start_min != s.sample.transfer_min:
                out.append(Violation("duration", f"{lab}: sample transfer length is wrong", (key,)))
            if not a.crew:
                out.append(Violation("crew", f"{lab}: sample transfer needs crew", (key,)))
            if a.start_min < spans[key][1] or a.start_min > spans[key][1] + s.sample.within_min:
                out.append(
                    Violation(
                        "sample transfer",
                        f"{lab}: sample must reach cold stowage within {s.sample.within_min} "
                        "min after the session",
                        (key,),
                    )
                )
            if c.return_departure_min is not None and a.end_min > c.return_departure_min:
                out.append(
                    Violation(
                        "return vehicle",
                        f"{lab}: sample stowed after the return vehicle leaves "
                        f"{_hm(c, c.return_departure_min)}",
                        (key,),
                    )
                )
            for store in c.cold_storage:
                if store.temperature_c != s.sample.temperature_c:
                    continue
                for o in store.outages:
                    if _overlaps(a.start_min, a.end_min, o.start_min, o.end_min):
                        out.append(
                            Violation(
                                "cold storage outage",
                                f"{lab}: transfer into the {store.temperature_c} °C store "
                                "during its outage",
                                (key,),
                            )
                        )

    # --- repetitions, precedence, required
    present = set(spans)
    for e in c.experiments:
        for s in e.sessions:
            for k in range(s.repetitions):
                key = (e.name, s.name, k)
                if s.required and key not in present:
                    out.append(Violation("required", f"{_label(key)} is required but not planned"))
                if key not in present:
                    continue
                if k > 0:
                    prev = (e.name, s.name, k - 1)
                    if prev not in present or spans[key][0] < spans[prev][1]:
                        out.append(
                            Violation(
                                "repetitions",
                                f"{_label(key)} must come after {_label(prev)}",
                                (key,),
                            )
                        )
                for pr in s.after:
                    other = sessions[pr.after_experiment, pr.after_session][1]
                    ref = (pr.after_experiment, pr.after_session, min(k, other.repetitions - 1))
                    if ref not in present:
                        out.append(
                            Violation(
                                "precedence",
                                f"{_label(key)} needs {_label(ref)} first, which is not planned",
                                (key,),
                            )
                        )
                        continue
                    lag = spans[key][0] - spans[ref][1]
                    hi = pr.max_lag_min if pr.max_lag_min is not None else np.inf
                    if not pr.min_lag_min <= lag <= hi:
                        out.append(
                            Violation(
                                "precedence",
                                f"{_label(key)} starts {lag} min after {_label(ref)} ends; "
                                f"allowed {pr.min_lag_min}-{hi} min",
                                (key, ref),
                            )
                        )

    # --- crew: no double booking, work periods, aboard, unavailable
    by_crew: dict[str, list[Activity]] = defaultdict(list)
    for a in plan.activities:
        for who in set(a.crew):
            by_crew[who].append(a)
    work = c.work_periods_min()
    for who, acts in by_crew.items():
        p = crew_by_name.get(who)
        if p is None:
            continue
        acts.sort(key=lambda a: a.start_min)
        for a, b in pairwise(acts):
            if b.start_min < a.end_min:
                out.append(
                    Violation(
                        "crew overlap",
                        f"{who} is booked twice at {_hm(c, b.start_min)}: {_label(a.key)} "
                        f"{a.kind} and {_label(b.key)} {b.kind}",
                        (a.key, b.key),
                    )
                )
        for a in acts:
            if not any(w0 <= a.start_min and a.end_min <= w1 for w0, w1 in work):
                out.append(
                    Violation(
                        "crew day",
                        f"{who}: {_label(a.key)} {a.kind} {_hm(c, a.start_min)}-"
                        f"{_hm(c, a.end_min)} is outside the work periods",
                        (a.key,),
                    )
                )
            if p.aboard_min is not None and not (
                p.aboard_min[0] <= a.start_min and a.end_min <= p.aboard_min[1]
            ):
                out.append(
                    Violation(
                        "aboard",
                        f"{who} is not aboard for {_label(a.key)} at {_hm(c, a.start_min)}",
                        (a.key,),
                    )
                )
            for u in p.unavailable:
                if _overlaps(a.start_min, a.end_min, u.start_min, u.end_min):
                    out.append(
                        Violation(
                            "crew unavailable",
                            f"{who} is unavailable at {_hm(c, a.start_min)} ({_label(a.key)})",
                            (a.key,),
                        )
                    )

    # --- racks and the downlink channel
    by_rack: dict[str, list[Activity]] = defaultdict(list)
    for a in plan.activities:
        if a.rack is not None:
            by_rack[a.rack].append(a)
    for rk, acts in by_rack.items():
        acts.sort(key=lambda a: a.start_min)
        for a, b in pairwise(acts):
            if b.start_min < a.end_min:
                out.append(
                    Violation(
                        "rack overlap",
                        f"rack {rk} holds {_label(a.key)} and {_label(b.key)} at "
                        f"{_hm(c, b.start_min)}",
                        (a.key, b.key),
                    )
                )
        rack = rack_by_name.get(rk)
        for a in acts:
            for dn in rack.down if rack else ():
                if _overlaps(a.start_min, a.end_min, dn.start_min, dn.end_min):
                    out.append(
                        Violation(
                            "rack down",
                            f"rack {rk} is down at {_hm(c, a.start_min)} ({_label(a.key)})",
                            (a.key,),
                        )
                    )
    dls = sorted((a for a in plan.activities if a.kind == "downlink"), key=lambda a: a.start_min)
    for a, b in pairwise(dls):
        if b.start_min < a.end_min:
            out.append(
                Violation(
                    "downlink channel",
                    f"downlinks of {_label(a.key)} and {_label(b.key)} overlap",
                    (a.key, b.key),
                )
            )

    out += _check_power(c, env, spans, sessions)
    out += _check_cold(c, occ, sessions)

    if check_objective and plan.objective and not any(v.rule == "unknown" for v in out):
        value = science_value(c, plan)
        if abs(value - plan.objective) > 1e-6:
            out.append(
                Violation(
                    "objective",
                    f"the plan claims objective {plan.objective:g}, its sessions are worth "
                    f"{value:g}",
                )
            )
    return out


def _check_power(
    c: Campaign,
    env: Environment,
    spans: dict[OccurrenceKey, tuple[int, int]],
    sessions: dict[tuple[str, str], tuple[int, Session]],
) -> list[Violation]:
    """Sweep the payload power over time against the sunlit/eclipse limits."""
    loads = [(a, b, sessions[k[0], k[1]][1].power_kw, k) for k, (a, b) in spans.items()]
    loads = [x for x in loads if x[2] > 0]
    if not loads:
        return []
    ecl = np.asarray(env.eclipses_min, dtype=np.float64).reshape(-1, 2)
    cuts = np.unique(np.concatenate([[x[0] for x in loads], [x[1] for x in loads], ecl.ravel()]))
    lo, hi = cuts[:-1], cuts[1:]
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    mid = 0.5 * (lo + hi)
    s0 = np.array([x[0] for x in loads], dtype=np.float64)
    s1 = np.array([x[1] for x in loads], dtype=np.float64)
    kw = np.array([x[2] for x in loads], dtype=np.float64)
    active = (s0[None, :] <= mid[:, None]) & (mid[:, None] < s1[None, :])
    load = active.astype(np.float64) @ kw
    dark = ((ecl[:, 0][None, :] <= mid[:, None]) & (mid[:, None] < ecl[:, 1][None, :])).any(1)
    limit = np.where(dark, c.eclipse_power_kw, c.sunlit_power_kw)
    over = np.flatnonzero(load > limit + 1e-9)
    out: list[Violation] = []
    for i in over[:20]:
        who = tuple(loads[j][3] for j in np.flatnonzero(active[i]))
        out.append(
            Violation(
                "power",
                f"payload power {load[i]:.2f} kW > {limit[i]:g} kW "
                f"({'eclipse' if dark[i] else 'sunlight'}) at {_hm(c, lo[i])}",
                who,
            )
        )
    return out


def _check_cold(
    c: Campaign,
    occ: dict[OccurrenceKey, dict[str, list[Activity]]],
    sessions: dict[tuple[str, str], tuple[int, Session]],
) -> list[Violation]:
    """Sweep the stored sample volume per temperature against each store's volume."""
    out: list[Violation] = []
    release = c.return_departure_min if c.return_departure_min is not None else c.horizon_min
    for store in c.cold_storage:
        events: list[tuple[float, float, OccurrenceKey]] = []
        for key, kinds in occ.items():
            if (key[0], key[1]) not in sessions:
                continue
            s = sessions[key[0], key[1]][1]
            if s.sample is None or s.sample.temperature_c != store.temperature_c:
                continue
            for a in kinds.get("sample-transfer", []):
                events.append((a.end_min, s.sample.volume_l, key))
                events.append((max(release, a.end_min), -s.sample.volume_l, key))
        events.sort(key=lambda e: (e[0], e[1]))
        level = 0.0
        for t, dv, key in events:
            level += dv
            if level > store.volume_l + 1e-9:
                out.append(
                    Violation(
                        "cold storage",
                        f"{store.temperature_c} °C store holds {level:g} L > "
                        f"{store.volume_l:g} L at {_hm(c, t)}",
                        (key,),
                    )
                )
    return out
