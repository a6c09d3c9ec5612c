"""The console in headless Chromium against a real server: log in, the overview, live values,
a stale mark when telemetry stops, a plot that loads and zooms, CSV export."""

from __future__ import annotations

import csv
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from falak.server import create_app, uvicorn_config
from tests.console.conftest import ConsoleServer, log_in
from tests.server.conftest import wait_for
from tests.server.multi import MULTI_USERS, TwoSpacecraft, two_spacecraft

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_login_refuses_a_wrong_password_then_logs_in(
    page: Page, console_server: ConsoleServer
) -> None:
    page.set_default_timeout(10_000)
    page.goto(console_server.url + "/")
    expect(page.locator("form#login")).to_be_visible()
    expect(page.locator("#bar")).to_be_hidden()
    console_server.shot(page, "login")
    page.fill("input[name=username]", "otto")
    page.fill("input[name=password]", "not-the-password")
    page.click("form#login button[type=submit]")
    # the server's own detail (routes/auth.py)
    expect(page.locator("#login-error")).to_have_text("wrong user name or password")
    log_in(page, console_server.url, "otto")
    expect(page.locator("#who")).to_have_text("otto")
    expect(page.locator("#spacecraft")).to_have_value("TESTSAT")
    # the token lives in this tab's sessionStorage only
    assert page.evaluate("sessionStorage.getItem('falak.token')")
    assert page.evaluate("localStorage.length") == 0


def test_overview_shows_links_alarms_and_clocks(
    console: Page, console_server: ConsoleServer
) -> None:
    card = console.locator("article[data-spacecraft=TESTSAT]")
    expect(card).to_be_visible()
    expect(card.locator("tr[data-link=tm] td").nth(1)).to_have_text("listening")
    # 5 HK packets a second from the feeder: the link's rate is not zero
    expect(card.locator("tr[data-link=tm] td").nth(2)).not_to_have_text("0.0", timeout=10_000)
    expect(card.locator("[data-level=WARNING] .n")).to_have_text("0")
    expect(console.locator("#ov-utc")).to_contain_text(" UTC")
    expect(card).to_contain_text("newest TM (spacecraft time)")
    expect(console.locator("#conn")).to_have_text("online")
    console_server.shot(console, "overview")


def test_logout_returns_to_the_login_form(console: Page) -> None:
    console.click("#logout")
    expect(console.locator("form#login")).to_be_visible()
    assert console.evaluate("sessionStorage.getItem('falak.token')") is None


def watch(page: Page, name: str) -> None:
    page.goto(page.url.split("#")[0] + "#/parameters")
    page.fill("input[type=search]", name)
    page.click(f"button.leaf[data-parameter='/TESTSAT/{name}']")
    expect(page.locator(f"tr[data-parameter='/TESTSAT/{name}']")).to_be_visible()


def test_live_values_update_and_go_stale_when_telemetry_stops(
    console: Page, console_server: ConsoleServer
) -> None:
    watch(console, "BATT_V")
    row = console.locator("tr[data-parameter='/TESTSAT/BATT_V']")
    value = row.locator("td.value")
    expect(value).not_to_have_text("—")
    expect(console.locator("#conn")).to_have_text("live")
    first = value.inner_text()
    expect(value).not_to_have_text(first, timeout=5_000)  # the feeder steps BATT_V
    expect(row.locator("td.status")).to_have_text("NORMAL")
    assert row.get_attribute("data-stale") in (None, "false")
    console_server.feeder.pause()
    try:
        # BATT_V's expected period is 1 s (testsat mdb.yaml): stale 1.5 s after its last value
        # (the timing, on the page's and the server's clocks: test_console_live_table.py)
        expect(row).to_have_attribute("data-stale", "true", timeout=10_000)
        expect(row.locator(".stale-mark")).to_be_visible()
        console_server.shot(console, "parameters-stale")
    finally:
        console_server.feeder.resume()
    expect(row).to_have_attribute("data-stale", "false", timeout=5_000)


def test_a_plot_loads_history_and_zooms(console: Page, console_server: ConsoleServer) -> None:
    watch(console, "BATT_V")
    watch(console, "BATT_I")
    sent = console_server.feeder.sent  # some history archived beyond what was sent before
    assert wait_for(lambda: console_server.feeder.sent >= sent + 5, 10.0)
    console.check("input[data-plot='/TESTSAT/BATT_V']")
    console.check("input[data-plot='/TESTSAT/BATT_I']")
    chart = console.locator("#chart")
    expect(chart.locator("canvas")).to_be_visible()
    expect(console.locator("#plot-status")).to_contain_text("samples in")
    expect(chart).to_have_attribute("data-plotted", "2")
    loads = int(chart.get_attribute("data-loads") or 0)
    window_s = float(chart.get_attribute("data-range-s") or 0)
    assert window_s == pytest.approx(600, abs=1)  # the 10 min live window
    console_server.shot(console, "parameters")
    over = chart.locator(".u-over")
    box = over.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    console.mouse.move(box["x"] + box["width"] * 0.90, y)
    console.mouse.down()
    console.mouse.move(box["x"] + box["width"] * 0.95, y, steps=5)
    console.mouse.move(box["x"] + box["width"] * 0.99, y, steps=5)
    console.mouse.up()
    expect(chart).to_have_attribute("data-live", "false")
    expect(chart).to_have_attribute("data-loads", str(loads + 1))
    zoomed_s = float(chart.get_attribute("data-range-s") or 0)
    assert zoomed_s == pytest.approx(0.09 * window_s, rel=0.05)  # 90 % to 99 % of the width
    expect(console.locator("button", has_text="Live")).to_be_enabled()
    expect(console.locator("#plot-status")).to_contain_text("samples in")
    console_server.shot(console, "parameters-zoomed")
    console.click("#zoom-out")  # four times the zoomed range, fetched again
    expect(chart).to_have_attribute("data-loads", str(loads + 2))
    assert float(chart.get_attribute("data-range-s") or 0) == pytest.approx(4 * zoomed_s)
    console.click("button:has-text('Live')")
    expect(chart).to_have_attribute("data-live", "true")
    expect(chart).to_have_attribute("data-loads", str(loads + 3))
    console.click("#zoom-out")  # live: the next longer window (1 h after 10 min)
    expect(chart).to_have_attribute("data-loads", str(loads + 4))
    assert float(chart.get_attribute("data-range-s") or 0) == pytest.approx(3600, abs=1)
    # four wheel notches over the chart zoom in around the cursor: 1.25 ** -4 of the range
    console.mouse.move(box["x"] + box["width"] * 0.95, y)
    for _ in range(4):
        console.mouse.wheel(0, -100)
    expect(chart).to_have_attribute("data-live", "false")
    wheeled_s = 3600 / 1.25**4
    console.wait_for_function(
        "([s, n]) => { const d = document.querySelector('#chart').dataset;"
        " return Math.abs(Number(d.rangeS) - s) < 0.01 * s && Number(d.loads) > n; }",
        arg=[wheeled_s, loads + 4],
    )


def test_csv_export_downloads_what_is_shown(console: Page) -> None:
    watch(console, "BATT_V")
    expect(console.locator("tr[data-parameter='/TESTSAT/BATT_V'] td.value")).not_to_have_text("—")
    with console.expect_download() as dl:
        console.click("#export-table")
    assert dl.value.suggested_filename.startswith("falak-TESTSAT-parameters-")
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
    assert rows[0] == ["parameter", "eng", "raw", "units", "status", "time_utc", "stale"]
    assert rows[1][0] == "/TESTSAT/BATT_V"
    assert 7.0 <= float(rows[1][1]) <= 7.49  # the feeder's 7000..7490 mV
    assert rows[1][3] == "V"
    console.check("input[data-plot='/TESTSAT/BATT_V']")
    expect(console.locator("#chart")).to_have_attribute("data-loads", "1")
    with console.expect_download() as dl:
        console.click("#export-plot")
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text())))
    assert rows[0] == ["time_utc", "/TESTSAT/BATT_V max", "/TESTSAT/BATT_V min"]
    assert len(rows) > 2
    for r in rows[1:]:
        if r[1]:
            assert float(r[2]) <= float(r[1])
            assert 7.0 <= float(r[2]) <= 7.49


@pytest.fixture(scope="module")
def two_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TwoSpacecraft]]:
    """A real server hosting TESTSAT (the default) and TIANGONG (tests/server/multi.py)."""
    with two_spacecraft(tmp_path_factory.mktemp("two")) as two:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn_config(create_app(two.runtime)))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            assert wait_for(lambda: server.started, 10.0), "uvicorn did not start"
            yield f"http://127.0.0.1:{sock.getsockname()[1]}", two
        finally:
            server.should_exit = True
            thread.join(10.0)
            sock.close()


def test_each_spacecraft_has_its_overview_card_and_live_values(
    page: Page, two_url: tuple[str, TwoSpacecraft], console_server: ConsoleServer
) -> None:
    url, two = two_url
    page.set_default_timeout(10_000)
    page.goto(url + "/")
    page.fill("input[name=username]", "tina")  # TIANGONG operator, TESTSAT viewer
    page.fill("input[name=password]", MULTI_USERS["tina"][0])
    page.click("form#login button[type=submit]")
    expect(page.locator("article[data-spacecraft=TESTSAT]")).to_be_visible()
    expect(page.locator("article[data-spacecraft=TIANGONG]")).to_be_visible()
    # TIANGONG's two links and its light time (multi.py's config: 0.005 s one way)
    tiangong = page.locator("article[data-spacecraft=TIANGONG]")
    expect(tiangong.locator("tr[data-link]")).to_have_count(2)
    expect(tiangong).to_contain_text("0.005 s one way, 0.010 s round trip")
    two.send_station_hk(1)
    # 6.0 V is below BATT_V's 6.6 V warning limit (tests/processor/testsat.py hk_packet)
    two.send_testsat_hk(1, batt_v_counts=6000)
    testsat = page.locator("article[data-spacecraft=TESTSAT]")
    expect(testsat.locator("[data-level=WARNING] .n")).to_have_text("1")
    expect(testsat.locator("[data-level=CRITICAL] .n")).to_have_text("0")
    expect(tiangong.locator("[data-level=WARNING] .n")).to_have_text("0")
    console_server.shot(page, "overview-two")
    expect(page.locator("#spacecraft")).to_have_value("TESTSAT")
    page.select_option("#spacecraft", "TIANGONG")
    page.goto(url + "/#/parameters")
    page.fill("input[type=search]", "STN_ALT")
    page.click("button.leaf[data-parameter='/TIANGONG/STN_ALT_KM']")
    row = page.locator("tr[data-parameter='/TIANGONG/STN_ALT_KM']")
    expect(row.locator("td.value")).to_have_text("390.000")  # 39,000 counts x 0.01 km
    expect(page.locator("#conn")).to_have_text("live")  # the parameters stream is open
    two.send_station_hk(1, alt_counts=39_123)
    expect(row.locator("td.value")).to_have_text("391.230")  # live, over the WebSocket
    expect(row.locator("td:nth-child(3)")).to_have_text("km")


def test_a_dropped_stream_shows_reconnecting_then_catches_up(
    console: Page, console_server: ConsoleServer
) -> None:
    # record the page's WebSockets so the test can drop them as a network failure would
    console.add_init_script(
        "window.__sockets = []; window.__down = false; const WS = window.WebSocket;"
        "window.WebSocket = function (u, p) {"
        " const s = new WS(window.__down ? 'ws://127.0.0.1:9/' : u, p);"
        " window.__sockets.push(s); return s; };"
        "window.WebSocket.prototype = WS.prototype;"
    )
    console.reload()
    console.keyboard.press("Alt+2")  # the second page of the bar: parameters
    expect(console.locator("#nav a[data-page=parameters]")).to_have_attribute(
        "aria-current", "page"
    )
    watch(console, "BATT_V")
    expect(console.locator("#conn")).to_have_text("live")
    opened = console.evaluate("window.__sockets.length")
    console_server.feeder.pause()
    try:
        # the network goes: sockets close, and reconnecting fails until it is back
        console.evaluate("window.__down = true; window.__sockets.forEach((s) => s.close())")
        expect(console.locator("#conn")).to_have_text("reconnecting")
        rt = console_server.ground.runtime
        console_server.ground.send_hk(1, batt_v_counts=8000)  # while the page is cut off
        assert wait_for(lambda: rt.latest["/TESTSAT/BATT_V"].raw == 8000, 5.0)
        row = console.locator("tr[data-parameter='/TESTSAT/BATT_V']")
        expect(row.locator("td.value")).not_to_have_text("8.000")
        console.evaluate("window.__down = false")
        # reconnected: live again, and the value sent meanwhile is fetched over REST
        expect(console.locator("#conn")).to_have_text("live")
        assert console.evaluate("window.__sockets.length") > opened
        expect(row.locator("td.value")).to_have_text("8.000")
    finally:
        console_server.feeder.resume()
