"""CPU of the whole ground segment (`falak demo`: server + simulators) at speed 1 and speed 60.

There is no peer to set the demo against; the measure is absolute, against the issue's budget:
at speed 1 the server and the simulators together must fit well under one core of the 2-core
machine. For each speed the script runs ``falak demo`` ``--repeat`` times (speeds
interleaved, so a change of machine load hits both) and measures, per run:

* **steady state**: the user + system CPU of the server and of each simulator, read from
  ``/proc/PID/stat`` (``utime + stime``, in clock ticks) at the start and the end of a
  ``--window`` of host seconds that begins ``--warmup`` seconds after the demo is running
  (planning, imports and the MDB load are done by then); as % of one core, per spacecraft, and
  per packet the server received in the window (its links' counters, through the API);
* **whole run**: the CPU of the ``falak demo`` process and every process it reaped (its
  children), from ``os.wait4`` (``ru_utime + ru_stime``), per packet archived in the run.

    .venv/bin/python benchmarks/demo.py                      # 3 runs per speed, 30 s windows
    .venv/bin/python benchmarks/demo.py --repeat 1 --window 10 --speeds 60

Output goes to stdout (``--out FILE`` for a copy). Ranges over the runs are min-max.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import expect, load_average, source_state

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
FALAK = Path(sys.executable).parent / "falak"


def cpu_s(pid: int) -> float:
    """Return the user + system CPU seconds of process ``pid`` so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the command name: state is field 3 of proc(5); utime and stime are 14 and 15
    return (int(fields[11]) + int(fields[12])) * TICK_S


@dataclass
class Run:
    """One measured run of the demo at one speed."""

    speed: float
    window_s: float
    cpu_server_s: float
    cpu_sims_s: dict[str, float]
    packets_window: int
    cpu_total_s: float
    wall_total_s: float
    packets_archived: int
    load: str

    @property
    def steady_core(self) -> float:
        """Server + simulators, fraction of one core."""
        return (self.cpu_server_s + sum(self.cpu_sims_s.values())) / self.window_s

    @property
    def steady_per_packet_us(self) -> float:
        """Server + simulators CPU per received packet, microseconds."""
        cpu = self.cpu_server_s + sum(self.cpu_sims_s.values())
        return 1e6 * cpu / max(self.packets_window, 1)


def _wait_running(run_json: Path, proc: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        expect(proc.poll() is None, f"falak demo exited early:\n{log.read_text()[-3000:]}")
        try:
            doc: dict[str, Any] = json.loads(run_json.read_text())
            if doc["state"] == "running":
                return doc
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"falak demo did not start:\n{log.read_text()[-3000:]}")


def _packets(client: Any) -> int:
    """Packets received so far on every link of every spacecraft (the demo flies several)."""
    return sum(int(ln["packets"]) for sc in client.spacecraft_list() for ln in sc["links"])


def measure(speed: float, window_s: float, warmup_s: float) -> Run:
    """Run the demo once at ``speed`` and measure it (see the module doc)."""
    from falak.archive import list_spacecraft, open_archive
    from falak.client import Client

    with tempfile.TemporaryDirectory(prefix="falak-bench-demo-") as tmp:
        archive = Path(tmp) / "archive"
        log = Path(tmp) / "demo.log"
        duration = warmup_s + window_s + 2
        t0 = time.perf_counter()
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [
                    *(FALAK, "demo", "--duration", f"{duration:g}", "--speed", f"{speed:g}"),
                    *("--archive", str(archive)),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},
            )
        doc = _wait_running(Path(tmp) / "run" / "run.json", proc, log)
        pids = {name: int(c["pid"]) for name, c in doc["children"].items() if "pid" in c}
        sims = {n: p for n, p in pids.items() if n.startswith("sim-")}
        user = next(u for u in doc["users"] if u["role"] == "viewer")
        time.sleep(warmup_s)
        with Client.login(doc["url"], user["name"], user["password"]) as fc:
            c0 = {n: cpu_s(p) for n, p in pids.items()}
            n0 = _packets(fc)
            w0 = time.perf_counter()
            time.sleep(window_s)
            c1 = {n: cpu_s(p) for n, p in pids.items()}
            n1 = _packets(fc)
            w1 = time.perf_counter()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        expect(os.waitstatus_to_exitcode(status) == 0, f"falak demo failed:\n{log.read_text()}")
        archived = 0
        for sc in list_spacecraft(str(archive)):
            a = open_archive(str(archive), spacecraft=sc)
            try:
                archived += a.packet_stats().n_packets
            finally:
                a.close()
        return Run(
            speed=speed,
            window_s=w1 - w0,
            cpu_server_s=c1["server"] - c0["server"],
            cpu_sims_s={n: c1[n] - c0[n] for n in sims},
            packets_window=n1 - n0,
            cpu_total_s=ru.ru_utime + ru.ru_stime,
            wall_total_s=wall,
            packets_archived=archived,
            load=load_average(),
        )


def _range(values: list[float], fmt: str) -> str:
    lo, hi = min(values), max(values)
    return format(lo, fmt) if format(lo, fmt) == format(hi, fmt) else f"{lo:{fmt}}–{hi:{fmt}}"


def report(runs: list[Run]) -> str:
    """Return the table of results, one row per speed, ranges over the runs."""
    lines = [
        "| speed | window | server (% core) | simulator (% core) | total per spacecraft "
        "(% core) | packets/s received | CPU per packet (steady) | whole run: CPU / wall | "
        "whole run: CPU per archived packet | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for speed in sorted({r.speed for r in runs}):
        rs = [r for r in runs if r.speed == speed]
        n_sc = len(rs[0].cpu_sims_s)
        lines.append(
            f"| {speed:g} | {_range([r.window_s for r in rs], '.0f')} s "
            f"| {_range([100 * r.cpu_server_s / r.window_s for r in rs], '.1f')} "
            f"| {_range([100 * sum(r.cpu_sims_s.values()) / r.window_s for r in rs], '.1f')} "
            f"| {_range([100 * r.steady_core / n_sc for r in rs], '.1f')} "
            f"| {_range([r.packets_window / r.window_s for r in rs], '.0f')} "
            f"| {_range([r.steady_per_packet_us for r in rs], '.0f')} µs "
            f"| {_range([r.cpu_total_s for r in rs], '.1f')} s / "
            f"{_range([r.wall_total_s for r in rs], '.0f')} s "
            f"| {_range([1e3 * r.cpu_total_s / max(r.packets_archived, 1) for r in rs], '.2f')}"
            f" ms ({_range([float(r.packets_archived) for r in rs], '.0f')} packets) "
            f"| {', '.join(r.load.split()[0] for r in rs)} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark (see the module doc)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speeds", default="1,60", help="Comma-separated speeds (default 1,60).")
    ap.add_argument("--repeat", type=int, default=3, help="Runs per speed (default 3).")
    ap.add_argument("--window", type=float, default=30.0, help="Measured host seconds.")
    ap.add_argument("--warmup", type=float, default=5.0, help="Host seconds before measuring.")
    ap.add_argument("--out", type=Path, help="Also write the report here.")
    args = ap.parse_args()
    speeds = [float(s) for s in args.speeds.split(",")]
    print(f"falak demo CPU; source {source_state()}; load {load_average()}", flush=True)
    runs: list[Run] = []
    for i in range(args.repeat):
        for speed in speeds:  # interleaved: a change of load hits every speed
            r = measure(speed, args.window, args.warmup)
            runs.append(r)
            print(
                f"run {i + 1} speed {speed:g}: server {r.cpu_server_s:.2f} s, simulators "
                f"{sum(r.cpu_sims_s.values()):.2f} s CPU in {r.window_s:.1f} s "
                f"({100 * r.steady_core:.1f}% of a core), {r.packets_window} packets; whole "
                f"run {r.cpu_total_s:.1f} s CPU, {r.packets_archived} packets archived; "
                f"load {r.load}",
                flush=True,
            )
    text = report(runs)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    slow = [r for r in runs if r.speed == 1]
    if slow:
        worst = max(r.steady_core for r in slow)
        expect(worst < 0.5, f"at speed 1 the demo used {100 * worst:.0f}% of a core (budget 50%)")


if __name__ == "__main__":
    main()
