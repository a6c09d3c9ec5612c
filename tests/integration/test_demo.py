"""``falak demo``: its process supervisor and run directory (fast), and the acceptance run (slow).

The acceptance test of issue 13 runs ``falak demo --duration 60 --speed 60`` headless, as a
user would, and checks through the API (:class:`falak.client.Client`), the simulator's status
file and the archive that the ground segment works end to end.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import yaml

from falak.cli.demo import (
    DEMO_EXPERIMENTS,
    Supervisor,
    demo_campaign,
    free_ports,
    prepare_run,
)
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
    (sc,) = cfg["spacecraft"]
    assert sc["name"] == "TIANGONG"
    assert Path(sc["mdb"]).is_file()
    assert len(sc["links"]) == 2  # realtime, playback
    ports = {int(u.rsplit(":", 1)[1]) for u in [*sc["links"], sc["uplink"]]} | {run.port}
    assert len(ports) == 4
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

    epoch_ns = parse_ns("2023-09-08T08:00:00Z")
    c = parse_campaign(demo_campaign(epoch_ns))
    plan = solve(c, build_environment(c), SolveOptions(time_limit_s=20, deterministic=True))
    preps = [a for a in plan.activities if a.kind == "prep"]
    stows = [a for a in plan.activities if a.kind == "stow"]
    assert sorted({a.experiment for a in preps}) == sorted(e[0] for e in DEMO_EXPERIMENTS)
    assert len(preps) == 6  # the dosimeter's session twice
    # minutes since the campaign start (midnight UTC): inside the window 08:05 to 08:50
    assert min(a.start_min for a in preps) >= 8 * 60 + 5
    assert max(a.end_min for a in stows) <= 8 * 60 + 50
