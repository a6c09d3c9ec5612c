"""``falak demo``: its process supervisor and run directory (fast), and the acceptance run (slow).

The acceptance test of issue 13 runs ``falak demo --duration 60 --speed 60`` headless, as a
user would, and checks through the API (:class:`falak.client.Client`), the simulator's status
file and the archive that the ground segment works end to end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from falak.cli.demo import (
    DEFAULT_EPOCH,
    DEMO_EXPERIMENTS,
    ROVER_SITE,
    SPACECRAFT,
    Supervisor,
    demo_campaign,
    free_ports,
    prepare_run,
)
from falak.client import ApiError, Client
from falak.utctime import parse_ns


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead: it only waits to be reaped
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- the supervisor ----------------------------------------------------------------------------

STUBBORN = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # a grandchild in the same process group, as uvicorn's or a shell's would be
    g = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    print(g.pid, flush=True)
    time.sleep(600)
    """
)


def test_a_child_that_ignores_sigterm_is_killed_with_its_group(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, grace_s=0.5)
    child = sup.start("stubborn", [sys.executable, "-c", STUBBORN])
    deadline = time.monotonic() + 20
    while not (tmp_path / "stubborn.log").read_text().strip():
        assert time.monotonic() < deadline, "the stub did not start"
        time.sleep(0.05)
    grandchild = int((tmp_path / "stubborn.log").read_text().split()[0])
    assert os.getpgid(grandchild) == child.pid  # its own process group, led by the child
    assert os.getpgid(child.pid) != os.getpgid(0)  # not the demo's: Ctrl-C does not reach it
    sup.stop_all()
    assert child.proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while _alive(grandchild):
        assert time.monotonic() < deadline, f"grandchild {grandchild} survived"
        time.sleep(0.05)


def test_a_child_that_exits_on_its_own_is_reported_and_its_leftovers_killed(
    tmp_path: Path,
) -> None:
    sup = Supervisor(tmp_path, grace_s=5)
    code = (
        "import subprocess, sys\n"
        "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        "print(g.pid, flush=True)\n"
        "sys.exit(3)\n"
    )
    child = sup.start("crasher", [sys.executable, "-c", code])
    deadline = time.monotonic() + 20
    while sup.dead() is None:
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.05)
    assert sup.dead() is child
    assert child.exit_code() == 3
    grandchild = int((tmp_path / "crasher.log").read_text().split()[0])
    assert _alive(grandchild)  # left behind in the child's process group...
    sup.stop_all()
    deadline = time.monotonic() + 5
    while _alive(grandchild):  # ...and killed with the group
        assert time.monotonic() < deadline, f"grandchild {grandchild} survived"
        time.sleep(0.05)
    assert child.proc.returncode == 3


def test_children_stop_in_reverse_order_of_start(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, grace_s=5)
    order = tmp_path / "order"
    code = (
        "import signal, sys, time\n"
        "def bye(*a):\n"
        f"    open({str(order)!r}, 'a').write(sys.argv[1] + '\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('up', flush=True)\n"
        "time.sleep(600)\n"
    )
    for name in ("server", "sim"):
        sup.start(name, [sys.executable, "-c", code, name])
    deadline = time.monotonic() + 20
    while any("up" not in (tmp_path / f"{n}.log").read_text() for n in ("server", "sim")):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    sup.stop_all()
    assert order.read_text().split() == ["sim", "server"]
    assert [c.proc.returncode for c in sup.children] == [0, 0]


def test_run_stops_a_step_when_asked(tmp_path: Path) -> None:
    sup = Supervisor(tmp_path, grace_s=5)
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    t0 = time.monotonic()
    code = sup.run("step", [sys.executable, "-c", "import time; time.sleep(600)"], stop)
    assert code == -signal.SIGTERM
    assert time.monotonic() - t0 < 10


def test_free_ports_are_distinct() -> None:
    tcp, udp = free_ports(2, 6)
    assert len(set(tcp + udp)) == 8
    assert all(1024 <= p <= 65535 for p in tcp + udp)


# -- the run directory -------------------------------------------------------------------------


def test_run_directory_holds_a_server_config_with_the_runs_clock(tmp_path: Path) -> None:
    before = time.time_ns()
    run = prepare_run(
        tmp_path / "run",
        tmp_path / "archive",
        port=0,
        epoch="2023-09-08T08:00:00Z",
        speed=60,
        seed=3,
    )
    cfg = yaml.safe_load(run.config_file.read_text())
    assert cfg["archive"] == str(tmp_path / "archive")
    assert cfg["clock"]["epoch"] == "2023-09-08T08:00:00Z"
    assert cfg["clock"]["speed"] == 60
    assert before <= cfg["clock"]["reference_host_ns"] <= time.time_ns()
    assert [u["roles"] for u in cfg["users"]] == [
        ["viewer"],
        ["operator"],
        ["flight_director"],
        ["admin"],
    ]
    assert len({u["password"] for u in cfg["users"]}) == 4
    sc, rover, orbiter = cfg["spacecraft"]  # all by default, the station first (the default)
    assert (sc["name"], rover["name"], orbiter["name"]) == ("TIANGONG", "ROVER", "ORBITER")
    assert Path(sc["mdb"]).is_file()
    assert sc["light_time_s"] == 0.25  # through a geostationary relay, see SPACECRAFT
    assert Path(sc["orbit"]["tle"]).name == "css.tle"
    # before planning: the rover's nominal light time, its site; windows and plans come later
    assert rover["light_time_s"] == 1.28
    assert rover["site"] == {"dem": "synthetic", "options": ROVER_SITE, "seed": 3}
    assert "uplink_windows" not in rover
    # the orbiter's file delivery from the start; its trajectory and windows come at planning
    assert orbiter["cfdp"]["apid_down"] == 610
    assert "orbit" not in orbiter
    assert len(sc["links"]) == 2  # realtime, playback
    ports = {
        int(u.rsplit(":", 1)[1]) for s in (sc, rover, orbiter) for u in [*s["links"], s["uplink"]]
    }
    assert len(ports | {run.port}) == 10
    assert run.config_file.stat().st_mode & 0o077 == 0  # it holds passwords
    run.write()
    doc = json.loads(run.run_file.read_text())
    assert doc["url"] == f"http://127.0.0.1:{run.port}"
    assert doc["clock"]["epoch_ns"] == parse_ns("2023-09-08T08:00:00Z")
    assert doc["spacecraft"][0]["status"] == str(tmp_path / "run" / "station-status.json")
    assert run.run_file.stat().st_mode & 0o077 == 0


def test_demo_campaign_plans_six_sessions_in_the_first_hour() -> None:
    from falak.planning.campaign.model import parse_campaign
    from falak.planning.campaign.orbit_env import build_environment
    from falak.planning.campaign.solver import SolveOptions, solve

    epoch_ns = parse_ns(DEFAULT_EPOCH)
    c = parse_campaign(demo_campaign(epoch_ns))
    plan = solve(c, build_environment(c), SolveOptions(time_limit_s=20, deterministic=True))
    preps = [a for a in plan.activities if a.kind == "prep"]
    stows = [a for a in plan.activities if a.kind == "stow"]
    assert sorted({a.experiment for a in preps}) == sorted(e[0] for e in DEMO_EXPERIMENTS)
    assert len(preps) == 6  # the dosimeter's session twice
    # minutes since the campaign start (midnight UTC): inside the window 08:15 to 09:05
    assert DEFAULT_EPOCH == "2023-09-08T08:10:00Z"
    assert min(a.start_min for a in preps) >= 8 * 60 + 15
    assert max(a.end_min for a in stows) <= 9 * 60 + 5
    # every payload stops before the contact gap at 09:02:31 (see DEFAULT_EPOCH)
    assert max(a.end_min for a in plan.activities if a.kind == "unattended") <= 9 * 60


# -- the acceptance run (issue 13): falak demo --duration 60 --speed 60, headless -------------

DURATION_S = 60
SPEED = 60
#: Host seconds the demo may take to plan, start the server and the simulator, and load the stack.
START_S = 120
#: Packets are stamped on reception by the server with the run's clock; between the simulator
#: sending one and the server stamping it lie loopback delivery and the link's batching, well
#: under 0.5 host s, i.e. under 0.5 * SPEED simulated seconds.
RECEPTION_SLACK_NS = int(0.5 * SPEED * 1e9)


class Demo:
    """A ``falak demo`` child of the test, its run directory and its clients."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.archive = workdir / "archive"
        self.run_dir = workdir / "run"
        self.log = workdir / "demo.log"
        falak = Path(sys.executable).parent / "falak"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    *(falak, "demo", "--duration", str(DURATION_S), "--speed", str(SPEED)),
                    # the station and the rover, as before the orbiter joined the default
                    # (tests/integration/test_demo_orbiter.py flies it): less load, same timing
                    *("--spacecraft", "TIANGONG,ROVER", "--archive", str(self.archive)),
                ],
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},
            )
        self._clients: dict[str, Client] = {}

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def run_json(self) -> dict[str, Any]:
        return dict(json.loads((self.run_dir / "run.json").read_text()))

    def wait_running(self) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"falak demo exited early:\n{self.output()}"
            with contextlib.suppress(OSError, ValueError):
                if self.run_json()["state"] == "running":
                    return
            time.sleep(0.2)
        pytest.fail(f"falak demo did not start in {START_S} s:\n{self.output()}")

    def status(self) -> dict[str, Any]:
        path = Path(self.run_json()["spacecraft"][0]["status"])
        for _ in range(50):  # written atomically, but may not exist yet
            with contextlib.suppress(OSError, ValueError):
                return dict(json.loads(path.read_text()))
            time.sleep(0.1)
        pytest.fail(f"no simulator status file {path}:\n{self.output()}")

    def client(self, role: str) -> Client:
        if role not in self._clients:
            run = self.run_json()
            user = next(u for u in run["users"] if u["role"] == role)
            self._clients[role] = Client.login(run["url"], user["name"], user["password"])
        return self._clients[role]

    def wait_stopped(self) -> int:
        for c in self._clients.values():
            c.close()
        self._clients.clear()
        try:
            return self.proc.wait(DURATION_S + START_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"falak demo did not stop after --duration:\n{self.output()}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = Demo(tmp_path_factory.mktemp("demo"))
    try:
        d.wait_running()
        yield d
    finally:
        if d.proc.poll() is None:
            d.proc.send_signal(signal.SIGTERM)
            d.wait_stopped()


def _until(what: str, ok: Callable[[], Any], timeout_s: float, demo: Demo) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ApiError):
            v = ok()
            if v:
                return v
        time.sleep(0.25)
    pytest.fail(f"{what}: not within {timeout_s} s\n{demo.output()[-3000:]}")


@pytest.mark.slow
def test_station_telemetry_arrives(demo: Demo) -> None:
    fc = demo.client("viewer")
    sample = _until(
        "station housekeeping", lambda: fc.latest("STN_PAYLOAD_POWER_AVAIL_W"), 30, demo
    )
    assert sample.eng > 0  # W available to payloads: the station is powered
    sc, rover = fc.spacecraft_list()  # the two this demo flies, the station first
    assert (sc["name"], rover["name"]) == ("TIANGONG", "ROVER")
    assert [link["url"] for link in sc["links"]] == [
        demo.run_json()["spacecraft"][0]["tm"],
        demo.run_json()["spacecraft"][0]["playback"],
    ]
    assert sum(link["packets"] for link in sc["links"]) > 0


@pytest.mark.slow
def test_a_commanded_experiment_start_passes_every_verification_stage(demo: Demo) -> None:
    fc = demo.client("operator")
    assert demo.status()["in_contact"]  # 08:10 to 09:02 is one contact (DEFAULT_EPOCH)
    for command, args in (
        (
            "PLANT_CONFIGURE",
            {"TEMP_C": 24.0, "CO2_PPM": 1000.0, "LIGHT_UMOL": 500.0, "PHOTOPERIOD_H": 16},
        ),
        ("PLANT_START", {}),
    ):
        rec = fc.wait(fc.issue(command, args).id, timeout_s=30)
        # the TIANGONG MDB's verifiers of every payload command
        assert {s: rec.stage(s) for s in rec.verifiers} == {
            "received": "OK",
            "accepted": "OK",
            "complete": "OK",
        }, rec
        assert rec.state == "completed", rec
    assert _until("PLANT_STATE", lambda: fc.latest("PLANT_STATE").eng != "OFF", 20, demo)


def _bad_commands() -> dict[str, bytes]:
    """One telecommand packet per on-board rejection reason (truth: the TIANGONG MDB)."""
    from falak.ccsds.crc import crc16_ccitt
    from falak.mdb import load
    from falak.tc.encoder import CommandEncoder

    enc = CommandEncoder(load(SPACECRAFT[0].mdb))

    def recrc(b: bytearray) -> bytes:
        b[-2:] = crc16_ccitt(bytes(b[:-2])).to_bytes(2, "big")
        return bytes(b)

    noop = enc.encode("NOOP", seq_count=101).binary
    cfg = enc.encode(
        "FURN_CONFIGURE",
        {"SETPOINT_C": 450.0, "RAMP_C_PER_MIN": 30.0, "SOAK_MIN": 5},
        seq_count=102,
    ).binary
    bad_crc = bytearray(noop)
    bad_crc[-1] ^= 0xFF
    opcode = bytearray(noop)
    opcode[6] = 0x7E  # the byte after the primary header; no TIANGONG command has it
    short = bytearray(cfg[:-4] + cfg[-2:])  # one argument byte pair less, consistent header
    short[4:6] = (len(short) - 7).to_bytes(2, "big")
    high = bytearray(cfg)
    high[7:9] = (58000).to_bytes(2, "big")  # SETPOINT_C raw: -50 + 0.025 * 58000 = 1400 degC
    return {
        "BAD_CRC": bytes(bad_crc),
        "UNKNOWN_OPCODE": recrc(opcode),
        "BAD_LENGTH": recrc(short),
        "ARGUMENT_OUT_OF_RANGE": recrc(high),
    }


@pytest.mark.slow
def test_bad_commands_get_rejection_events_and_the_simulator_keeps_running(demo: Demo) -> None:
    import socket

    tc = demo.run_json()["spacecraft"][0]["tc"]
    host, port = tc.removeprefix("udp://").rsplit(":", 1)
    before = demo.status()
    assert before["in_contact"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for packet in _bad_commands().values():
            s.sendto(packet, (host, int(port)))

    def rejected() -> dict[str, int] | None:
        st = demo.status()
        got = st["commands"]["rejected"]
        old = before["commands"]["rejected"]
        new = {r: got.get(r, 0) - old.get(r, 0) for r in _bad_commands()}
        return new if all(new.values()) else None

    assert _until("four rejections", rejected, 20, demo) == dict.fromkeys(_bad_commands(), 1)
    fc = demo.client("viewer")

    def events() -> list[str]:
        msgs = [e["message"] for e in fc._call("GET", "/events")]
        return msgs if all(any(r in m for m in msgs) for r in ("OPCODE", "CRC")) else []

    msgs = _until("rejection events", events, 20, demo)
    assert any("126 (0x7E)" in m for m in msgs), msgs  # the unknown opcode, named
    assert any("SETPOINT_C" in m for m in msgs), msgs  # the argument out of range, named
    after = demo.status()
    assert after["now_ns"] > before["now_ns"]
    assert _alive(int(demo.run_json()["children"]["sim-station"]["pid"]))


@pytest.mark.slow
def test_an_injected_fault_raises_the_alarm_an_operator_acknowledges(demo: Demo) -> None:
    # The cold-stowage failure, not the furnace over-temperature: a stuck furnace heater
    # latches the furnace's trip, so the stack's FURN_STOP of the alloy-melt session would
    # fail while the fault lasts (the station model's rule, tested in tests/sim/
    # test_station.py), and the stack test below counts that session's verifications.
    fc = demo.client("operator")
    _until("station telemetry", lambda: fc.latest("COLD_A_STATE").eng, DURATION_S, demo)
    tc = demo.run_json()["spacecraft"][0]["tc"]
    falak = Path(sys.executable).parent / "falak"

    def fault(*args: str) -> None:
        out = subprocess.run(
            [falak, "sim", "fault", "station", *args, "--tc", tc],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stdout + out.stderr

    fault("COLD_STOWAGE_FAILURE", "--arg", "UNIT=A_MINUS80")

    def alarm() -> dict[str, Any] | None:
        return next((a for a in fc.alarms() if a["parameter"].endswith("COLD_A_STATE")), None)

    a = _until("the COLD_A_STATE alarm", alarm, 30, demo)
    assert a["level"] == "CRITICAL"  # the unit reports FAULT at once (missions/tiangong/README)
    assert not a["acknowledged"]
    acked = fc.acknowledge(a["parameter"], "compressor A stopped: moving samples to unit B")
    assert acked["acknowledged"]
    assert acked["ack_user"] == "operator"
    assert acked["ack_comment"] == "compressor A stopped: moving samples to unit B"
    fault("CLEAR_ALL")  # the instructor repairs it; the unit pulls down again


@pytest.mark.slow
def test_at_least_five_campaign_sessions_execute_with_their_verifications(demo: Demo) -> None:
    fc = demo.client("viewer")
    name = demo.run_json()["spacecraft"][0]["stack"]
    assert name == "falak-demo"
    st = _until(
        "the campaign stack to end",
        lambda: (s := fc.stack(name))["state"] not in ("loaded", "running") and s,
        DURATION_S,
        demo,
    )
    sessions: dict[str, list[bool]] = {}
    for step in st["steps"]:
        session = step["comment"].split(" ")[0]  # EXPERIMENT/SESSION, from the plan
        rec = fc.command(step["command_id"]) if step.get("command_id") else None
        ok = (
            rec is not None
            and rec.state == "completed"
            and all(rec.stage(s) == "OK" for s in rec.verifiers)
        )
        sessions.setdefault(session, []).append(ok)
    done = sorted(s for s, oks in sessions.items() if len(oks) == 3 and all(oks))
    assert len(done) >= 5, (st["state"], sessions)


@pytest.mark.slow
def test_the_demo_stops_by_itself_leaving_no_process_behind(demo: Demo) -> None:
    assert demo.wait_stopped() == 0, demo.output()
    run = demo.run_json()
    assert run["state"] == "stopped"
    assert set(run["children"]) >= {"server", "sim-station"}
    for name, child in run["children"].items():
        assert not _alive(int(child["pid"])), f"{name} (pid {child['pid']}) is still alive"
    assert "stopping" in demo.output()


@pytest.mark.slow
def test_reception_inside_contacts_and_the_dump_fills_the_archive(demo: Demo) -> None:
    import numpy as np

    from falak.archive import open_archive

    demo.wait_stopped()
    st = demo.status()
    windows = np.asarray([(a, b) for a, b, _ in st["contacts"]], dtype=np.int64)
    assert len(windows) >= 2, st["contacts"]  # a gap inside the run (DEFAULT_EPOCH)
    assert st["dumped"] > 0
    # the demo ends inside the contact after the gap (DEFAULT_EPOCH): nothing is left on board
    assert st["recorder"]["packets"] == 0, st["recorder"]
    assert st["recorder"]["overwritten"] == 0, st["recorder"]
    archive = open_archive(str(demo.archive), spacecraft="TIANGONG")
    try:
        recv, apids, links = [], [], []
        for batch in archive.read_packets():
            recv.append(batch.recv_time_ns)
            apids.append(batch.apids)
            links.extend(batch.links.tolist())
        stats = archive.packet_stats()
    finally:
        archive.close()
    t = np.concatenate(recv)
    inside = (
        (t[:, None] >= windows[:, 0]) & (t[:, None] <= windows[:, 1] + RECEPTION_SLACK_NS)
    ).any(axis=1)
    assert inside.all(), f"{(~inside).sum()} packets received outside every contact"
    assert len(set(links)) == 2  # realtime and playback (the dump) both delivered
    generated = {int(k): v for k, v in st["generated"].items()}
    assert stats.by_apid == generated


@pytest.mark.slow
def test_archive_stats_lists_packets_per_spacecraft(demo: Demo) -> None:
    demo.wait_stopped()
    falak = Path(sys.executable).parent / "falak"
    out = subprocess.run(
        [falak, "archive", "stats", "--archive", str(demo.archive)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert "TIANGONG" in out.stdout
    for apid in demo.status()["generated"]:
        assert apid in out.stdout


@pytest.mark.slow
def test_sigterm_while_starting_stops_what_was_started(tmp_path: Path) -> None:
    # the station alone: its campaign is the quickest of the plans made before the server
    # starts (run.json then names the server, the state this test signals the demo in)
    falak = Path(sys.executable).parent / "falak"
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [falak, "demo", "--spacecraft", "TIANGONG", "--archive", str(tmp_path / "archive")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    run_json = tmp_path / "run" / "run.json"
    deadline = time.monotonic() + START_S
    while not run_json.exists():  # written when the server is started, before it answers
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, log.read_text()
    run = json.loads(run_json.read_text())
    assert run["state"] == "stopped"
    assert "server" in run["children"]
    for name, child in run["children"].items():
        assert not _alive(int(child["pid"])), f"{name} (pid {child['pid']}) is still alive"
