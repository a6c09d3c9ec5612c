"""The console against ``falak demo`` (issue 16, Acceptance), in headless Chromium: a real demo
run (``falak demo --duration ... --speed ...`` as a subprocess, as tests/integration/
test_demo.py starts it), logged in with the users the demo writes to run.json.

Covered so far: log in; each flown spacecraft's overview card; each spacecraft's map drawn
(TIANGONG over the Earth, ROVER's site, ORBITER over the Moon when the demo flies it);
screenshots of every page (``FALAK_CONSOLE_SCREENSHOTS`` or a temporary folder). The other
acceptance steps (alarm acknowledged after an injected fault, commands, critical arming,
stacks, the rover moving after a DRIVE, CSV export, staleness) are tested on the focused
servers of tests/console/test_console_*.py and not yet against the demo.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console.pages import open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DURATION_S = 240
SPEED = 10
START_S = 180
PAGES = ("overview", "parameters", "alarms", "commanding", "stacks", "timeline", "maps")


class ConsoleDemo:
    """A ``falak demo`` child of the test and its run directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.run_dir = workdir / "run"
        self.log = workdir / "demo.log"
        falak = Path(sys.executable).parent / "falak"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [*(falak, "demo", "--duration", str(DURATION_S), "--speed", str(SPEED)),
                 "--archive", str(workdir / "archive")],
                cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},
            )  # fmt: skip

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

    def user(self, role: str) -> dict[str, str]:
        return next(u for u in self.run_json()["users"] if u["role"] == role)

    def spacecraft(self) -> list[str]:
        return [s["name"] for s in self.run_json()["spacecraft"]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleDemo]:
    d = ConsoleDemo(tmp_path_factory.mktemp("console-demo"))
    try:
        d.wait_running()
        yield d
    finally:
        if d.proc.poll() is None:
            d.proc.send_signal(signal.SIGTERM)
            try:
                d.proc.wait(60)
            except subprocess.TimeoutExpired:
                d.proc.kill()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("FALAK_CONSOLE_SCREENSHOTS")
    path = Path(env) if env else tmp_path_factory.mktemp("demo-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _log_in(page: Page, demo: ConsoleDemo) -> None:
    user = demo.user("operator")
    page.set_default_timeout(20_000)
    page.goto(demo.run_json()["url"].rstrip("/") + "/")
    page.fill("input[name=username]", user["name"])
    page.fill("input[name=password]", user["password"])
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#bar:not([hidden])")


MAP_KIND = {"TIANGONG": "earth", "ROVER": "site", "ORBITER": "moon"}


def test_every_page_of_every_spacecraft_against_the_demo(
    page: Page, demo: ConsoleDemo, shots: Path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(page, demo)
    flown = demo.spacecraft()
    for name in flown:
        expect(page.locator(f"article[data-spacecraft={name}]")).to_be_visible()
    page.screenshot(path=str(shots / "console-demo-overview.png"))
    for name in flown:
        page.select_option("#spacecraft", name)
        for p in PAGES[1:]:
            open_page(page, p)
            if p == "maps":
                canvas = page.locator("canvas[data-test=map-canvas]")
                expect(canvas).to_have_attribute("data-drawn", MAP_KIND[name])
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(shots / f"console-demo-{name.lower()}-{p}.png"))
        open_page(page, "overview")
    assert errors == [], f"uncaught errors in the console's scripts: {errors}"
