"""The console's Timeline page and the overview's next contacts and mission clocks, in
headless Chromium against a real server whose spacecraft have real plan files (made by the
CLI, tests/server/timeline_plans.py), the CSS orbit and a run clock at 60x; and the shell's
fixes: no error toast when the overview is left during its first poll, no stream opened by
a page that is gone."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, Route, expect

from falak.server import Runtime, create_app, load_config, uvicorn_config
from falak.utctime import parse_ns
from tests.console.conftest import log_in
from tests.server.conftest import wait_for
from tests.server.timeline_plans import make_plans

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class TimelineServer:
    url: str
    runtime: Runtime
    screenshots: Path

    def shot(self, page: Page, name: str) -> Path:
        path = self.screenshots / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture(scope="module")
def tl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimelineServer]:
    """TIANGONG (CSS TLE, a campaign plan, imaging, a broken file) and ROVER (a traverse,
    uplink windows, 1.28 s light time) served with the console, the run clock at 60x."""
    shots = os.environ.get("FALAK_CONSOLE_SCREENSHOTS")
    screenshots = Path(shots) if shots else tmp_path_factory.mktemp("timeline-screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    plans = make_plans(tmp_path_factory.mktemp("timeline-console"))
    rt = Runtime.from_config(load_config(plans.config))
    rt.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn_config(create_app(rt)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.started, 10.0), "uvicorn did not start"
        yield TimelineServer(f"http://127.0.0.1:{sock.getsockname()[1]}", rt, screenshots)
    finally:
        server.should_exit = True
        thread.join(10.0)
        sock.close()
        rt.stop()


@pytest.fixture
def viewer(page: Page, tl_server: TimelineServer) -> Iterator[Page]:
    """Logged in as the viewer vera; fails the test on an uncaught script error."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    log_in(page, tl_server.url, "vera")
    yield page
    assert errors == [], f"uncaught errors in the console's scripts: {errors}"


def _view_s(page: Page) -> float:
    root = page.locator(".pg-timeline")
    t0 = parse_ns(str(root.get_attribute("data-start")))
    t1 = parse_ns(str(root.get_attribute("data-end")))
    return (t1 - t0) / 1e9


def _now_ns(page: Page) -> int:
    return parse_ns(str(page.locator("canvas.tl-canvas").get_attribute("data-now")))


def _now_and_x(page: Page) -> tuple[int, float]:
    """The now line's time and x, as one redraw set them (read in one go)."""
    now, x = page.evaluate(
        "() => { const d = document.querySelector('canvas.tl-canvas').dataset;"
        " return [d.now, d.nowX]; }"
    )
    return parse_ns(now), float(x)


def _wait_view(page: Page, span_s: float, rel: float = 0.02) -> None:
    """Wait until the view spans ``span_s`` (within ``rel``), as the page redraws it."""
    page.wait_for_function(
        "([s, rel]) => { const d = document.querySelector('.pg-timeline').dataset;"
        " const v = (Date.parse(d.end) - Date.parse(d.start)) / 1000;"
        " return Math.abs(v - s) <= rel * s; }",
        arg=[span_s, rel],
    )
    assert _view_s(page) == pytest.approx(span_s, rel=rel)


#: the page time of each redraw that moved the now line, and the run clock's time then (ms)
STAMP_NOW = """() => {
  const c = document.querySelector('canvas.tl-canvas');
  window.nowDraws = [];
  new MutationObserver(() => {
    window.nowDraws.push([performance.now(), Date.parse(c.dataset.now)]);
  }).observe(c, {attributes: true, attributeFilter: ['data-now']});
}"""


def test_timeline_lanes_zoom_pan_hover_and_a_moving_now_line(
    viewer: Page, tl_server: TimelineServer
) -> None:
    page = viewer
    page.goto(tl_server.url + "/#/timeline")
    expect(page.locator("#nav a[data-page=timeline]")).to_have_attribute("aria-current", "page")
    # TIANGONG (the default): its orbit's lanes, the campaign and imaging plans, the error
    for lane in ("ground passes", "relay contacts", "eclipses", "campaign", "imaging", "errors"):
        expect(page.locator(f".tl-lane[data-lane='{lane}']")).to_be_visible()
    expect(page.locator(".tl-status")).to_contain_text("broken.json: not JSON")
    canvas = page.locator("canvas.tl-canvas")
    expect(canvas).not_to_have_attribute("data-items", "0")
    # 6 h shown at first, following now at a quarter of the view
    assert _view_s(page) == pytest.approx(6 * 3600, rel=0.01)
    box = canvas.bounding_box()
    assert box is not None
    assert float(str(canvas.get_attribute("data-now-x"))) == pytest.approx(
        0.25 * box["width"], abs=3
    )
    # the now line turns with the run clock (60x): 120 simulated s in 2 host s, both taken
    # at the redraws themselves (the page's clock), not when this process reads them
    page.evaluate(STAMP_NOW)
    page.wait_for_function(
        "() => { const d = window.nowDraws;"
        " return d.length > 1 && d[d.length - 1][0] - d[0][0] >= 2000; }"
    )
    draws = page.evaluate("window.nowDraws")
    (h0, n0), (h1, n1) = draws[0], draws[-1]
    assert (n1 - n0) / (h1 - h0) == pytest.approx(60, rel=0.1)
    n1 = _now_ns(page)
    # and the run clock is the server's: the config's epoch 2023-09-08T06:00Z plus minutes
    assert parse_ns("2023-09-08T06:00:00Z") < n1 < parse_ns("2023-09-08T08:00:00Z")
    tl_server.shot(page, "timeline")

    # zoom with the wheel about the pointer, then with the keyboard
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 60)
    page.mouse.wheel(0, -400)  # exp(-0.6): the span shrinks to 55 %
    _wait_view(page, 6 * 3600 * 0.5488)
    canvas.focus()
    page.keyboard.press("-")
    _wait_view(page, 6 * 3600 * 0.5488 * 2)

    # drag to pan: following stops, the now line then moves across the canvas
    y = box["y"] + 60
    page.mouse.move(box["x"] + 600, y)
    page.mouse.down()
    page.mouse.move(box["x"] + 300, y, steps=5)
    page.mouse.up()
    expect(page.locator("button[data-test=tl-now]")).to_have_attribute("aria-pressed", "false")
    span_s = _view_s(page)
    assert span_s == pytest.approx(6 * 3600 * 1.0976, rel=0.02)
    t0, x0 = _now_and_x(page)
    assert x0 < 0.25 * box["width"] - 200  # panned 300 px to the right in time
    page.wait_for_function(  # 120 simulated s later (2 host s at 60x)
        "(t) => Date.parse(document.querySelector('canvas.tl-canvas').dataset.now) > t",
        arg=t0 / 1e6 + 120_000,
    )
    t1, x1 = _now_and_x(page)
    # the view stays: the now line moves across the canvas as the run clock turns,
    # width * dt / span (6.6 h across it: 120 simulated s are about 6 px)
    assert x1 - x0 == pytest.approx(box["width"] * (t1 - t0) / 1e9 / span_s, abs=1.5)
    assert x1 - x0 > 4
    page.keyboard.press("n")  # back to now, following
    expect(page.locator("button[data-test=tl-now]")).to_have_attribute("aria-pressed", "true")

    # hover the campaign's run (08:10-09:10Z in plan.json): its details
    page.locator("button[data-span='1 d']").click()
    _wait_view(page, 86400)
    lane = page.locator(".tl-lane[data-lane='campaign']").bounding_box()
    assert lane is not None
    t0 = parse_ns(str(page.locator(".pg-timeline").get_attribute("data-start")))
    x = (parse_ns("2023-09-08T08:40:00Z") - t0) / (86400e9) * box["width"]
    page.mouse.move(box["x"] + x, lane["y"] + 6 + 10)
    tip = page.locator(".tl-tip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("melt s")
    expect(tip).to_contain_text("2023-09-08 08:10:00Z – 09:10:00Z (60.0 min)")
    expect(tip).to_contain_text("activity run")


def test_the_rover_s_timeline_shows_its_traverse_and_windows(
    viewer: Page, tl_server: TimelineServer
) -> None:
    page = viewer
    page.goto(tl_server.url + "/#/timeline")
    expect(page.locator(".tl-lane[data-lane='ground passes']")).to_be_visible()
    page.select_option("#spacecraft", "ROVER")
    expect(page.locator(".pg-timeline h2")).to_have_text("Timeline · ROVER")
    # the traverse departs 2028-01-04 and the run clock is in 2023: nothing near now
    expect(page.locator(".tl-lane")).to_have_text(["nothing in this window"])
    page.locator("canvas.tl-canvas").focus()
    for _ in range(4):  # out to 60 days is not enough for 4 years: no lanes, no error
        page.keyboard.press("-")
    expect(page.locator(".tl-status")).to_have_text("")


def test_overview_shows_next_contacts_and_mission_clocks(
    viewer: Page, tl_server: TimelineServer
) -> None:
    page = viewer
    station = page.locator("article[data-spacecraft=TIANGONG]")
    rover = page.locator("article[data-spacecraft=ROVER]")
    # the station: passes and relay contacts within the next day, three shown
    expect(station.locator(".ov-next li[data-kind]")).to_have_count(3)
    first = station.locator(".ov-next li[data-kind]").first
    expect(first).to_contain_text("Z")
    # mission clocks: the run clock's UTC (60x), and the rover's light time (server.yaml)
    expect(station.locator(".ov-clock")).to_contain_text("2023-09-08 ")
    expect(station.locator(".ov-clock")).to_contain_text("UTC (run clock ×60)")
    expect(station.locator(".ov-clock")).not_to_contain_text("light time")
    expect(rover.locator(".ov-clock")).to_contain_text("light time 1.28 s")
    expect(rover.locator(".ov-next")).to_have_text("none in the next 24 h")
    page.wait_for_load_state("networkidle")
    tl_server.shot(page, "overview-contacts")


def test_leaving_the_overview_during_its_first_poll_shows_no_error(
    page: Page, tl_server: TimelineServer
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    # hold the overview's first poll until the page has been left
    held: list[Route] = []
    page.route("**/api/v1/spacecraft", lambda route: held.append(route))
    page.goto(tl_server.url + "/")
    page.fill("input[name=username]", "vera")
    page.fill("input[name=password]", "vera-pw")
    page.click("form#login button[type=submit]")
    assert _until(page, lambda: len(held) >= 1)
    held.pop(0).continue_()  # the shell's own list (start())
    assert _until(page, lambda: len(held) >= 1)  # the overview's first poll, held
    page.evaluate("location.hash = '#/alarms'")
    expect(page.locator("#page[data-page=alarms]")).to_be_visible()
    for r in list(held):  # the poll answers after the overview was left
        r.continue_()
    page.unroute("**/api/v1/spacecraft")
    page.wait_for_timeout(1000)
    expect(page.locator(".toast.error")).to_have_count(0)
    assert errors == []


def _until(page: Page, check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll ``check()`` while Playwright dispatches its events (time.sleep would not)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():
            return True
        page.wait_for_timeout(50)
    return False


FAKE_PAGE = """
export async function mount(el, ctx) {
  el.append(Object.assign(document.createElement("p"), {className: "fake", textContent: "fake"}));
  await new Promise((ok) => setTimeout(ok, 800));  // still loading when it is left
  window.fakeStream = ctx.ws("spacecraft/TIANGONG/ws/events", () => {});
}
"""


def test_a_page_gone_opens_no_stream(page: Page, tl_server: TimelineServer) -> None:
    # a page whose mount opens a stream after it has been unmounted: the shell opens none
    page.add_init_script(
        """
        window.openedSockets = [];
        const Real = window.WebSocket;
        window.WebSocket = function (url, p) {
          const s = new Real(url, p);
          window.openedSockets.push(s);
          return s;
        };
        window.WebSocket.prototype = Real.prototype;
        Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
        """
    )
    page.route(
        "**/console/js/pages/timeline.js",
        lambda route: route.fulfill(body=FAKE_PAGE, content_type="text/javascript"),
    )
    page.set_default_timeout(15_000)
    log_in(page, tl_server.url, "vera")
    page.evaluate("location.hash = '#/timeline'")
    expect(page.locator("p.fake")).to_be_visible()
    page.evaluate("location.hash = '#/overview'")  # left before its mount ends
    page.wait_for_function("window.fakeStream !== undefined", timeout=5000)
    page.wait_for_timeout(500)
    sockets = page.evaluate("window.openedSockets.map((s) => [s.url, s.readyState])")
    assert [s for s in sockets if "ws/events" in s[0]] == []
    assert page.evaluate("document.querySelector('#conn').dataset.state") != "reconnecting"
