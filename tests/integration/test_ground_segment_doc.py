"""docs/ground-segment.md runs as written, against a running ``falak demo``.

tests/docs runs every other page's examples; this page's need the demo running while they
run, so they are run here (tests/docs skips the page, ``LIVE_PAGES``). The test does what a
reader does: in a fresh working directory it starts the page's ``falak demo`` (in the
background, with ``--duration`` as a safety net), takes the operator's variables from the run
directory's ``env.sh`` (the page's ``. demo-out/ground/run/env.sh``), runs the page's blocks in
order — Python blocks in one namespace, ``falak`` commands of shell blocks with bash — then,
where the page says to press Ctrl-C (``<!-- the demo stops here -->``), sends SIGINT to the
demo, waits for it to stop, and runs the rest.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.docs.test_docs_examples import FENCE, LIVE_PAGES, SHELLS, _commands

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "ground-segment.md"
STOP_MARK = "<!-- the demo stops here -->"
#: Host seconds the demo runs at most, should the test lose it.
SAFETY_DURATION_S = 600


def _blocks(text: str) -> list[tuple[str, str, int]]:
    """(language, body, first line) of the page's runnable blocks, in page order."""
    out = []
    for m in FENCE.finditer(text):
        lang = m.group(1)
        if lang == "python" or lang in SHELLS:
            out.append((lang, m.group(3), text.count("\n", 0, m.start()) + 2))
    return out


def _env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def test_the_page_is_skipped_by_tests_docs_and_has_its_steps() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert PAGE.name in LIVE_PAGES
    assert text.count(STOP_MARK) == 1
    for heading in (
        "## 1. Run the demo",
        "## 2. Follow a contact",
        "## 3. Command an experiment",
        "## 4. Acknowledge an alarm",
        "## 5. Run a stack",
    ):
        assert heading in text
    first = _blocks(text)[0]
    assert [c.text for c in _commands(first[0], first[1], first[2])] == ["falak demo"]


@pytest.mark.slow
def test_ground_segment_page_runs_against_a_running_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = PAGE.read_text(encoding="utf-8")
    live_text, after_text = text.split(STOP_MARK)
    live, after = _blocks(live_text), _blocks(after_text)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    (tmp_path / "src").symlink_to(ROOT / "src", target_is_directory=True)
    log = tmp_path / "demo.log"
    lang, body, line = live[0]
    (start,) = _commands(lang, body, line)
    with open(log, "wb") as out:
        demo = subprocess.Popen(
            ["bash", "-c", f"exec {start.text} --duration {SAFETY_DURATION_S}"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        run_dir = tmp_path / "demo-out" / "ground" / "run"
        deadline = time.monotonic() + 180
        while True:
            assert demo.poll() is None, log.read_text()
            try:
                if json.loads((run_dir / "run.json").read_text())["state"] == "running":
                    break
            except (OSError, ValueError):
                pass
            assert time.monotonic() < deadline, f"the demo did not start:\n{log.read_text()}"
            time.sleep(0.2)
        operator = _env_file(run_dir / "env.sh")
        assert set(operator) >= {"FALAK_URL", "FALAK_USER", "FALAK_PASSWORD", "FALAK_STATION_TC"}
        env.update(operator)
        for key, value in operator.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)
        namespace: dict[str, object] = {"__name__": "__docs__"}

        def run(blocks: list[tuple[str, str, int]]) -> None:
            for lang, body, line in blocks:
                where = f"docs/{PAGE.name}:{line}"
                if lang == "python":
                    exec(compile(body, where, "exec"), namespace)
                    continue
                for cmd in _commands(lang, body, line):
                    proc = subprocess.run(
                        ["bash", "-c", cmd.text],
                        cwd=tmp_path,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=300,
                        check=False,
                    )
                    assert proc.returncode == 0, (
                        f"{where}: `{cmd.text}` exited {proc.returncode}:\n"
                        f"{proc.stdout}{proc.stderr}"
                    )

        run(live[1:])
        demo.send_signal(signal.SIGINT)  # Ctrl-C, as the page says
        assert demo.wait(120) == 0, log.read_text()
        assert "stopped" in log.read_text()
        run(after)
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGTERM)
            demo.wait(120)
