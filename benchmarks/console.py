"""Benchmark: the web console's parameters page in Chromium, live and historical (issue 16).

Acceptance (issue 16): "200 live parameters updating at 10 Hz plus two plots of 1 M archived
points each; the browser's main thread stays under 50 % busy and the displayed value lags
reception by under 250 ms at p99; zooming a 1 M-point plot redraws in under 100 ms."

Set-up, all on loopback in this process unless named:

* an MDB in falak's YAML format written to a temporary directory: one housekeeping container
  (APID 300, CUC on-board time) of ``--params`` calibrated 16-bit parameters with limits;
* an embedded SQLite archive pre-filled through ``Archive.write_parameters`` with ``--points``
  samples of each of the two plotted parameters over the 6.9 days before now (timed apart);
* the falak server (``Runtime`` + the processor on a UDP link, uvicorn in a thread) and a
  feeder thread sending real CCSDS packets (``ContainerEncoder``) at ``--rate-hz`` over UDP,
  every parameter in every packet: the whole chain (link, decode, limits, archive, bus,
  WebSocket) is measured;
* Debian's Chromium (``/usr/bin/chromium``, headless) driven by Playwright: log in, watch every
  parameter in the live table, plot the first two, live window "7 days" (the 1 M archived
  points of each are decimated by the server to min/max per pixel column).

Measured in the page, per run (a fresh browser context), after ``--warmup-s``:

* **main-thread busy**: the renderer main thread's task time over wall time, from the DevTools
  protocol (``Performance.getMetrics`` ``TaskDuration`` deltas), over ``--seconds``; beside it
  script / layout / style time, long tasks (PerformanceObserver ``longtask``) and the gaps
  between animation frames;
* **display lag**: from the packet's reception (``recv_time_ns``, stamped by the server's UDP
  link and carried by each WebSocket message; the page puts it on the value cell as
  ``data-recv-ns``) to the DOM update of that cell (a MutationObserver's callback time,
  ``performance.timeOrigin + performance.now()``); same host clock; p50 / p95 / p99 / max
  over every displayed update (the page paints the rows on the screen: 23 of 200 in a
  1440 x 900 window; rows off it are painted when they scroll in); beside it the WebSocket
  part (reception to the frame's arrival in the page, first sample of each frame) and the
  same stream read by a Python subscriber process (the server's share of the lag);
* **zoom**: ``--zooms`` mouse-wheel notches on the plot (in, out, in, ... around its centre, so
  every range holds 0.8-1 M points of each parameter), each from the wheel event's timestamp
  to uPlot's ``draw`` hook (and to the animation frame after it, the drawing through a
  rendering update): the first redraw (whatever data is at hand) and the sharp one: the
  first drawing of the new range with data covering it at one min/max column per pixel or
  finer (the page says so in each ``plotdraw`` event: the view it drew and whether it was
  sharp; the page prefetches a margin at 1.25 columns per pixel, so that drawing can come
  from data at hand, else it comes after the server's answer). Beside it: how many sharp
  redraws needed no server answer, the redraw after the server's answer, the two plot
  requests' own time (Resource Timing) and the server's share of it (its ``Server-Timing``);
  the next notch follows ``--zoom-pause-s`` after the server's answer for this one;
* CPU beside wall time: this process (server, feeder, Playwright's client) and Chromium's
  processes (renderer, GPU, browser), from ``/proc``.

No peer: nothing comparable runs a browser console here (Yamcs Studio/Web, Open MCT and
COSMOS are not installed); the numbers are compared against the issue's targets instead.
``--baseline REV`` runs the parameters page of an earlier commit too, interleaved with this
checkout's on the same server (run 1, baseline run 1, run 2, ...), so a change of the page
is measured under the same load.
Ranges are min-max over ``--runs`` runs. Timings are measurements, never assertions; what is
asserted is that every metric was measured (packets flowed, the table updated, every zoom
drew).

Run: ``.venv/bin/python benchmarks/console.py [--runs 3] [--seconds 30] [--params 200]``
``[--points 1000000] [--json FILE] [--out FILE]``. Bounded: set-up (pre-fill about 10 s per
2 M samples) plus ``runs x (warm-up + seconds + zooms)``; loopback only.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Bench, expect, load_average

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
USER, PASSWORD = "bench", "bench-pw"
SC = "BENCH"
APID = 300
#: TAI - UTC = 37 s since 2017-01-01 (IERS Bulletin C); CUC counts from 1958-01-01 TAI
TAI_1958_TO_UNIX_S = 378_691_200
TAI_MINUS_UTC_S = 37
HISTORY_SPAN_S = 6.9 * 86400  # inside the page's "7 days" live window
LIVE_WINDOW_S = 7 * 86400
TARGETS = {"busy": 0.50, "lag_p99_ms": 250.0, "zoom_ms": 100.0}


def name_of(k: int) -> str:
    return f"P{k:03d}"


def mdb_yaml(n_params: int) -> str:
    """An MDB in falak's YAML format (docs/mdb-yaml.md): HK of ``n_params`` parameters."""
    params = "\n".join(
        f"  {name_of(k)}: {{type: Level, description: bench level {k}, expected_period_s: 1}}"
        for k in range(n_params)
    )
    entries = ", ".join(name_of(k) for k in range(n_params))
    return f"""\
name: {SC}
description: The console benchmark's spacecraft ({n_params} housekeeping parameters)
types:
  CucTime:
    kind: absolute_time
    timecode: {{cuc: {{coarse: 4, fine: 2}}}}
    epoch: TAI
  Level:
    kind: float
    encoding: uint16
    calibrator: {{polynomial: [-100.0, 0.01]}}
    unit: V
    alarm:
      warning: [-50, 300]
      critical: [-80, 400]
parameters:
  CCSDS_VERSION: uint3
  CCSDS_TYPE: uint1
  CCSDS_SEC_HDR_FLAG: uint1
  APID: uint11
  CCSDS_SEQ_FLAGS: uint2
  CCSDS_SEQ_COUNT: uint14
  CCSDS_LENGTH: uint16
  OBT: {{type: CucTime, description: On-board time of the packet}}
{params}
containers:
  CCSDS_TM:
    abstract: true
    entries: [CCSDS_VERSION, CCSDS_TYPE, CCSDS_SEC_HDR_FLAG, APID, CCSDS_SEQ_FLAGS,
              CCSDS_SEQ_COUNT, CCSDS_LENGTH, OBT]
  HK:
    base: CCSDS_TM
    restriction: APID == {APID}
    entries: [{entries}]
"""


def counts_of(k: int, n: int) -> int:
    """Raw counts of parameter ``k`` in packet ``n``: 100 +- 50 V, changing every packet."""
    return 20000 + int(5000 * math.sin(2 * math.pi * (n / 50 + k / 200)))


def fill_history(archive: Any, names: list[str], points: int, end_ns: int) -> int:
    """Write ``points`` samples of each name over HISTORY_SPAN_S before ``end_ns``, in bulk."""
    from falak.archive import ParameterColumn

    start_ns = end_ns - int(HISTORY_SPAN_S * 1e9)
    step_ns = (end_ns - start_ns) // points
    chunk = 100_000
    rng = np.random.default_rng(16)
    written = 0
    for lo in range(0, points, chunk):
        idx = np.arange(lo, min(points, lo + chunk), dtype=np.int64)
        t = start_ns + idx * step_ns
        cols = {}
        for j, q in enumerate(names):
            phase = 2 * np.pi * (t - start_ns) / 3.6e12 + j  # an hour's period, plus noise
            counts = 20000 + 4000 * np.sin(phase) + rng.normal(0, 300, t.size)
            raw = np.clip(counts, 0, 65535).astype(np.uint16)
            cols[q] = ParameterColumn(raw, -100.0 + 0.01 * raw.astype(np.float64))
        archive.write_parameters(f"/{SC}/HISTORY", t, cols)
        written += int(t.size) * len(names)
    return written


@dataclass
class Feeder:
    """Sends HK packets (all parameters) at ``rate_hz`` to the server's UDP link.

    The packets are encoded with ``ContainerEncoder`` once (values repeat every
    ``CYCLE`` packets); each send patches in its sequence count and on-board time, so the
    encoder's cost stays out of this process's CPU figure."""

    mdb: Any
    port: int
    n_params: int
    rate_hz: float
    sent: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)
    CYCLE = 50  # counts_of repeats every 50 packets

    def __post_init__(self) -> None:
        from falak.tm.encoder import ContainerEncoder

        enc = ContainerEncoder(self.mdb)
        self.templates = []
        for n in range(self.CYCLE):
            values: dict[str, Any] = {
                "CCSDS_VERSION": 0,
                "CCSDS_TYPE": 0,
                "CCSDS_SEC_HDR_FLAG": 1,
                "CCSDS_SEQ_FLAGS": 3,
                "CCSDS_SEQ_COUNT": 0,
                "CCSDS_LENGTH": 0,
                "OBT": 0.0,
            }
            for k in range(self.n_params):
                values[name_of(k)] = counts_of(k, n)
            pkt = bytearray(enc.encode("HK", values))
            pkt[4:6] = (len(pkt) - 7).to_bytes(2, "big")
            self.templates.append(pkt)

    def packet(self, n: int) -> bytes:
        """Packet ``n``: sequence count n mod 16384 (CCSDS 133.0-B-2 §4.1.3.4), stamped now
        (CUC 4 + 2 bytes after the primary header, TAI since 1958)."""
        pkt = bytearray(self.templates[n % self.CYCLE])
        pkt[2:4] = ((3 << 14) | (n % 16384)).to_bytes(2, "big")
        obt = time.time() + TAI_1958_TO_UNIX_S + TAI_MINUS_UTC_S
        pkt[6:10] = int(obt).to_bytes(4, "big")
        pkt[10:12] = int((obt % 1.0) * 65536).to_bytes(2, "big")
        return bytes(pkt)

    def run(self) -> None:
        period = 1.0 / self.rate_hz
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            t0 = time.monotonic()
            while not self.stopped.is_set():
                s.sendto(self.packet(self.sent), ("127.0.0.1", self.port))
                self.sent += 1
                # on a fixed schedule: a late packet does not shift the ones after it
                self.stopped.wait(max(0.0, t0 + self.sent * period - time.monotonic()))


@dataclass
class Server:
    url: str
    runtime: Any
    feeder: Feeder
    plotted: list[str]
    names: list[str]
    prefill: dict[str, float]


@contextmanager
def falak_server(work: Path, n_params: int, points: int, rate_hz: float) -> Iterator[Server]:
    """The MDB, the pre-filled archive, the server on a free port and the feeder, running."""
    import uvicorn

    from falak.archive import open_archive
    from falak.links import UdpLink
    from falak.mdb import load
    from falak.processor import Processor
    from falak.server import Runtime, UserStore, create_app, uvicorn_config

    path = work / "bench-mdb.yaml"
    path.write_text(mdb_yaml(n_params), encoding="utf-8")
    mdb = load(path)
    names = [f"/{SC}/{name_of(k)}" for k in range(n_params)]
    plotted = names[:2]
    archive = open_archive(work / "archive")
    c0, w0 = time.process_time(), time.perf_counter()
    written = fill_history(archive, plotted, points, time.time_ns() - 1_000_000_000)
    prefill = {
        "samples": written,
        "wall_s": time.perf_counter() - w0,
        "cpu_s": time.process_time() - c0,
    }
    tm = UdpLink("tm", "127.0.0.1", 0)
    # as the server's own spacecraft runtime builds it (falak/server/runtime.py)
    proc = Processor(mdb, archive, links=[tm], batch_max_age_s=0.01)
    users = UserStore()
    users.add(USER, ["operator"], password=PASSWORD)
    rt = Runtime(mdb, archive, processor=proc, users=users)
    rt.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(create_app(rt), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    feeder = Feeder(mdb, tm.port, n_params, rate_hz)
    feeding = threading.Thread(target=feeder.run, daemon=True)
    try:
        end = time.monotonic() + 20
        while not server.started and time.monotonic() < end:
            time.sleep(0.05)
        expect(server.started, "uvicorn did not start within 20 s")
        feeding.start()
        yield Server(f"http://127.0.0.1:{port}", rt, feeder, plotted, names, prefill)
    finally:
        feeder.stopped.set()
        if feeding.is_alive():
            feeding.join(5)
        server.should_exit = True
        thread.join(10)
        sock.close()
        rt.stop()
        archive.close()


# ------------------------------------------------------------------------------ CPU from /proc


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU s) of a process, or None if it is gone."""
    return _stat_path(Path(f"/proc/{pid}/stat"))


def _stat_path(path: Path) -> tuple[int, float] | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def chromium_cpu() -> dict[str, float]:
    """CPU seconds of this process's Chromium descendants, by process type."""
    procs: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            procs[int(entry.name)] = st
    me = os.getpid()

    def mine(pid: int) -> bool:
        seen = 0
        while pid in procs and seen < 64:
            pid = procs[pid][0]
            if pid == me:
                return True
            seen += 1
        return False

    out: dict[str, float] = {"renderer main threads": 0.0}
    for pid, (_, cpu) in procs.items():
        if not mine(pid):
            continue
        try:
            # Chromium's zygote children rewrite their argv into one space-separated string
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"chrom" not in cmd.split(b" ", 1)[0]:
            continue
        kind = m.group(1).decode() if (m := re.search(rb"--type=(\S+)", cmd)) else "browser"
        out[kind] = out.get(kind, 0.0) + cpu
        # a renderer's main thread (its first: tid = pid) runs the page's scripts, style,
        # layout and paint
        if kind == "renderer" and (st := _stat_path(Path(f"/proc/{pid}/task/{pid}/stat"))):
            out["renderer main threads"] += st[1]
    return out


# ------------------------------------------------------------------------------ the page

INIT_JS = r"""
(() => {
  const B = (window.__bench = { on: false, lag: [], wsLag: [], frames: [], longtasks: [],
    draws: [], wheels: [], errors: [], cells: new Set(), longtaskAt: [] });
  performance.setResourceTimingBufferSize(100000);
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (B.on) B.longtasks.push(e.duration);
        B.longtaskAt.push([e.startTime, e.duration]);
      }
    }).observe({ type: "longtask" });
  } catch (e) { B.errors.push(`longtask: ${e}`); }
  let last = 0;
  const tick = (t) => {
    if (B.on && last) B.frames.push(t - last);
    last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  // the WebSocket part of the lag: the first sample of each frame, at the frame's arrival
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        if (!B.on || typeof ev.data !== "string") return;
        const i = ev.data.indexOf('"recv_time_ns":[');
        if (i < 0) return;
        const ns = parseInt(ev.data.slice(i + 16, i + 40), 10);
        B.wsLag.push(performance.timeOrigin + performance.now() - ns / 1e6);
      });
    }
  };
  addEventListener("wheel", (ev) => B.wheels.push(ev.timeStamp), { capture: true, passive: true });
  document.addEventListener("plotdraw", (ev) => {
    const d = [performance.now(), ev.detail.loads, ev.detail.view, ev.detail.sharp, null];
    B.draws.push(d);
    // the next animation frame's start: the drawing has been through a rendering update
    requestAnimationFrame(() => { d[4] = performance.now(); });
  });
  B.watch = (tbody) => {
    new MutationObserver((records) => {
      if (!B.on) return;
      const now = performance.timeOrigin + performance.now();
      for (const r of records) {
        B.lag.push(now - Number(r.target.getAttribute("data-recv-ns")) / 1e6);
        B.cells.add(r.target);
      }
    }).observe(tbody, { subtree: true, attributes: true, attributeFilter: ["data-recv-ns"] });
  };
})();
"""

ZOOM_RESULT_JS = r"""
(b) => {
  const B = window.__bench;
  const wheel = B.wheels[b.wheels];
  const after = B.draws.slice(b.draws).filter((d) => d[0] >= wheel);
  // sharp: this zoom's view, drawn from data at a column per pixel or finer (a page without
  // the view/sharp detail, e.g. --baseline: the drawing after the server's answer)
  const sharp = after.find((d) => (d[3] === undefined ? d[1] > b.loads : d[2] > b.view && d[3]));
  const served = after.find((d) => d[1] > b.loads);
  const plots = performance.getEntriesByType("resource").slice(b.res)
    .filter((e) => e.name.includes("/plot?") && e.startTime >= wheel);
  return {
    first_ms: after.length ? after[0][0] - wheel : null,
    sharp_ms: sharp ? sharp[0] - wheel : null,
    sharp_local: sharp ? sharp[1] === b.loads : null,
    sharp_frame_ms: sharp && sharp[4] !== null ? sharp[4] - wheel : null,
    served_ms: served ? served[0] - wheel : null,
    request_start_ms: plots.length ? Math.min(...plots.map((e) => e.startTime)) - wheel : null,
    request_ms: plots.length ? Math.max(...plots.map((e) => e.responseEnd - e.startTime)) : null,
    requests: plots.length,
    detail: plots.map((e) => ({ start: e.startTime - wheel, req: e.requestStart - wheel,
      resp: e.responseStart - wheel, end: e.responseEnd - wheel, size: e.encodedBodySize,
      server: Object.fromEntries((e.serverTiming || []).map((x) => [x.name, x.duration])) })),
    marks: performance.getEntriesByType("mark").filter((m) => m.name.startsWith("plot:")
      && m.startTime >= wheel).map((m) => [m.name, m.startTime - wheel]),
    draws: after.map((d) => [d[0] - wheel, d[1]]),
    longtasks: B.longtaskAt.filter((x) => x[0] + x[1] >= wheel).map((x) => [x[0] - wheel, x[1]]),
  };
}
"""

STATE_JS = r"""
() => ({
  draws: window.__bench.draws.length,
  wheels: window.__bench.wheels.length,
  res: performance.getEntriesByType("resource").length,
  loads: Number(document.getElementById("chart").dataset.loads || 0),
  view: Number(document.getElementById("chart").dataset.view || 0),
})
"""


def ws_client_main(url: str, seconds: float) -> None:
    """Subscriber process (``--ws-client``): the same stream as the page, read by Python;
    prints the lag of each frame's first sample from reception to arrival, as JSON ms."""
    import asyncio

    import orjson
    from websockets.asyncio.client import connect

    async def read() -> list[float]:
        lags: list[float] = []
        async with connect(url, max_size=None, compression=None) as ws:
            end = time.monotonic() + seconds
            while (left := end - time.monotonic()) > 0:
                try:
                    frame = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                now = time.time_ns()
                for m in orjson.loads(frame):
                    if m.get("type") == "parameter":
                        lags.append((now - m["data"]["recv_time_ns"][0]) / 1e6)
                        break
        return lags

    print(json.dumps(asyncio.run(read())))


def start_ws_client(page: Any, srv: Server, seconds: float) -> subprocess.Popen[str]:
    """The Python subscriber, with the page's token, on the page's stream (all parameters)."""
    token = page.evaluate("() => sessionStorage.getItem('falak.token')")
    query = "&".join(f"names={urllib.parse.quote(n, safe='')}" for n in srv.names)
    url = srv.url.replace("http://", "ws://") + f"/api/v1/ws/parameters?{query}&token={token}"
    return subprocess.Popen(
        [sys.executable, __file__, "--ws-client", url, "--seconds", str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )


def pct(a: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(np.asarray(a, dtype=np.float64), q)) if len(a) else math.nan


def points_shown(srv: Server) -> int:
    """Archived points of the plotted parameters (all inside the live window)."""
    return int(srv.prefill["samples"])


def open_page(page: Any, srv: Server) -> str:
    """Log in, watch every parameter, plot two over the live window "7 days"; the plot's
    status line once its history is drawn."""
    page.goto(srv.url + "/")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#bar:not([hidden])")
    page.evaluate(
        "([key, value]) => sessionStorage.setItem(key, value)",
        [f"falak.parameters.{SC}", json.dumps({"watched": srv.names, "plotted": srv.plotted})],
    )
    page.goto(srv.url + "/#/parameters")
    # every parameter has its row; the rows on the screen show values (rows off the screen
    # are painted when they scroll in)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.pp-live tbody tr[data-parameter]').length >= n"
        " && document.querySelector('.pp-live tbody td.value[data-recv-ns]')",
        arg=len(srv.names),
    )
    page.select_option("select[aria-label='live window']", str(LIVE_WINDOW_S))
    # the status line reads "2,000,123 samples in 1020 columns" once the week is drawn
    page.wait_for_function(
        "(n) => Number((document.getElementById('plot-status').textContent.match(/^[\\d,]+/)"
        " || ['0'])[0].replace(/,/g, '')) >= n",
        arg=int(0.99 * points_shown(srv)),
    )
    page.evaluate("() => window.__bench.watch(document.querySelector('.pp-live tbody'))")
    return str(page.inner_text("#plot-status"))


PAGE_JS = "src/falak/server/static/console/js/pages/parameters.js"
#: what an earlier parameters.js needs for the measurements: (after this text, insert this)
INSTRUMENT = [
    ("time_ns: d.time_ns[i], ", "recv_time_ns: d.recv_time_ns?.[i], "),
    (
        "row.time.textContent = utcOfNs(s.time_ns);",
        "\n    if (s.recv_time_ns !== undefined)"
        " row.value.dataset.recvNs = String(s.recv_time_ns);",
    ),
    (
        "    hooks: {",
        '\n      draw: [() => S && S.chartBox.dispatchEvent(new CustomEvent("plotdraw", '
        "{ bubbles: true, detail: { loads: Number(S.chartBox.dataset.loads) || 0 } }))],",
    ),
]


def baseline_page(rev: str) -> str:
    """The parameters page of commit ``rev``, with the two hooks the measurements read
    (``data-recv-ns`` on the value cell, the ``plotdraw`` event) added if it lacks them."""
    repo = Path(__file__).resolve().parents[1]
    text = subprocess.run(
        ["git", "-C", str(repo), "show", f"{rev}:{PAGE_JS}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "plotdraw" in text:
        return text
    for after, insert in INSTRUMENT:
        expect(text.count(after) == 1, f"{rev}:{PAGE_JS}: {after!r} not found once")
        text = text.replace(after, after + insert)
    return text


def run_page(
    browser: Any, srv: Server, args: argparse.Namespace, page_js: str | None = None
) -> dict[str, Any]:
    """One run: a fresh context, the parameters page set up, live phase, zoom phase;
    ``page_js``: serve this parameters.js instead of the installed one."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(INIT_JS)
    if page_js is not None:
        context.route(
            "**/console/js/pages/parameters.js",
            lambda route: route.fulfill(body=page_js, content_type="text/javascript"),
        )
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        plot_status = open_page(page, srv)
        time.sleep(args.warmup_s)

        # ---- live phase
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")

        def metrics() -> dict[str, float]:
            return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}

        client = start_ws_client(page, srv, args.seconds)
        page.evaluate("() => { window.__bench.on = true; }")
        sent0 = srv.feeder.sent
        m0, browser0, cpu0, w0 = metrics(), chromium_cpu(), time.process_time(), time.perf_counter()
        time.sleep(args.seconds)
        m1, browser1, cpu1, w1 = metrics(), chromium_cpu(), time.process_time(), time.perf_counter()
        sent = srv.feeder.sent - sent0
        page.evaluate("() => { window.__bench.on = false; }")
        py_lag = json.loads(client.communicate(timeout=60)[0] or "[]")
        live = page.evaluate(
            "() => { const B = window.__bench; return {lag: B.lag, ws: B.wsLag, frames: B.frames,"
            " longtasks: B.longtasks, errors: B.errors, cells: B.cells.size,"
            " clock_ms: Date.now() - (performance.timeOrigin + performance.now())}; }"
        )
        wall = w1 - w0
        dt = m1["Timestamp"] - m0["Timestamp"]

        def share(key: str) -> float:
            return (m1[key] - m0[key]) / dt

        kinds = sorted(set(browser0) | set(browser1))
        browser_cpu = {k: (browser1.get(k, 0.0) - browser0.get(k, 0.0)) / wall for k in kinds}

        # ---- zoom phase: the chart in view, wheel notches around its centre
        page.locator("#chart").scroll_into_view_if_needed()
        box = page.locator("#chart .u-over").bounding_box()
        expect(box is not None, "the chart's plotting area is not on the page")
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        time.sleep(0.5)
        zooms = []
        for k in range(args.zooms):
            before = page.evaluate(STATE_JS)
            page.mouse.wheel(0, -100 if k % 2 == 0 else 100)
            page.wait_for_function(
                "(b) => window.__bench.wheels.length > b.wheels && "
                "window.__bench.draws.slice(b.draws).some((d) => d[1] > b.loads) && "
                "window.__bench.draws.slice(b.draws).some((d) => d[3] === undefined"
                " || (d[2] > b.view && d[3]))",
                arg=before,
                timeout=30_000,
            )
            zooms.append(page.evaluate(ZOOM_RESULT_JS, before))
            time.sleep(args.zoom_pause_s)
        zoom_status = page.inner_text("#plot-status")
    finally:
        context.close()
    lag = np.asarray(live["lag"], dtype=np.float64)
    frames = np.asarray(live["frames"], dtype=np.float64)
    return {
        "seconds": wall,
        "packets_sent": sent,
        "updates": int(lag.size),
        "rows_updated": live["cells"],
        "updates_per_row_per_s": lag.size / max(1, live["cells"]) / wall,
        "busy": share("TaskDuration"),
        "script": share("ScriptDuration"),
        "layout": share("LayoutDuration"),
        "style": share("RecalcStyleDuration"),
        "longtasks": len(live["longtasks"]),
        "longtask_ms": float(sum(live["longtasks"])),
        "frame_p50_ms": pct(frames, 50),
        "frame_p99_ms": pct(frames, 99),
        "frames_over_50ms": int((frames > 50).sum()),
        "lag_p50_ms": pct(lag, 50),
        "lag_p95_ms": pct(lag, 95),
        "lag_p99_ms": pct(lag, 99),
        "lag_max_ms": float(lag.max()) if lag.size else math.nan,
        "ws_p50_ms": pct(live["ws"], 50),
        "ws_p99_ms": pct(live["ws"], 99),
        "py_ws_p50_ms": pct(py_lag, 50),
        "py_ws_p99_ms": pct(py_lag, 99),
        "clock_offset_ms": live["clock_ms"],
        "zoom_first_ms": [z["first_ms"] for z in zooms],
        "zoom_sharp_ms": [z["sharp_ms"] for z in zooms],
        "zoom_sharp_local": [z["sharp_local"] for z in zooms],
        "zoom_sharp_frame_ms": [z["sharp_frame_ms"] for z in zooms],
        "zoom_served_ms": [z["served_ms"] for z in zooms],
        "zoom_server_ms": [
            max(
                (
                    sum(e["server"].get(k, 0.0) for k in ("read", "decimate", "encode"))
                    for e in z["detail"]
                    if e["server"]
                ),
                default=None,
            )
            for z in zooms
        ],
        "zoom_request_ms": [z["request_ms"] for z in zooms],
        "zoom_request_start_ms": [z["request_start_ms"] for z in zooms],
        "zoom_detail": zooms,
        "cpu_this_process": (cpu1 - cpu0) / wall,
        "cpu_browser": browser_cpu,
        "plot_status": plot_status,
        "zoom_status": zoom_status,
        "page_errors": errors + live["errors"],
    }


# ------------------------------------------------------------------------------ report


def _span(values: list[float], fmt: str) -> str:
    v = [x for x in values if x is not None and not math.isnan(x)]
    if not v:
        return "-"
    lo, hi = min(v), max(v)
    return format(lo, fmt) if lo == hi else f"{format(lo, fmt)}-{format(hi, fmt)}"


def report(bench: Bench, runs: list[dict[str, Any]], title: str) -> dict[str, list[float]]:
    """Print the table of ``runs``; return its rows' values by label."""
    from rich.console import Console
    from rich.table import Table

    def zoom(r: dict[str, Any], key: str, q: float) -> float:
        return pct([x for x in r[key] if x is not None], q)

    rows: list[tuple[str, list[float], str, str, float | None]] = [
        (
            "main thread busy: its CPU time / wall",
            [100 * r["cpu_browser"]["renderer main threads"] for r in runs],
            ".1f",
            "%",
            100 * TARGETS["busy"],
        ),
        (
            "main thread busy: task wall time / wall",
            [100 * r["busy"] for r in runs],
            ".1f",
            "%",
            100 * TARGETS["busy"],
        ),
        ("  of which script", [100 * r["script"] for r in runs], ".1f", "%", None),
        (
            "  of which layout + style",
            [100 * (r["layout"] + r["style"]) for r in runs],
            ".1f",
            "%",
            None,
        ),
        ("long tasks (> 50 ms) in the window", [r["longtasks"] for r in runs], ".0f", "", None),
        ("animation frame gap p99", [r["frame_p99_ms"] for r in runs], ".1f", "ms", None),
        ("display lag p50", [r["lag_p50_ms"] for r in runs], ".1f", "ms", None),
        ("display lag p95", [r["lag_p95_ms"] for r in runs], ".1f", "ms", None),
        ("display lag p99", [r["lag_p99_ms"] for r in runs], ".1f", "ms", TARGETS["lag_p99_ms"]),
        ("display lag max", [r["lag_max_ms"] for r in runs], ".1f", "ms", None),
        ("  WebSocket part p50 / frame", [r["ws_p50_ms"] for r in runs], ".1f", "ms", None),
        ("  WebSocket part p99 / frame", [r["ws_p99_ms"] for r in runs], ".1f", "ms", None),
        ("  same stream, Python client: p50", [r["py_ws_p50_ms"] for r in runs], ".1f", "ms", None),
        ("  same stream, Python client: p99", [r["py_ws_p99_ms"] for r in runs], ".1f", "ms", None),
        ("rows updated (on the screen)", [r["rows_updated"] for r in runs], ".0f", "", None),
        (
            "displayed updates / row / s",
            [r["updates_per_row_per_s"] for r in runs],
            ".2f",
            "Hz",
            None,
        ),
        (
            "zoom: first redraw (data at hand) p50",
            [zoom(r, "zoom_first_ms", 50) for r in runs],
            ".1f",
            "ms",
            None,
        ),
        (
            "zoom: sharp redraw p50",
            [zoom(r, "zoom_sharp_ms", 50) for r in runs],
            ".1f",
            "ms",
            TARGETS["zoom_ms"],
        ),
        (
            "zoom: sharp redraw max",
            [zoom(r, "zoom_sharp_ms", 100) for r in runs],
            ".1f",
            "ms",
            TARGETS["zoom_ms"],
        ),
        (
            "  sharp redraw to the next frame p50",
            [zoom(r, "zoom_sharp_frame_ms", 50) for r in runs],
            ".1f",
            "ms",
            None,
        ),
        (
            "  sharp from data at hand (no server wait)",
            [sum(1 for x in r["zoom_sharp_local"] if x) for r in runs],
            ".0f",
            f"/ {len(runs[0]['zoom_sharp_local']) if runs else 0}",
            None,
        ),
        (
            "  redraw after the server's answer p50",
            [zoom(r, "zoom_served_ms", 50) for r in runs],
            ".1f",
            "ms",
            None,
        ),
        (
            "  wheel to the plot requests' start p50",
            [zoom(r, "zoom_request_start_ms", 50) for r in runs],
            ".1f",
            "ms",
            None,
        ),
        (
            "  plot requests (2 in parallel) p50",
            [zoom(r, "zoom_request_ms", 50) for r in runs],
            ".1f",
            "ms",
            None,
        ),
        (
            "  the server's share (Server-Timing) p50",
            [zoom(r, "zoom_server_ms", 50) for r in runs],
            ".1f",
            "ms",
            None,
        ),
        (
            "CPU: this process (server, feeder, client)",
            [100 * r["cpu_this_process"] for r in runs],
            ".1f",
            "% core",
            None,
        ),
        (
            "CPU: Chromium renderer",
            [100 * r["cpu_browser"].get("renderer", 0) for r in runs],
            ".1f",
            "% core",
            None,
        ),
        (
            "CPU: all Chromium processes",
            [100 * sum(r["cpu_browser"].values()) for r in runs],
            ".1f",
            "% core",
            None,
        ),
    ]
    table = Table(title=f"{title}: {len(runs)} run(s), ranges are min-max over runs")
    table.add_column("metric")
    for i in range(len(runs)):
        table.add_column(f"run {i + 1}", justify="right")
    table.add_column("range", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met", justify="center")
    for label, values, fmt, unit, target in rows:
        cells = [format(v, fmt) if not math.isnan(v) else "-" for v in values]
        met = ""
        if target is not None:
            met = "yes" if all(v < target for v in values) else "NO"
        table.add_row(
            label,
            *cells,
            f"{_span(values, fmt)} {unit}".strip(),
            f"< {target:g} {unit}" if target is not None else "",
            met,
        )
    text = io.StringIO()
    Console(file=text, width=150, force_terminal=False).print(table)
    Console(width=150).print(table)
    bench.lines.extend(text.getvalue().splitlines())
    for i, r in enumerate(runs):
        bench.say(
            f"run {i + 1}: {r['seconds']:.1f} s, {r['packets_sent']} packets sent, "
            f"{r['updates']:,} displayed updates; plot: {r['plot_status']}; after the zooms: "
            f"{r['zoom_status']}; sharp zooms ms (* from data at hand): "
            + ", ".join(
                "-" if z is None else f"{z:.0f}{'*' if local else ''}"
                for z, local in zip(r["zoom_sharp_ms"], r["zoom_sharp_local"], strict=True)
            )
            + "; after the server's answer ms: "
            + ", ".join("-" if z is None else f"{z:.0f}" for z in r["zoom_served_ms"])
            + f"; browser/host clock offset {r['clock_offset_ms']:.2f} ms; CPU by Chromium "
            "process: "
            + ", ".join(f"{k} {100 * v:.1f}%" for k, v in sorted(r["cpu_browser"].items()))
        )
        if r["page_errors"]:
            bench.say(f"run {i + 1}: page errors: {r['page_errors']}")
    return {label: values for label, values, *_ in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=int, default=200, help="live parameters")
    parser.add_argument("--rate-hz", type=float, default=10.0, help="packets (updates) per s")
    parser.add_argument("--points", type=int, default=1_000_000, help="archived points per plot")
    parser.add_argument("--seconds", type=float, default=30.0, help="live measuring window")
    parser.add_argument("--warmup-s", type=float, default=10.0, help="live, before measuring")
    parser.add_argument("--zooms", type=int, default=10, help="wheel notches per run")
    parser.add_argument("--zoom-pause-s", type=float, default=0.5, help="between wheel notches")
    parser.add_argument("--runs", type=int, default=3, help="runs (fresh browser contexts)")
    parser.add_argument("--json", type=Path, default=None, help="write every metric as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also write the output here")
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="also run the parameters page of git commit REV, interleaved (same server)",
    )
    parser.add_argument("--ws-client", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ws_client:
        ws_client_main(args.ws_client, args.seconds)
        return
    expect(args.params >= 2, "--params must be at least 2 (two of them are plotted)")
    expect(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium "
           "(never 'playwright install': its downloads do not work here)")  # fmt: skip
    from playwright.sync_api import sync_playwright

    bench = Bench(
        f"console: {args.params} live parameters at {args.rate_hz:g} Hz + 2 plots of "
        f"{args.points:,} archived points, Chromium {CHROMIUM} headless, {args.runs} run(s) of "
        f"{args.warmup_s:g} s warm-up + {args.seconds:g} s + {args.zooms} zooms",
        args.out,
    )
    with (
        tempfile.TemporaryDirectory(prefix="falak-bench-console-") as tmp,
        falak_server(Path(tmp), args.params, args.points, args.rate_hz) as srv,
    ):
        p = srv.prefill
        bench.say(
            f"archive pre-fill (Archive.write_parameters, SQLite): {p['samples']:,} samples "
            f"in {p['wall_s']:.2f} s wall, {p['cpu_s']:.2f} s CPU "
            f"({p['samples'] / p['wall_s']:,.0f} samples/s)"
        )
        runs: list[dict[str, Any]] = []
        base_runs: list[dict[str, Any]] = []
        baseline_js = baseline_page(args.baseline) if args.baseline else None
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            bench.say(f"browser: Chromium {browser.version}; load average {load_average()}")
            try:
                for i in range(args.runs):  # interleaved with the baseline's runs
                    runs.append(run_page(browser, srv, args))
                    bench.say(f"run {i + 1} done; load average {load_average()}")
                    if baseline_js is not None:
                        base_runs.append(run_page(browser, srv, args, baseline_js))
                        bench.say(
                            f"run {i + 1} of {args.baseline} done; load average {load_average()}"
                        )
            finally:
                browser.close()
        link = srv.runtime.processor.links["tm"].stats()
        bench.say(f"link: {link.packets} packets received of {srv.feeder.sent} sent")
    for i, r in enumerate(runs + base_runs):
        expect(r["packets_sent"] > 0, f"run {i + 1}: the feeder sent nothing")
        expect(r["updates"] > 0, f"run {i + 1}: the table never updated")
        expect(all(z is not None for z in r["zoom_sharp_ms"]), f"run {i + 1}: a zoom never drew")
    now = report(bench, runs, "console, this checkout")
    if base_runs:
        before = report(bench, base_runs, f"console, parameters page of {args.baseline}")
        bench.say(f"ratio {args.baseline} / this checkout, medians over the interleaved runs:")
        for label, values in now.items():
            ok = [v for v in values if v > 0]
            old = [v for v in before[label] if v > 0]
            if ok and old and ("busy" in label or "lag p99" in label or "zoom" in label):
                ratio = float(np.median(old) / np.median(ok))
                bench.say(f"  {label.strip()}: {ratio:.2f}x")
    if args.json is not None:
        result = {"prefill": srv.prefill, "runs": runs, "targets": TARGETS}
        if base_runs:
            result |= {"baseline": args.baseline, "baseline_runs": base_runs}
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    bench.finish()


if __name__ == "__main__":
    main()
