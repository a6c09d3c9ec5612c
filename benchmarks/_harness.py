"""Shared rules for falak's benchmarks, so that every ratio is measured the same way.

Every benchmark that sets falak against a peer goes through :meth:`Bench.compare`:

* **both sides alike**: each side is warmed up once (imports, JIT caches, file caches) before
  any timing, then timed ``repeat`` times *interleaved* (A, B, A, B, ...), so a change of
  machine load during the run hits both;
* **wall and CPU time**: ``time.perf_counter`` and ``time.process_time`` (the CPU time of all
  threads of this process) per run; min / median / max are reported, and the ratio is the
  ratio of medians, with the range over the interleaved pairs beside it;
* **same result**: a ``check`` callable receives the results of both sides (from the warm-up
  and from the last timed run) and must raise when they differ — use :func:`expect`, which is
  not stripped by ``python -O`` as ``assert`` is;
* **machine load**: ``/proc/loadavg`` before and after each comparison is printed with it;
* **output**: to stdout, and to a file only when ``--out FILE`` is given (never a tracked
  RESULTS file by default).

Run-to-run ranges (the ones in RESULTS.md) come from running a script several times.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Bench", "Side", "Stats", "expect", "load_average", "source_state"]


def expect(condition: object, message: str) -> None:
    """Raise AssertionError with ``message`` unless ``condition`` holds (kept under -O)."""
    if not condition:
        raise AssertionError(message)


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages and running/total tasks (/proc/loadavg)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:4])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def source_state() -> str:
    """Return the commit of the checkout and how many files under src/ differ from it."""
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.splitlines()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "source: not a git checkout"
    return f"source: commit {head}" + (
        f" + {len(dirty)} uncommitted file(s) under src/" if dirty else ", src/ clean"
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass
class Side:
    """One side of a comparison: a name, the timed callable and an optional warm-up.

    ``warmup`` defaults to ``run`` itself; give a cheaper one (a small input through the same
    code path) only where a full run is long, and give both sides the same kind.
    """

    name: str
    run: Callable[[], Any]
    warmup: Callable[[], Any] | None = None


@dataclass
class Stats:
    """Wall and CPU seconds of the timed runs of one side."""

    name: str
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def wall(self) -> float:
        """Median wall seconds."""
        return statistics.median(self.wall_s)

    @property
    def cpu(self) -> float:
        """Median CPU seconds (all threads of the process)."""
        return statistics.median(self.cpu_s)

    def summary(self) -> str:
        """``min/median/max`` of wall and CPU seconds, as one table row."""
        w, c = self.wall_s, self.cpu_s
        return (
            f"{self.name:<44} {min(w):9.3f} {self.wall:9.3f} {max(w):9.3f}"
            f" {min(c):9.3f} {self.cpu:9.3f} {max(c):9.3f}"
        )


class Bench:
    """Collect the lines of one benchmark run; time comparisons by the rules above.

    Parameters
    ----------
    title
        First line of the output (what is measured, on what input).
    out
        File to write the output to as well (``--out``); None: stdout only.
    """

    def __init__(self, title: str, out: Path | None = None) -> None:
        self.out = out
        self.lines: list[str] = []
        self.started = datetime.now(UTC)
        self.say(title)
        self.say(
            f"{self.started:%Y-%m-%d %H:%M} UTC; {platform.node()}; {_cpu_model()}, "
            f"{len(os.sched_getaffinity(0))} cores usable; Python {platform.python_version()}; "
            f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}"
        )
        self.say(source_state())
        self.say(f"load average at start: {load_average()}")

    @staticmethod
    def arguments(parser: argparse.ArgumentParser, repeat: int = 3) -> None:
        """Add ``--repeat`` and ``--out`` to a benchmark's argument parser."""
        parser.add_argument(
            "--repeat", type=int, default=repeat, help="timed runs per side, interleaved"
        )
        parser.add_argument(
            "--out", type=Path, default=None, help="also write the output to this file"
        )

    def say(self, text: str = "") -> None:
        """Print a line and keep it for ``--out``."""
        print(text, flush=True)
        self.lines.append(text)

    def compare(
        self,
        label: str,
        sides: Sequence[Side],
        *,
        repeat: int,
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Stats]:
        """Warm up every side, time them interleaved ``repeat`` times, check their results.

        ``check`` gets ``{side name: result}`` after the warm-up (when the warm-up is the run
        itself) and after the last timed round, and raises if the results differ. The first
        side is falak; ratios are printed as (each other side) / (first side).
        """
        expect(repeat >= 1, f"repeat must be >= 1, got {repeat}")
        before = load_average()
        warm = {s.name: (s.warmup or s.run)() for s in sides}
        if check is not None and all(s.warmup is None for s in sides):
            check(warm)
        del warm
        stats = {s.name: Stats(s.name) for s in sides}
        last: dict[str, Any] = {}
        for _ in range(repeat):
            for s in sides:
                last.pop(s.name, None)  # free the previous result before timing again
                c0, w0 = time.process_time(), time.perf_counter()
                result = s.run()
                stats[s.name].wall_s.append(time.perf_counter() - w0)
                stats[s.name].cpu_s.append(time.process_time() - c0)
                last[s.name] = result
        if check is not None:
            check(last)
        after = load_average()
        self.say()
        self.say(f"{label}: warm-up, then {repeat} interleaved runs per side")
        self.say(
            f"{'side':<44} {'wall min':>9} {'median':>9} {'max':>9}"
            f" {'CPU min':>9} {'median':>9} {'max':>9}"
        )
        for st in stats.values():
            self.say(st.summary())
        first = stats[sides[0].name]
        for s in sides[1:]:
            self.say(self.ratio_line(stats[s.name], first))
        self.say(f"results checked: {'yes' if check else 'no'}; load average {before} -> {after}")
        return stats

    @staticmethod
    def ratio_line(peer: Stats, ours: Stats) -> str:
        """``peer / ours`` for medians of wall and CPU time, with the range over pairs."""

        def span(a: list[float], b: list[float]) -> str:
            pairs = [x / y for x, y in zip(a, b, strict=True) if y > 0]
            return f"{min(pairs):.2f}-{max(pairs):.2f}" if pairs else "-"

        return (
            f"ratio {peer.name} / {ours.name}: wall {peer.wall / ours.wall:.2f}x "
            f"(pairs {span(peer.wall_s, ours.wall_s)}), CPU {peer.cpu / ours.cpu:.2f}x "
            f"(pairs {span(peer.cpu_s, ours.cpu_s)})"
        )

    def finish(self) -> None:
        """Print the closing load average; write everything to ``out`` if it was given."""
        self.say(f"load average at end: {load_average()}")
        if self.out is not None:
            self.out.write_text("\n".join(self.lines) + "\n", encoding="utf-8")
            print(f"wrote {self.out}")
