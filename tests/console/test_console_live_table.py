"""The live table paints the rows on the screen: a row off it keeps its newest value until it
scrolls into view, then shows it and goes on updating (benchmarks/console.py measures why: 200
parameters at 10 Hz re-rendered in full cost the page 1.85-2.2x the main-thread CPU and
4-6.9x the display lag p99, benchmarks/RESULTS.md)."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleServer

#: TESTSAT's HK parameters (src/falak/missions/testsat/mdb.yaml), BATT_V last
HK = [
    "CCSDS_VERSION", "CCSDS_TYPE", "CCSDS_SEC_HDR_FLAG", "APID", "CCSDS_SEQ_FLAGS",
    "CCSDS_SEQ_COUNT", "CCSDS_LENGTH", "OBT", "BATT_I", "BATT_P", "TEMP_BATT", "TEMP_OBC",
    "MODE", "HEATER", "HK_SPARE", "SW_VERSION", "BATT_V",
]  # fmt: skip


def test_a_row_off_the_screen_shows_its_value_once_scrolled_into_view(
    console: Page, console_server: ConsoleServer
) -> None:
    watched = [f"/TESTSAT/{n}" for n in HK]
    console.evaluate(
        "([key, value]) => sessionStorage.setItem(key, value)",
        ["falak.parameters.TESTSAT", json.dumps({"watched": watched, "plotted": []})],
    )
    console.set_viewport_size({"width": 1440, "height": 300})  # 17 rows: most are below
    expect(console.locator(".ov-grid > *").first).to_be_visible()
    console.wait_for_load_state("networkidle")  # the overview's first poll (tests/console/pages.py)
    console.goto(console.url.split("#")[0] + "#/parameters")
    first = console.locator("tr[data-parameter='/TESTSAT/CCSDS_VERSION'] td.value")
    expect(first).not_to_have_text("—")  # on the screen: painted
    row = console.locator("tr[data-parameter='/TESTSAT/BATT_V']")
    value = row.locator("td.value")
    assert not row.is_visible() or row.bounding_box()["y"] > 300 + 200  # type: ignore[index]
    expect(value).to_have_text("—")  # off the screen (and the observer's margin): not painted
    row.scroll_into_view_if_needed()
    expect(value).not_to_have_text("—")
    shown = value.inner_text()
    expect(value).not_to_have_text(shown, timeout=5_000)  # the feeder steps BATT_V: live
    console_server.shot(console, "parameters-scrolled")
