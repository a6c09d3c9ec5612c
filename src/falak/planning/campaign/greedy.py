"""Greedy list scheduling of a campaign: a baseline, and a warm start (hint) for CP-SAT.

Occurrences go by priority (then experiment, repetition and session order); each takes the
earliest start where an allowed rack, enough qualified crew in their work periods, the power
budget (lower in eclipse), a contact slot for the downlink, a crew slot for the sample transfer
and room in cold stowage are all free, tracked on 5-minute slot arrays. The plan is valid by
construction for the rules it tracks; callers verify it with the independent checker.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from falak.planning.campaign.checker import check_plan, science_value
from falak.planning.campaign.model import Activity, Campaign, Experiment, Plan
from falak.planning.campaign.orbit_env import Environment

__all__ = ["greedy_plan"]


def _free_count(
    crew_free: dict[str, NDArray[np.bool_]], names: list[str], length: int, T: int
) -> NDArray[np.int64]:
    """Per start slot, how many of ``names`` are free for ``length`` slots from there."""
    out = np.zeros(T + 1, dtype=np.int64)
    if length <= 0 or length > T:
        return out + (len(names) if length <= 0 else 0)
    for n in names:
        csum = np.concatenate([[0], np.cumsum(crew_free[n])])
        out[: T - length + 1] += csum[length:] - csum[: T - length + 1] == length
    return out


def _greedy(
    c: Campaign, env: Environment, rank: Callable[[Experiment], float] | None = None
) -> Plan:
    """List scheduling: highest rank first (default: priority), earliest feasible start."""
    step = c.step_min
    T = c.horizon_min // step
    slot_min = np.arange(T) * step
    work = np.zeros(T, dtype=bool)
    for a, b in c.work_periods_min():
        work |= (slot_min >= a) & (slot_min + step <= b)
    crew_free: dict[str, NDArray[np.bool_]] = {}
    for p in c.crew:
        free = work.copy()
        if p.aboard_min is not None:
            free &= (slot_min >= p.aboard_min[0]) & (slot_min < p.aboard_min[1])
        for u in p.unavailable:
            free &= ~((slot_min + step > u.start_min) & (slot_min < u.end_min))
        crew_free[p.name] = free
    rack_free = {r.name: np.ones(T, dtype=bool) for r in c.racks}
    for r in c.racks:
        for dn in r.down:
            rack_free[r.name][(slot_min + step > dn.start_min) & (slot_min < dn.end_min)] = False
    limit = np.full(T, c.sunlit_power_kw)
    for e0, e1 in env.eclipses_min:
        limit[(slot_min + step > e0) & (slot_min < e1)] = c.eclipse_power_kw
    power = np.zeros(T)
    contact_ok = np.zeros(T, dtype=bool)
    for c0, c1 in env.contacts_min:
        contact_ok |= (slot_min >= c0) & (slot_min + step <= c1)
    channel = np.ones(T, dtype=bool)
    stored = {s.temperature_c: 0.0 for s in c.cold_storage}
    cap = {s.temperature_c: s.volume_l for s in c.cold_storage}
    release = c.return_departure_min if c.return_departure_min is not None else c.horizon_min
    ends: dict[tuple[str, str, int], int] = {}
    acts: list[Activity] = []
    score = {e.name: float(e.priority if rank is None else rank(e)) for e in c.experiments}
    # keep precedence order inside an experiment: sessions in file order per repetition
    order = sorted(
        c.occurrences(),
        key=lambda o: (-score[o[0].name], o[0].name, o[2], o[0].sessions.index(o[1])),
    )
    for e, s, k in order:
        key = (e.name, s.name, k)
        P, R, W = s.prep_min // step, s.run_min // step, s.stow_min // step
        lo, hi = 0, T
        if s.window_min:
            lo, hi = math.ceil(s.window_min[0] / step), s.window_min[1] // step
        ok = True
        if k > 0:
            prev = (e.name, s.name, k - 1)
            if prev not in ends:
                continue
            lo = max(lo, ends[prev])
        lag_hi = T
        for pr in s.after:
            other = c.experiment(pr.after_experiment).session(pr.after_session)
            ref = (pr.after_experiment, pr.after_session, min(k, other.repetitions - 1))
            if ref not in ends:
                ok = False
                break
            lo = max(lo, ends[ref] + math.ceil(pr.min_lag_min / step))
            if pr.max_lag_min is not None:
                lag_hi = min(lag_hi, ends[ref] + pr.max_lag_min // step)
        if not ok:
            continue
        eligible = [
            p.name for p in c.crew if s.qualification is None or s.qualification in p.qualifications
        ]
        placed = False
        # candidate starts: enough eligible crew free for the whole prep + run (sliding window)
        n_free = _free_count(crew_free, eligible, P + R, T)
        n_stow = _free_count(crew_free, eligible, W, T) if W else np.full(T + 1, len(eligible))
        stop = min(hi, lag_hi + 1)
        cands: NDArray[np.int64] = (
            np.flatnonzero(n_free[lo:stop] >= s.crew)[:3000] + lo
            if stop > lo
            else np.zeros(0, dtype=np.int64)
        )
        umin, umax = s.unattended_min // step, s.unattended_max_min // step
        for st in (int(x) for x in cands):
            w0 = st + P + R + umin
            w1 = min(st + P + R + umax, T - W)
            if w1 < w0:
                continue
            # unattended lengths that put the stow where enough crew are free
            u_ok = np.flatnonzero(n_stow[w0 : w1 + 1] >= s.crew)[:50] + umin
            for U in (int(u) for u in u_ok):
                end = st + P + R + U + W
                if end > hi or end > T:
                    break
                span = slice(st, end)
                if np.any(power[span] + s.power_kw > limit[span] + 1e-9):
                    break
                rack = next((r for r in s.racks if rack_free[r][span].all()), None)
                if rack is None:
                    break
                tended = [slice(st, st + P + R), slice(st + P + R + U, end)]
                crew = [n for n in eligible if all(crew_free[n][sl].all() for sl in tended)]
                if len(crew) < s.crew:
                    continue  # a longer unattended part may put the stow into a work period
                crew = crew[: s.crew]
                if s.ground_support:
                    rs, re_ = (st + P) * step, (st + P + R) * step
                    if not any(rs <= a and b <= re_ for a, b in env.support_passes_min):
                        break
                tr = None
                if s.sample is not None:
                    t_len = s.sample.transfer_min // step
                    if (
                        stored[s.sample.temperature_c] + s.sample.volume_l
                        > cap[s.sample.temperature_c]
                    ):
                        break
                    for t0 in range(end, end + s.sample.within_min // step + 1):
                        sl = slice(t0, t0 + t_len)
                        if t0 + t_len <= min(T, release // step) and all(
                            crew_free[n][sl].all() for n in crew
                        ):
                            tr = t0
                            break
                    if tr is None:
                        continue
                dl = None
                if s.data_mb > 0:
                    d = max(1, math.ceil(s.data_mb * 8 / c.downlink_rate_mbps / 60 / step - 1e-9))
                    ready = st + P + R + U
                    last = min(T - d, ready + c.downlink_within_min // step - d)
                    for t0 in range(ready, last + 1):
                        if contact_ok[t0 : t0 + d].all() and channel[t0 : t0 + d].all():
                            dl = t0
                            break
                    if dl is None:
                        break
                # commit
                power[span] += s.power_kw
                rack_free[rack][span] = False
                for n in crew:
                    for sl in tended:
                        crew_free[n][sl] = False
                t = st * step
                for kind, dur, who, rk in (
                    ("prep", s.prep_min, crew, rack),
                    ("run", s.run_min, crew, rack),
                    ("unattended", U * step, [], rack),
                    ("stow", s.stow_min, crew, rack),
                ):
                    if dur:
                        acts.append(Activity(e.name, s.name, k, kind, tuple(who), rk, t, t + dur))
                    t += dur
                if tr is not None and s.sample is not None:
                    for n in crew:
                        crew_free[n][tr : tr + s.sample.transfer_min // step] = False
                    stored[s.sample.temperature_c] += s.sample.volume_l
                    acts.append(
                        Activity(
                            e.name,
                            s.name,
                            k,
                            "sample-transfer",
                            tuple(crew),
                            None,
                            tr * step,
                            tr * step + s.sample.transfer_min,
                        )
                    )
                if dl is not None:
                    channel[dl : dl + d] = False
                    acts.append(
                        Activity(
                            e.name, s.name, k, "downlink", (), None, dl * step, (dl + d) * step
                        )
                    )
                ends[key] = end
                placed = True
                break
            if placed:
                break
    plan = Plan("FEASIBLE", acts)
    plan.objective = science_value(c, plan)
    return plan


def _crew_min(e: Experiment) -> float:
    """Return the mean crew-minutes one occurrence of the experiment asks for."""
    need = sum(
        (s.prep_min + s.run_min + s.stow_min + (s.sample.transfer_min if s.sample else 0))
        * s.crew
        * s.repetitions
        for s in e.sessions
    )
    return max(1.0, need / max(1, sum(s.repetitions for s in e.sessions)))


def _tended_energy_kw_min(e: Experiment) -> float:
    """Return the mean power x crew-tended time of one occurrence (kW min)."""
    need = sum(
        s.power_kw * (s.prep_min + s.run_min + s.stow_min) * s.repetitions for s in e.sessions
    )
    return max(1e-3, need / max(1, sum(s.repetitions for s in e.sessions)))


#: Orders tried: by priority; by priority per crew-minute (crew time is the scarce resource
#: when a campaign asks for more than there is); by priority per geometric mean of crew time
#: and tended energy (power in eclipse limits how many sessions run while the crew work).
_RANKS: tuple[Callable[[Experiment], float] | None, ...] = (
    None,
    lambda e: e.priority / _crew_min(e),
    lambda e: e.priority / math.sqrt(_crew_min(e) * _tended_energy_kw_min(e)),
)


def _cleaned(c: Campaign, env: Environment, plan: Plan) -> Plan:
    for _ in range(20):
        bad = {k for v in check_plan(c, env, plan, check_objective=False) for k in v.occurrences}
        if not bad:
            break
        plan = Plan("FEASIBLE", [a for a in plan.activities if a.key not in bad])
    plan.objective = science_value(c, plan)
    return plan


def greedy_plan(c: Campaign, env: Environment) -> Plan:
    """Return the best of a few greedy orders, anything the independent checker faults removed.

    The orders (:data:`_RANKS`) are by priority, by priority per crew-minute and by priority
    per crew-minute and tended energy; the plan with the most science wins (ties: the first).
    """
    best: Plan | None = None
    for rank in _RANKS:
        plan = _cleaned(c, env, _greedy(c, env, rank))
        if best is None or plan.objective > best.objective:
            best = plan
    assert best is not None
    return best
