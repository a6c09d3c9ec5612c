"""The stacks page in headless Chromium against a real server (tests/console conftest: TESTSAT
with the loopback spacecraft answering every stage): a stack pasted into the page is checked
by the server (errors as FILE:LINE: message), loaded and run to completion with each step's
stages shown; pause, resume and abort; a viewer sees no load or run controls and the server
refuses a start anyway."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleServer, log_in
from tests.console.pages import open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEATER_STACK = """\
stack: console-heater
description: heater checkout from the console
steps:
  - command: NOOP
    offset_s: 0
  - command: SET_HEATER
    arguments: {SETPOINT: 12.5}
    offset_s: 1
    comment: warm the battery
"""

SLOW_STACK = """\
stack: console-slow
steps:
  - command: NOOP
    offset_s: 0
  - command: NOOP
    offset_s: 600
"""


def load(page: Page, text: str) -> None:
    page.fill("#stack-text", text)
    page.click("#stack-load-button")


def test_a_bad_stack_is_refused_with_its_line(console: Page) -> None:
    open_page(console, "stacks")
    load(console, HEATER_STACK.replace("SETPOINT: 12.5", "SETPOINT: 99"))
    error = console.locator("#stack-error")
    expect(error).to_contain_text("<console>:7:")
    expect(error).to_contain_text("SETPOINT = 99 is outside -20..40 degC")


def test_a_loaded_stack_runs_to_completion_step_by_step(
    console: Page, console_server: ConsoleServer
) -> None:
    open_page(console, "stacks")
    load(console, HEATER_STACK)
    expect(console.locator("#stack-loaded")).to_have_text("Loaded console-heater: 2 steps.")
    console.click("#stack-rows tr[data-name=console-heater]")
    expect(console.locator("#stack-detail h3")).to_have_text("console-heater")
    expect(console.locator("#stack-critical")).to_have_count(0)  # no critical steps
    console.click("#stack-detail [data-action=start]")
    detail = console.locator("#stack-detail")
    expect(detail).to_have_attribute("data-state", "completed", timeout=20_000)
    steps = console.locator("#step-rows tr")
    expect(steps).to_have_count(2)
    for i in (1, 2):
        expect(console.locator(f"#step-rows tr[data-index='{i}']")).to_have_attribute(
            "data-state", "completed"
        )
    heater = console.locator("#step-rows tr[data-index='2']")
    expect(heater).to_contain_text("SET_HEATER")
    expect(heater).to_contain_text("warm the battery")
    expect(heater.locator("li[data-outcome=OK]")).to_have_count(3)  # received, accepted, complete
    expect(console.locator("#stack-rows tr[data-name=console-heater]")).to_contain_text("2 / 2")
    console_server.shot(console, "stacks")
    rec = console_server.ground.runtime.get(None).stacks.get("console-heater")
    assert rec["state"] == "completed"
    assert rec["user"] == "otto"


def test_pause_resume_and_abort(console: Page) -> None:
    open_page(console, "stacks")
    load(console, SLOW_STACK)
    expect(console.locator("#stack-loaded")).to_be_visible()
    console.click("#stack-rows tr[data-name=console-slow]")
    detail = console.locator("#stack-detail")
    console.click("#stack-detail [data-action=start]")
    expect(detail).to_have_attribute("data-state", "running")
    console.click("#stack-detail [data-action=pause]")
    expect(detail).to_have_attribute("data-state", "paused")
    console.click("#stack-detail [data-action=resume]")
    expect(detail).to_have_attribute("data-state", "running")
    console.click("#stack-detail [data-action=abort]")
    expect(detail).to_have_attribute("data-state", "aborted")
    # the second step (600 s after the start) was never released
    expect(console.locator("#step-rows tr[data-index='2']")).not_to_have_attribute(
        "data-state", "completed"
    )


def test_a_viewer_sees_no_stack_controls_and_the_server_refuses_a_start(
    page: Page, console_server: ConsoleServer
) -> None:
    page.set_default_timeout(10_000)
    log_in(page, console_server.url, "otto")
    open_page(page, "stacks")
    load(page, SLOW_STACK.replace("console-slow", "console-viewer"))
    expect(page.locator("#stack-loaded")).to_be_visible()
    page.click("#logout")
    log_in(page, console_server.url, "vera")
    open_page(page, "stacks")
    page.click("#stack-rows tr[data-name=console-viewer]")
    expect(page.locator("#stack-detail h3")).to_have_text("console-viewer")
    expect(page.locator("#stack-load")).to_have_count(0)
    expect(page.locator("#stack-detail button")).to_have_count(0)
    refused = page.evaluate(
        """() => import('./js/api.js').then((m) => m.api(
               'spacecraft/TESTSAT/stacks/console-viewer/start', {method: 'POST', body: {}}))
             .then(() => null, (e) => ({status: e.status, message: e.message}))"""
    )
    assert refused == {
        "status": 403,
        "message": "user vera (roles viewer) may not do this on TESTSAT: "
        "it needs the role operator there",
    }
    rec = console_server.ground.runtime.get(None).stacks.get("console-viewer")
    assert rec["state"] == "loaded"


CRITICAL_STACK = """\
stack: console-reboot
steps:
  - command: NOOP
    offset_s: 0
  - command: REBOOT
    offset_s: 1
"""


def test_a_stack_with_a_critical_step_runs_only_armed_by_the_flight_director(
    page: Page, console_server: ConsoleServer
) -> None:
    page.set_default_timeout(10_000)
    log_in(page, console_server.url, "otto")
    open_page(page, "stacks")
    load(page, CRITICAL_STACK)
    expect(page.locator("#stack-loaded")).to_be_visible()
    page.click("#stack-rows tr[data-name=console-reboot]")
    note = page.locator("#stack-critical")
    expect(note).to_have_text(
        "Steps 2 are critical. Only a user with the role flight_director can start this stack."
    )
    page.click("#stack-detail [data-action=start]")  # the operator may try: the server refuses
    expect(page.locator("#stack-error")).to_have_text(
        "stack console-reboot: steps 2 are critical commands; start with arm_critical "
        "(--arm-critical) to arm and confirm them as you"
    )
    expect(page.locator("#stack-detail")).to_have_attribute("data-state", "loaded")
    refused = page.evaluate(
        """() => import('./js/api.js').then((m) => m.api(
               'spacecraft/TESTSAT/stacks/console-reboot/start',
               {method: 'POST', body: {arm_critical: true}}))
             .then(() => null, (e) => ({status: e.status, message: e.message}))"""
    )
    assert refused == {
        "status": 422,
        "message": "stack console-reboot: steps 2 are critical and user otto may not arm them; "
        "arming roles: flight_director",
    }

    page.click("#logout")
    log_in(page, console_server.url, "fiona")
    open_page(page, "stacks")
    page.click("#stack-rows tr[data-name=console-reboot]")
    expect(note).to_contain_text("arm and confirm them as me")
    page.check("#stack-arm-critical")
    page.click("#stack-detail [data-action=start]")
    detail = page.locator("#stack-detail")
    expect(detail).to_have_attribute("data-state", "completed", timeout=20_000)
    reboot = console_server.ground.runtime.get(None).commands.history.records()[-1]
    assert reboot["command"] == "/TESTSAT/REBOOT"
    assert (reboot["armed_by"], reboot["confirmed_by"]) == ("fiona", "fiona")
