"""Fixtures of the console tests: Debian's Chromium driven by Playwright, against a real falak
server on 127.0.0.1 (uvicorn in a thread, TESTSAT on a UDP link) fed housekeeping packets
over UDP by a thread a test can pause.

Each test module gets its own server (``console_server`` is module-scoped): its archive, stacks,
command history, alarms and packet feeder are not shared with the other modules, so a module
cannot leave a paused feeder, an alarm or a stack behind for another, and its loopback
spacecraft answers for as long as the module runs (tests/server's ``ground`` gives it 120 s
from the start: a session-long server outlived it and every later command timed out).
Each test gets a fresh browser context and page (pytest-playwright's ``page``).

Chromium is Debian's ``/usr/bin/chromium`` (``make system-deps`` installs it); Playwright's
own browser downloads do not work here, so never run ``playwright install``. Screenshots go
to ``$FALAK_CONSOLE_SCREENSHOTS`` when set (``docs/img`` regenerates the pictures of
``docs/console.md``), else to a temporary directory kept as a test artefact.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from falak.archive import open_archive
from falak.commanding import CriticalPolicy
from falak.links import UdpLink
from falak.links.tc import UdpUplink
from falak.mdb import load
from falak.processor import Processor
from falak.server import Runtime, SpacecraftRuntime, UserStore, create_app, uvicorn_config
from tests.commanding.spacecraft import Spacecraft
from tests.processor.testsat import MDB_PATH, TAI_1958_TO_UNIX_S, TAI_MINUS_UTC_S, hk_packet
from tests.server.conftest import USERS, Ground, wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}


#: how long an ``expect`` waits for its condition (Playwright's default, 5 s, is too short on a
#: loaded 2-core CI machine: a login to the demo's server took longer); it still fails then
EXPECT_TIMEOUT_MS = 15_000


@pytest.fixture(autouse=True)
def expect_timeout() -> Iterator[None]:
    """Every console test's ``expect`` waits up to ``EXPECT_TIMEOUT_MS``."""
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium headless with the flags this machine needs."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run 'make system-deps' (apt-get install chromium); "
            "Playwright's own browser downloads do not work here"
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A control-room screen: 1440 x 900, downloads accepted."""
    return {**browser_context_args, "viewport": VIEWPORT, "accept_downloads": True}


#: how long the loopback spacecraft answers (host s): longer than any module runs, bounded
#: (its thread also stops at the module's end)
SPACECRAFT_ANSWERS_S = 1800.0


@contextmanager
def console_ground(tmp_path: Path) -> Iterator[Ground]:
    """tests/server's TESTSAT ground (processor, UDP links, the loopback spacecraft answering
    every stage, the users of USERS), its spacecraft answering for ``SPACECRAFT_ANSWERS_S``."""
    mdb = load(MDB_PATH)
    archive = open_archive(tmp_path / "archive")
    tm = UdpLink("tm", "127.0.0.1", 0)
    proc = Processor(mdb, archive, links=[tm], batch_max_age_s=0.01, parameter_flush_s=0.05)
    users = UserStore()
    for name, (pw, role) in USERS.items():
        users.add(name, [role], password=pw)
    try:
        with Spacecraft(mdb, tm.port, "ok", max_seconds=SPACECRAFT_ANSWERS_S) as sc:
            craft = SpacecraftRuntime(
                mdb,
                archive,
                processor=proc,
                uplink=UdpUplink("uplink", "127.0.0.1", sc.port),
                critical=CriticalPolicy(confirm_window_s=5.0),
            )
            rt = Runtime(spacecraft=[craft], users=users)
            rt.start()
            try:
                yield Ground(rt, sc, tm.port)
            finally:
                rt.stop()
    finally:
        archive.close()


@dataclass
class Feeder:
    """Sends TESTSAT HK packets (BATT_V stepping through 7.00..7.49 V) at ``rate_hz``."""

    port: int
    rate_hz: float = 5.0
    sent: int = 0
    running: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)
    sending: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not self.stopped.is_set():
                if self.running.wait(0.1):
                    with self.sending:
                        if not self.running.is_set():
                            continue
                        obt = time.time() + TAI_1958_TO_UNIX_S + TAI_MINUS_UTC_S
                        counts = 7000 + 10 * (self.sent % 50)  # 1 mV per count (testsat.py)
                        s.sendto(hk_packet(self.sent, obt, counts), ("127.0.0.1", self.port))
                        self.sent += 1
                    time.sleep(1.0 / self.rate_hz)

    def pause(self) -> None:
        """Stop sending; on return no packet is being sent and none will be until
        :meth:`resume` (a packet a test sends next comes after the feeder's last one)."""
        self.running.clear()
        with self.sending:
            pass

    def resume(self) -> None:
        self.running.set()


@dataclass
class ConsoleServer:
    url: str
    ground: Ground
    feeder: Feeder
    screenshots: Path

    def shot(self, page: Page, name: str) -> Path:
        """Save a screenshot of the whole page as ``console-NAME.png``."""
        path = self.screenshots / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    """A real server with the console, TESTSAT telemetry flowing at 5 Hz; one per module."""
    shots = os.environ.get("FALAK_CONSOLE_SCREENSHOTS")
    screenshots = Path(shots) if shots else tmp_path_factory.mktemp("console-screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    with console_ground(tmp_path_factory.mktemp("console")) as g:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn_config(create_app(g.runtime)))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        feeder = Feeder(g.tm_port)
        feeding = threading.Thread(target=feeder.run, daemon=True)
        feeding.start()
        feeder.resume()
        try:
            assert wait_for(lambda: server.started, 10.0), "uvicorn did not start"
            yield ConsoleServer(f"http://127.0.0.1:{port}", g, feeder, screenshots)
        finally:
            feeder.stopped.set()
            feeding.join(5.0)
            server.should_exit = True
            thread.join(10.0)
            sock.close()


def log_in(page: Page, url: str, user: str = "otto") -> None:
    """Open the console at ``url`` and log in as ``user`` (a name of tests.server USERS)."""
    page.goto(url + "/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", USERS[user][0])
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#bar:not([hidden])")


@pytest.fixture
def console(page: Page, console_server: ConsoleServer) -> Iterator[Page]:
    """A page logged in to the console as the operator ``otto``; the test fails if a script
    of the page raised an uncaught exception meanwhile."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(10_000)
    log_in(page, console_server.url)
    yield page
    assert errors == [], f"uncaught errors in the console's scripts: {errors}"
