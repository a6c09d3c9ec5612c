"""The console in headless Chromium against a real server: log in, the overview, live values,
a stale mark when telemetry stops, a plot that loads and zooms, CSV export."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleServer, log_in

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
    expect(card.locator("tr[data-link=tm] td").nth(2)).not_to_have_text("0.0 ", timeout=10_000)
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
        stopped = time.monotonic()
        # BATT_V's expected period is 1 s (testsat mdb.yaml): stale after 1.5 s, within 3 s
        expect(row).to_have_attribute("data-stale", "true", timeout=3_000)
        assert time.monotonic() - stopped < 3.0
        expect(row.locator(".stale-mark")).to_be_visible()
        console_server.shot(console, "parameters-stale")
    finally:
        console_server.feeder.resume()
    expect(row).to_have_attribute("data-stale", "false", timeout=5_000)


def test_a_plot_loads_history_and_zooms(console: Page, console_server: ConsoleServer) -> None:
    watch(console, "BATT_V")
    watch(console, "BATT_I")
    time.sleep(1.0)  # some history archived beyond what the feeder sent before
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
    console.click("button:has-text('Live')")
    expect(chart).to_have_attribute("data-live", "true")
    expect(chart).to_have_attribute("data-loads", str(loads + 2))


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
