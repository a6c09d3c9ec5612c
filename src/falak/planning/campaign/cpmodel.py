"""CP-SAT model of a payload campaign: maximise priority-weighted science, then punctuality.

Time is counted in plan steps (5 minutes) from the campaign start. Per session occurrence
(experiment, session, repetition) the model has a presence literal, a start, a flexible
unattended length, one rack chosen among the allowed ones and the crew chosen among the
qualified members, and builds:

- optional intervals per allowed rack (no-overlap per rack, plus the rack's downtime);
- optional intervals per eligible crew member for prep+run, stow and sample transfer
  (no-overlap per crew member, with everything outside the work periods of the crew day,
  outside the stay aboard and during unavailability blocked);
- a cumulative power budget whose capacity drops during eclipses (fixed intervals);
- a reservoir per cold-storage temperature (samples stored from transfer to the return-vehicle
  departure, or to the end);
- downlink intervals placed inside contact windows (start domains), on one channel;
- ground-support runs that contain a whole pass over Pakistan (start domains);
- precedence with minimum and maximum lags, repetition order, time windows, due times.

Each rule group has an enforcement literal. Normally they are fixed true; to explain an
infeasible campaign they become assumptions and CP-SAT's
``SufficientAssumptionsForInfeasibility`` gives a core, shrunk by deletion to a minimal one.

The search is in :mod:`falak.planning.campaign.solver`; :mod:`falak.planning.campaign.explain`
turns the rule groups into assumptions. Both import this module, which imports neither.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from falak.planning.campaign.model import (
    Campaign,
    Experiment,
    OccurrenceKey,
    Plan,
    Session,
)
from falak.planning.campaign.orbit_env import Environment

__all__ = ["Placement", "RuleGroup", "build_model", "placements_of"]

_POWER_SCALE = 100  # power in units of 10 W
_VOLUME_SCALE = 1000  # volume in millilitres


@dataclass(frozen=True)
class Placement:
    """Where one occurrence sits: the decisions a replan can keep or hint (steps, not minutes)."""

    start: int
    unattended: int
    rack: str
    crew: tuple[str, ...]
    transfer_start: int | None = None
    downlink_start: int | None = None


@dataclass
class RuleGroup:
    """One switchable rule group: its literal and a sentence saying what it demands."""

    name: str
    text: str
    lit: Any


@dataclass
class _Occ:
    exp: Experiment
    sess: Session
    rep: int
    present: Any
    start: Any
    unatt: Any
    end: Any
    racks: dict[str, Any]
    crew: dict[str, Any]
    transfer: Any | None = None
    downlink: Any | None = None
    downlink_len: int = 0
    late: Any | None = None
    # (var, offset from start in steps, plus the unattended length?) for complete hints
    aux: list[tuple[Any, int, bool]] = field(default_factory=list)
    size: Any = None


@dataclass
class _Model:
    model: Any
    occs: dict[OccurrenceKey, _Occ]
    groups: dict[str, RuleGroup]
    science: Any
    lateness: Any
    big: int
    displacement: Any | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _ceil_div(a: float, b: int) -> int:
    return math.ceil(a / b - 1e-9)


def _floor_div(a: float, b: int) -> int:
    return math.floor(a / b + 1e-9)


def _blocked_crew_intervals(c: Campaign) -> list[tuple[int, int]]:
    """Return the periods outside the crew's work periods over the whole campaign, in steps
    (widened to whole steps: a step that is partly outside work is blocked)."""
    step = c.step_min
    out: list[tuple[int, int]] = []
    t = 0
    for a, b in c.work_periods_min():
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if t < c.horizon_min:
        out.append((t, c.horizon_min))
    return [(a // step, -(-b // step)) for a, b in out if b > a]


def _work_domain(c: Campaign, length: int) -> list[list[int]]:
    """Start steps from which ``length`` steps fit inside one work period, over all days."""
    step = c.step_min
    out: list[list[int]] = []
    for a, b in c.work_periods_min():
        lo, hi = -(-a // step), b // step - length
        if hi >= lo:
            out.append([lo, hi])
    return out


def build_model(
    c: Campaign,
    env: Environment,
    *,
    explain: bool = False,
    fixed: Mapping[OccurrenceKey, Placement] | None = None,
    hints: Mapping[OccurrenceKey, Placement] | None = None,
    frozen_before: int | None = None,
    displacement_weight: int = 0,
) -> _Model:
    """Build the CP-SAT model (see the module docstring).

    ``fixed`` placements are imposed (present, same start, rack and crew); ``hints`` are given to
    the solver and, with ``displacement_weight``, every step a hinted occurrence moves (or its
    being dropped) costs that much; nothing new may start before step ``frozen_before``.
    """
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    step = c.step_min
    horizon = c.horizon_min // step
    groups: dict[str, RuleGroup] = {}

    def lit(name: str, text: str) -> Any:
        g = groups.get(name)
        if g is None:
            v = m.new_bool_var(name)
            if not explain:
                m.add(v == 1)
            g = groups[name] = RuleGroup(name, text, v)
        return g.lit

    cd = c.crew_day
    wp = ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in cd.work_min)
    crew_day_lit = lit("crew day", f"crew work only in the work periods {wp} UTC")

    # domains from the environment (conservative rounding to whole steps)
    contact_starts = [(_ceil_div(a, step), _floor_div(b, step)) for a, b in env.contacts_min]
    support = [(a, b) for a, b in env.support_passes_min]
    eclipse_steps = [(_floor_div(a, step), _ceil_div(b, step)) for a, b in env.eclipses_min]

    occs: dict[OccurrenceKey, _Occ] = {}
    rack_ivs: dict[str, list[Any]] = {r.name: [] for r in c.racks}
    crew_ivs: dict[str, list[Any]] = {p.name: [] for p in c.crew}
    power_ivs: list[Any] = []
    power_dem: list[int] = []
    downlink_ivs: list[Any] = []
    reservoirs: dict[int, tuple[list[Any], list[int], list[Any]]] = {
        s.temperature_c: ([], [], []) for s in c.cold_storage
    }
    science_terms: list[tuple[int, Any]] = []
    late_terms: list[Any] = []
    big_late = 1
    lo = 0 if frozen_before is None else frozen_before

    for e, s, k in c.occurrences():
        key = (e.name, s.name, k)
        label = f"{e.name}/{s.name}" + (f" #{k}" if s.repetitions > 1 else "")  # from 0
        P, R, W = s.prep_min // step, s.run_min // step, s.stow_min // step
        umin, umax = s.unattended_min // step, s.unattended_max_min // step
        present = m.new_bool_var(f"p[{label}]")
        start = m.new_int_var(0, horizon, f"S[{label}]")
        unatt = m.new_int_var(umin, umax, f"U[{label}]")
        end = m.new_int_var(0, horizon, f"E[{label}]")
        m.add(end == start + P + R + unatt + W)
        size = m.new_int_var(P + R + umin + W, P + R + umax + W, f"L[{label}]")
        m.add(size == P + R + unatt + W)
        size_aux = (size, P + R + W)
        span = m.new_optional_interval_var(start, size, end, present, f"span[{label}]")
        if fixed is None or key not in fixed:
            m.add(start >= lo).only_enforce_if(present)
        if s.required:
            m.add(present == 1).only_enforce_if(
                lit(f"required {label}", f"{label} must be done (required)")
            )
        # racks
        racks: dict[str, Any] = {}
        for rk in s.racks:
            y = m.new_bool_var(f"y[{label},{rk}]")
            racks[rk] = y
            rack_ivs[rk].append(
                m.new_optional_interval_var(start, size, end, y, f"r[{label},{rk}]")
            )
        m.add(sum(racks.values()) == present)
        # crew
        crew: dict[str, Any] = {}
        tended = [(start, P + R)] if P + R else []
        stow_start = m.new_int_var(0, horizon, f"W[{label}]")
        m.add(stow_start == start + P + R + unatt)
        if W:
            tended.append((stow_start, W))
        for p in c.crew:
            x = m.new_bool_var(f"x[{label},{p.name}]")
            crew[p.name] = x
            m.add_implication(x, present)
            if s.qualification is not None and s.qualification not in p.qualifications:
                m.add(x == 0).only_enforce_if(
                    lit(
                        f"qualification {e.name}/{s.name}",
                        f"{e.name}/{s.name} needs a crew member qualified '{s.qualification}'",
                    )
                )
            for st, ln in tended:
                crew_ivs[p.name].append(
                    m.new_optional_fixed_size_interval_var(st, ln, x, f"c[{label},{p.name}]")
                )
        m.add(sum(crew.values()) == s.crew * present)
        # implied by the crew-day blocks, stated as start domains so that presolve and the LP
        # see them: each tended part starts where it fits inside one work period
        if s.crew > 0:
            for st, ln in tended:
                wdom = _work_domain(c, ln)
                if wdom:
                    m.add_linear_expression_in_domain(
                        st, cp_model.Domain.from_intervals(wdom)
                    ).only_enforce_if([crew_day_lit, present])
        o = _Occ(e, s, k, present, start, unatt, end, racks, crew)
        o.aux.append((stow_start, P + R, True))
        o.size = size_aux[0]
        # power drawn over the whole rack occupation
        if s.power_kw > 0:
            power_ivs.append(span)
            power_dem.append(round(s.power_kw * _POWER_SCALE))
        # time window and due time
        if s.window_min is not None:
            wl = lit(f"window {e.name}/{s.name}", f"{e.name}/{s.name} must fit its time window")
            m.add(start >= _ceil_div(s.window_min[0], step)).only_enforce_if([wl, present])
            m.add(end <= _floor_div(s.window_min[1], step)).only_enforce_if([wl, present])
        if s.due_min is not None:
            late = m.new_int_var(0, horizon, f"late[{label}]")
            m.add(late >= end - s.due_min // step).only_enforce_if(present)
            late_terms.append(late)
            o.late = late
            big_late += horizon
        # ground support: the run contains a whole pass over Pakistan
        if s.ground_support:
            gl = lit(
                f"ground support {e.name}/{s.name}",
                f"{e.name}/{s.name} runs while scientists are on console (a whole pass over "
                "Pakistan inside the run)",
            )
            gs_ivs = [
                (_ceil_div(b, step) - R, _floor_div(a, step))
                for a, b in support
                if _floor_div(a, step) >= _ceil_div(b, step) - R
            ]
            run_start = m.new_int_var(0, horizon, f"rs[{label}]")
            m.add(run_start == start + P)
            o.aux.append((run_start, P, False))
            if not gs_ivs:
                m.add_bool_or([present.Not()]).only_enforce_if(gl)
            else:
                gs_dom = cp_model.Domain.from_intervals([list(v) for v in gs_ivs])
                m.add_linear_expression_in_domain(run_start, gs_dom).only_enforce_if([gl, present])
        # sample transfer and cold stowage
        if s.sample is not None:
            sp = s.sample
            tr = sp.transfer_min // step
            x0 = m.new_int_var(0, horizon, f"T[{label}]")
            m.add(x0 >= end).only_enforce_if(present)
            tdom = _work_domain(c, tr)
            if tdom:
                m.add_linear_expression_in_domain(
                    x0, cp_model.Domain.from_intervals(tdom)
                ).only_enforce_if([crew_day_lit, present])
            m.add(x0 <= end + sp.within_min // step).only_enforce_if(
                [
                    lit(
                        f"sample transfer {e.name}/{s.name}",
                        f"the sample of {e.name}/{s.name} reaches cold stowage within "
                        f"{sp.within_min} min",
                    ),
                    present,
                ]
            )
            m.add(x0 + tr <= horizon)
            for p in c.crew:
                crew_ivs[p.name].append(
                    m.new_optional_fixed_size_interval_var(x0, tr, crew[p.name], f"t[{label}]")
                )
            o.transfer = x0
            release = horizon
            if c.return_departure_min is not None:
                release = c.return_departure_min // step
                m.add(x0 + tr <= release).only_enforce_if(
                    [
                        lit(
                            "return vehicle",
                            "samples are packed before the return vehicle departs",
                        ),
                        present,
                    ]
                )
            store = next(cs for cs in c.cold_storage if cs.temperature_c == sp.temperature_c)
            for out in () if fixed is not None and key in fixed else store.outages:
                ol = lit(
                    f"cold storage outage {sp.temperature_c}",
                    f"no transfer into the {sp.temperature_c} °C store during its outage",
                )
                a, b = out.start_min // step, _ceil_div(out.end_min, step)
                before = m.new_bool_var("")
                m.add(x0 + tr <= a).only_enforce_if([before, ol])
                m.add(x0 >= b).only_enforce_if([before.Not(), ol])
            times, changes, actives = reservoirs[sp.temperature_c]
            vol = round(sp.volume_l * _VOLUME_SCALE)
            times += [x0 + tr, release]
            changes += [vol, -vol]
            actives += [present, present]
        # downlink
        if s.data_mb > 0:
            d = max(1, _ceil_div(s.data_mb * 8.0 / c.downlink_rate_mbps / 60.0, step))
            dl = m.new_int_var(0, horizon, f"D[{label}]")
            data_ready = start + P + R + unatt
            dlit = lit(
                f"downlink {e.name}/{s.name}",
                f"the data of {e.name}/{s.name} ({s.data_mb:g} MB) go down in a contact window "
                f"within {c.downlink_within_min} min",
            )
            m.add(dl >= data_ready).only_enforce_if(present)
            m.add(dl <= data_ready + c.downlink_within_min // step - d).only_enforce_if(
                [dlit, present]
            )
            dl_ivs = [[a, b - d] for a, b in contact_starts if b - d >= a]
            if dl_ivs:
                m.add_linear_expression_in_domain(
                    dl, cp_model.Domain.from_intervals(dl_ivs)
                ).only_enforce_if([dlit, present])
            else:
                m.add_bool_or([present.Not()]).only_enforce_if(dlit)
            downlink_ivs.append(m.new_optional_fixed_size_interval_var(dl, d, present, ""))
            o.downlink = dl
            o.downlink_len = d
        science_terms.append((e.priority, present))
        occs[key] = o

    # repetitions in order, precedence with lags (not between two fixed placements: those are
    # the past when replanning, and it stays as it was)
    def both_fixed(a: OccurrenceKey, b: OccurrenceKey) -> bool:
        return fixed is not None and a in fixed and b in fixed

    for key, o in occs.items():
        e, s, k = o.exp, o.sess, o.rep
        if k > 0 and not both_fixed(key, (e.name, s.name, k - 1)):
            prev = occs[(e.name, s.name, k - 1)]
            m.add_implication(o.present, prev.present)
            m.add(o.start >= prev.end).only_enforce_if(o.present)
        for pr in s.after:
            other = c.experiment(pr.after_experiment).session(pr.after_session)
            ref_key = (pr.after_experiment, pr.after_session, min(k, other.repetitions - 1))
            if both_fixed(key, ref_key):
                continue
            ref = occs[ref_key]
            pl = lit(
                f"precedence {pr.after_experiment}/{pr.after_session} -> {e.name}/{s.name}",
                f"{e.name}/{s.name} follows {pr.after_experiment}/{pr.after_session} by "
                f"{pr.min_lag_min}"
                + ("" if pr.max_lag_min is None else f"-{pr.max_lag_min}")
                + " min",
            )
            m.add_implication(o.present, ref.present)
            m.add(o.start >= ref.end + _ceil_div(pr.min_lag_min, step)).only_enforce_if(
                [pl, o.present]
            )
            if pr.max_lag_min is not None:
                m.add(o.start <= ref.end + _floor_div(pr.max_lag_min, step)).only_enforce_if(
                    [pl, o.present]
                )

    # resources
    for r in c.racks:
        ivs: list[Any] = list(rack_ivs[r.name])
        downs: list[list[int]] = []
        for dwn in sorted(r.down, key=lambda d: d.start_min):
            a, b = dwn.start_min // step, _ceil_div(dwn.end_min, step)
            if downs and a <= downs[-1][1]:
                downs[-1][1] = max(downs[-1][1], b)
            else:
                downs.append([a, b])
        for a, b in downs:
            rl = lit(f"rack down {r.name}", f"rack {r.name} is down {_fmt(c, a * step)}")
            ivs.append(m.new_optional_fixed_size_interval_var(a, b - a, rl, ""))
        m.add_no_overlap(ivs)
    blocked = _blocked_crew_intervals(c)
    # redundant knapsack cuts (implied by the no-overlaps; they tighten the LP bound): a crew
    # member's tended time fits their work time aboard, a rack's occupation fits the campaign
    work_steps = (horizon - sum(bb - aa for aa, bb in blocked)) if blocked else horizon
    for p in c.crew:
        avail = work_steps
        if p.aboard_min is not None:
            avail = min(
                avail, round(work_steps * (p.aboard_min[1] - p.aboard_min[0]) / c.horizon_min) + 1
            )
        terms = []
        for o in occs.values():
            s_ = o.sess
            tended_steps = (s_.prep_min + s_.run_min + s_.stow_min) // step
            if s_.sample is not None:
                tended_steps += s_.sample.transfer_min // step
            terms.append(tended_steps * o.crew[p.name])
        if terms:
            m.add(sum(terms) <= avail)
        # long tended parts: at most floor(period / L) parts of >= L steps fit in each work
        # period, so per crew member at most sum(floor(period / L)) of them over the campaign
        periods = [bb // step - -(-aa // step) for aa, bb in c.work_periods_min()]
        parts: list[tuple[int, Any]] = []
        for o in occs.values():
            s_ = o.sess
            for ln in ((s_.prep_min + s_.run_min) // step, s_.stow_min // step):
                if ln > 0:
                    parts.append((ln, o.crew[p.name]))
        seen: set[int] = set()
        for L in sorted({ln for ln, _ in parts}):
            fit = sum(max(0, q) // L for q in periods)
            if fit in seen:
                continue
            seen.add(fit)
            long_parts = [x for ln, x in parts if ln >= L]
            if len(long_parts) > fit:
                m.add(sum(long_parts) <= fit)
    for r in c.racks:
        terms = [
            (o.sess.span_min // step) * o.racks[r.name] for o in occs.values() if r.name in o.racks
        ]
        if terms:
            m.add(sum(terms) <= horizon)
    for p in c.crew:
        ivs = list(crew_ivs[p.name])
        for a, b in blocked:
            ivs.append(m.new_optional_fixed_size_interval_var(a, b - a, crew_day_lit, ""))
        m.add_no_overlap(ivs)
        # aboard and unavailability: a crew member's whole occurrence (prep to transfer) lies
        # inside the stay and before or after each unavailable period (linear constraints, so
        # they may overlap the crew-day blocks without making the model infeasible)
        for okey, o in occs.items():
            if fixed is not None and okey in fixed:
                continue  # a fixed placement was validated when it was made
            x = o.crew[p.name]
            last = o.end
            if o.transfer is not None and o.sess.sample is not None:
                last = o.transfer + o.sess.sample.transfer_min // step
            if p.aboard_min is not None:
                al = lit(f"aboard {p.name}", f"{p.name} works only while aboard")
                a0, b0 = _ceil_div(p.aboard_min[0], step), p.aboard_min[1] // step
                m.add(o.start >= a0).only_enforce_if([al, x])
                m.add(last <= b0).only_enforce_if([al, x])
            for u in p.unavailable:
                ul = lit(f"unavailable {p.name}", f"{p.name} is unavailable {_fmt(c, u.start_min)}")
                a, b = u.start_min // step, _ceil_div(u.end_min, step)
                before = m.new_bool_var("")
                m.add(last <= a).only_enforce_if([ul, x, before])
                m.add(o.start >= b).only_enforce_if([ul, x, before.Not()])
    if power_ivs and c.sunlit_power_kw < 1e8:
        cap = round(c.sunlit_power_kw * _POWER_SCALE)
        drop = cap - round(c.eclipse_power_kw * _POWER_SCALE)
        ivs = list(power_ivs)
        dem = list(power_dem)
        if drop > 0 and eclipse_steps:
            el = lit(
                "power in eclipse",
                f"payload power ≤ {c.eclipse_power_kw:g} kW in eclipse "
                f"({c.sunlit_power_kw:g} kW in sunlight)",
            )
            for a, b in eclipse_steps:
                ivs.append(m.new_optional_fixed_size_interval_var(a, b - a, el, ""))
                dem.append(drop)
        m.add_cumulative(ivs, dem, cap)
    if downlink_ivs:
        m.add_no_overlap(downlink_ivs)
    for cs in c.cold_storage:
        times, changes, actives = reservoirs[cs.temperature_c]
        if times:
            m.add_reservoir_constraint_with_active(
                times, changes, actives, 0, round(cs.volume_l * _VOLUME_SCALE)
            )

    science: Any = sum(w * p for w, p in science_terms)
    lateness = sum(late_terms) if late_terms else 0
    big = big_late
    # fixed placements and hints
    disp_terms: list[Any] = []
    for key, pl in (fixed or {}).items():
        if key in occs:
            _impose(m, occs[key], pl)
    for key, pl in (hints or {}).items():
        if key not in occs:
            continue
        o = occs[key]
        _hint(m, o, pl, step)
        if displacement_weight:
            dev = m.new_int_var(0, horizon, "")
            m.add_abs_equality(dev, o.start - pl.start)
            disp_terms.append(dev)
            dropped = o.present.Not()
            disp_terms.append(horizon * dropped)
    if hints and fixed is None:  # a warm start: what the hint leaves out is absent
        for key, o in occs.items():
            if key not in hints:
                m.add_hint(o.present, False)
    model = _Model(m, occs, groups, science, lateness, big)
    objective = science * big - lateness
    if disp_terms:
        # science first, then as little movement as possible, then punctuality
        total_disp = sum(disp_terms)
        wd = big * (len(disp_terms) * horizon + 1)
        objective = science * wd - total_disp * big - lateness
        model.big = wd
        model.displacement = total_disp
    m.maximize(objective)
    return model


def _hint(m: Any, o: _Occ, pl: Placement, step: int) -> None:
    m.add_hint(o.present, True)
    m.add_hint(o.start, pl.start)
    m.add_hint(o.unatt, pl.unattended)
    s = o.sess
    end = pl.start + (s.prep_min + s.run_min + s.stow_min) // step + pl.unattended
    m.add_hint(o.end, end)
    if o.size is not None:
        m.add_hint(o.size, end - pl.start)
    for var, off, with_unatt in o.aux:
        m.add_hint(var, pl.start + off + (pl.unattended if with_unatt else 0))
    if o.late is not None and s.due_min is not None:
        m.add_hint(o.late, max(0, end - s.due_min // step))
    for name, y in o.racks.items():
        m.add_hint(y, name == pl.rack)
    for name, x in o.crew.items():
        m.add_hint(x, name in pl.crew)
    if o.transfer is not None and pl.transfer_start is not None:
        m.add_hint(o.transfer, pl.transfer_start)
    if o.downlink is not None and pl.downlink_start is not None:
        m.add_hint(o.downlink, pl.downlink_start)


def _impose(m: Any, o: _Occ, pl: Placement) -> None:
    m.add(o.present == 1)
    m.add(o.start == pl.start)
    m.add(o.unatt == pl.unattended)
    if pl.rack in o.racks:
        m.add(o.racks[pl.rack] == 1)
    for name in pl.crew:
        if name in o.crew:
            m.add(o.crew[name] == 1)
    if o.transfer is not None and pl.transfer_start is not None:
        m.add(o.transfer == pl.transfer_start)
    if o.downlink is not None and pl.downlink_start is not None:
        m.add(o.downlink == pl.downlink_start)


def _fmt(c: Campaign, minute: int) -> str:
    return "from " + c.to_datetime(minute).strftime("%Y-%m-%dT%H:%MZ")


def placements_of(c: Campaign, plan: Plan) -> dict[OccurrenceKey, Placement]:
    """Return the placement (in steps) of every occurrence of a plan."""
    step = c.step_min
    out: dict[OccurrenceKey, Placement] = {}
    for key, acts in plan.occurrences().items():
        rackacts = [a for a in acts if a.rack is not None]
        if not rackacts:
            continue
        un = sum(a.end_min - a.start_min for a in acts if a.kind == "unattended")
        crew = next((a.crew for a in acts if a.kind in ("prep", "run", "stow")), ())
        tr = next((a.start_min // step for a in acts if a.kind == "sample-transfer"), None)
        dl = next((a.start_min // step for a in acts if a.kind == "downlink"), None)
        out[key] = Placement(
            start=rackacts[0].start_min // step,
            unattended=un // step,
            rack=str(rackacts[0].rack),
            crew=tuple(crew),
            transfer_start=tr,
            downlink_start=dl,
        )
    return out
