"""benchmarks/_harness.py: the fairness rules every benchmark's ratio is measured by."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
# appended, not prepended: the scripts' names (websocket, route, ...) must not shadow packages
sys.path.append(str(BENCHMARKS))

from _harness import Bench, Side, Stats, expect  # noqa: E402


def test_both_sides_are_warmed_up_then_interleaved(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []
    bench = Bench("title")
    sides = [
        Side("falak", lambda: calls.append("falak") or 1),
        Side("peer", lambda: calls.append("peer") or 1, warmup=lambda: calls.append("warm peer")),
    ]
    bench.compare("case", sides, repeat=2)
    assert calls == ["falak", "warm peer", "falak", "peer", "falak", "peer"]
    out = capsys.readouterr().out
    assert "case: warm-up, then 2 interleaved runs per side" in out
    assert "ratio peer / falak: wall " in out
    assert "load average" in out


def test_check_sees_both_results_and_its_failure_stops_the_run() -> None:
    seen: list[dict[str, Any]] = []

    def check(results: dict[str, Any]) -> None:
        seen.append(results)
        expect(results["falak"] == results["peer"], "falak 1 != peer 2")

    bench = Bench("title")
    sides = [Side("falak", lambda: 1), Side("peer", lambda: 2)]
    with pytest.raises(AssertionError, match=r"^falak 1 != peer 2$"):
        bench.compare("case", sides, repeat=1, check=check)
    assert seen == [{"falak": 1, "peer": 2}]  # checked after the warm-up already


def test_check_runs_on_the_last_timed_results_when_warm_ups_are_separate() -> None:
    seen: list[dict[str, Any]] = []
    counter = iter(range(100))
    sides = [
        Side("falak", lambda: next(counter), warmup=lambda: "warm"),
        Side("peer", lambda: "peer", warmup=lambda: "warm"),
    ]
    Bench("title").compare("case", sides, repeat=3, check=seen.append)
    assert seen == [{"falak": 2, "peer": "peer"}]


def test_ratio_is_of_medians_with_the_range_over_pairs() -> None:
    ours = Stats("falak", wall_s=[1.0, 2.0, 4.0], cpu_s=[1.0, 1.0, 1.0])
    peer = Stats("peer", wall_s=[3.0, 4.0, 20.0], cpu_s=[2.0, 3.0, 4.0])
    assert Bench.ratio_line(peer, ours) == (
        "ratio peer / falak: wall 2.00x (pairs 2.00-5.00), CPU 3.00x (pairs 2.00-4.00)"
    )


def test_output_goes_to_a_file_only_with_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Bench("no file").finish()
    assert list(tmp_path.iterdir()) == []
    out = tmp_path / "run.txt"
    bench = Bench("to a file", out)
    bench.say("a line")
    bench.finish()
    text = out.read_text(encoding="utf-8").splitlines()
    assert text[0] == "to a file"
    assert text[2].startswith("source: ")
    assert text[3].startswith("load average at start: ")
    assert text[4] == "a line"
    assert text[5].startswith("load average at end: ")


def test_expect_raises_with_the_message() -> None:
    expect(True, "unused")
    with pytest.raises(AssertionError, match=r"^2 fields differ$"):
        expect(0, "2 fields differ")


def test_the_horizons_numpy_peer_does_falaks_work() -> None:
    """benchmarks/horizons.py's home-made peer computes falak's horizons (float32 rounding)."""
    from horizons import PORT_TOLERANCE_DEG, numpy_port

    from falak.terrain.horizons import horizons
    from falak.terrain.synth import synthesize

    dem = synthesize(48, 5.0, seed=3)
    ours = horizons(dem, 8).elevation_deg
    assert np.abs(numpy_port(dem, 8) - ours).max() <= PORT_TOLERANCE_DEG
