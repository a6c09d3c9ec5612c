"""The console's Maps page in headless Chromium against a real server (tests/server/
maps_config.py): TIANGONG's ground track over the shipped Natural Earth map, and ROVER's site
with its hillshade, planned route and the rover marker following ROVER_HK telemetry sent to
the server over UDP, as the simulator sends it."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect

from falak.server import create_app, uvicorn_config
from tests.console.conftest import ConsoleServer, log_in
from tests.server.conftest import wait_for
from tests.server.maps_config import ROUTE_START_XY, MapsGround, maps_ground

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class MapsServer:
    url: str
    ground: MapsGround
    screenshots: Path

    def shot(self, page: Page, name: str) -> Path:
        path = self.screenshots / f"console-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture(scope="module")
def maps_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MapsServer]:
    shots = os.environ.get("FALAK_CONSOLE_SCREENSHOTS")
    screenshots = Path(shots) if shots else tmp_path_factory.mktemp("maps-screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)
    with maps_ground(tmp_path_factory.mktemp("maps-console")) as g:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn_config(create_app(g.runtime)))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            assert wait_for(lambda: server.started, 10.0), "uvicorn did not start"
            yield MapsServer(f"http://127.0.0.1:{sock.getsockname()[1]}", g, screenshots)
        finally:
            server.should_exit = True
            thread.join(10.0)
            sock.close()


@pytest.fixture
def console(page: Page, maps_server: MapsServer) -> Iterator[Page]:
    """Logged in as the viewer vera; fails the test on an uncaught script error."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    log_in(page, maps_server.url, "vera")
    yield page
    assert errors == [], f"uncaught errors in the console's scripts: {errors}"


def show_maps(page: Page, spacecraft: str, key: bool = False) -> None:
    """Choose the spacecraft, then open the Maps page: its link in the bar, or Alt+7."""
    page.select_option("#spacecraft", spacecraft)
    if key:
        page.keyboard.press("Alt+7")  # the seventh page of the bar
    else:
        page.click("#nav a[data-page=maps]")
    expect(page.locator("#nav a[data-page=maps]")).to_have_attribute("aria-current", "page")
    expect(page.locator(".pg-maps")).to_be_visible()


def pixel(page: Page, at: str) -> tuple[int, int, int]:
    """The canvas's colour at CSS pixel ``"x,y"``, or at the one its data-* attribute ``at``
    names (read in the same frame as the pixel: the map redraws every second)."""
    rgb = page.evaluate(
        """(at) => {
          const c = document.querySelector("[data-test=map-canvas]");
          const [x, y] = (at.includes(",") ? at : c.getAttribute(at)).split(",").map(Number);
          const k = c.width / c.getBoundingClientRect().width;
          const g = c.getContext("2d");
          const d = g.getImageData(Math.round(x * k), Math.round(y * k), 1, 1).data;
          return [d[0], d[1], d[2]];
        }""",
        at,
    )
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def test_earth_map_draws_the_ground_track_and_the_station_now(
    console: Page, maps_server: MapsServer
) -> None:
    show_maps(console, "TIANGONG", key=True)
    canvas = console.locator("[data-test=map-canvas]")
    expect(canvas).to_have_attribute("data-drawn", "earth")
    expect(canvas).to_have_attribute("data-spacecraft-px", re.compile(r"\d"))  # marker drawn
    # an orbit back and two ahead every 30 s (tests/server/test_maps_route.py)
    assert int(canvas.get_attribute("data-track-points") or 0) > 500
    past = int(canvas.get_attribute("data-past-points") or 0)
    assert 150 < past < 200  # now is one 92-min orbit (184 steps of 30 s) into the track
    # the marker is drawn in the spacecraft's colour (#f0883e) where the page says it is
    r, g, b = pixel(console, "data-spacecraft-px")
    assert (r, g, b) == (0xF0, 0x88, 0x3E)
    expect(console.locator("[data-test=sc-lat]")).to_have_text(re.compile(r"^-?\d+\.\d{3}°$"))
    expect(console.locator(".mp-stations tbody tr")).to_have_count(7)  # stations.yaml
    # zooming keeps the page's layout: the canvas does not change size
    box = canvas.bounding_box()
    console.click("button[aria-label='zoom in']")
    console.click("button[aria-label='zoom in']")
    assert canvas.bounding_box() == box
    console.click("text=Fit")
    maps_server.shot(console, "maps-earth")


def test_rover_site_shows_hillshade_route_and_the_rover_moving(
    console: Page, maps_server: MapsServer
) -> None:
    g = maps_server.ground
    show_maps(console, "ROVER")
    canvas = console.locator("[data-test=map-canvas]")
    expect(canvas).to_have_attribute("data-drawn", "site")  # the hillshade is loaded
    expect(canvas).to_have_attribute("data-route-px", re.compile(r"\d"))
    r, gr, b = pixel(console, "data-route-px")
    assert (r, gr, b) == (0xF0, 0x88, 0x3E)  # the route's colour
    # the hillshade under the middle of the map is grey (r = g = b), not the background
    box = canvas.bounding_box()
    assert box is not None
    grey = pixel(console, f"{box['width'] / 2 - 40},{box['height'] / 2 + 40}")
    assert grey[0] == grey[1] == grey[2]
    assert grey[0] > 30
    expect(console.locator("[data-test=rover-time]")).to_have_text("no telemetry yet")

    x0, y0 = ROUTE_START_XY
    g.send_pose(x0, y0, 45.0, seq=1)
    expect(console.locator("[data-test=rover-x]")).to_have_text("-150.00 m")
    expect(console.locator("[data-test=rover-heading]")).to_have_text("45.0°")
    expect(canvas).to_have_attribute("data-rover-px", re.compile(r"\d"))
    first = str(canvas.get_attribute("data-rover-px"))
    g.send_pose(x0 + 20.0, y0 + 10.0, 60.0, seq=2)
    expect(console.locator("[data-test=rover-x]")).to_have_text("-130.00 m")
    expect(console.locator("[data-test=rover-y]")).to_have_text(f"{y0 + 10:.2f} m")
    expect(canvas).not_to_have_attribute("data-rover-px", first)
    second = str(canvas.get_attribute("data-rover-px"))
    (ax, ay), (bx, by) = ((float(v) for v in p.split(",")) for p in (first, second))
    assert bx > ax  # 20 m east: right on the map
    assert by < ay  # 10 m north (+y): up on the map
    # 2:1 east:north in metres is 2:1 in pixels too (one scale both ways)
    assert (bx - ax) / (ay - by) == pytest.approx(2.0, rel=0.05)
    assert pixel(console, "data-rover-px") == (0xFF, 0x7B, 0x72)  # the rover's colour

    # "Rover" centres the map on the rover
    console.click("[data-test=to-rover]")
    console.wait_for_function(
        """([w, h]) => {
          const at = document.querySelector("[data-test=map-canvas]").dataset.roverPx || "";
          const [x, y] = at.split(",").map(Number);
          return Math.abs(x - w / 2) < 1 && Math.abs(y - h / 2) < 1;
        }""",
        arg=[box["width"], box["height"]],
    )
    console.click("text=Fit")

    console.check("[data-test=layer-lit]")
    expect(console.locator("[data-test=overlay-time]")).to_have_text("2023-09-08 06:00:00Z")
    g.send_pose(x0 + 30.0, y0 + 12.0, 70.0, seq=3)
    expect(console.locator("[data-test=rover-x]")).to_have_text("-120.00 m")
    console.wait_for_timeout(300)  # the overlay image decoded and drawn
    maps_server.shot(console, "maps-rover")


def test_a_spacecraft_without_orbit_or_site_says_what_to_configure(
    page: Page, console_server: ConsoleServer
) -> None:
    """TESTSAT (tests/console conftest: a config-less runtime) has no map."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page, console_server.url)
    page.goto(page.url.split("#")[0] + "#/maps")
    expect(page.locator("[data-test=no-map]")).to_have_text(
        "TESTSAT has no map: give its server config entry orbit: {tle: FILE} (an Earth "
        "orbiter), orbit: {oem: FILE} (a lunar orbiter) or site: {dem: synthetic, options: "
        "{...}} (a surface spacecraft)"
    )
    assert errors == []
