"""``falak demo``: the ground segment in one command — the server, the simulators, their stacks.

The demo flies the station (``TIANGONG``), the lunar south-pole rover (``ROVER``) and the
lunar orbiter (``ORBITER``) by default (``--spacecraft`` chooses). It writes a *run
directory* (the server configuration with the run's clock, the demo users and their
generated passwords, the station's campaign, its plan and the command stack made from it,
the rover's site, planned traverse, drive stack and uplink windows, the orbiter's trajectory,
contacts, imaging plan and stack, the simulators' status files and every child's log, and
``run.json`` that says where all of it is), then starts, each as a child process in its own
process group:

1. ``falak serve --config RUN/server.yaml`` on a free loopback port, on the embedded archive
   (SQLite), and waits for ``/health``;
2. one ``falak sim ...`` per spacecraft, sending telemetry to the server's links and
   listening for its telecommands, all on free loopback UDP ports, every process with the
   same clock numbers (epoch, speed, reference host time: :class:`falak.clock.ScaledClock`);

loads each spacecraft's command stack through :class:`falak.client.Client` and starts it,
prints the URL, the users and what to try, and runs until Ctrl-C, SIGTERM or ``--duration``.
Then it stops the simulators and the server (SIGTERM to each process group, a grace period,
then SIGKILL) and waits for them, so no process is left behind. On Linux the children are also
told to stop if the demo itself dies (``PR_SET_PDEATHSIG``).

The station's stack is a campaign planned with ``falak campaign plan`` and turned into
commands with ``falak campaign commands``. The rover's is a traverse of about 30 m from where
the rover simulator starts, planned on the simulator's own site (the same options and seed,
:func:`falak.terrain.site.site_terrain`, written as ``rover-site.tif`` and its horizons) with
``falak traverse plan``, turned into a drive stack with ``falak traverse commands`` and
uplinked only while the Earth is above the rover's horizon: ``falak traverse windows`` writes
the windows the server's ``uplink_windows`` holds commands to (``--uplink-policy``).

The orbiter flies one trajectory on the ground and in its simulator: ``falak orbiter
propagate`` writes ``orbiter.oem`` (the simulator's default orbit, given 11.5 h before the
run's epoch so that its perilune over the south pole comes half an hour into the run), the
simulator flies it (``--option oem=...``) and the server shows it (``orbit: {oem}``). Its
contacts (``falak orbiter contacts``) are its uplink windows (``orbiter-windows.json``); an
imaging plan of a south-pole target (``falak orbiter imaging``, ``orbiter-imaging.json``)
becomes ``orbiter-stack.yaml``: IMAGE_TAKE inside a contact, then FILE_DUMP of the images and
a magnetometer file, which come down by CFDP class 2 to the server's entity (``cfdp:``)
through a link losing 5 % of the CFDP packets each way (``--option loss=0.05``); the
simulator writes each file it makes to ``orbiter-files/`` for comparison.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import typer

#: Where the demo's archive goes without ``--archive`` (relative to the working directory).
DEFAULT_ARCHIVE = Path("demo-out") / "ground" / "archive"
#: Simulated UTC at the start of the run: a working morning of the crew day (work from 08:00
#: UTC), the day after the epoch of the bundled Tiangong TLE (2023-09-07), so SGP4 is at its
#: best. The station is in contact (data relays) from 07:24 to 09:02:31, out of contact for a
#: minute, then in again until 10:41: a demo of a simulated hour sees a gap and its dump.
DEFAULT_EPOCH = "2023-09-08T08:10:00Z"
#: Host seconds each verifier window of the run is widened by (times --speed on the run's
#: clock): the server's config key host_allowance_s (docs/server.md).
HOST_ALLOWANCE_S = 0.5
#: The orbiter's: its simulator renders each IMAGE_TAKE's frame before the command's
#: acknowledgements go out, 0.2-0.6 host s on a quiet machine (the first the longest) and
#: 2.5 s seen on a loaded one, which at --speed 60 is 150 s of the run's clock, past the
#: received window's 5 s + two light times + 30 s of the 0.5 s allowance.
ORBITER_HOST_ALLOWANCE_S = 5.0
#: Host seconds a child gets to stop after SIGTERM before it is killed.
STOP_GRACE_S = 15.0
#: Host seconds the server gets to answer ``/health`` after it was started.
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class DemoSpacecraft:
    """A spacecraft the demo flies: its MDB name, its ``falak sim`` model and mission files."""

    name: str
    """The MDB's root name, as the server and the archive key it."""
    sim: str
    """The ``falak sim`` model (``falak sim station``)."""
    mission: str
    """Its folder in ``falak/missions``."""
    campaign: bool = False
    """True if a campaign plan is flown as its command stack."""
    traverse: bool = False
    """True if a traverse planned on its site is flown as its drive stack (the rover)."""
    light_time_s: float = 0.0
    """One-way light time, ground <-> spacecraft (the rover's: its real one, at planning)."""
    tle: str | None = None
    """An Earth orbiter's TLE file in its mission folder (the server's ``orbit: {tle}``)."""
    orbiter: bool = False
    """True for the lunar orbiter: its trajectory, contacts, imaging plan and CFDP downlink."""
    host_allowance_s: float = HOST_ALLOWANCE_S
    """Host seconds its verifier windows are widened by (the server's ``host_allowance_s``)."""

    @property
    def mdb(self) -> Path:
        """The spacecraft's mission database."""
        from falak.missions import __file__ as missions_init

        return Path(missions_init).parent / self.mission / "mdb.yaml"

    @property
    def tle_file(self) -> Path | None:
        """The TLE file, None for a spacecraft without one."""
        return None if self.tle is None else self.mdb.parent / self.tle


#: The spacecraft of the demo (``--spacecraft`` chooses; the first is the server's default).
#: The station's light time is its longest, through a geostationary data relay: about
#: 2 x 36,000 km (station -> relay -> ground terminal) / c = 0.24 s, rounded up; the server
#: widens its verifier windows by twice that. The rover's, ~1.28 s, is replaced at planning
#: by the real rover-Earth light time at the epoch (the simulator's, DE421).
SPACECRAFT: tuple[DemoSpacecraft, ...] = (
    DemoSpacecraft(
        "TIANGONG", "station", "tiangong", campaign=True, light_time_s=0.25, tle="css.tle"
    ),
    DemoSpacecraft("ROVER", "rover", "rover", traverse=True, light_time_s=1.28),
    DemoSpacecraft(
        "ORBITER",
        "orbiter",
        "orbiter",
        orbiter=True,
        light_time_s=1.28,
        host_allowance_s=ORBITER_HOST_ALLOWANCE_S,
    ),
)
#: Their names, as ``--spacecraft`` takes them.
SPACECRAFT_NAMES = ",".join(s.name for s in SPACECRAFT)

#: The rover's site: the rover simulator's defaults, written out so that the simulator, the
#: planner (``rover-site.tif``), the uplink windows and the server's site map are built from
#: the same options (:func:`falak.terrain.site.site_terrain`, with the run's ``--seed``).
ROVER_SITE: dict[str, Any] = {
    "dem_size": 256,
    "dem_resolution_m": 2.0,
    "site_lat_deg": -89.9,
    "site_lon_deg": 0.0,
    "n_azimuths": 72,
}
#: The demo traverse: to a cell about this far from where the rover starts, m (a drive of
#: ~10 simulated minutes at the rover's 200 m/h).
ROVER_TRAVERSE_M = 30.0
#: Its slope limit (the legs' MAX_SLOPE_DEG), degrees; the MDB allows 1-20.
ROVER_MAX_SLOPE_DEG = 15.0
#: The rover's drive speed, m/s (the simulator's 200 m/h, falak.sim.rover.DRIVE_SPEED_M_S).
ROVER_SPEED_M_S = 0.0556
#: Hours of the traverse's planning window and of the uplink windows written for the server.
ROVER_PLAN_HOURS = 24.0
ROVER_WINDOW_HOURS = 8 * 24.0
#: What the server does with a rover command released while the Earth is below the horizon.
UPLINK_POLICIES = ("wait", "refuse")

#: The orbiter's orbit: the orbiter simulator's default elements (falak.sim.orbiter.
#: DEFAULT_ELEMENTS: 12 h, 200 km perilune over the south pole, MOON_PA), given at an epoch
#: ORBITER_PHASE_H before the run's: the orbiter's own time offset, so that its next perilune
#: over the south pole, the imaging opportunity, comes about half an hour into the run (at
#: the run's epoch itself it would be there at once, before the stack is loaded).
ORBITER_ELEMENTS = "6142.4,0.6846,90,0,270,0"
ORBITER_PHASE_H = 11.5
#: Days of trajectory ``falak orbiter propagate`` writes (from the elements' epoch); the
#: simulator propagates on past its end.
ORBITER_DAYS = 4.0
#: Ground stations of the orbiter's contacts: the simulator's defaults (Karachi, Islamabad)
#: and Neuquén, whose Moon is up on the demo's morning (the Moon sets at Karachi at 07:36 UTC
#: on the default day; Neuquén sees it from 08:26 to 15:28).
ORBITER_STATIONS = ("Karachi", "Islamabad", "Neuquén")
#: The imaging target (MOON_ME lat, east lon, deg): by the south pole, under perilune.
ORBITER_TARGET = (-89.5, 0.0)
#: The imaging search: the target within the camera's half field (5.73 deg / 2) of nadir,
#: the Sun at most 2 deg below its horizontal plane (the polar Sun is never high: peaks and
#: crater rims are lit while the plane is not).
ORBITER_MAX_OFF_NADIR_DEG = 2.8
ORBITER_MIN_SUN_ELEVATION_DEG = -2.0
#: Frames per opportunity, their spacing (s: the camera's 5 s readout and the complete
#: acknowledgement two light times later) and exposure (ms: the README's 100-300 at the pole).
#: One: at 200 km the target stays within the half field of view for ~10 s of a pass, and a
#: second frame 8.6 s later (planning.orbiter.commands.MIN_SPACING_S) would be released late
#: whenever the simulator's render of the first delays its acknowledgement (0.2-0.6 host s,
#: 12-36 s of the run's clock at --speed 60).
ORBITER_FRAMES = 1
ORBITER_FRAME_SPACING_S = 12.0
ORBITER_EXPOSURE_MS = 200
#: CFDP packet loss on the orbiter's link, each way (falak sim orbiter --option loss=...).
ORBITER_LOSS = 0.05
#: The ground's CFDP entity with the orbiter (the server's cfdp: block; the simulator's
#: defaults: it is entity 2, the ground 1, PDUs on APID 610 down and 611 up).
ORBITER_CFDP: dict[str, Any] = {
    "entity_id": 1,
    "remote_entity_id": 2,
    "apid_down": 610,
    "apid_up": 611,
    "timers": {"nak_interval_s": 10},
}


# -- ports, users, files ---------------------------------------------------------------------


def free_ports(tcp: int, udp: int, host: str = "127.0.0.1") -> tuple[list[int], list[int]]:
    """Return ``tcp`` free TCP ports and ``udp`` free UDP ports on ``host``, all distinct.

    The sockets are held until all are chosen, so the numbers differ; another program may
    still take one before the demo's children bind it (a race the demo reports as a child
    that failed to start).
    """
    socks: list[socket.socket] = []
    try:
        out: tuple[list[int], list[int]] = ([], [])
        for kind, n, dest in ((socket.SOCK_STREAM, tcp, out[0]), (socket.SOCK_DGRAM, udp, out[1])):
            while len(dest) < n:
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind((host, 0))
                port = int(s.getsockname()[1])
                if port not in out[0] and port not in out[1]:
                    dest.append(port)
        return out
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class DemoUser:
    """A demo user: name, role and generated password."""

    name: str
    role: str
    password: str


def demo_users() -> list[DemoUser]:
    """Return one user per role with a fresh random password (the example config's users)."""
    from falak.server.config import EXAMPLE_USERS

    return [DemoUser(n, r, secrets.token_urlsafe(9)) for n, r in EXAMPLE_USERS]


@dataclass
class SpacecraftRun:
    """One spacecraft of a run: its ports, status file and stack."""

    spec: DemoSpacecraft
    tm_port: int
    playback_port: int
    tc_port: int
    status_file: Path
    stack_file: Path | None = None
    stack_name: str | None = None
    light_time_s: float | None = None
    """One-way light time the server is told (None: the spec's)."""
    plans: list[Path] = field(default_factory=list)
    """Plans the console shows (server config ``plans``, run.json ``plans``)."""
    windows_file: Path | None = None
    """The uplink windows (``falak traverse windows``), for the server's ``uplink_windows``."""
    sim_options: dict[str, Any] = field(default_factory=dict)
    """``falak sim ... --option KEY=VALUE`` (the rover: its site and start)."""
    start_xy_m: tuple[float, float] | None = None
    """Where the rover starts, projected m."""
    oem_file: Path | None = None
    """The orbiter's trajectory (``falak orbiter propagate``), shared by ground and simulator."""
    frames: list[str] = field(default_factory=list)
    """The orbiter's planned IMAGE_TAKE times (UTC, at the orbiter)."""

    @property
    def light_time(self) -> float:
        """The one-way light time the server widens verifier windows by, s."""
        return self.spec.light_time_s if self.light_time_s is None else self.light_time_s

    @property
    def links(self) -> list[str]:
        """The server's telemetry links: realtime, then playback."""
        return [f"udp://127.0.0.1:{self.tm_port}", f"udp://127.0.0.1:{self.playback_port}"]

    @property
    def uplink(self) -> str:
        """Where the server sends telecommands (the simulator listens there)."""
        return f"udp://127.0.0.1:{self.tc_port}"

    def as_json(self) -> dict[str, Any]:
        """Return what ``run.json`` says about this spacecraft."""
        return {
            "name": self.spec.name,
            "sim": self.spec.sim,
            "mdb": str(self.spec.mdb),
            "tm": self.links[0],
            "playback": self.links[1],
            "tc": self.uplink,
            "status": str(self.status_file),
            "stack_file": None if self.stack_file is None else str(self.stack_file),
            "stack": self.stack_name,
            "plans": [str(f) for f in self.plans],
        }

    def server_entry(self, run: DemoRun) -> dict[str, Any]:
        """This spacecraft's entry of the server configuration (docs/server.md)."""
        entry: dict[str, Any] = {
            "name": self.spec.name,
            "mdb": str(self.spec.mdb),
            "links": self.links,
            "uplink": self.uplink,
            "light_time_s": self.light_time,
            # the ground's own reaction time on a busy laptop: at --speed 60 a 5 s verifier
            # window is 83 ms of host time, which a loaded machine can miss
            "host_allowance_s": self.spec.host_allowance_s,
        }
        if self.windows_file is not None:
            entry["uplink_windows"] = {"file": str(self.windows_file), "policy": run.uplink_policy}
        if self.spec.tle_file is not None:
            entry["orbit"] = {"tle": str(self.spec.tle_file)}
        if self.spec.traverse:
            entry["site"] = {"dem": "synthetic", "options": dict(ROVER_SITE), "seed": run.seed}
        if self.spec.orbiter:
            entry["cfdp"] = {**ORBITER_CFDP, "timers": dict(ORBITER_CFDP["timers"])}
            if self.oem_file is not None:
                entry["orbit"] = {"oem": str(self.oem_file)}
        if self.plans:
            entry["plans"] = [str(f) for f in self.plans]
        return entry


@dataclass
class DemoRun:
    """Everything a demo run is: where its files are, its ports, clock and users."""

    run_dir: Path
    archive: Path
    port: int
    epoch: str
    epoch_ns: int
    speed: float
    reference_host_ns: int
    seed: int
    users: list[DemoUser]
    spacecraft: list[SpacecraftRun]
    children: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: str = "starting"
    uplink_policy: str = "wait"
    """The rover's uplink policy outside its windows: wait or refuse (``--uplink-policy``)."""

    @property
    def url(self) -> str:
        """The server's URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        """The server configuration."""
        return self.run_dir / "server.yaml"

    @property
    def run_file(self) -> Path:
        """``run.json``: the machine-readable description of the run."""
        return self.run_dir / "run.json"

    @property
    def log_dir(self) -> Path:
        """Where each child's output goes (``<name>.log``)."""
        return self.run_dir / "logs"

    def clock(self) -> dict[str, Any]:
        """The clock block every process of the run gets."""
        return {
            "epoch": self.epoch,
            "speed": self.speed,
            "reference_host_ns": self.reference_host_ns,
        }

    def user(self, role: str) -> DemoUser:
        """The demo user holding ``role``."""
        return next(u for u in self.users if u.role == role)

    def server_config(self) -> dict[str, Any]:
        """The server configuration (``falak serve --config``), as a mapping."""
        return {
            "archive": str(self.archive),
            "clock": self.clock(),
            "users": [
                {"name": u.name, "roles": [u.role], "password": u.password} for u in self.users
            ],
            "spacecraft": [sc.server_entry(self) for sc in self.spacecraft],
        }

    def as_json(self) -> dict[str, Any]:
        """Return the content of ``run.json``."""
        return {
            "state": self.state,
            "pid": os.getpid(),
            "url": self.url,
            "port": self.port,
            "run_dir": str(self.run_dir),
            "archive": str(self.archive),
            "config": str(self.config_file),
            "clock": {**self.clock(), "epoch_ns": self.epoch_ns},
            "seed": self.seed,
            "uplink_policy": self.uplink_policy,
            "users": [{"name": u.name, "role": u.role, "password": u.password} for u in self.users],
            "spacecraft": [sc.as_json() for sc in self.spacecraft],
            "children": self.children,
        }

    def write(self) -> None:
        """Write ``run.json`` (atomically: readers never see half a file)."""
        write_private(self.run_file, json.dumps(self.as_json(), indent=1) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only (it holds passwords)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def prepare_run(
    run_dir: Path,
    archive: Path,
    *,
    port: int,
    epoch: str,
    speed: float,
    seed: int,
    spacecraft: Sequence[DemoSpacecraft] = SPACECRAFT,
    uplink_policy: str = "wait",
) -> DemoRun:
    """Create the run directory: ports, users, clock and the server configuration.

    The clock's reference host time is set again when the server starts (after planning);
    the simulators start once the server answers, so the server hears every packet.
    """

    from falak.errors import InputError
    from falak.utctime import format_ns, parse_ns

    epoch_ns = parse_ns(epoch, "--epoch", zone_required=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    if uplink_policy not in UPLINK_POLICIES:
        raise InputError(
            f"--uplink-policy {uplink_policy!r} must be one of {', '.join(UPLINK_POLICIES)}"
        )
    for stale in ("run.json", *(f"{sc.sim}-status.json" for sc in spacecraft)):
        (run_dir / stale).unlink(missing_ok=True)
    (run_dir / "logs").mkdir(exist_ok=True)
    archive.mkdir(parents=True, exist_ok=True)
    tcp, udp = free_ports(0 if port else 1, 3 * len(spacecraft))
    runs = [
        SpacecraftRun(
            spec,
            tm_port=udp[3 * i],
            playback_port=udp[3 * i + 1],
            tc_port=udp[3 * i + 2],
            status_file=run_dir / f"{spec.sim}-status.json",
        )
        for i, spec in enumerate(spacecraft)
    ]
    run = DemoRun(
        run_dir=run_dir,
        archive=archive,
        port=port or tcp[0],
        epoch=format_ns(epoch_ns, 0),
        epoch_ns=epoch_ns,
        speed=float(speed),
        reference_host_ns=time.time_ns(),
        seed=seed,
        users=demo_users(),
        spacecraft=runs,
        uplink_policy=uplink_policy,
    )
    write_server_config(run)
    return run


def write_server_config(run: DemoRun) -> None:
    """Write the run's server configuration and ``env.sh`` (the operator's shell variables)."""
    import yaml

    write_private(
        run.config_file,
        "# falak demo: server configuration of this run (docs/server.md); the passwords are\n"
        "# generated for this run only.\n" + yaml.safe_dump(run.server_config(), sort_keys=False),
    )
    op = run.user("operator")
    env = [
        "# falak demo: source this file (. env.sh) to talk to the running demo as the operator",
        f"export FALAK_URL={run.url}",
        f"export FALAK_USER={op.name}",
        f"export FALAK_PASSWORD={op.password}",
        f"export FALAK_RUN={run.run_dir}",
    ]
    for sc in run.spacecraft:
        env.append(f"export FALAK_{sc.spec.sim.upper()}_TC={sc.uplink}")
    write_private(run.run_dir / "env.sh", "\n".join(env) + "\n")


# -- the campaign and its stack --------------------------------------------------------------


#: The demo campaign's experiments: (name, discipline, rack, power kW, commands), each
#: commanded through its payload's configure/start/stop commands of the station MDB. The plant
#: habitat is left out, for operators to command by hand while the stack runs
#: (docs/ground-segment.md).
DEMO_EXPERIMENTS: tuple[tuple[str, str, str, float, dict[str, Any]], ...] = (
    (
        "alloy-melt",
        "materials science",
        "MT-FURNACE",
        2.0,
        {
            "configure": [
                {
                    "command": "FURN_CONFIGURE",
                    "args": {"SETPOINT_C": 450.0, "RAMP_C_PER_MIN": 30.0, "SOAK_MIN": 5},
                }
            ],
            "start": [{"command": "FURN_START", "args": {"PROFILE": "ISOTHERMAL"}}],
            "stop": [{"command": "FURN_STOP"}],
        },
    ),
    (
        "capillary-flow",
        "fluid mechanics",
        "MT-FLUID",
        0.3,
        {
            "configure": [
                {
                    "command": "FLUID_CONFIGURE",
                    "args": {"CELL_TEMP_C": 25.0, "FILL_PCT": 60.0, "CAMERA_FPS": 25},
                }
            ],
            "start": [{"command": "FLUID_START"}],
            "stop": [{"command": "FLUID_STOP"}],
        },
    ),
    (
        "cell-culture",
        "biological and medical sciences",
        "WT-BIOTECH",
        0.15,
        {
            "configure": [
                {
                    "command": "INC_CONFIGURE",
                    "args": {"TEMP_C": 37.0, "CO2_PCT": 5.0, "RH_PCT": 90.0},
                }
            ],
            "start": [{"command": "INC_START"}],
            "stop": [{"command": "INC_STOP"}],
        },
    ),
    (
        "dose-survey",
        "space radiation",
        "TH-2",
        0.05,
        {
            "configure": [
                {"command": "DOSI_CONFIGURE", "args": {"INTEGRATION_S": 10, "BIAS_V": 80.0}}
            ],
            "start": [{"command": "DOSI_START"}],
            "stop": [{"command": "DOSI_STOP"}],
        },
    ),
    (
        "x-ray-survey",
        "astronomy",
        "MT-MODULAR",
        0.65,
        {
            "configure": [
                {"command": "ASTRO_CONFIGURE", "args": {"HV_V": 1200.0, "EXPOSURE_S": 60}}
            ],
            # the Crab nebula (ICRS), the X-ray astronomer's standard candle
            "start": [{"command": "ASTRO_START", "args": {"RA_DEG": 83.633, "DEC_DEG": 22.014}}],
            "stop": [{"command": "ASTRO_STOP"}],
        },
    ),
)


def demo_campaign(epoch_ns: int) -> dict[str, Any]:
    """Return the demo's station campaign: short sessions that all fly in the first hour.

    Five experiments of five disciplines on their own racks, six 20-30 minute sessions in all
    (the dosimeter's calibration and survey), in a window from 5 to 55 minutes after
    ``epoch_ns`` (a working morning of the crew day with the default epoch), so at ``--speed
    60`` the whole plan runs in the first host minute. Each session's power is the bound the
    station simulator reserves for its rack while it runs, and the plan keeps 2.8 of the
    simulator's 3 kW eclipse share, leaving 200 W for the plant habitat commanded by hand.
    Each experiment maps its session onto the station MDB's configure, start and stop
    commands (``falak campaign commands`` turns the plan into the command stack).
    """
    import importlib.resources

    from falak.utctime import format_ns

    minute_ns = 60 * 1_000_000_000
    # the campaign starts at midnight UTC: the planner counts the crew day's hours from the
    # campaign's start, so a start at 08:00 would move the crew's work to 16:00
    day_ns = 1440 * minute_ns
    midnight_ns = epoch_ns - epoch_ns % day_ns
    window = [format_ns(epoch_ns + 5 * minute_ns, 0), format_ns(epoch_ns + 55 * minute_ns, 0)]
    # the furnace runs late in the hour, so a fault can be injected while it heats
    late = [format_ns(epoch_ns + 30 * minute_ns, 0), window[1]]
    tle = importlib.resources.files("falak.missions") / "tiangong" / "css.tle"
    return {
        "campaign": "falak demo",
        "start": format_ns(midnight_ns, 0),
        "days": 2,
        "step_min": 5,
        "orbit": {"tle": str(tle), "eclipse_model": "conical"},
        "ground": {
            "downlink_stations": ["Islamabad", "Karachi", "Lahore", "Kashi", "Jiamusi", "Sanya"],
            "support_stations": ["Islamabad", "Karachi", "Lahore"],
        },
        "power": {"sunlit_kw": 6.0, "eclipse_kw": 2.8},
        "crew_day": {
            "work": [["08:00", "12:00"], ["15:30", "18:00"]],
            "meal": ["12:00", "13:00"],
            "exercise": ["13:00", "15:30"],
            "sleep": "21:30",
            "wake": "06:00",
        },
        "crew": [
            {"name": "Jing", "role": "commander", "qualifications": ["crew"]},
            {"name": "Lin", "role": "flight engineer", "qualifications": ["crew"]},
            {
                "name": "Ayesha",
                "role": "payload specialist",
                "qualifications": ["crew", "payload-specialist"],
            },
        ],
        "racks": [
            {"name": rack, "module": _MODULES[rack[:2]], "capabilities": ["general"]}
            for rack in [*(e[2] for e in DEMO_EXPERIMENTS), "TH-1"]
        ],
        "experiments": [
            {
                "name": name,
                "discipline": discipline,
                "priority": 5,
                "commands": commands,
                "sessions": [
                    {
                        "name": session,
                        # the dosimeter's two sessions fly side by side, on two racks
                        "racks": [rack, "TH-1"] if name == "dose-survey" else [rack],
                        "prep_min": 5,
                        "run_min": 10,
                        "unattended_min": 5,
                        "unattended_max_min": 15,
                        "stow_min": 5,
                        "power_kw": power_kw,
                        "data_mb": 0,
                        "window": late if name == "alloy-melt" else window,
                        "required": True,  # the demo flies every session, or says why not
                    }
                    for session in (("calibrate", "survey") if name == "dose-survey" else ("run",))
                ],
            }
            for name, discipline, rack, power_kw, commands in DEMO_EXPERIMENTS
        ],
    }


_MODULES = {"TH": "Tianhe", "WT": "Wentian", "MT": "Mengtian"}


def write_demo_campaign(path: Path, epoch_ns: int) -> None:
    """Write :func:`demo_campaign` as YAML to ``path``."""
    import yaml

    text = yaml.safe_dump(demo_campaign(epoch_ns), sort_keys=False, allow_unicode=True)
    path.write_text(
        "# falak demo: the station campaign of this run (docs/station.md, docs/ground-segment.md)\n"
        + text,
        encoding="utf-8",
    )


# -- child processes -------------------------------------------------------------------------


def falak_argv() -> list[str]:
    """Return how to start the ``falak`` command of this installation."""
    script = Path(sys.executable).parent / "falak"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from falak.cli.app import main; sys.exit(main())"]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM this child when the demo dies (``prctl(PR_SET_PDEATHSIG)``)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG


@dataclass
class Child:
    """A child process of the demo, with its log file."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes]
    log: Path
    log_file: IO[bytes]

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self.proc.pid

    def alive(self) -> bool:
        """True while the child runs (an exited child is not reaped: see :meth:`exit_code`)."""
        return self.exit_code() is None

    def exit_code(self) -> int | None:
        """The child's exit code (-N: killed by signal N), None while it runs.

        The child is *not* reaped (``waitid`` with ``WNOWAIT``) until :meth:`Supervisor.stop`
        does it, so its pid, which is also its process group id, stays ours until then.
        """
        if self.proc.returncode is not None:
            return int(self.proc.returncode)
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return int(self.proc.wait())
        if info is None:
            return None
        return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


class Supervisor:
    """Start child processes, each in its own process group, and stop every one of them.

    :meth:`stop_all` stops the children in the reverse order of their start: SIGTERM to
    the child's process group, up to ``grace_s`` host seconds to exit, then SIGKILL.
    """

    def __init__(self, log_dir: Path, *, grace_s: float = STOP_GRACE_S) -> None:
        self.log_dir = log_dir
        self.grace_s = grace_s
        self.children: list[Child] = []
        """The children started with :meth:`start` (those :meth:`run` ran to the end leave)."""
        self.finished: list[Child] = []
        """The children :meth:`run` ran to their end."""
        self._lock = threading.Lock()

    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None) -> Child:
        """Start ``argv`` as the child ``name``, output to ``LOG_DIR/name.log``."""
        log = self.log_dir / f"{name}.log"
        log_file = open(log, "wb")  # noqa: SIM115 - closed by stop_all
        kw: dict[str, Any] = {}
        if sys.platform.startswith("linux"):
            kw["preexec_fn"] = _die_with_parent
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "NO_COLOR": "1", **(env or {})},
                **kw,
            )
        except OSError:
            log_file.close()
            raise
        child = Child(name, list(argv), proc, log, log_file)
        with self._lock:
            self.children.append(child)
        return child

    def run(self, name: str, argv: Sequence[str], stop: threading.Event) -> int:
        """Run ``argv`` to its end (or until ``stop`` is set: then stop it); return its code."""
        child = self.start(name, argv)
        while child.alive():
            if stop.wait(0.2):
                break
        self.stop(child)
        with self._lock:  # done and reaped: no longer one of the children to watch
            self.children.remove(child)
        self.finished.append(child)
        return int(child.proc.returncode)

    def stop(self, child: Child) -> None:
        """Stop one child: SIGTERM to its group, wait, SIGKILL; then reap it.

        Until the child is reaped its pid cannot be reused, so signalling its process group
        reaches only what the demo started: the child and anything it left in its group.
        """
        if child.proc.returncode is None:
            if child.alive():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGTERM)
                deadline = time.monotonic() + self.grace_s
                while child.alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
            # the leader has exited (a zombie, not reaped) or overstayed its grace:
            # whatever is left in its group is killed
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
            child.proc.wait()
        child.log_file.close()

    def stop_all(self) -> None:
        """Stop every child, the last started first."""
        with self._lock:
            children = list(reversed(self.children))
        for child in children:
            self.stop(child)

    def dead(self) -> Child | None:
        """Return a child that has exited on its own, if any."""
        with self._lock:
            return next((c for c in self.children if not c.alive()), None)


def log_tail(path: Path, lines: int = 15) -> str:
    """Return the last ``lines`` lines of a log file."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_for_health(url: str, child: Child, stop: threading.Event, timeout_s: float) -> None:
    """Wait until ``url/health`` answers 200; raise if the child dies or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise DemoError(f"{child.name} exited with code {child.exit_code()}", child)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=2.0).status_code == 200:
                return
        if stop.wait(0.25):
            raise DemoStopped
    raise DemoError(f"{child.name} did not answer {url}/health in {timeout_s:g} s", child)


def wait_for_simulator(
    run: DemoRun, sc: SpacecraftRun, child: Child, stop: threading.Event
) -> None:
    """Wait until the simulator runs (its status file) and, in contact, the server hears it.

    A stack started before that would release its first commands into a simulator still
    building its model, and they would time out.
    """
    deadline = time.monotonic() + START_TIMEOUT_S
    status: dict[str, Any] = {}
    while not status.get("now_ns"):
        if not child.alive():
            raise DemoError(f"{child.name} exited with code {child.exit_code()}", child)
        if time.monotonic() > deadline:
            raise DemoError(f"{child.name} wrote no status in {START_TIMEOUT_S:g} s", child)
        if stop.wait(0.25):
            raise DemoStopped
        with contextlib.suppress(OSError, ValueError):
            status = json.loads(sc.status_file.read_text(encoding="utf-8"))
    if not status.get("in_contact"):
        return
    with _login(run, "viewer", sc.spec.name) as fc:
        heard_by = time.monotonic() + 30.0
        while time.monotonic() < heard_by and not sum(ln["packets"] for ln in fc.links()):
            if stop.wait(0.25):
                raise DemoStopped


class DemoError(Exception):
    """A step of the demo failed; ``child`` is the process whose log says why."""

    def __init__(self, message: str, child: Child | None = None) -> None:
        super().__init__(message)
        self.child = child


class DemoStopped(Exception):
    """Ctrl-C or SIGTERM arrived while the demo was starting."""


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT and SIGTERM (main thread only) for the duration."""
    sigs = (signal.SIGINT, signal.SIGTERM)

    def handler(signum: int, frame: object) -> None:
        stop.set()

    old = {s: signal.signal(s, handler) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# -- the command -----------------------------------------------------------------------------


def demo_command(
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            min=0,
            help="Stop after this many host seconds (default: run until Ctrl-C or SIGTERM).",
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed",
            min=0.001,
            help="Simulated seconds per host second, for the server and the simulators alike "
            "(1: real time; 60: an hour a minute).",
        ),
    ] = 60.0,
    archive: Annotated[
        Path | None,
        typer.Option(
            "--archive",
            help="Archive directory (the embedded SQLite archive, one sub-archive per "
            f"spacecraft). Default: {DEFAULT_ARCHIVE} under the working directory, emptied "
            "at each start; a directory given here is added to.",
        ),
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            "--run-dir",
            help="Where the run's files go (server.yaml, campaign, plan, stack, the rover's "
            "site, route, stack and uplink windows, status files, logs/, run.json). Default: "
            "'run' beside the archive.",
        ),
    ] = None,
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="The server's TCP port (0: any free)."),
    ] = 0,
    epoch: Annotated[
        str,
        typer.Option(
            "--epoch",
            help="Simulated UTC at the start of the run (ISO 8601). The demo campaign flies "
            "5 to 55 minutes after it and needs the crew at work then (08:00-12:00 or "
            "15:30-18:00 UTC); otherwise planning says which rules conflict. The rover's "
            "traverse departs then, or once the Earth is up over its whole route (it is "
            "teleoperated), within a day.",
        ),
    ] = DEFAULT_EPOCH,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the simulators' noise and the rover's site.")
    ] = 0,
    spacecraft: Annotated[
        str,
        typer.Option(
            "--spacecraft",
            help="The spacecraft to fly, comma-separated: "
            + SPACECRAFT_NAMES
            + " (the default: all).",
        ),
    ] = SPACECRAFT_NAMES,
    uplink_policy: Annotated[
        str,
        typer.Option(
            "--uplink-policy",
            help="A rover command released while the Earth is below the rover's horizon: "
            "wait for the next uplink window, or refuse it (the server's uplink_windows).",
        ),
    ] = "wait",
) -> None:
    """Run the ground segment: the server, the simulators and their command stacks.

    Starts `falak serve` on the embedded archive and one `falak sim` per spacecraft on
    loopback with a shared clock: the station (TIANGONG) flies a short campaign as a command
    stack; the lunar south-pole rover (ROVER) drives a ~30 m traverse planned on its
    simulator's site (falak traverse plan, commands, windows), its commands uplinked only
    while the Earth is above its horizon. Prints the URL and the demo users' passwords and
    runs until Ctrl-C (or SIGTERM, or --duration). Stopping stops every process it started.
    Afterwards `falak archive stats --archive DIR` lists the packets.
    """
    import shutil

    try:
        chosen = demo_spacecraft(spacecraft)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--spacecraft") from None
    if uplink_policy not in UPLINK_POLICIES:
        raise typer.BadParameter(
            f"{uplink_policy!r} is not one of {', '.join(UPLINK_POLICIES)}",
            param_hint="--uplink-policy",
        )

    if archive is None:
        archive = DEFAULT_ARCHIVE
        if archive.exists():
            shutil.rmtree(archive)
    archive = archive.resolve()
    run_dir = (run_dir or archive.parent / "run").resolve()
    code = run_demo(
        run_dir, archive, duration_s=duration, speed=speed, port=port, epoch=epoch, seed=seed,
        spacecraft=chosen, uplink_policy=uplink_policy,
    )  # fmt: skip
    if code:
        raise typer.Exit(code)


def demo_spacecraft(names: str) -> tuple[DemoSpacecraft, ...]:
    """Return the demo spacecraft named in ``names`` (comma-separated), in their demo order.

    Raises
    ------
    ValueError
        A name is not one of :data:`SPACECRAFT`, or none is given.
    """
    wanted = [n.strip().upper() for n in names.split(",") if n.strip()]
    known = {s.name for s in SPACECRAFT}
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        what = f"unknown spacecraft {', '.join(unknown)}" if unknown else "no spacecraft"
        raise ValueError(f"{what}; choose from {', '.join(s.name for s in SPACECRAFT)}")
    return tuple(s for s in SPACECRAFT if s.name in wanted)


def run_demo(
    run_dir: Path,
    archive: Path,
    *,
    duration_s: float | None,
    speed: float,
    port: int = 0,
    epoch: str = DEFAULT_EPOCH,
    seed: int = 0,
    spacecraft: Sequence[DemoSpacecraft] = SPACECRAFT,
    uplink_policy: str = "wait",
    out: Callable[[str], None] = typer.echo,
) -> int:
    """Run the demo (see :func:`demo_command`); return the exit code."""
    from falak.errors import FalakError

    stop = threading.Event()
    with stop_on_signals(stop):
        try:
            run = prepare_run(
                run_dir, archive, port=port, epoch=epoch, speed=speed, seed=seed,
                spacecraft=spacecraft, uplink_policy=uplink_policy,
            )  # fmt: skip
        except (FalakError, OSError) as exc:
            out("error: " + " ".join(str(exc).split()))
            return 1
        sup = Supervisor(run.log_dir)
        code = 0
        try:
            _start(run, sup, stop, out)
            run.state = "running"
            run.write()
            _announce(run, out)
            _watch(run, sup, stop, duration_s, out)
            dead = sup.dead()
            if dead is not None:
                raise DemoError(f"{dead.name} exited with code {dead.exit_code()}", dead)
        except DemoStopped:
            pass
        except DemoError as exc:
            out(f"error: {exc}")
            if exc.child is not None:
                out(f"last lines of {exc.child.log}:\n{log_tail(exc.child.log)}")
            code = 1
        except (FalakError, OSError) as exc:
            out("error: " + " ".join(str(exc).split()))
            code = 1
        finally:
            out("stopping: the simulators, then the server ...")
            sup.stop_all()
            for c in sup.children:
                if c.name in run.children:  # the long-running ones; not the planning steps
                    run.children[c.name]["returncode"] = c.proc.returncode
            run.state = "stopped"
            run.write()
        out(f"stopped; archive {run.archive} (falak archive stats --archive {run.archive})")
        return code


def _record(run: DemoRun, child: Child) -> None:
    run.children[child.name] = {
        "pid": child.pid,
        "argv": child.argv,
        "log": str(child.log),
        "returncode": None,
    }
    run.write()


def _start(
    run: DemoRun, sup: Supervisor, stop: threading.Event, out: Callable[[str], None]
) -> None:
    falak = falak_argv()
    jobs: list[Callable[[threading.Event], None]] = []
    for sc in run.spacecraft:
        if sc.spec.campaign:
            out(f"planning the {sc.spec.name} campaign ...")
            jobs.append(functools.partial(_plan_stack, run, sc, sup))
        if sc.spec.traverse:
            out(f"planning the {sc.spec.name} traverse and its uplink windows ...")
            jobs.append(functools.partial(_plan_traverse, run, sc, sup))
        if sc.spec.orbiter:
            out(f"planning the {sc.spec.name} orbit, contacts and imaging ...")
            jobs.append(functools.partial(_plan_orbiter, run, sc, sup))
    in_parallel(jobs, stop)  # the plans do not depend on each other: the start is shorter
    # simulated time starts now, once the plan is made; the simulators start after the
    # server answers, so the server hears every packet they send
    run.reference_host_ns = time.time_ns()
    write_server_config(run)
    out(f"starting the server on {run.url} ...")
    server = sup.start(
        "server", [*falak, "serve", "--config", str(run.config_file), "--port", str(run.port)]
    )
    _record(run, server)
    wait_for_health(run.url, server, stop, START_TIMEOUT_S)
    sims: list[tuple[SpacecraftRun, Child]] = []
    for sc in run.spacecraft:  # all at once: each builds its model while the others do
        out(f"starting the {sc.spec.name} simulator ...")
        child = sup.start(
            f"sim-{sc.spec.sim}",
            [
                *falak,
                "sim",
                sc.spec.sim,
                "--tm",
                sc.links[0],
                "--playback",
                sc.links[1],
                "--tc",
                sc.uplink,
                "--epoch",
                run.epoch,
                "--speed",
                f"{run.speed:g}",
                "--reference-host-ns",
                str(run.reference_host_ns),
                "--status",
                str(sc.status_file),
                "--seed",
                str(run.seed),
                *(a for k, v in sc.sim_options.items() for a in ("--option", f"{k}={v}")),
            ],
        )
        _record(run, child)
        sims.append((sc, child))
    for sc, child in sims:
        wait_for_simulator(run, sc, child, stop)
        if sc.stack_file is not None:  # at once: a stack waits for no other simulator
            sc.stack_name = _start_stack(run, sc)


def in_parallel(jobs: Sequence[Callable[[threading.Event], None]], stop: threading.Event) -> None:
    """Run ``jobs`` each in a thread of its own; raise the first one's error once all ended.

    Each job gets an event it must stop at (as :meth:`Supervisor.run` does): set when
    ``stop`` is (Ctrl-C, SIGTERM: then :class:`DemoStopped` is raised) or when another job
    failed, so one failed planning step ends the others' at once.
    """
    if len(jobs) == 1:
        jobs[0](stop)
        return
    abort = threading.Event()
    errors: list[BaseException] = []

    def run(job: Callable[[threading.Event], None]) -> None:
        try:
            job(abort)
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)
            abort.set()

    threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        if stop.wait(0.1):
            abort.set()
        for t in threads:
            t.join(0.0)
    if stop.is_set():
        raise DemoStopped
    failed = [e for e in errors if not isinstance(e, DemoStopped)]
    if failed:
        raise failed[0]
    if errors:
        raise errors[0]


def _plan_stack(run: DemoRun, sc: SpacecraftRun, sup: Supervisor, stop: threading.Event) -> None:
    falak = falak_argv()
    campaign = run.run_dir / "campaign.yaml"
    plan = run.run_dir / "plan.json"
    stack = run.run_dir / "stack.yaml"
    write_demo_campaign(campaign, run.epoch_ns)
    steps = (
        ("plan", ["campaign", "plan", str(campaign), "--out", str(plan), "--time-limit", "10"]),
        ("commands", ["campaign", "commands", str(campaign), str(plan), "--out", str(stack)]),
    )
    for name, args in steps:
        _step(sup, stop, f"campaign-{name}", [*falak, *args])
    sc.stack_file = stack
    sc.plans = [plan]


def _step(sup: Supervisor, stop: threading.Event, name: str, argv: list[str]) -> None:
    """Run one planning step (a ``falak`` child, its log ``logs/NAME.log``) to its end."""
    code = sup.run(name, argv, stop)
    if stop.is_set():
        raise DemoStopped
    if code != 0:
        what = " ".join(argv[len(falak_argv()) :][:2])
        child = next(c for c in reversed(sup.finished) if c.name == name)
        raise DemoError(f"falak {what} exited with code {code}", child)


def rover_goal(site: Any, start_xy_m: tuple[float, float]) -> tuple[float, float]:
    """Return the demo traverse's goal: a DEM cell ~:data:`ROVER_TRAVERSE_M` from the start.

    Of the cells that far on the eight compass headings, the one whose straight line from
    the start is clear of hazards on the rover's map and on the true terrain (slope over
    :data:`ROVER_MAX_SLOPE_DEG`, a step or rock over 0.10 m, inside the legs' 0.15 m) with
    the gentlest steepest slope. The planner then finds its own route there; a clear straight
    line keeps that route short and away from what the map does not show.

    Parameters
    ----------
    site
        The rover simulator's :class:`falak.sim.rover_site.Site`.
    start_xy_m
        Where the rover starts, projected m.
    """
    import math

    x0, y0 = start_xy_m
    res = site.dem.resolution_m
    best: tuple[float, tuple[float, float]] | None = None
    for heading in range(0, 360, 45):
        h = math.radians(heading)
        rc = site.cell(x0 + ROVER_TRAVERSE_M * math.sin(h), y0 + ROVER_TRAVERSE_M * math.cos(h))
        if rc is None:
            continue
        goal = (float(site.dem.x_m[rc[1]]), float(site.dem.y_m[rc[0]]))
        n = math.ceil(math.hypot(goal[0] - x0, goal[1] - y0) / (res / 8))
        steepest = 0.0
        for i in range(n + 1):
            x, y = x0 + (goal[0] - x0) * i / n, y0 + (goal[1] - y0) * i / n
            if site.hazard_at(x, y, ROVER_MAX_SLOPE_DEG, 0.10) or site.map_hazard_at(
                x, y, ROVER_MAX_SLOPE_DEG, 0.10
            ):
                break
            steepest = max(steepest, site.slope_at(x, y))
        else:
            if best is None or steepest < best[0]:
                best = (steepest, goal)
    if best is None:
        raise DemoError(
            f"no clear straight drive of {ROVER_TRAVERSE_M:g} m from the rover's start "
            f"({x0:.1f}, {y0:.1f}) m on this site; try another --seed"
        )
    return best[1]


def _plan_traverse(run: DemoRun, sc: SpacecraftRun, sup: Supervisor, stop: threading.Event) -> None:
    """Plan the rover's traverse on its simulator's site, its drive stack and uplink windows.

    The site is built as the simulator builds it (:func:`falak.sim.rover.create_model` with
    :data:`ROVER_SITE` and the run's seed: :func:`falak.terrain.site.site_terrain`), which
    also says where the rover starts and its real light time at the epoch; the DEM (with its
    rock list) and horizons are written for ``falak traverse plan``, and the simulator is
    given the same site options and that start.
    """
    from falak.sim.rover import create_model
    from falak.terrain.dem import write_dem
    from falak.utctime import format_ns

    falak = falak_argv()
    model = create_model(run.epoch_ns, seed=run.seed, options=ROVER_SITE)
    site = model.site
    start = (model.x, model.y)
    # rounded up to the millisecond: the server's verifier windows are never too short
    light_time_s = math.ceil(site.light_time_s(run.epoch_ns, *start, False) * 1000) / 1000
    goal = rover_goal(site, start)
    dem_file = write_dem(site.dem, run.run_dir / "rover-site.tif")
    horizons_file = site.horizons.save(run.run_dir / "rover-horizons.npz")
    route = run.run_dir / "rover-route.geojson"
    stack = run.run_dir / "rover-stack.yaml"
    windows = run.run_dir / "rover-windows.json"
    site_args = [a for k, v in ROVER_SITE.items() for a in ("--option", f"{k}={v}")]
    steps = (
        (
            "traverse-plan",
            [
                *("traverse", "plan", "--dem", str(dem_file), "--horizons", str(horizons_file)),
                *("--start", f"{start[0]!r},{start[1]!r}", "--goal", f"{goal[0]!r},{goal[1]!r}"),
                *("--depart", format_ns(run.epoch_ns, 0), "--hours", f"{ROVER_PLAN_HOURS:g}"),
                *("--step-min", "10", "--speed-m-s", f"{ROVER_SPEED_M_S:g}"),
                *("--max-slope-deg", f"{ROVER_MAX_SLOPE_DEG:g}", "--battery-wh", "400"),
                *("--out", str(route)),
            ],
        ),
        (
            "traverse-commands",
            [
                *("traverse", "commands", str(route), "--out", str(stack)),
                *("--light-time-s", f"{light_time_s:g}"),
            ],
        ),
        (
            "traverse-windows",
            [
                *("traverse", "windows", *site_args, "--seed", str(run.seed)),
                *("--x", repr(start[0]), "--y", repr(start[1]), "--contacts", "earth"),
                *("--start", format_ns(run.epoch_ns, 0), "--hours", f"{ROVER_WINDOW_HOURS:g}"),
                *("--spacecraft", sc.spec.name, "--out", str(windows)),
            ],
        ),
    )

    def plan_then_commands(ev: threading.Event) -> None:
        for name, args in steps[:2]:
            _step(sup, ev, name, [*falak, *args])

    def windows_alongside(ev: threading.Event) -> None:
        _step(sup, ev, steps[2][0], [*falak, *steps[2][1]])

    in_parallel([plan_then_commands, windows_alongside], stop)
    sc.stack_file = stack
    sc.windows_file = windows
    sc.plans = [route, windows]
    sc.light_time_s = light_time_s
    sc.start_xy_m = start
    sc.sim_options = {
        **ROVER_SITE,
        "start_x_m": start[0],
        "start_y_m": start[1],
        "contacts": "earth",
    }


def _json_step(sup: Supervisor, stop: threading.Event, name: str, argv: list[str]) -> Any:
    """Run a planning step that prints JSON (``--json``); return what it printed."""
    _step(sup, stop, name, argv)
    child = next(c for c in reversed(sup.finished) if c.name == name)
    try:
        return json.loads(child.log.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DemoError(
            f"falak {' '.join(argv[len(falak_argv()) :][:2])} printed no JSON: {exc}", child
        ) from None


def merged_windows(contacts: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """The union of contact windows ``{"start", "stop"}`` (ISO UTC), as sorted ns pairs."""
    from falak.utctime import parse_ns

    spans = sorted((parse_ns(c["start"]), parse_ns(c["stop"])) for c in contacts)
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


#: Simulated seconds after the run's epoch before the orbiter's first frame may be planned:
#: the simulators start and the stack is loaded (a few host seconds, minutes at --speed 60).
ORBITER_LEAD_S = 600.0
#: Simulated seconds a frame keeps from the edges of its contact.
ORBITER_CONTACT_MARGIN_S = 30.0


def orbiter_stack(
    run_epoch_ns: int,
    opportunities: Sequence[dict[str, Any]],
    contacts: Sequence[dict[str, Any]],
) -> tuple[dict[str, Any], list[int], float]:
    """Return the orbiter's imaging stack, its frame times (ns, at the orbiter), light time (s).

    The frames are planned by :func:`falak.planning.orbiter.commands.plan_images` (what
    ``falak orbiter commands`` does): :data:`ORBITER_FRAMES` frames
    :data:`ORBITER_FRAME_SPACING_S` apart around the middle of each imaging opportunity
    (``falak orbiter imaging --json``) at least :data:`ORBITER_LEAD_S` after the epoch, only
    those inside a contact (``falak orbiter contacts --json``, merged over the stations) by
    :data:`ORBITER_CONTACT_MARGIN_S`: the orbiter has no time-tagged commands. The demo keeps
    the frames of the first opportunity that has any, and :func:`~falak.planning.orbiter.
    commands.image_stack` releases each one light time (the contact's mean range / c) before
    its frame. Around them the stack closes the magnetometer's first file (file 1, open since
    the simulator's start) in the same contact, and after them queues file 1 and the images
    (files 3 …: file 2 is the magnetometer's next) with FILE_DUMP; each dump completes when
    its CFDP transaction has (the downlink runs in contacts only). Without a frame in a
    contact the stack closes and dumps the magnetometer file only.
    """
    from falak.planning.orbiter.commands import (
        ImagePlan,
        image_stack,
        plan_images,
        read_opportunities,
    )
    from falak.planning.orbiter.downlink import contacts_from_json
    from falak.utctime import format_ns, parse_ns

    s_ns = 1_000_000_000
    lead_ns = run_epoch_ns + round(ORBITER_LEAD_S * s_ns)
    windows = merged_windows(contacts)
    ranges = [
        (parse_ns(c["start"]), parse_ns(c["stop"]), float(c["mean_range_km"])) for c in contacts
    ]
    margin = round(ORBITER_CONTACT_MARGIN_S * s_ns)
    ahead = [o for o in opportunities if parse_ns(o["start"]) >= lead_ns]
    plan = plan_images(
        read_opportunities(ahead),
        images=ORBITER_FRAMES,
        spacing_s=ORBITER_FRAME_SPACING_S,
        max_off_nadir_deg=ORBITER_MAX_OFF_NADIR_DEG,
        exposure_ms=ORBITER_EXPOSURE_MS,
        contacts=contacts_from_json(contacts),
        margin_s=ORBITER_CONTACT_MARGIN_S,
    )
    kept = tuple(f for f in plan.frames if f.opportunity == plan.frames[0].opportunity)
    frames = [f.t_ns for f in kept]
    if frames:
        win = next(w for w in windows if w[0] <= frames[0] <= w[1])
    else:
        found = next((w for w in windows if w[1] > lead_ns), None)
        if found is None:
            raise DemoError("the orbiter has no contact in its trajectory's span after the epoch")
        win = found
    at_ns = frames[0] if frames else max(win[0], lead_ns)
    range_km = next((r for a, b, r in ranges if a <= at_ns <= b), 384_400.0)
    light_time_s = math.ceil(range_km / 299_792.458 * 1000) / 1000
    lt_ns = round(light_time_s * s_ns)
    close_ns = max(win[0] + margin, at_ns - lt_ns - 300 * s_ns)
    if frames:
        close_ns = min(close_ns, frames[0] - lt_ns - 30 * s_ns)
    steps: list[dict[str, Any]] = [
        {
            "command": "MAG_FILE_CLOSE",
            "at": format_ns(close_ns, 0),
            "comment": "close the magnetometer's file 1 (open since the start); file 2 opens",
        }
    ]
    lat, lon = ORBITER_TARGET
    target = f"({lat:g}, {lon:g}) deg"
    if frames:
        images = image_stack(
            ImagePlan(kept, plan.skipped, plan.contacts_checked),
            light_time_s=light_time_s,
            target=target,
        )
        steps += images["steps"]
        what = str(images["description"])
    else:
        what = f"no frame of {target} inside a contact"
    dump_ns = (frames[-1] if frames else close_ns) + 10 * s_ns
    for fid in (1, *range(3, 3 + len(frames))):
        steps.append(
            {
                "command": "FILE_DUMP",
                "arguments": {"FILE_ID": fid},
                "at": format_ns(dump_ns, 0),
                "comment": "the magnetometer file" if fid == 1 else f"image file {fid}",
            }
        )
    doc = {
        "stack": "orbiter-imaging",
        "spacecraft": "ORBITER",
        "description": f"falak demo: {what}; then their CFDP downlink (FILE_DUMP)",
        "on_failure": "continue",
        "steps": steps,
    }
    return doc, frames, light_time_s


def _plan_orbiter(run: DemoRun, sc: SpacecraftRun, sup: Supervisor, stop: threading.Event) -> None:
    """The orbiter's trajectory, contacts as uplink windows, imaging plan and its stack.

    ``falak orbiter propagate`` writes ``orbiter.oem`` (:data:`ORBITER_ELEMENTS` at the run's
    epoch less :data:`ORBITER_PHASE_H`), which the simulator flies (``--option oem=...``)
    and the server shows (``orbit: {oem}``); ``falak orbiter contacts`` and ``imaging`` search
    it alongside each other.
    """
    from falak.planning.stackdoc import stack_yaml
    from falak.planning.traverse.windows import write_windows
    from falak.utctime import format_ns

    falak = falak_argv()
    oem = run.run_dir / "orbiter.oem"
    imaging = run.run_dir / "orbiter-imaging.json"
    contacts_file = run.run_dir / "orbiter-contacts.json"
    windows = run.run_dir / "orbiter-windows.json"
    stack = run.run_dir / "orbiter-stack.yaml"
    t0_ns = run.epoch_ns - round(ORBITER_PHASE_H * 3600 * 1_000_000_000)
    _step(
        sup,
        stop,
        "orbiter-propagate",
        [
            *falak,
            *("orbiter", "propagate", "--elements", ORBITER_ELEMENTS, "--frame", "MOON_PA"),
            *("--epoch", format_ns(t0_ns, 0), "--days", f"{ORBITER_DAYS:g}"),
            *("--object-id", sc.spec.name, "--out", str(oem)),
        ],
    )
    lat, lon = ORBITER_TARGET
    argv = {
        "orbiter-contacts": [
            *falak, "orbiter", "contacts", "--oem", str(oem),
            *(a for n in ORBITER_STATIONS for a in ("--station", n)), "--json",
        ],
        "orbiter-imaging": [
            *falak, "orbiter", "imaging", "--oem", str(oem), f"--target={lat:g},{lon:g}",
            "--max-off-nadir", f"{ORBITER_MAX_OFF_NADIR_DEG:g}",
            "--min-sun-elevation", f"{ORBITER_MIN_SUN_ELEVATION_DEG:g}", "--json",
        ],
    }  # fmt: skip
    found: dict[str, Any] = {}

    def job(name: str, ev: threading.Event) -> None:
        found[name] = _json_step(sup, ev, name, argv[name])

    in_parallel([functools.partial(job, n) for n in argv], stop)
    contacts, opportunities = found["orbiter-contacts"], found["orbiter-imaging"]
    contacts_file.write_text(json.dumps(contacts, indent=1, ensure_ascii=False) + "\n", "utf-8")
    imaging.write_text(json.dumps(opportunities, indent=1) + "\n", encoding="utf-8")
    write_windows(
        windows,
        merged_windows(contacts),
        spacecraft=sc.spec.name,
        what=f"the orbiter seen from {', '.join(ORBITER_STATIONS)} and not behind the Moon",
    )
    doc, frames, light_time_s = orbiter_stack(run.epoch_ns, opportunities, contacts)
    stack.write_text(
        stack_yaml(doc, header="falak demo: the orbiter's imaging stack (docs/ground-segment.md)"),
        encoding="utf-8",
    )
    sc.oem_file = oem
    sc.stack_file = stack
    sc.windows_file = windows
    sc.plans = [imaging, windows]
    sc.light_time_s = light_time_s
    sc.frames = [format_ns(t, 3) for t in frames]
    sc.sim_options = {
        "oem": str(oem),
        "stations": ",".join(ORBITER_STATIONS),
        "loss": ORBITER_LOSS,
        "files_dir": str(run.run_dir / "orbiter-files"),
    }


def _login(run: DemoRun, role: str, spacecraft: str | None = None) -> Any:
    from falak.client import Client

    u = run.user(role)
    return Client.login(run.url, u.name, u.password, spacecraft=spacecraft)


def _start_stack(run: DemoRun, sc: SpacecraftRun) -> str:
    import yaml

    assert sc.stack_file is not None
    text = sc.stack_file.read_text(encoding="utf-8")
    name = str(yaml.safe_load(text)["stack"])
    with _login(run, "flight_director", sc.spec.name) as fc:
        fc.load_stack(text, file=str(sc.stack_file))
        fc.stack_action(name, "start", arm_critical=True)
    return name


def _announce(run: DemoRun, out: Callable[[str], None]) -> None:
    op = run.user("operator")
    lines: list[str] = [
        "",
        f"falak demo is running: open the console at {run.url}/console/",
        f"  (API {run.url}/api/v1, its docs {run.url}/docs)",
        f"simulated time starts at {run.epoch}, {run.speed:g}x real time",
        "users (name / password / role):",
        *(f"  {u.name} / {u.password} / {u.role}" for u in run.users),
        f"run directory: {run.run_dir}  (run.json, server.yaml, logs/)",
        "",
        "try, in another terminal:",
        f"  . {run.run_dir / 'env.sh'}      # FALAK_URL, FALAK_USER={op.name}, FALAK_PASSWORD",
    ]
    about: list[str] = []
    for sc in run.spacecraft:
        name = sc.spec.name
        if sc.stack_name and sc.spec.campaign:
            lines.append(
                f"  falak stack show {sc.stack_name} --spacecraft {name}   # the campaign, "
                "step by step"
            )
        if sc.stack_name and sc.spec.traverse:
            lines.append(
                f"  falak stack show {sc.stack_name} --spacecraft {name}   # the traverse, "
                "leg by leg"
            )
        if sc.spec.sim == "station":
            lines.append(
                f"  falak sim fault station FURNACE_OVERTEMP --tc {sc.uplink}   # an alarm, "
                "while the furnace heats"
            )
        if sc.spec.sim == "rover":
            lines.append(
                f"  falak sim fault rover WHEEL_STUCK --tc {sc.uplink}   # the wheels spin: "
                "the drive stops"
            )
            about += _rover_lines(run, sc)
        if sc.spec.orbiter:
            lines.append(
                f"  falak archive files --spacecraft {name}   # the images and magnetometer "
                "files the orbiter sent down (CFDP)"
            )
            about += _orbiter_lines(run, sc)
    lines += [*about, "", "stop it with Ctrl-C", ""]
    out("\n".join(lines))


def _orbiter_lines(run: DemoRun, sc: SpacecraftRun) -> list[str]:
    """What the announcement says about the orbiter: its frames and its next contact."""
    from falak.planning.traverse.windows import read_windows

    lines = [""]
    lat, lon = ORBITER_TARGET
    frames = f"{len(sc.frames)} frames of ({lat:g}, {lon:g}) deg" if sc.frames else "no frames"
    when = f" from {sc.frames[0]}" if sc.frames else ""
    lines.append(
        f"{sc.spec.name}: {frames}{when}, sent down by CFDP class 2 through a link losing "
        f"{ORBITER_LOSS:.0%} of its packets; light time {sc.light_time:g} s"
    )
    if sc.windows_file is not None:
        windows = read_windows(sc.windows_file)
        now = windows.at(run.epoch_ns)
        ahead = windows.next_after(run.epoch_ns)
        state = (
            f"in contact until {now.end}"
            if now is not None
            else f"no contact now; the next {ahead.start}–{ahead.end}"
            if ahead is not None
            else "no contact ahead"
        )
        lines.append(f"{sc.spec.name} contacts ({', '.join(ORBITER_STATIONS)}): {state}")
    return lines


def _rover_lines(run: DemoRun, sc: SpacecraftRun) -> list[str]:
    """What the announcement says about the rover: its traverse and its uplink now."""
    from falak.planning.traverse.windows import read_windows

    lines = [""]
    route = next((f for f in sc.plans if f.suffix == ".geojson"), None)
    if route is not None and sc.start_xy_m is not None:
        props = json.loads(route.read_text(encoding="utf-8"))["properties"]
        x, y = sc.start_xy_m
        lines.append(
            f"{sc.spec.name}: a {props['length_m']:.0f} m traverse from ({x:.1f}, {y:.1f}) m, "
            f"departing {props.get('depart', '-')}, arriving {props.get('arrive', '-')} "
            f"(planned; {route.name}); light time {sc.light_time:g} s"
        )
    if sc.windows_file is not None:
        windows = read_windows(sc.windows_file)
        now = windows.at(run.epoch_ns)
        ahead = windows.next_after(run.epoch_ns)
        if now is not None:
            state = f"open now, until {now.end}"
        else:
            when = f"the next opens {ahead.start}" if ahead is not None else "no window ahead"
            state = f"closed now ({windows.closed_reason(sc.spec.name)}); {when}"
        policy = "waits for the next" if run.uplink_policy == "wait" else "is refused"
        lines.append(
            f"{sc.spec.name} uplink: {state}; a command outside a window {policy} "
            f"({sc.windows_file.name}, --uplink-policy {run.uplink_policy})"
        )
    return lines


def _watch(
    run: DemoRun,
    sup: Supervisor,
    stop: threading.Event,
    duration_s: float | None,
    out: Callable[[str], None],
) -> None:
    t_end = None if duration_s is None else time.monotonic() + duration_s
    status = StatusLine(run)
    live = sys.stdout.isatty()
    last_print = 0.0
    with status.live() if live else contextlib.nullcontext():
        while not stop.is_set():
            remaining = None if t_end is None else t_end - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            if sup.dead() is not None:
                return
            status.refresh()
            if not live and time.monotonic() - last_print >= 10.0:
                out(status.text())
                last_print = time.monotonic()
            stop.wait(1.0 if remaining is None else min(1.0, max(remaining, 0.0)))
    status.close()


class StatusLine:
    """One line per spacecraft: simulated time, contact, packets received, alarms."""

    def __init__(self, run: DemoRun) -> None:
        self.run = run
        self._client: Any = None
        self._text = "waiting for the first status"
        self._live: Any = None

    @contextlib.contextmanager
    def live(self) -> Iterator[None]:
        """Show the line with Rich, refreshed in place."""
        from rich.live import Live
        from rich.text import Text

        with Live(Text(self._text), refresh_per_second=2, transient=True) as live:
            self._live = live
            try:
                yield
            finally:
                self._live = None

    def text(self) -> str:
        """The current status text."""
        return self._text

    def refresh(self) -> None:
        """Read the simulators' status files and the server's links and alarms."""
        from falak.utctime import format_ns

        parts = []
        server: dict[str, dict[str, Any]] = {}
        alarms: dict[str, int] = {}
        try:
            if self._client is None:
                self._client = _login(self.run, "viewer")
            for entry in self._client.spacecraft_list():
                server[entry["name"]] = entry
                with self._client.for_spacecraft(entry["name"]) as sc_client:
                    alarms[entry["name"]] = len(sc_client.alarms())
        except Exception as exc:  # a status line never stops the demo
            parts.append(f"server: {type(exc).__name__}")
        for sc in self.run.spacecraft:
            try:
                st = json.loads(sc.status_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                st = {}
            now = format_ns(int(st["now_ns"]), 0) if "now_ns" in st else "-"
            contact = "in contact" if st.get("in_contact") else "no contact"
            links = server.get(sc.spec.name, {}).get("links", [])
            got = sum(int(ln.get("packets", 0)) for ln in links)
            states = "/".join(str(ln.get("state", "?")) for ln in links) or "-"
            gen = sum(int(v) for v in (st.get("generated") or {}).values())
            parts.append(
                f"{sc.spec.name} {now} {contact}; links {states}; packets: {gen} generated, "
                f"{got} received; alarms {alarms.get(sc.spec.name, '-')}"
            )
        self._text = " | ".join(parts)
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(self._text))

    def close(self) -> None:
        """Close the status client."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None


def register(app: typer.Typer) -> None:
    """Add the top-level ``demo`` command to ``falak``."""
    app.command(name="demo")(demo_command)
