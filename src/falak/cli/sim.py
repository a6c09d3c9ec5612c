"""``falak sim``: fly a simulated spacecraft over UDP, and inject faults into a running one."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

sim_app = typer.Typer(
    help="Simulated spacecraft: `falak sim testsat|station|rover|orbiter` runs one as its own "
    "process, talking to the ground over UDP on loopback (realtime and playback telemetry out, "
    "telecommands in); `falak sim fault` injects a fault into a running simulator.",
    no_args_is_help=True,
)

#: Model factories (``module:function``, imported when used) and the MDB each flies.
MODELS: dict[str, tuple[str, str]] = {
    "testsat": ("falak.sim.testsat:create_model", "testsat"),
    "station": ("falak.sim.station:create_model", "tiangong"),
    "rover": ("falak.sim.rover:create_model", "rover"),
    "orbiter": ("falak.sim.orbiter:create_model", "orbiter"),
}

Tm = Annotated[
    str,
    typer.Option(
        "--tm",
        help="Where realtime telemetry is sent, udp://HOST:PORT (the server's realtime link "
        "listens there). Sent only inside contact windows.",
    ),
]
Playback = Annotated[
    str,
    typer.Option(
        "--playback",
        help="Where recorder dumps are sent, udp://HOST:PORT (the server's playback link): "
        "telemetry recorded out of contact, byte for byte, at the start of the next contact.",
    ),
]
TcListen = Annotated[
    str,
    typer.Option(
        "--tc",
        help="Where the simulator listens for telecommands, udp://HOST:PORT (the server's "
        "uplink sends there). Heard only inside contact windows, after the light time.",
    ),
]
Epoch = Annotated[
    str | None,
    typer.Option(
        "--epoch",
        help="Simulated UTC at the reference instant, ISO 8601 (e.g. 2023-09-08T00:00:00Z; "
        "no zone means UTC). Default: now.",
        show_default=False,
    ),
]
Speed = Annotated[
    float,
    typer.Option(
        "--speed",
        min=0.0,
        help="Simulated seconds per host second (1: real time; 60: a simulated minute per "
        "second). Give the server the same number.",
    ),
]
Reference = Annotated[
    int | None,
    typer.Option(
        "--reference-host-ns",
        help="The host's time.time_ns() (ns since 1970, host wall clock) at which simulated "
        "time was --epoch; every process of a run gets the same value. Default: now.",
        show_default=False,
    ),
]
Duration = Annotated[
    float | None,
    typer.Option(
        "--duration",
        min=0.0,
        help="Stop after this many HOST seconds (wall-clock run time, not simulated time). "
        "Default: run until Ctrl-C or SIGTERM.",
        show_default=False,
    ),
]
Status = Annotated[
    Path | None,
    typer.Option(
        "--status",
        help="Status file, JSON, rewritten atomically every 2 host seconds and at exit: "
        "spacecraft, now_ns (simulated UTC, ns since 1970), generated (packets per APID), "
        "sent_realtime, dumped, recorder {packets, bytes, overwritten, ...}, commands "
        "{received, accepted, completed, failed, rejected {reason: n}, "
        "dropped_out_of_contact}, contacts \\[\\[start_ns, stop_ns, via], ...], in_contact, "
        "clock, "
        "errors.",
        show_default=False,
    ),
]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the model's noise.")]
RecorderBytes = Annotated[
    int,
    typer.Option(
        "--recorder-bytes",
        min=1,
        help="On-board recorder capacity in bytes; when full, the oldest packets are "
        "overwritten (and counted in the status).",
    ),
]
Options = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        help="A model option KEY=VALUE (VALUE is read as JSON when it parses, else text); "
        "repeat for several. testsat: contact_period_s, contact_duration_s, "
        "contact_offset_s, light_time_s, via (default: always in contact). station: see "
        "falak.sim.station (e.g. contacts=ground). rover: see falak.sim.rover (e.g. "
        "dem=site.tif, contacts=earth+relay). orbiter: see falak.sim.orbiter (e.g. "
        "elements=6142.4,0.6846,90,0,270,0, oem=orbit.oem, stations=all, recorder_mib=256, "
        "downlink_kbps=128, mag_rate_hz=1, file_downlink=cfdp|segments).",
        show_default=False,
    ),
]
PlaybackRate = Annotated[
    float,
    typer.Option(
        "--playback-rate",
        min=0.0,
        help="Pace of a recorder dump, packets per host millisecond (keeps the ground's "
        "socket buffer from overflowing).",
    ),
]


def _error(message: str) -> typer.Exit:
    typer.echo("error: " + " ".join(message.split()), err=True)
    return typer.Exit(1)


def _parse_options(items: list[str] | None, flag: str = "--option") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=flag)
        try:
            out[key.strip()] = json.loads(text)
        except ValueError:
            out[key.strip()] = text.strip()
    return out


def _factory(kind: str) -> Any:
    target, _ = MODELS[kind]
    module, _, func = target.partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise _error(
            f"the {kind} model ({module}) is not installed in this falak yet; "
            f"`falak sim testsat` flies the TESTSAT model meanwhile"
        ) from None
    return getattr(mod, func)


def _run(
    kind: str,
    tm: str,
    playback: str,
    tc: str,
    epoch: str | None,
    speed: float,
    reference_host_ns: int | None,
    duration: float | None,
    status: Path | None,
    seed: int,
    recorder_bytes: int,
    options: list[str] | None,
    playback_rate: float,
) -> None:
    import logging
    import signal
    import time

    from falak.clock import ScaledClock
    from falak.errors import FalakError
    from falak.sim.spacecraft import Spacecraft, parse_udp_url
    from falak.utctime import format_ns, parse_ns

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    opts = _parse_options(options)
    try:
        tm_addr, pb_addr, tc_addr = (parse_udp_url(u) for u in (tm, playback, tc))
        epoch_ns = time.time_ns() if epoch is None else parse_ns(epoch, "--epoch")
        clock = ScaledClock(epoch_ns, speed, reference_host_ns)
    except (FalakError, ValueError) as exc:
        raise _error(str(exc)) from None
    create_model = _factory(kind)
    try:
        model = create_model(epoch_ns, seed=seed, options=opts)
    except (FalakError, ValueError, TypeError, OSError) as exc:
        raise _error(f"{kind} model: {exc}") from None
    try:
        sc = Spacecraft(
            model,
            clock,
            tm=tm_addr,
            playback=pb_addr,
            tc=tc_addr,
            status_path=status,
            recorder_bytes=recorder_bytes,
            playback_packets_per_ms=playback_rate,
        )
    except OSError as exc:
        raise _error(f"cannot listen for telecommands on {tc}: {exc.strerror or exc}") from None
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: sc.stop())
    typer.echo(
        f"{model.name} simulator: telemetry -> {tm}, playback -> {playback}, "
        f"telecommands on {tc}; simulated time {format_ns(clock.now_ns(), 0)}, "
        f"{speed:g}x real time" + (f"; status in {status}" if status else ""),
    )
    try:
        sc.run(duration)
    finally:
        sc.close()
    st = sc.status()
    gen = sum(st["generated"].values())
    typer.echo(
        f"{model.name} simulator stopped: {gen} packets generated, {st['sent_realtime']} sent "
        f"realtime, {st['dumped']} dumped, {st['commands']['received']} telecommands"
    )


def run_testsat(
    tm: Tm = "udp://127.0.0.1:10015",
    playback: Playback = "udp://127.0.0.1:10016",
    tc: TcListen = "udp://127.0.0.1:10025",
    epoch: Epoch = None,
    speed: Speed = 1.0,
    reference_host_ns: Reference = None,
    duration: Duration = None,
    status: Status = None,
    seed: Seed = 0,
    recorder_bytes: RecorderBytes = 64 * 1024 * 1024,
    option: Options = None,
    playback_rate: PlaybackRate = 5.0,
) -> None:
    """Fly TESTSAT (src/falak/missions/testsat/mdb.yaml): HK every second, acks, events.

    Always in contact, unless two options make gaps: --option contact_period_s=S
    --option contact_duration_s=S. Stops cleanly on Ctrl-C or SIGTERM (the status file is written).
    """
    _run(
        "testsat",
        tm,
        playback,
        tc,
        epoch,
        speed,
        reference_host_ns,
        duration,
        status,
        seed,
        recorder_bytes,
        option,
        playback_rate,
    )


def run_station(
    tm: Tm = "udp://127.0.0.1:10015",
    playback: Playback = "udp://127.0.0.1:10016",
    tc: TcListen = "udp://127.0.0.1:10025",
    epoch: Epoch = None,
    speed: Speed = 1.0,
    reference_host_ns: Reference = None,
    duration: Duration = None,
    status: Status = None,
    seed: Seed = 0,
    recorder_bytes: RecorderBytes = 64 * 1024 * 1024,
    option: Options = None,
    playback_rate: PlaybackRate = 5.0,
) -> None:
    """Fly the Tiangong station payloads (src/falak/missions/tiangong/mdb.yaml).

    Its real orbit (SGP4 on the bundled TLE), contacts with the catalogue's ground stations
    and data relays, the payload racks. Stops cleanly on Ctrl-C or SIGTERM.
    """
    _run(
        "station",
        tm,
        playback,
        tc,
        epoch,
        speed,
        reference_host_ns,
        duration,
        status,
        seed,
        recorder_bytes,
        option,
        playback_rate,
    )


def run_rover(
    tm: Tm = "udp://127.0.0.1:10015",
    playback: Playback = "udp://127.0.0.1:10016",
    tc: TcListen = "udp://127.0.0.1:10025",
    epoch: Epoch = None,
    speed: Speed = 1.0,
    reference_host_ns: Reference = None,
    duration: Duration = None,
    status: Status = None,
    seed: Seed = 0,
    recorder_bytes: RecorderBytes = 64 * 1024 * 1024,
    option: Options = None,
    playback_rate: PlaybackRate = 5.0,
) -> None:
    """Fly the south-pole rover (src/falak/missions/rover/mdb.yaml) on a DEM.

    Synthetic terrain by default (--option dem=FILE.tif for a GeoTIFF), the real Sun and
    Earth over its horizons, contacts while the Earth is above them (--option
    contacts=earth+relay adds a Queqiao-2-like relay). Stops cleanly on Ctrl-C or SIGTERM.
    """
    _run(
        "rover",
        tm,
        playback,
        tc,
        epoch,
        speed,
        reference_host_ns,
        duration,
        status,
        seed,
        recorder_bytes,
        option,
        playback_rate,
    )


def run_orbiter(
    tm: Tm = "udp://127.0.0.1:10015",
    playback: Playback = "udp://127.0.0.1:10016",
    tc: TcListen = "udp://127.0.0.1:10025",
    epoch: Epoch = None,
    speed: Speed = 1.0,
    reference_host_ns: Reference = None,
    duration: Duration = None,
    status: Status = None,
    seed: Seed = 0,
    recorder_bytes: RecorderBytes = 64 * 1024 * 1024,
    option: Options = None,
    playback_rate: PlaybackRate = 5.0,
) -> None:
    """Fly the lunar smallsat (src/falak/missions/orbiter/mdb.yaml) in its lunar orbit.

    falak's own propagation of a 12 h polar orbit (--option elements=... or oem=FILE for
    another), eclipses, contacts with the catalogue's stations while they see it (Karachi and
    Islamabad; --option stations=all), a nadir camera and a fluxgate magnetometer whose images
    and files wait in a 256 MiB file store (--option recorder_mib=N) until FILE_DUMP sends
    them down by CCSDS CFDP class 2 (APIDs 610 down, 611 up). --recorder-bytes is the packet
    recorder for telemetry out of contact. Stops cleanly on Ctrl-C or SIGTERM.
    """
    _run(
        "orbiter",
        tm,
        playback,
        tc,
        epoch,
        speed,
        reference_host_ns,
        duration,
        status,
        seed,
        recorder_bytes,
        option,
        playback_rate,
    )


def inject_fault(
    spacecraft: Annotated[
        str, typer.Argument(help="The simulator: station, rover, orbiter or testsat.")
    ],
    name: Annotated[
        str, typer.Argument(help="Fault name: a label of SIM_INJECT_FAULT's FAULT argument.")
    ],
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg",
            help="Another argument of SIM_INJECT_FAULT, KEY=VALUE in engineering units "
            "(e.g. --arg UNIT=B_MINUS20); repeat for several.",
            show_default=False,
        ),
    ] = None,
    tc: Annotated[
        str,
        typer.Option("--tc", help="The simulator's telecommand port, udp://HOST:PORT."),
    ] = "udp://127.0.0.1:10025",
    seq_count: Annotated[
        int | None,
        typer.Option(
            "--seq-count",
            min=0,
            max=16383,
            help="CCSDS sequence count of the command (default: from the clock, so the "
            "acknowledgements can be told apart).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Inject a fault into a running simulator (SIM_INJECT_FAULT, the instructor's path).

    The command is encoded with the spacecraft's MDB and sent straight to the simulator's
    telecommand port, not through the server. CLEAR_ALL clears every fault.
    """
    import socket
    import time

    from falak.errors import FalakError
    from falak.mdb import load
    from falak.sim.spacecraft import FAULT_COMMAND, parse_udp_url
    from falak.tc.encoder import CommandEncoder

    if spacecraft not in MODELS:
        raise _error(f"unknown simulator {spacecraft!r}; simulators: {', '.join(MODELS)}")
    mission = MODELS[spacecraft][1]
    path = Path(__file__).resolve().parents[1] / "missions" / mission / "mdb.yaml"
    try:
        addr = parse_udp_url(tc)
        mdb = load(path)
    except FalakError as exc:
        raise _error(str(exc)) from None
    if not any(c.name == FAULT_COMMAND for c in mdb.commands.values()):
        raise _error(
            f"the {mdb.root.name} MDB ({path.name} of missions/{mission}) has no "
            f"{FAULT_COMMAND} command, so faults cannot be injected into {spacecraft} over "
            "its telecommand link; the station's MDB has one (APID 2040)"
        )
    args = {**_parse_options(arg, "--arg"), "FAULT": name}
    args = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in args.items()}
    seq = (time.time_ns() // 1_000_000) % 16384 if seq_count is None else seq_count
    try:
        cmd = CommandEncoder(mdb).encode(FAULT_COMMAND, args, seq_count=seq)
    except FalakError as exc:
        raise _error(str(exc)) from None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.sendto(cmd.binary, addr)
        except OSError as exc:
            raise _error(f"cannot send to {tc}: {exc.strerror or exc}") from None
    shown = ", ".join(f"{k}={v}" for k, v in cmd.arguments.items() if k != "OPCODE")
    typer.echo(f"sent {FAULT_COMMAND} ({shown}) seq {seq} to {tc}: {cmd.hex}")


def register(app: typer.Typer) -> None:
    """Add the ``sim`` group to the ``falak`` command."""
    sim_app.command("testsat")(run_testsat)
    sim_app.command("station")(run_station)
    sim_app.command("rover")(run_rover)
    sim_app.command("orbiter")(run_orbiter)
    sim_app.command("fault")(inject_fault)
    app.add_typer(sim_app, name="sim")
