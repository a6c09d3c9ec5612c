"""Tiangong payload campaign: the model (experiments, crew, racks, station) and its YAML loader.

A campaign is read from YAML (documented by ``schema.json`` next to this module) into
frozen dataclasses. All times inside the model are integer **minutes since the campaign start**
(``Campaign.start``, UTC); every duration and time is a multiple of ``step_min`` (5 minutes,
the plan step of ISS practice, REFERENCES.md "Station operations").

A session *occurrence* (one repetition of one session) is performed as a contiguous chain of
activities on one rack::

    prep (crew) -> run (crew) -> unattended (rack only, flexible length) -> stow (crew)

followed, if the session yields a sample, by a ``sample-transfer`` (crew, no rack) into cold
stowage, and, if it yields data, by a ``downlink`` (no crew, no rack) inside a contact window.
Errors name the experiment, the rule, and the file and line of the YAML.

An experiment may carry a ``commands:`` mapping (:class:`CommandMapping`): the MDB commands
that configure, start and stop its payload in every session, from which
:mod:`falak.planning.campaign.commands` builds the station's command stack.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from falak.errors import InputError
from falak.utctime import parse_utc

__all__ = [
    "COMMAND_FIELDS",
    "COMMAND_PHASES",
    "DISCIPLINES",
    "KINDS",
    "SESSION_FIELDS",
    "Activity",
    "Campaign",
    "CampaignError",
    "ColdStore",
    "CommandMapping",
    "CommandSpec",
    "CrewDay",
    "CrewMember",
    "Experiment",
    "OccurrenceKey",
    "Plan",
    "Precedence",
    "Rack",
    "SampleSpec",
    "Session",
    "Unavailability",
    "load_campaign",
    "parse_campaign",
    "plan_from_json",
    "plan_to_json",
]

#: Disciplines of the Tiangong utilisation programme (CMSA).
DISCIPLINES: tuple[str, ...] = (
    "biological and medical sciences",
    "aerospace",
    "applied physics",
    "fluid mechanics",
    "space radiation",
    "ecology",
    "materials science",
    "microgravity studies",
    "astronomy",
)

#: Activity kinds a plan may contain.
KINDS: tuple[str, ...] = ("prep", "run", "unattended", "stow", "sample-transfer", "downlink")

#: Phases of an experiment's ``commands:`` mapping, in the order they happen in a session.
COMMAND_PHASES: tuple[str, ...] = ("configure", "start", "stop")

#: Fields of one command of a ``commands:`` phase.
COMMAND_FIELDS: tuple[str, ...] = (
    "command",
    "args",
    "offset_s",
    "verify",
    "timeout_s",
    "on_failure",
    "comment",
)

#: Session fields a command argument may name as ``"{field}"`` (numbers from the plan).
SESSION_FIELDS: dict[str, str] = {
    "prep_min": "planned prep, minutes",
    "run_min": "planned run, minutes",
    "unattended_min": "planned unattended part, minutes (0 without one)",
    "stow_min": "planned stow, minutes",
    "operate_min": "start to stop (run + unattended), minutes",
    "operate_s": "start to stop (run + unattended), seconds",
    "repetition": "repetition of the session, from 0",
    "power_kw": "the session's power, kW",
}

_FIELD_REF = re.compile(r"^\{(\w+)\}$")

#: (experiment, session, repetition index from 0)
OccurrenceKey = tuple[str, str, int]

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class CampaignError(InputError):
    """A campaign file is wrong: says which experiment and rule, and where in the YAML."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        experiment: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.experiment = experiment
        self.rule = rule
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class CrewDay:
    """Daily crew timeline in UTC (station time is GMT), minutes after midnight.

    Work happens only inside ``work_min`` periods (default 08:00-12:00 and 15:30-18:00 =
    6.5 h, with the 1 h meal at 12:00-13:00 and 2.5 h exercise at 13:00-15:30, sleep from
    21:30; REFERENCES.md "Station operations").
    """

    work_min: tuple[tuple[int, int], ...] = ((480, 720), (930, 1080))
    meal_min: tuple[int, int] = (720, 780)
    exercise_min: tuple[int, int] = (780, 930)
    sleep_from_min: int = 1290
    wake_min: int = 360

    @property
    def work_per_day_min(self) -> int:
        """Return the scheduled work time per day, minutes."""
        return sum(b - a for a, b in self.work_min)

    @property
    def longest_work_period_min(self) -> int:
        """Return the longest contiguous work period, minutes."""
        return max(b - a for a, b in self.work_min)


@dataclass(frozen=True)
class Unavailability:
    """A time range [start_min, end_min) when a crew member, rack or cold store can't be used."""

    start_min: int
    end_min: int
    reason: str = ""


@dataclass(frozen=True)
class CrewMember:
    """One crew member: qualifications, when aboard and when unavailable (minutes)."""

    name: str
    role: str = ""
    qualifications: frozenset[str] = frozenset()
    aboard_min: tuple[int, int] | None = None
    unavailable: tuple[Unavailability, ...] = ()


@dataclass(frozen=True)
class Rack:
    """A payload rack (Tianhe 2, Wentian 4-5, Mengtian 8; REFERENCES.md)."""

    name: str
    module: str
    capabilities: frozenset[str] = frozenset()
    down: tuple[Unavailability, ...] = ()


@dataclass(frozen=True)
class ColdStore:
    """Cold stowage at one temperature with a limited volume (litres)."""

    temperature_c: int
    volume_l: float
    outages: tuple[Unavailability, ...] = ()


@dataclass(frozen=True)
class SampleSpec:
    """A sample a session yields: where it goes, its volume, and the transfer deadline."""

    temperature_c: int
    volume_l: float
    transfer_min: int = 10
    within_min: int = 60


@dataclass(frozen=True)
class Precedence:
    """Session ``after`` of experiment ``after_experiment`` must precede this one.

    Repetition k of this session starts between ``min_lag_min`` and ``max_lag_min`` after the
    end (stow end) of repetition k of the earlier session (or its last repetition if it has
    fewer); and may only happen if that one does.
    """

    after_experiment: str
    after_session: str
    min_lag_min: int = 0
    max_lag_min: int | None = None


@dataclass(frozen=True)
class Session:
    """One kind of session of an experiment (times in minutes, power in kW, data in MB)."""

    name: str
    racks: tuple[str, ...]
    run_min: int
    prep_min: int = 0
    unattended_min: int = 0
    unattended_max_min: int = 0
    stow_min: int = 0
    crew: int = 1
    qualification: str | None = None
    power_kw: float = 0.0
    data_mb: float = 0.0
    repetitions: int = 1
    window_min: tuple[int, int] | None = None
    due_min: int | None = None
    ground_support: bool = False
    required: bool = False
    sample: SampleSpec | None = None
    after: tuple[Precedence, ...] = ()
    line: int | None = None
    commands: CommandMapping | None = None
    """This session's payload commands, instead of the experiment's (None: the experiment's)."""

    @property
    def span_min(self) -> int:
        """Return the shortest rack occupation, prep to stow end, minutes."""
        return self.prep_min + self.run_min + self.unattended_min + self.stow_min


@dataclass(frozen=True)
class CommandSpec:
    """One MDB command of an experiment's ``commands:`` mapping.

    ``args`` values are engineering values, or ``"{field}"`` naming one of
    :data:`SESSION_FIELDS` (filled from the plan for each session). ``offset_s`` shifts the
    release from the phase's time (seconds; negative is earlier).
    """

    command: str
    args: Mapping[str, Any] = field(default_factory=dict)
    offset_s: float = 0.0
    verify: str | None = None
    timeout_s: float | None = None
    on_failure: str | None = None
    comment: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class CommandMapping:
    """The commands that configure, start and stop an experiment's payload in each session.

    Released (plus each command's ``offset_s``) at: ``configure`` the session's start (its
    first activity on the rack, prep), ``start`` the start of its run, ``stop`` the end of the
    payload's operation (the end of the unattended part, or of the run; stow follows). An
    experiment's mapping applies to all its sessions; a session's own replaces it (``{}``: the
    session sends no commands).
    """

    configure: tuple[CommandSpec, ...] = ()
    start: tuple[CommandSpec, ...] = ()
    stop: tuple[CommandSpec, ...] = ()

    def phases(self) -> list[tuple[str, tuple[CommandSpec, ...]]]:
        """Return (phase, commands) in :data:`COMMAND_PHASES` order."""
        return [(p, getattr(self, p)) for p in COMMAND_PHASES]


@dataclass(frozen=True)
class Experiment:
    """An experiment: discipline, priority (science value per completed session) and sessions."""

    name: str
    discipline: str
    priority: int
    sessions: tuple[Session, ...]
    line: int | None = None
    commands: CommandMapping | None = None
    """Its payload's commands (None: the experiment is not commanded from the plan)."""

    def session(self, name: str) -> Session:
        """Return the session called ``name``."""
        for s in self.sessions:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True)
class Campaign:
    """A whole campaign. Times are minutes since ``start`` (UTC)."""

    name: str
    start: _dt.datetime
    days: int
    step_min: int
    crew: tuple[CrewMember, ...]
    racks: tuple[Rack, ...]
    experiments: tuple[Experiment, ...]
    crew_day: CrewDay = CrewDay()
    cold_storage: tuple[ColdStore, ...] = ()
    sunlit_power_kw: float = 1e9
    eclipse_power_kw: float = 1e9
    downlink_rate_mbps: float = 100.0
    downlink_within_min: int = 1440
    return_departure_min: int | None = None
    tle_path: str | None = None
    eclipse_model: str = "conical"
    downlink_stations: tuple[str, ...] = ()
    support_stations: tuple[str, ...] = ()
    min_elevation_deg: float | None = None
    relay_windows_min: tuple[tuple[int, int], ...] = ()
    eclipses_min: tuple[tuple[float, float], ...] | None = None
    contacts_min: tuple[tuple[float, float], ...] | None = None
    support_passes_min: tuple[tuple[float, float], ...] | None = None
    source: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def horizon_min(self) -> int:
        """Return the campaign length, minutes."""
        return self.days * 1440

    @property
    def start_minute_of_day(self) -> float:
        """Return the minutes after 00:00 UTC at which the campaign starts."""
        t = self.start.astimezone(_dt.UTC)
        return t.hour * 60 + t.minute + (t.second + t.microsecond / 1e6) / 60.0

    def work_periods_min(self) -> list[tuple[int, int]]:
        """Return the crew's work periods over the campaign, minutes since its start.

        The crew day's periods are UTC times of day (:class:`CrewDay`); a campaign need not
        start at midnight, so each period is shifted by :attr:`start_minute_of_day` and
        clipped to [0, horizon] (a period cut by the start or the end keeps its part inside).
        Ends are rounded inwards to whole minutes.
        """
        off = self.start_minute_of_day
        horizon = self.horizon_min
        out: list[tuple[int, int]] = []
        for d in range(-1, self.days + 1):
            for a, b in sorted(self.crew_day.work_min):
                lo = max(0, math.ceil(d * 1440 + a - off - 1e-9))
                hi = min(horizon, math.floor(d * 1440 + b - off + 1e-9))
                if hi > lo:
                    out.append((lo, hi))
        return out

    def experiment(self, name: str) -> Experiment:
        """Return the experiment called ``name``."""
        for e in self.experiments:
            if e.name == name:
                return e
        raise KeyError(name)

    def occurrences(self) -> list[tuple[Experiment, Session, int]]:
        """Return every (experiment, session, repetition) the campaign could schedule."""
        return [
            (e, s, k) for e in self.experiments for s in e.sessions for k in range(s.repetitions)
        ]

    def to_datetime(self, minute: float) -> _dt.datetime:
        """Convert minutes since the start to an aware UTC datetime."""
        return self.start + _dt.timedelta(minutes=minute)

    def to_minute(self, t: _dt.datetime) -> float:
        """Convert an aware datetime to minutes since the start."""
        return (t.astimezone(_dt.UTC) - self.start).total_seconds() / 60.0


# ---------------------------------------------------------------------------------------------
# YAML loading with line numbers


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader that remembers the line of every mapping under the key ``__line__``."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = {
        str(k): v for k, v in loader.construct_mapping(node, deep=True).items()
    }
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# keep ISO times as strings: parse_utc handles them uniformly
_LineLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _Reader:
    """Reads fields of YAML mappings and raises CampaignError with file and line."""

    def __init__(self, file: str | None) -> None:
        self.file = file

    def error(
        self,
        message: str,
        node: Mapping[str, Any] | None,
        *,
        experiment: str | None = None,
        rule: str | None = None,
    ) -> CampaignError:
        line = node.get("__line__") if isinstance(node, Mapping) else None
        return CampaignError(message, file=self.file, line=line, experiment=experiment, rule=rule)

    def mapping(self, value: Any, what: str, parent: Mapping[str, Any] | None) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(f"{what} must be a mapping, got {type(value).__name__}", parent)
        return dict(value)

    def number(
        self, node: Mapping[str, Any], key: str, default: float | None = None, *, minimum: float = 0
    ) -> float:
        if key not in node:
            if default is None:
                raise self.error(f"missing {key!r}", node)
            return default
        v = node[key]
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= minimum:
            raise self.error(f"{key} must be a number >= {minimum:g}, got {v!r}", node)
        return float(v)


def _hhmm(r: _Reader, text: Any, node: Mapping[str, Any]) -> int:
    m = _HHMM.match(str(text))
    if not m:
        raise r.error(f"time of day {text!r} must be HH:MM (UTC)", node, rule="crew day")
    return int(m.group(1)) * 60 + int(m.group(2))


def _minute_of(r: _Reader, text: Any, start: _dt.datetime, node: Mapping[str, Any]) -> int:
    if isinstance(text, _dt.datetime):
        t = text if text.tzinfo else text.replace(tzinfo=_dt.UTC)
    else:
        try:
            t = parse_utc(str(text))
        except InputError as exc:
            raise r.error(str(exc), node) from None
    return round((t - start).total_seconds() / 60.0)


def _range(
    r: _Reader, value: Any, start: _dt.datetime, node: Mapping[str, Any], what: str
) -> tuple[int, int]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise r.error(f"{what} must be [START, END] (ISO 8601 UTC), got {value!r}", node)
    a, b = _minute_of(r, value[0], start, node), _minute_of(r, value[1], start, node)
    if b <= a:
        raise r.error(f"{what} ends before it starts: {value!r}", node)
    return a, b


def _duration(
    r: _Reader, node: Mapping[str, Any], key: str, step: int, exp: str, default: int = 0
) -> int:
    v = r.number(node, key, float(default))
    if v != int(v) or int(v) % step:
        raise r.error(
            f"experiment {exp!r}: {key} = {v:g} min is not a multiple of the {step}-minute "
            "plan step",
            node,
            experiment=exp,
            rule="plan step",
        )
    return int(v)


def _unavail(
    r: _Reader, items: Any, start: _dt.datetime, parent: Mapping[str, Any], what: str
) -> tuple[Unavailability, ...]:
    out: list[Unavailability] = []
    for it in items or []:
        node = r.mapping(it, what, parent)
        a, b = _range(r, [node.get("start"), node.get("end")], start, node, what)
        out.append(Unavailability(a, b, str(node.get("reason", ""))))
    return tuple(out)


def _command_mapping(
    r: _Reader, value: Any, enode: Mapping[str, Any], exp: str, session: str | None = None
) -> CommandMapping:
    """Read an experiment's (or a session's) ``commands:`` mapping (phase -> commands)."""
    owner = f"experiment {exp!r}" + ("" if session is None else f" session {session!r}")

    def fail(message: str, node: Mapping[str, Any] | None) -> CampaignError:
        return r.error(f"{owner}: {message}", node or enode, experiment=exp, rule="commands")

    if not isinstance(value, Mapping):
        raise fail(
            "commands must be a mapping of phases (configure, start, stop) to lists of "
            f"{{command: NAME, args: {{...}}}}, got {type(value).__name__}",
            enode,
        )
    phases: dict[str, tuple[CommandSpec, ...]] = {}
    for phase, items in value.items():
        if phase == "__line__":
            continue
        if phase not in COMMAND_PHASES:
            raise fail(
                f"commands: unknown phase {phase!r}; phases: {', '.join(COMMAND_PHASES)}", value
            )
        if not isinstance(items, list):
            raise fail(
                f"commands.{phase} must be a list of {{command: NAME, args: {{...}}}}, got "
                f"{items!r}",
                value,
            )
        specs: list[CommandSpec] = []
        for i, item in enumerate(items, 1):
            where = f"commands.{phase}[{i}]"
            if isinstance(item, str):
                item = {"command": item}
            if not isinstance(item, Mapping):
                raise fail(f"{where} must be a mapping with 'command: NAME', got {item!r}", value)
            for key in item:
                if key != "__line__" and key not in COMMAND_FIELDS:
                    raise fail(
                        f"{where}: unknown field {key!r}; fields: {', '.join(COMMAND_FIELDS)}",
                        item,
                    )
            name = item.get("command")
            if not isinstance(name, str) or not name:
                raise fail(f"{where} has no command; add 'command: NAME' (an MDB command)", item)
            args = item.get("args") or {}
            if not isinstance(args, Mapping):
                raise fail(f"{where}: args must be a mapping NAME: VALUE, got {args!r}", item)
            args = {str(k): v for k, v in args.items() if k != "__line__"}
            for k, v in args.items():
                m = _FIELD_REF.match(v) if isinstance(v, str) else None
                if m and m.group(1) not in SESSION_FIELDS:
                    raise fail(
                        f"{where}: args.{k} = {v!r} names no session field; fields: "
                        + ", ".join(SESSION_FIELDS),
                        item,
                    )
            numbers: dict[str, float | None] = {}
            for key in ("offset_s", "timeout_s"):
                v = item.get(key)
                if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                    raise fail(f"{where}: {key} must be a number of seconds, got {v!r}", item)
                numbers[key] = None if v is None else float(v)
            if (numbers["timeout_s"] or 0.0) < 0:
                raise fail(f"{where}: timeout_s must be >= 0, got {numbers['timeout_s']:g}", item)
            policy = item.get("on_failure")
            if policy is not None and policy not in ("stop", "continue"):
                raise fail(f"{where}: on_failure must be stop or continue, got {policy!r}", item)
            specs.append(
                CommandSpec(
                    command=name,
                    args=args,
                    offset_s=numbers["offset_s"] or 0.0,
                    verify=None if item.get("verify") is None else str(item["verify"]),
                    timeout_s=numbers["timeout_s"],
                    on_failure=policy,
                    comment=None if item.get("comment") is None else str(item["comment"]),
                    line=item.get("__line__"),
                )
            )
        phases[phase] = tuple(specs)
    return CommandMapping(**phases)


def parse_campaign(
    data: Mapping[str, Any], file: str | None = None, base_dir: Path | None = None
) -> Campaign:
    """Build and validate a :class:`Campaign` from parsed YAML (see ``schema.json``)."""
    r = _Reader(file)
    top = r.mapping(data, "the campaign file", None)
    try:
        start = parse_utc(str(top["start"]))
    except KeyError:
        raise r.error("missing 'start' (ISO 8601 UTC campaign start)", top) from None
    except InputError as exc:
        raise r.error(str(exc), top) from None
    days = int(r.number(top, "days", minimum=1))
    step = int(r.number(top, "step_min", 5.0, minimum=1))

    cd_node = r.mapping(top.get("crew_day", {}), "crew_day", top)
    crew_day = CrewDay()
    if cd_node:
        work = tuple(
            (_hhmm(r, a, cd_node), _hhmm(r, b, cd_node))
            for a, b in cd_node.get("work", [("08:00", "12:00"), ("15:30", "18:00")])
        )
        meal = cd_node.get("meal", ["12:00", "13:00"])
        exe = cd_node.get("exercise", ["13:00", "15:30"])
        crew_day = CrewDay(
            work_min=work,
            meal_min=(_hhmm(r, meal[0], cd_node), _hhmm(r, meal[1], cd_node)),
            exercise_min=(_hhmm(r, exe[0], cd_node), _hhmm(r, exe[1], cd_node)),
            sleep_from_min=_hhmm(r, cd_node.get("sleep", "21:30"), cd_node),
            wake_min=_hhmm(r, cd_node.get("wake", "06:00"), cd_node),
        )
        for a, b in crew_day.work_min:
            if b <= a or a % step or b % step:
                raise r.error(
                    f"work period {a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d} must "
                    f"be a forward range on the {step}-minute grid",
                    cd_node,
                    rule="crew day",
                )

    crew: list[CrewMember] = []
    for it in top.get("crew") or []:
        node = r.mapping(it, "crew member", top)
        name = str(node.get("name", ""))
        if not name:
            raise r.error("crew member without a name", node)
        aboard = node.get("aboard")
        crew.append(
            CrewMember(
                name=name,
                role=str(node.get("role", "")),
                qualifications=frozenset(str(q) for q in node.get("qualifications") or []),
                aboard_min=None if aboard is None else _range(r, aboard, start, node, "aboard"),
                unavailable=_unavail(r, node.get("unavailable"), start, node, "unavailable"),
            )
        )
    if not crew:
        raise r.error("no crew: list at least one crew member under 'crew'", top)
    if len({c.name for c in crew}) != len(crew):
        raise r.error("crew names must be unique", top)

    racks: list[Rack] = []
    for it in top.get("racks") or []:
        node = r.mapping(it, "rack", top)
        racks.append(
            Rack(
                name=str(node.get("name", "")),
                module=str(node.get("module", "")),
                capabilities=frozenset(str(c) for c in node.get("capabilities") or []),
                down=_unavail(r, node.get("down"), start, node, "down"),
            )
        )
    rack_names = {k.name for k in racks}
    if not racks:
        raise r.error("no racks: list the payload racks under 'racks'", top)

    stores: list[ColdStore] = []
    for it in top.get("cold_storage") or []:
        node = r.mapping(it, "cold store", top)
        stores.append(
            ColdStore(
                temperature_c=int(r.number(node, "temperature_c", minimum=-273)),
                volume_l=r.number(node, "volume_l"),
                outages=_unavail(r, node.get("outages"), start, node, "outage"),
            )
        )
    store_temps = {s.temperature_c for s in stores}

    power = r.mapping(top.get("power", {}), "power", top)
    orbit = r.mapping(top.get("orbit", {}) or {}, "orbit", top)
    ground = r.mapping(top.get("ground", {}) or {}, "ground", top)
    windows = r.mapping(top.get("windows", {}) or {}, "windows", top)
    tle_path = orbit.get("tle")
    if tle_path is not None and base_dir is not None and not Path(str(tle_path)).is_absolute():
        tle_path = str(base_dir / str(tle_path))
    eclipse_model = str(orbit.get("eclipse_model", "conical"))
    if eclipse_model not in ("conical", "cylindrical"):
        raise r.error(f"eclipse_model must be conical or cylindrical, got {eclipse_model!r}", orbit)

    def _windows(key: str) -> tuple[tuple[float, float], ...] | None:
        if key not in windows:
            return None
        out: list[tuple[float, float]] = []
        for w in windows[key] or []:
            if not isinstance(w, Sequence) or isinstance(w, str) or len(w) != 2:
                raise r.error(
                    f"{key} window must be [START, END] (ISO 8601 UTC), got {w!r}", windows
                )
            try:
                a, b = (parse_utc(str(x)) for x in w)
            except InputError as exc:
                raise r.error(str(exc), windows) from None
            a_min, b_min = (a - start).total_seconds() / 60, (b - start).total_seconds() / 60
            if b_min <= a_min:
                raise r.error(f"{key} window ends before it starts: {w!r}", windows)
            out.append((a_min, b_min))
        return tuple(out)

    ret = top.get("return_vehicle")
    ret_min = None
    if ret is not None:
        rnode = r.mapping(ret, "return_vehicle", top)
        ret_min = _minute_of(r, rnode.get("departure"), start, rnode)

    experiments: list[Experiment] = []
    for it in top.get("experiments") or []:
        enode = r.mapping(it, "experiment", top)
        ename = str(enode.get("name", ""))
        if not ename:
            raise r.error("experiment without a name", enode)
        disc = str(enode.get("discipline", ""))
        if disc not in DISCIPLINES:
            raise r.error(
                f"experiment {ename!r}: discipline {disc!r} is not one of: "
                + ", ".join(DISCIPLINES),
                enode,
                experiment=ename,
                rule="discipline",
            )
        prio = int(r.number(enode, "priority", 1.0))
        sessions: list[Session] = []
        for sit in enode.get("sessions") or []:
            snode = r.mapping(sit, "session", enode)
            sname = str(snode.get("name", ""))
            if not sname:
                raise r.error(f"experiment {ename!r}: session without a name", snode)
            sracks = tuple(str(x) for x in snode.get("racks") or [])
            if not sracks:
                raise r.error(
                    f"experiment {ename!r} session {sname!r}: no racks listed",
                    snode,
                    experiment=ename,
                    rule="rack",
                )
            for rk in sracks:
                if rk not in rack_names:
                    raise r.error(
                        f"experiment {ename!r} session {sname!r}: unknown rack {rk!r}; "
                        f"racks are: {', '.join(sorted(rack_names))}",
                        snode,
                        experiment=ename,
                        rule="rack",
                    )
            unatt = _duration(r, snode, "unattended_min", step, ename)
            sample = None
            if snode.get("sample") is not None:
                sp = r.mapping(snode["sample"], "sample", snode)
                temp = int(r.number(sp, "temperature_c", minimum=-273))
                if temp not in store_temps:
                    raise r.error(
                        f"experiment {ename!r} session {sname!r}: no cold storage at {temp} °C;"
                        f" have {sorted(store_temps)}",
                        sp,
                        experiment=ename,
                        rule="cold storage",
                    )
                sample = SampleSpec(
                    temperature_c=temp,
                    volume_l=r.number(sp, "volume_l"),
                    transfer_min=_duration(r, sp, "transfer_min", step, ename, 10 - 10 % step),
                    within_min=_duration(r, sp, "within_min", step, ename, 60 - 60 % step),
                )
            after: list[Precedence] = []
            for a in snode.get("after") or []:
                an = r.mapping(a, "after", snode) if isinstance(a, Mapping) else {"session": a}
                ref = str(an.get("session", ""))
                aexp, _, asess = ref.rpartition("/")
                maxlag = an.get("max_lag_min")
                after.append(
                    Precedence(
                        after_experiment=aexp or ename,
                        after_session=asess,
                        min_lag_min=int(r.number(an, "min_lag_min", 0.0)),
                        max_lag_min=None if maxlag is None else int(r.number(an, "max_lag_min")),
                    )
                )
            win = snode.get("window")
            due = snode.get("due")
            crew_n = int(r.number(snode, "crew", 1.0))
            sessions.append(
                Session(
                    name=sname,
                    racks=sracks,
                    run_min=_duration(r, snode, "run_min", step, ename),
                    prep_min=_duration(r, snode, "prep_min", step, ename),
                    unattended_min=unatt,
                    unattended_max_min=max(
                        unatt, _duration(r, snode, "unattended_max_min", step, ename, unatt)
                    ),
                    stow_min=_duration(r, snode, "stow_min", step, ename),
                    crew=crew_n,
                    qualification=(
                        None if snode.get("qualification") is None else str(snode["qualification"])
                    ),
                    power_kw=r.number(snode, "power_kw", 0.0),
                    data_mb=r.number(snode, "data_mb", 0.0),
                    repetitions=int(r.number(snode, "repetitions", 1.0, minimum=1)),
                    window_min=None if win is None else _range(r, win, start, snode, "window"),
                    due_min=None if due is None else _minute_of(r, due, start, snode),
                    ground_support=bool(snode.get("ground_support", False)),
                    required=bool(snode.get("required", False)),
                    sample=sample,
                    after=tuple(after),
                    line=snode.get("__line__"),
                    commands=(
                        None
                        if snode.get("commands") is None
                        else _command_mapping(r, snode["commands"], snode, ename, sname)
                    ),
                )
            )
        if not sessions:
            raise r.error(f"experiment {ename!r} has no sessions", enode, experiment=ename)
        commands = None
        if enode.get("commands") is not None:
            commands = _command_mapping(r, enode["commands"], enode, ename)
        experiments.append(
            Experiment(ename, disc, prio, tuple(sessions), enode.get("__line__"), commands)
        )

    camp = Campaign(
        name=str(top.get("campaign", "campaign")),
        start=start,
        days=days,
        step_min=step,
        crew=tuple(crew),
        racks=tuple(racks),
        experiments=tuple(experiments),
        crew_day=crew_day,
        cold_storage=tuple(stores),
        sunlit_power_kw=r.number(power, "sunlit_kw", 1e9),
        eclipse_power_kw=r.number(power, "eclipse_kw", r.number(power, "sunlit_kw", 1e9)),
        downlink_rate_mbps=r.number(ground, "downlink_rate_mbps", 100.0, minimum=1e-9),
        downlink_within_min=int(r.number(ground, "downlink_within_min", 1440.0)),
        return_departure_min=ret_min,
        tle_path=None if tle_path is None else str(tle_path),
        eclipse_model=eclipse_model,
        downlink_stations=tuple(str(s) for s in ground.get("downlink_stations") or []),
        support_stations=tuple(str(s) for s in ground.get("support_stations") or []),
        min_elevation_deg=(
            None if ground.get("min_elevation_deg") is None else float(ground["min_elevation_deg"])
        ),
        relay_windows_min=tuple(
            (int(a), int(b))
            for a, b in (_range(r, w, start, ground, "relay") for w in ground.get("relay") or [])
        ),
        eclipses_min=_windows("eclipses"),
        contacts_min=_windows("contacts"),
        support_passes_min=_windows("support_passes"),
        source=file,
    )
    _validate(camp, r, top)
    return camp


def _validate(c: Campaign, r: _Reader, top: Mapping[str, Any]) -> None:
    """Check cross-references: duplicate names, precedence cycles, session length vs work day."""
    names = [e.name for e in c.experiments]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise r.error(f"duplicate experiment names: {', '.join(dup)}", top, rule="names")
    longest = c.crew_day.longest_work_period_min
    by_key: dict[tuple[str, str], Session] = {}
    for e in c.experiments:
        snames = [s.name for s in e.sessions]
        if len(set(snames)) != len(snames):
            raise CampaignError(
                f"experiment {e.name!r} has duplicate session names",
                file=c.source,
                line=e.line,
                experiment=e.name,
                rule="names",
            )
        for s in e.sessions:
            by_key[e.name, s.name] = s
            where: dict[str, Any] = {"file": c.source, "line": s.line, "experiment": e.name}
            if s.run_min <= 0:
                raise CampaignError(
                    f"experiment {e.name!r} session {s.name!r}: run_min must be > 0",
                    **where,
                    rule="duration",
                )
            tended = s.prep_min + s.run_min
            if tended > longest or s.stow_min > longest:
                raise CampaignError(
                    f"experiment {e.name!r} session {s.name!r}: the crew-tended part "
                    f"(prep + run = {tended} min, stow = {s.stow_min} min) is longer than any "
                    f"work period of the crew day (longest {longest} min); split the session",
                    **where,
                    rule="crew day",
                )
            if s.crew > len(c.crew):
                raise CampaignError(
                    f"experiment {e.name!r} session {s.name!r}: needs {s.crew} crew, only "
                    f"{len(c.crew)} in the campaign",
                    **where,
                    rule="crew",
                )
            if s.qualification is not None and not any(
                s.qualification in m.qualifications for m in c.crew
            ):
                raise CampaignError(
                    f"experiment {e.name!r} session {s.name!r}: nobody aboard has qualification "
                    f"{s.qualification!r}",
                    **where,
                    rule="qualification",
                )
    # precedence references and cycles
    graph: dict[tuple[str, str], list[tuple[str, str]]] = {k: [] for k in by_key}
    for e in c.experiments:
        for s in e.sessions:
            for p in s.after:
                ref = (p.after_experiment, p.after_session)
                if ref not in by_key:
                    raise CampaignError(
                        f"experiment {e.name!r} session {s.name!r}: 'after' names unknown "
                        f"session {p.after_experiment}/{p.after_session}",
                        file=c.source,
                        line=s.line,
                        experiment=e.name,
                        rule="precedence",
                    )
                graph[ref].append((e.name, s.name))
    state: dict[tuple[str, str], int] = {}
    stack: list[tuple[str, str]] = []

    def visit(k: tuple[str, str]) -> None:
        state[k] = 1
        stack.append(k)
        for nxt in graph[k]:
            if state.get(nxt) == 1:
                cyc = [*stack[stack.index(nxt) :], nxt]
                s = by_key[nxt]
                raise CampaignError(
                    "cyclic precedence: "
                    + " -> ".join(f"{a}/{b}" for a, b in cyc)
                    + "; remove one 'after'",
                    file=c.source,
                    line=s.line,
                    experiment=nxt[0],
                    rule="precedence",
                )
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[k] = 2

    for k in graph:
        if k not in state:
            visit(k)


def load_campaign(path: str | Path) -> Campaign:
    """Read a campaign YAML file; errors name the experiment, the rule, file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CampaignError(f"cannot read campaign file: {exc.strerror}", file=str(p)) from None
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CampaignError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            file=str(p),
            line=None if mark is None else mark.line + 1,
        ) from None
    return parse_campaign(data, file=str(p), base_dir=p.parent)


# ---------------------------------------------------------------------------------------------
# Plans: the activities a solver (or a person) proposes, and their JSON form


@dataclass(frozen=True)
class Activity:
    """One contiguous piece of work: crew busy and rack occupied for [start_min, end_min)."""

    experiment: str
    session: str
    repetition: int
    kind: str
    crew: tuple[str, ...]
    rack: str | None
    start_min: int
    end_min: int

    @property
    def key(self) -> OccurrenceKey:
        """Return the occurrence this activity belongs to."""
        return (self.experiment, self.session, self.repetition)


@dataclass
class Plan:
    """A plan and what the solver knows about it (objective = priority-weighted science)."""

    status: str
    activities: list[Activity]
    objective: float = 0.0
    bound: float = 0.0
    gap: float = 0.0
    lateness_min: int = 0
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def occurrences(self) -> dict[OccurrenceKey, list[Activity]]:
        """Group the activities by occurrence, each list in time order."""
        out: dict[OccurrenceKey, list[Activity]] = {}
        for a in sorted(self.activities, key=lambda a: (a.start_min, KINDS.index(a.kind))):
            out.setdefault(a.key, []).append(a)
        return out


def plan_to_json(plan: Plan, campaign: Campaign) -> dict[str, Any]:
    """Return the plan as the JSON object of the ``falak campaign plan`` contract."""
    from falak.timecodes import format_utc

    acts = sorted(plan.activities, key=lambda a: (a.start_min, a.experiment, a.session))
    times = [
        campaign.start + _dt.timedelta(minutes=m) for a in acts for m in (a.start_min, a.end_min)
    ]
    import numpy as np

    iso = (
        format_utc(
            np.array([t.replace(tzinfo=None) for t in times], dtype="datetime64[ns]"), digits=0
        )
        if times
        else []
    )
    return {
        "campaign": campaign.name,
        "status": plan.status,
        "objective": plan.objective,
        "bound": plan.bound,
        "gap": plan.gap,
        "lateness_min": plan.lateness_min,
        "wall_s": round(plan.wall_s, 3),
        **plan.extra,
        "activities": [
            {
                "experiment": a.experiment,
                "session": a.session,
                "repetition": a.repetition,
                "kind": a.kind,
                "crew": list(a.crew),
                "rack": a.rack,
                "start": iso[2 * i],
                "end": iso[2 * i + 1],
            }
            for i, a in enumerate(acts)
        ],
    }


def plan_from_json(data: Mapping[str, Any], campaign: Campaign, file: str | None = None) -> Plan:
    """Read a plan JSON object (the ``plan`` contract) against its campaign."""
    if not isinstance(data, Mapping) or not isinstance(data.get("activities"), list):
        raise InputError(f"{file or 'plan'}: a plan is a JSON object with an 'activities' list")
    acts: list[Activity] = []
    for i, a in enumerate(data["activities"]):
        try:
            start = campaign.to_minute(parse_utc(str(a["start"])))
            end = campaign.to_minute(parse_utc(str(a["end"])))
            acts.append(
                Activity(
                    experiment=str(a["experiment"]),
                    session=str(a["session"]),
                    repetition=int(a.get("repetition", 0)),
                    kind=str(a["kind"]),
                    crew=tuple(str(c) for c in a.get("crew") or []),
                    rack=None if a.get("rack") is None else str(a["rack"]),
                    start_min=round(start),
                    end_min=round(end),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{file or 'plan'}: activity {i} is malformed ({exc}); each needs experiment, "
                "session, kind, crew, rack, start, end"
            ) from None
    return Plan(
        status=str(data.get("status", "FEASIBLE")),
        activities=acts,
        objective=float(data.get("objective", 0.0)),
        bound=float(data.get("bound", 0.0)),
    )
