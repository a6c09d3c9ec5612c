"""The commanding page in headless Chromium against a real server (tests/console conftest:
TESTSAT with the loopback spacecraft of tests/commanding/spacecraft.py answering every stage):
the form checks values before sending, a dry run shows the packet's bytes, a command sent
completes its verification stages live, a critical command is armed and confirmed by the
flight director, and a viewer sees no send button while the server refuses the command."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, WebSocket, expect

from falak.tc.encoder import CommandEncoder
from tests.console.conftest import ConsoleServer, log_in
from tests.console.pages import open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

API = """([path, body]) => import('./js/api.js').then((m) => m.api(path, {method: 'POST', body}))
    .then((r) => ({ok: r}), (e) => ({status: e.status, message: e.message}))"""


def choose(page: Page, command: str) -> None:
    expect(page.locator(f"#command-select option[value={command}]")).to_have_count(1)
    page.select_option("#command-select", command)
    expect(page.locator("#command-form h3")).to_contain_text(command)


def records(server: ConsoleServer) -> list[dict[str, object]]:
    return server.ground.runtime.get(None).commands.history.records()


def test_the_form_checks_values_dry_runs_and_the_command_completes_its_stages(
    console: Page, console_server: ConsoleServer
) -> None:
    open_page(console, "commanding")
    choose(console, "SET_HEATER")
    sent_before = len(records(console_server))
    # HeaterSetpoint: valid_range [-20, 40] degC (missions/testsat/mdb.yaml)
    console.fill("#arg-SETPOINT", "45")
    expect(console.locator("#arg-SETPOINT-error")).to_have_text("45 is outside [-20 … 40] degC")
    console.click("#send-button")  # refused in the browser: nothing reaches the server
    console.fill("#arg-SETPOINT", "warm")
    expect(console.locator("#arg-SETPOINT-error")).to_have_text("warm is not a number")
    assert len(records(console_server)) == sent_before
    # ...and the server refuses it anyway, with the encoder's reason
    refused = console.evaluate(
        API,
        ["spacecraft/TESTSAT/commands", {"command": "SET_HEATER", "arguments": {"SETPOINT": 45}}],
    )
    assert refused == {
        "status": 422,
        "message": "SET_HEATER: argument SETPOINT = 45 is outside -20..40 degC",
    }

    console.fill("#arg-SETPOINT", "12.5")
    expect(console.locator("#arg-SETPOINT-error")).to_have_text("")
    console.click("#dry-run-button")
    mdb = console_server.ground.runtime.get(None).mdb
    binary = CommandEncoder(mdb).encode("SET_HEATER", {"SETPOINT": 12.5}).binary
    expect(console.locator("#dry-run-hex")).to_have_text(" ".join(f"{b:02X}" for b in binary))
    expect(console.locator("#dry-run h4")).to_have_text(f"Dry run: {len(binary)} bytes")

    console.click("#send-button")
    current = console.locator("#current-command")
    expect(current).to_have_attribute("data-state", "completed")
    stages = current.locator(".pg-stages li")
    expect(stages).to_have_count(3)
    for stage in ("received", "accepted", "complete"):
        expect(current.locator(f"li[data-stage={stage}]")).to_have_attribute("data-outcome", "OK")
    row = console.locator("#history-rows tr").first
    expect(row).to_have_attribute("data-state", "completed")
    expect(row).to_contain_text("SET_HEATER")
    expect(row).to_contain_text('{"SETPOINT":12.5}')
    console_server.shot(console, "commanding")
    # the history filters
    console.select_option("#history-state", "failed")
    expect(console.locator("#history-rows")).not_to_contain_text("SET_HEATER")
    console.select_option("#history-state", "")
    console.fill("#history-command", "heater")
    expect(console.locator("#history-rows tr", has_not_text="SET_HEATER")).to_have_count(0)


def test_the_browser_checks_integers_as_the_encoder_does(console: Page) -> None:
    """checkArgument of js/pages/commanding.js: hex, binary and octal integers as the encoder
    takes them (``int(value, 0)``), the bounds of the encoding (APID: uint11, 0..2047)."""
    open_page(console, "commanding")
    check = """([spec, text]) => import('./js/pages/commanding.js')
        .then((m) => m.checkArgument(spec, text))"""
    apid = {"name": "APID", "kind": "integer", "default": "200", "range": None}
    apid |= {"encoded_min": 0, "encoded_max": 2047}
    assert console.evaluate(check, [apid, "0x7FF"]) == [2047, None]
    assert console.evaluate(check, [apid, "0b101"]) == [5, None]
    assert console.evaluate(check, [apid, "2048"]) == [None, "2048 does not fit: 0 … 2047"]
    assert console.evaluate(check, [apid, "1.5"]) == [None, "1.5 is not an integer"]
    assert console.evaluate(check, [apid, ""]) == [None, None]  # empty: the server's default
    required = apid | {"default": None}
    assert console.evaluate(check, [required, ""]) == [None, "required (no default)"]
    exclusive = {"name": "X", "kind": "float", "default": None, "unit": "V"}
    exclusive |= {"range": {"min": 0, "max": 5, "min_inclusive": False, "max_inclusive": True}}
    assert console.evaluate(check, [exclusive, "0"]) == [None, "0 is outside (0 … 5] V"]
    assert console.evaluate(check, [exclusive, "5"]) == [5, None]


def test_a_critical_command_is_armed_and_confirmed_by_the_flight_director(
    page: Page, console_server: ConsoleServer
) -> None:
    page.set_default_timeout(10_000)
    log_in(page, console_server.url, "fiona")
    open_page(page, "commanding")
    choose(page, "REBOOT")
    expect(page.locator("#command-form .pg-warn")).to_contain_text(
        "Critical: Interrupts all on-board activity for about 30 s."
    )
    page.click("#send-button")
    current = page.locator("#current-command")
    expect(current).to_have_attribute("data-state", "queued")
    page.locator("#current-command [data-action=arm]").click()
    expect(current).to_have_attribute("data-state", "armed")
    page.locator("#current-command [data-action=confirm]").click()
    page.fill("dialog input[name=name]", "REBOOT")
    console_server.shot(page, "commanding-confirm")
    page.click("[data-test=dialog-ok]")
    # the loopback spacecraft acks and comes back in SAFE mode: REBOOT's complete stage
    expect(current).to_have_attribute("data-state", "completed")
    rec = records(console_server)[-1]
    assert rec["command"] == "/TESTSAT/REBOOT"
    assert rec["armed_by"] == "fiona"
    assert rec["confirmed_by"] == "fiona"


def test_an_operator_sees_no_arm_control_and_a_mistyped_confirmation_is_not_sent(
    console: Page, console_server: ConsoleServer
) -> None:
    open_page(console, "commanding")
    choose(console, "REBOOT")
    expect(console.locator("#command-form .pg-warn")).to_contain_text(
        "It waits for a user with the role flight_director to arm it."
    )
    expect(console.locator("[data-action=arm]")).to_have_count(0)
    refused = console.evaluate(API, ["spacecraft/TESTSAT/commands/1/arm", {}])
    assert refused == {
        "status": 403,
        "message": "user otto (roles operator, viewer) may not do this on TESTSAT: "
        "it needs the role flight_director there",
    }


def test_a_viewer_sees_no_send_button_and_the_server_refuses_the_command(
    page: Page, console_server: ConsoleServer
) -> None:
    page.set_default_timeout(10_000)
    log_in(page, console_server.url, "vera")
    open_page(page, "commanding")
    choose(page, "NOOP")
    expect(page.locator("#dry-run-button")).to_be_visible()  # a dry run only encodes
    expect(page.locator("#send-button")).to_have_count(0)
    sent_before = len(records(console_server))
    refused = page.evaluate(API, ["spacecraft/TESTSAT/commands", {"command": "NOOP"}])
    assert refused == {
        "status": 403,
        "message": "user vera (roles viewer) may not do this on TESTSAT: "
        "it needs the role operator there",
    }
    assert len(records(console_server)) == sent_before


def test_a_page_shown_again_while_it_loads_keeps_one_commands_stream(console: Page) -> None:
    """A page unmounted while its first answers are on the way drops them: they belong to
    it, not to the same page shown again (here the forms are held back 0.5 s while the user
    goes to stacks and back), so it opens no second commands stream nobody closes."""
    sockets: list[WebSocket] = []
    console.on("websocket", lambda ws: sockets.append(ws) if "ws/commands" in ws.url else None)
    console.evaluate(
        """() => { const f = window.fetch;
            window.fetch = (url, opts) => String(url).includes('console/commands')
                ? new Promise((ok) => setTimeout(ok, 500)).then(() => f(url, opts))
                : f(url, opts); }"""
    )
    for name in ("commanding", "stacks", "commanding"):
        console.evaluate(f"location.hash = '#/{name}'")
        console.wait_for_timeout(100)
    expect(console.locator("#command-select option[value=NOOP]")).to_have_count(1)
    console.wait_for_timeout(1500)
    assert len([ws for ws in sockets if not ws.is_closed()]) == 1
