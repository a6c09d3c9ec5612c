"""The alarms and events page in headless Chromium against a real server (tests/console
conftest: TESTSAT fed housekeeping over UDP): housekeeping injected over UDP with the mode OFF
raises a critical alarm, the page cues it (banner, and a beep once sound is on) and the operator
acknowledges it with a comment, shelves and clears it; events are listed and filtered; a
viewer sees no action buttons and the server refuses the action anyway."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from falak.processor import Alarm
from tests.console.conftest import ConsoleServer, log_in
from tests.console.pages import open_page
from tests.integration.test_demo import Demo
from tests.server.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MODE = "/TESTSAT/MODE"
#: MODE 0 = OFF: CRITICAL by the Mode type's alarm {SAFE: warning, OFF: critical}
#: (missions/testsat/mdb.yaml); the feeder sends NOMINAL (2). BATT_V is left as the feeder
#: sends it: the shell's tests read its latest value and its history.
MODE_OFF = 0


def reset_mode_alarm(server: ConsoleServer) -> None:
    """Start from no MODE alarm (another test may have left one)."""
    alarms = server.ground.runtime.get(None).processor.alarms
    if any(a.parameter == MODE for a in alarms.active()):
        alarms.clear(MODE, "test", "reset by the test")


def resume_feeder(server: ConsoleServer) -> None:
    """Let the feeder go on, and wait until its NOMINAL mode is the latest value again
    (the next test may read the latest value at once)."""
    server.feeder.resume()
    rt = server.ground.runtime.get(None)

    def back() -> bool:
        lv = rt.latest.get(MODE)
        return lv is not None and lv.eng == "NOMINAL"

    assert wait_for(back, 5.0), "the feeder's telemetry did not come back"


def mode_alarm(server: ConsoleServer) -> Alarm | None:
    alarms = server.ground.runtime.get(None).processor.alarms
    return next((a for a in alarms.active() if a.parameter == MODE), None)


def test_a_critical_alarm_is_cued_acknowledged_shelved_and_cleared(
    console: Page, console_server: ConsoleServer
) -> None:
    reset_mode_alarm(console_server)
    open_page(console, "alarms")
    expect(console.locator("#alarm-sound")).not_to_be_checked()  # sound is off by default
    console.check("#alarm-sound")  # turning it on plays a test tone
    beeps = "import('./js/pages/alarms.js').then((m) => m.beepsPlayed())"
    before = console.evaluate(beeps)
    console_server.feeder.pause()  # else the next in-limits packet ends the alarm's level
    # (pause returns once the feeder is idle: the packet sent next is the newest)
    try:
        console_server.ground.send_hk(3, mode=MODE_OFF)
        row = console.locator(f"#alarm-rows tr[data-parameter='{MODE}']")
        expect(row).to_be_visible()
        expect(row).to_have_attribute("data-state", "triggered")
        expect(row.locator(".pg-level")).to_have_text("CRITICAL")
        banner = console.locator("#alarm-banner")
        expect(banner).to_be_visible()
        expect(banner).to_have_text(f"NEW CRITICAL ALARM: {MODE} = OFF")
        assert console.evaluate(beeps) == before + 1
        console_server.shot(console, "alarms")

        row.locator("[data-action=acknowledge]").click()
        console.fill("dialog textarea[name=comment]", "mode OFF seen, calling the spacecraft")
        console.click("[data-test=dialog-ok]")
        expect(row).to_have_attribute("data-state", "acknowledged")
        expect(row).to_contain_text("otto: mode OFF seen, calling the spacecraft")
        a = mode_alarm(console_server)
        assert a is not None
        assert (a.ack_user, a.ack_comment) == ("otto", "mode OFF seen, calling the spacecraft")

        row.locator("[data-action=shelve]").click()
        console.fill("dialog input[name=minutes]", "10")
        console.click("[data-test=dialog-ok]")
        expect(row).to_have_attribute("data-state", "shelved")
        expect(row).to_contain_text("shelved by otto until")

        row.locator("[data-action=clear]").click()
        console.fill("dialog textarea[name=comment]", "back to nominal")
        console.click("[data-test=dialog-ok]")
        expect(row).to_have_count(0)
        assert mode_alarm(console_server) is None
    finally:
        resume_feeder(console_server)


def test_severity_filter_hides_milder_alarms_and_events_filter_by_source(
    console: Page, console_server: ConsoleServer
) -> None:
    reset_mode_alarm(console_server)
    console_server.feeder.pause()
    try:
        console_server.ground.send_hk(2, mode=MODE_OFF)
        console_server.ground.send_event(7, 1, "console test event")  # severity 1 = WARNING
        archive = console_server.ground.runtime.get(None).archive
        assert wait_for(
            lambda: any(e.message == "console test event" for e in archive.read_events(None, None)),
            5.0,
        ), "the on-board event did not reach the archive"
        open_page(console, "alarms")
        row = console.locator(f"#alarm-rows tr[data-parameter='{MODE}']")
        expect(row).to_be_visible()
        console.select_option("#alarm-severity", label="SEVERE and worse")
        expect(row).to_have_count(0)
        expect(console.locator("#alarm-rows")).to_contain_text("No active alarms")
        console.select_option("#alarm-severity", label="CRITICAL and worse")
        expect(row).to_be_visible()
        # events: the on-board event arrives live; the source filter keeps only its source
        events = console.locator("#event-rows")
        expect(events).to_contain_text("console test event")
        console.select_option("#event-source", "onboard")
        expect(events.locator("tr", has_not_text="onboard")).to_have_count(0)
        expect(events).to_contain_text("console test event")
        console.fill("#event-text", "no such message anywhere")
        expect(events).to_contain_text("No events")
    finally:
        reset_mode_alarm(console_server)
        resume_feeder(console_server)


def test_a_viewer_sees_no_alarm_actions_and_the_server_refuses_them(
    page: Page, console_server: ConsoleServer
) -> None:
    reset_mode_alarm(console_server)
    console_server.feeder.pause()
    try:
        console_server.ground.send_hk(2, mode=MODE_OFF)
        page.set_default_timeout(10_000)
        log_in(page, console_server.url, "vera")
        open_page(page, "alarms")
        row = page.locator(f"#alarm-rows tr[data-parameter='{MODE}']")
        expect(row).to_be_visible()
        expect(row.locator("button")).to_have_count(0)
        refused = page.evaluate(
            """() => import('./js/api.js').then((m) => m.api(
                   'spacecraft/TESTSAT/alarms/TESTSAT/MODE/acknowledge',
                   {method: 'POST', body: {comment: 'not mine to ack'}}))
                 .then(() => null, (e) => ({status: e.status, message: e.message}))"""
        )
        assert refused == {
            "status": 403,
            "message": "user vera (roles viewer) may not do this on TESTSAT: "
            "it needs the role operator there",
        }
        a = mode_alarm(console_server)
        assert a is not None
        assert not a.acknowledged
    finally:
        reset_mode_alarm(console_server)
        resume_feeder(console_server)


@pytest.fixture(scope="module")
def station_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``falak demo``: the server and the TIANGONG station simulator as child processes
    (tests/integration/test_demo.py's runner: 60 host seconds at speed 60)."""
    d = Demo(tmp_path_factory.mktemp("console-demo"))
    try:
        d.wait_running()
        yield d
    finally:
        if d.proc.poll() is None:
            d.proc.send_signal(signal.SIGTERM)
            d.wait_stopped()


def test_a_fault_injected_into_the_station_simulator_is_acknowledged_in_the_page(
    page: Page, station_demo: Demo, console_server: ConsoleServer
) -> None:
    """TIANGONG end to end: ``falak sim fault station COLD_STOWAGE_FAILURE`` (the
    instructor's path, straight to the simulator) stops cold stowage unit A's compressor;
    COLD_A_STATE goes FAULT, a CRITICAL alarm (missions/tiangong/README.md, faults and the
    alarms they raise) the operator acknowledges in the page. (Not sent through the server:
    at 60x the station's one-minute contact gap at 09:02:31 comes 52 host seconds after the
    start, docs/ground-segment.md, and a loaded machine reaches it.)"""
    run = station_demo.run_json()
    user = next(u for u in run["users"] if u["role"] == "operator")
    page.set_default_timeout(15_000)
    page.goto(run["url"] + "/")
    page.fill("input[name=username]", user["name"])
    page.fill("input[name=password]", user["password"])
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#bar:not([hidden])")  # logged in (conftest.log_in)
    expect(page.locator("#spacecraft")).to_have_value("TIANGONG")
    tc = run["spacecraft"][0]["tc"]
    falak = Path(sys.executable).parent / "falak"
    out = subprocess.run(
        [falak, "sim", "fault", "station", "COLD_STOWAGE_FAILURE", "--tc", tc],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr

    open_page(page, "alarms")
    param = "/TIANGONG/COLD/COLD_A_STATE"
    row = page.locator(f"#alarm-rows tr[data-parameter='{param}']")
    expect(row).to_be_visible(timeout=30_000)  # after a gap: when the recorder's dump comes
    expect(row.locator(".pg-level")).to_have_text("CRITICAL")
    expect(page.locator("#event-rows")).to_contain_text("COLD_STOWAGE_FAILURE injected on unit A")
    row.locator("[data-action=acknowledge]").click()
    page.fill("dialog textarea[name=comment]", "unit A compressor stopped: moving samples to B")
    page.click("[data-test=dialog-ok]")
    expect(row).to_have_attribute("data-state", "acknowledged")
    console_server.shot(page, "alarms-station")
    (a,) = [a for a in station_demo.client("operator").alarms() if a["parameter"] == param]
    assert a["acknowledged"]
    assert (a["ack_user"], a["ack_comment"]) == (
        user["name"],
        "unit A compressor stopped: moving samples to B",
    )
