"""``falak campaign``: plan, check, replan and draw Tiangong payload campaigns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

group = typer.Typer(
    name="campaign",
    help=(
        "Tiangong payload campaigns: plan with CP-SAT, check any plan independently, replan "
        "after an event, generate synthetic campaigns, draw Gantt charts. Campaign files are "
        "YAML (schema: falak/planning/campaign/schema.json); plans are JSON with ISO 8601 UTC "
        "times; durations are minutes on a 5-minute grid."
    ),
    no_args_is_help=True,
)


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _fail(message: str) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code=2)


def _load(campaign: Path) -> tuple[Any, Any]:
    from falak.errors import FalakError
    from falak.planning.campaign.model import load_campaign
    from falak.planning.campaign.orbit_env import build_environment

    try:
        with _console().status("reading the campaign, computing eclipses and contacts"):
            c = load_campaign(campaign)
            env = build_environment(c)
    except FalakError as exc:
        _fail(f"error: {exc}")
    return c, env


def _read_plan(path: Path, c: Any) -> Any:
    from falak.errors import FalakError
    from falak.planning.campaign.model import plan_from_json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return plan_from_json(data, c, file=str(path))
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"error: cannot read plan {path}: {exc}")
    except FalakError as exc:
        _fail(f"error: {exc}")


def _write_plan(plan: Any, c: Any, env: Any, out: Path, campaign: Path | None = None) -> None:
    import os

    from falak.planning.campaign.model import plan_to_json

    data = plan_to_json(plan, c)
    data["environment"] = env.to_json()
    data["start"] = c.start.isoformat().replace("+00:00", "Z")
    data["crew_names"] = [p.name for p in c.crew]
    data["rack_names"] = [r.name for r in c.racks]
    if campaign is not None:  # relative to the plan, so the two can move together
        data["campaign_file"] = os.path.relpath(campaign.resolve(), out.resolve().parent)
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def plan_cmd(
    campaign: Annotated[Path, typer.Argument(help="Campaign YAML file.")],
    out: Annotated[Path, typer.Option("--out", help="Plan JSON file to write.")],
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Solver time limit, seconds.")
    ] = 30.0,
    deterministic: Annotated[
        bool,
        typer.Option(
            "--deterministic",
            help="One worker and a fixed seed: the same plan on every run (slower).",
        ),
    ] = False,
) -> None:
    """Plan a campaign: maximise priority-weighted science, then punctuality.

    Writes PLAN.json with status (OPTIMAL, FEASIBLE or INFEASIBLE), objective, proven bound,
    gap and the activities (experiment, session, kind, crew, rack, start, end in UTC). An
    infeasible campaign exits 1 and prints which rules conflict.
    """
    from falak.errors import PlanInfeasible
    from falak.planning.campaign.solver import SolveOptions, solve

    c, env = _load(campaign)
    console = _console()
    best: list[float] = [0.0]

    def progress(t_s: float, value: float) -> None:
        best[0] = value

    try:
        with console.status(f"solving {len(c.occurrences())} session occurrences (CP-SAT)"):
            plan = solve(
                c,
                env,
                SolveOptions(time_limit_s=time_limit, deterministic=deterministic),
                on_solution=progress,
            )
    except PlanInfeasible as exc:
        out.write_text(
            json.dumps(
                {
                    "status": "INFEASIBLE",
                    "objective": None,
                    "bound": None,
                    "activities": [],
                    "conflicts": exc.conflicts,
                },
                indent=1,
                ensure_ascii=False,
            )
            + "\n",
            encoding="utf-8",
        )
        typer.echo("INFEASIBLE: the campaign cannot be planned; these rules conflict:")
        for line in exc.conflicts:
            typer.echo(f"  - {line}")
        raise typer.Exit(code=1) from None
    _write_plan(plan, c, env, out, campaign)
    n_occ = len(plan.occurrences())
    typer.echo(
        f"{plan.status}: objective {plan.objective:g} (bound {plan.bound:g}, gap "
        f"{100 * plan.gap:.1f}%), {n_occ} of {len(c.occurrences())} sessions, "
        f"{len(plan.activities)} activities, lateness {plan.lateness_min} min -> {out}"
    )


def check_cmd(
    campaign: Annotated[Path, typer.Argument(help="Campaign YAML file.")],
    plan: Annotated[Path, typer.Argument(help="Plan JSON file (from any planner).")],
) -> None:
    """Check a plan against every rule of its campaign; exit 1 listing every violation."""
    from falak.planning.campaign.checker import check_plan

    c, env = _load(campaign)
    p = _read_plan(plan, c)
    violations = check_plan(c, env, p)
    if violations:
        typer.echo(f"INVALID: {len(violations)} violation(s)")
        for v in violations:
            typer.echo(f"  - {v}")
        raise typer.Exit(code=1)
    typer.echo(f"VALID: {len(p.activities)} activities satisfy every rule")


def generate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Campaign YAML file to write.")],
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Length, days.")] = 7,
    experiments: Annotated[
        int, typer.Option("--experiments", min=1, help="Number of experiments.")
    ] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
) -> None:
    """Write a synthetic campaign sized from published Tiangong facts (for tests/benchmarks)."""
    import yaml

    from falak.planning.campaign.generator import generate_campaign

    data = generate_campaign(days=days, experiments=experiments, seed=seed)
    out.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    n = sum(s.get("repetitions", 1) for e in data["experiments"] for s in e["sessions"])
    typer.echo(f"{experiments} experiments, {n} session occurrences over {days} days -> {out}")


def replan_cmd(
    campaign: Annotated[Path, typer.Argument(help="Campaign YAML file.")],
    plan: Annotated[Path, typer.Argument(help="The current plan JSON.")],
    now: Annotated[str, typer.Option("--now", help="Time now, ISO 8601 UTC.")],
    event: Annotated[Path, typer.Option("--event", help="Event YAML (see docs/station.md).")],
    out: Annotated[Path, typer.Option("--out", help="New plan JSON file to write.")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds.")] = 30.0,
) -> None:
    """Repair a plan after an event, keeping everything still valid in place.

    Events: session-failed (experiment, session, repetition), rack-down (rack, start, end),
    cold-storage-outage (temperature_c, start, end), crew-unavailable (crew, start, end).
    Repetitions count from 0 everywhere: in plan files, in the event file and in the "E/S #K"
    of the messages (#0 is the first); an out-of-range or unplanned repetition is an error.
    Activities before --now are frozen: an occurrence that has ended by --now stays where it
    is; one under way that the event hits is aborted (kept under "history").
    """
    import yaml

    from falak.errors import FalakError, PlanInfeasible
    from falak.planning.campaign.replan import replan
    from falak.utctime import parse_utc

    c, env = _load(campaign)
    p = _read_plan(plan, c)
    try:
        ev = yaml.safe_load(event.read_text(encoding="utf-8"))
        t_now = parse_utc(now, "--now")
        with _console().status("replanning"):
            result = replan(c, env, p, t_now, ev, time_limit_s=time_limit)
    except PlanInfeasible as exc:
        typer.echo("INFEASIBLE: cannot repair the plan; these rules conflict:")
        for line in exc.conflicts:
            typer.echo(f"  - {line}")
        raise typer.Exit(code=1) from None
    except (FalakError, OSError, yaml.YAMLError) as exc:
        _fail(f"error: {exc}")
    _write_plan(result.plan, result.campaign, env, out, campaign)
    typer.echo(f"{result.plan.status}: objective {result.plan.objective:g} -> {out}")
    for line in result.changes:
        typer.echo(f"  - {line}")


def gantt_cmd(
    plan: Annotated[Path, typer.Argument(help="Plan JSON file (from falak campaign plan).")],
    out: Annotated[Path, typer.Option("--out", help="Output: .html (self-contained SVG) or .png.")],
) -> None:
    """Draw a plan: crew and rack rows, with contact windows and eclipses as bands."""
    from falak.errors import FalakError
    from falak.planning.campaign.gantt import write_gantt

    try:
        data = json.loads(plan.read_text(encoding="utf-8"))
        write_gantt(data, out)
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"error: cannot read plan {plan}: {exc}")
    except FalakError as exc:
        _fail(f"error: {exc}")
    typer.echo(f"Gantt chart -> {out}")


def _tiangong_mdb() -> Path:
    from falak.missions import __file__ as missions_init

    return Path(missions_init).parent / "tiangong" / "mdb.yaml"


def _campaign_of(plan: Path) -> Path:
    try:
        data = json.loads(plan.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"error: cannot read plan {plan}: {exc}")
    name = data.get("campaign_file") if isinstance(data, dict) else None
    if not isinstance(name, str):
        _fail(
            f"error: {plan} does not name its campaign file (plans written by falak campaign "
            "plan and replan do); give it first: falak campaign commands CAMPAIGN.yaml "
            "PLAN.json --out STACK.yaml"
        )
    return plan.parent / name


def commands_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CAMPAIGN.yaml PLAN.json, or PLAN.json alone when the plan names its campaign "
            "file (plans from falak campaign plan/replan do).",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Stack YAML file to write.")],
    mdb: Annotated[
        Path | None,
        typer.Option(
            "--mdb", help="Mission database the stack is checked against (default: TIANGONG)."
        ),
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="What a failed step does to the stack: continue (default) with the next "
            "step, or stop the stack.",
        ),
    ] = "continue",
    name: Annotated[
        str | None,
        typer.Option("--name", help="The stack's name (default: from the campaign's name)."),
    ] = None,
) -> None:
    """Turn a checked plan into the station's command stack (falak stack load STACK.yaml).

    The plan is first checked against every rule of its campaign (as falak campaign check
    does); an infeasible or invalid plan is refused with its conflicts (exit 1). Each
    experiment's commands: mapping in the campaign file (MDB command names and arguments per
    phase) gives, for every planned session, steps released at absolute UTC times: configure
    at the session's start (prep), start at the start of its run, stop at the end of the
    payload's operation (end of the unattended part, or of the run), each plus the command's
    offset_s (seconds). The stack YAML (docs/commanding.md) is checked against the MDB; a
    problem is printed as STACK.yaml:LINE: message (exit 1).
    """
    from rich.console import Console
    from rich.table import Table

    from falak.cli.stack import write_checked_stack
    from falak.errors import FalakError
    from falak.mdb import load as load_mdb
    from falak.planning.campaign.checker import check_plan
    from falak.planning.campaign.commands import POLICIES, plan_stack, stack_yaml
    from falak.utctime import format_ns

    if policy not in POLICIES:
        _fail(f"error: --policy {policy!r} is not one of {', '.join(POLICIES)}")
    if len(files) == 2:
        campaign, plan = files
    elif len(files) == 1:
        plan = files[0]
        campaign = _campaign_of(plan)
    else:
        _fail("error: give CAMPAIGN.yaml PLAN.json (or PLAN.json alone)")
    data: Any = None
    try:
        data = json.loads(plan.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"error: cannot read plan {plan}: {exc}")
    if isinstance(data, dict) and data.get("status") == "INFEASIBLE":
        typer.echo("INFEASIBLE: the plan has no activities; these rules conflict:")
        for line in data.get("conflicts") or []:
            typer.echo(f"  - {line}")
        raise typer.Exit(code=1)
    c, env = _load(campaign)
    p = _read_plan(plan, c)
    violations = check_plan(c, env, p)
    if violations:
        typer.echo(f"INVALID: {len(violations)} violation(s); no stack written")
        for v in violations:
            typer.echo(f"  - {v}")
        raise typer.Exit(code=1)
    mdb_path = mdb or _tiangong_mdb()
    try:
        with _console().status(f"building the stack, checking it against {mdb_path.name}"):
            db = load_mdb(mdb_path)
            doc, summary = plan_stack(c, p, name=name, spacecraft=db.root.name, policy=policy)
            text = stack_yaml(
                doc,
                header=f"Command stack of campaign {c.name!r}, from {plan.name} (falak "
                f"campaign commands).\nLoad it with: falak stack load {out.name}. Times are "
                "UTC; each step's comment says\nexperiment/session #repetition phase (rack).",
            )
            write_checked_stack(text, doc["steps"], out, db, mdb_path)
    except (FalakError, OSError) as exc:
        _fail(f"error: {exc}")
    table = Table("sessions", "steps", "first release (UTC)", "last release (UTC)", "policy")
    table.add_row(
        str(summary.sessions),
        str(summary.steps),
        format_ns(summary.first_ns, 0),
        format_ns(summary.last_ns, 0),
        policy,
    )
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    if summary.unmapped:
        console.print("without a commands: mapping (no steps): " + ", ".join(summary.unmapped))
    console.print(f"stack {doc['stack']} for {db.root.name}, checked against {mdb_path} -> {out}")


def register(app: typer.Typer) -> None:
    """Add the ``campaign`` group to the falak app."""
    group.command(name="plan")(plan_cmd)
    group.command(name="check")(check_cmd)
    group.command(name="generate")(generate_cmd)
    group.command(name="replan")(replan_cmd)
    group.command(name="gantt")(gantt_cmd)
    group.command(name="commands")(commands_cmd)
    app.add_typer(group, name="campaign")
