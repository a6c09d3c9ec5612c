// Timeline: a spacecraft's ground-station passes, relay contacts, eclipses, uplink windows,
// campaign sessions, traverse drives and waits, orbiter imaging and command stack steps
// (GET /spacecraft/{sc}/timeline) on one time axis with a "now" line that turns with the
// run clock (GET /clock: simulated UTC at the run's speed, extrapolated between reads).
//
// One canvas draws the axis, the lanes (one per kind; overlapping items stacked in rows) and
// the items; the lane names are HTML beside it. Wheel: zoom about the pointer; drag: pan;
// keys (canvas focused): ← → pan, + − zoom, n or Home: back to now (and follow it). The
// view follows the now line until the user pans; "Now" returns to following.
// Test hooks: .pg-timeline[data-start|data-end] (view, ISO), canvas[data-now] (the now
// line's UTC) and [data-now-x] (its x in CSS px), [data-items] (items in view).

import { h, put, scPath } from "./common.js";

const LANES = ["ground passes", "relay contacts", "eclipses", "uplink windows", "campaign",
  "traverse", "imaging", "stacks", "errors"];
const COLOURS = {
  pass: "#3fa7ff", contact: "#8f7cff", eclipse: "#6b7488", uplink_window: "#3fb950",
  campaign: "#d29922", traverse: "#c58af9", imaging: "#ff7ab6", stack: "#ffd34d",
  error: "#f85149",
};
const AXIS_H = 34;
const ROW_H = 20;
const LANE_PAD = 6;
const MIN_SPAN_MS = 60e3; // one minute
const MAX_SPAN_MS = 60 * 86400e3; // sixty days
const CLOCK_SYNC_MS = 10000;
const REFRESH_MS = 30000;
const FOLLOW_AT = 0.25; // following, now sits at a quarter of the view

let st = null;

function iso(ms) {
  return new Date(ms).toISOString();
}

function utcText(ms, withDate = true) {
  const s = iso(ms);
  return withDate ? `${s.slice(0, 10)} ${s.slice(11, 19)}Z` : `${s.slice(11, 19)}Z`;
}

function duration(ms) {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/** Run-clock now (ms since 1970): the last /clock read, advanced at its speed. */
function runNow(s) {
  if (!s.clock) return Date.now();
  return s.clock.utcMs + s.clock.speed * (performance.now() - s.clock.readAt);
}

async function syncClock(s) {
  try {
    const c = await s.ctx.api("clock");
    if (st !== s) return;
    s.clock = { utcMs: c.utc_ns / 1e6, speed: c.speed, readAt: performance.now(), epoch: c.epoch };
    s.speedEl.textContent = c.speed === 1 ? "real time" : `run clock ×${c.speed}`;
  } catch (err) {
    if (st === s) s.status.textContent = `clock: ${err.message}`;
  }
}

const NICE_STEPS_MS = [1, 2, 5, 10, 15, 30].map((x) => x * 1e3)
  .concat([1, 2, 5, 10, 15, 30].map((x) => x * 60e3))
  .concat([1, 2, 3, 6, 12].map((x) => x * 3600e3))
  .concat([1, 2, 7, 14, 30].map((x) => x * 86400e3));

function tickStep(spanMs, widthPx) {
  const want = spanMs / Math.max(2, widthPx / 110);
  return NICE_STEPS_MS.find((x) => x >= want) || NICE_STEPS_MS[NICE_STEPS_MS.length - 1];
}

function layout(items) {
  // lanes in a fixed order (unknown lanes after), each item in the first row it fits
  const byLane = new Map();
  for (const it of items) {
    if (!byLane.has(it.lane)) byLane.set(it.lane, []);
    byLane.get(it.lane).push(it);
  }
  const names = [...byLane.keys()].sort((a, b) => {
    const ia = LANES.indexOf(a), ib = LANES.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  const lanes = [];
  let y = AXIS_H;
  for (const name of names) {
    const rowsEnd = [];
    const placed = [];
    for (const it of byLane.get(name).sort((a, b) => a.t0 - b.t0)) {
      const end = Math.max(it.t1, it.t0 + 1);
      let r = rowsEnd.findIndex((e) => e <= it.t0);
      if (r < 0) { r = rowsEnd.length; rowsEnd.push(0); }
      rowsEnd[r] = end;
      placed.push({ it, row: r });
    }
    const rows = Math.min(Math.max(1, rowsEnd.length), 8);
    const height = rows * ROW_H + 2 * LANE_PAD;
    lanes.push({ name, y, height, rows, placed });
    y += height;
  }
  return { lanes, height: y + 4 };
}

function xOf(s, t) {
  return ((t - s.view.t0) / (s.view.t1 - s.view.t0)) * s.width;
}

function draw() {
  const s = st;
  if (!s) return;
  const now = runNow(s);
  if (s.follow) {
    const span = s.view.t1 - s.view.t0;
    s.view.t0 = now - FOLLOW_AT * span;
    s.view.t1 = s.view.t0 + span;
  }
  const { canvas } = s;
  const cssW = canvas.parentElement.clientWidth;
  const lay = s.layout;
  const cssH = Math.max(lay.height, 160);
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
    canvas.style.height = `${cssH}px`;
  }
  s.width = cssW;
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.fillStyle = s.colours.panel;
  g.fillRect(0, 0, cssW, cssH);
  // lanes
  lay.lanes.forEach((lane, i) => {
    g.fillStyle = i % 2 ? s.colours.panel : s.colours.panel2;
    g.fillRect(0, lane.y, cssW, lane.height);
  });
  // axis and grid
  const span = s.view.t1 - s.view.t0;
  const step = tickStep(span, cssW);
  g.font = "12px " + s.colours.mono;
  g.textBaseline = "middle";
  g.strokeStyle = s.colours.border;
  g.fillStyle = s.colours.muted;
  const first = Math.ceil(s.view.t0 / step) * step;
  for (let t = first; t <= s.view.t1; t += step) {
    const x = Math.round(xOf(s, t)) + 0.5;
    g.beginPath();
    g.moveTo(x, AXIS_H - 6);
    g.lineTo(x, cssH);
    g.stroke();
    const midnight = t % 86400e3 === 0;
    const text = step >= 86400e3 || midnight ? iso(t).slice(0, 10)
      : step < 60e3 ? iso(t).slice(11, 19) : iso(t).slice(11, 16);
    g.fillStyle = midnight ? s.colours.fg : s.colours.muted;
    g.fillText(text, x + 3, 12);
  }
  g.fillStyle = s.colours.muted;
  g.fillText(`${iso(s.view.t0).slice(0, 10)}  UTC  (${duration(span)} shown)`, 4, 26);
  // items
  let shown = 0;
  g.textBaseline = "middle";
  s.hits = [];
  for (const lane of lay.lanes) {
    for (const { it, row } of lane.placed) {
      if (it.t1 < s.view.t0 || it.t0 > s.view.t1) continue;
      shown += 1;
      const y = lane.y + LANE_PAD + Math.min(row, lane.rows - 1) * ROW_H;
      const colour = COLOURS[it.kind] || s.colours.accent;
      const x0 = xOf(s, it.t0);
      const x1 = xOf(s, it.t1);
      if (it.t1 - it.t0 < 1 || x1 - x0 < 2) {
        // an instant (a stack step, an error): a diamond
        const cx = x0, cy = y + ROW_H / 2 - 1;
        g.fillStyle = colour;
        g.beginPath();
        g.moveTo(cx, cy - 7); g.lineTo(cx + 6, cy); g.lineTo(cx, cy + 7); g.lineTo(cx - 6, cy);
        g.closePath();
        g.fill();
        s.hits.push({ it, x0: cx - 7, x1: cx + 7, y0: y, y1: y + ROW_H });
        if (s.showInstantLabels) {
          g.fillStyle = s.colours.fg;
          g.fillText(it.label, cx + 9, cy);
        }
        continue;
      }
      const l = Math.max(x0, -2), r = Math.min(x1, cssW + 2);
      g.globalAlpha = it.kind === "eclipse" ? 0.75 : 0.85;
      g.fillStyle = colour;
      g.fillRect(l, y + 1, Math.max(r - l, 1), ROW_H - 4);
      g.globalAlpha = 1;
      s.hits.push({ it, x0: l, x1: r, y0: y, y1: y + ROW_H });
      const w = r - l;
      if (w > 40) {
        g.save();
        g.beginPath();
        g.rect(l, y, w, ROW_H);
        g.clip();
        g.fillStyle = "#0d1117";
        g.fillText(it.label, Math.max(l, 0) + 4, y + ROW_H / 2 - 1);
        g.restore();
      }
    }
  }
  // now line
  const nx = xOf(s, now);
  g.strokeStyle = s.colours.crit;
  g.lineWidth = 2;
  g.beginPath();
  g.moveTo(nx, AXIS_H - 10);
  g.lineTo(nx, cssH);
  g.stroke();
  g.lineWidth = 1;
  g.fillStyle = s.colours.crit;
  g.fillText(`now ${utcText(now, false)}`, Math.min(nx + 4, cssW - 110), AXIS_H - 4);
  canvas.dataset.now = iso(now);
  canvas.dataset.nowX = nx.toFixed(1);
  canvas.dataset.items = String(shown);
  s.root.dataset.start = iso(s.view.t0);
  s.root.dataset.end = iso(s.view.t1);
  s.nowEl.textContent = utcText(now);
  s.followBtn.setAttribute("aria-pressed", String(s.follow));
  drawLaneNames(s);
  maybeLoad(s);
}

function drawLaneNames(s) {
  const key = s.layout.lanes.map((l) => `${l.name}:${l.y}:${l.height}`).join("|");
  if (key === s.laneKey) return;
  s.laneKey = key;
  put(s.laneNames, h("div", { class: "tl-axis-gap", style: `height:${AXIS_H}px` }),
    s.layout.lanes.map((l) => h("div", {
      class: "tl-lane", "data-lane": l.name, style: `height:${l.height}px`,
    }, l.name)));
  if (!s.layout.lanes.length) s.laneNames.append(h("div", { class: "tl-lane muted" }, "nothing in this window"));
}

function frame() {
  if (!st) return;
  // redraw at once after an interaction, else 5 times a second (the now line creeps)
  if (st.dirty || performance.now() - st.lastDraw > 200) {
    st.dirty = false;
    st.lastDraw = performance.now();
    draw();
  }
  st.raf = requestAnimationFrame(frame);
}

function maybeLoad(s) {
  const span = s.view.t1 - s.view.t0;
  const have = s.loaded;
  if (have && s.view.t0 >= have.t0 && s.view.t1 <= have.t1 && span >= have.span / 8) return;
  if (s.loading) return;
  load(s);
}

async function load(s) {
  // half a view either side: panning a little needs no new request, and a 7-day view asks
  // for 14 days, the longest the server computes passes for
  const span = s.view.t1 - s.view.t0;
  const t0 = s.view.t0 - span / 2;
  const t1 = s.view.t1 + span / 2;
  s.loading = true;
  try {
    const body = await s.ctx.api(scPath(s.ctx, "timeline"), { query: { start: iso(t0), end: iso(t1) } });
    if (st !== s) return;
    s.items = body.items.map((it) => ({ ...it, t0: Date.parse(it.start), t1: Date.parse(it.end) }));
    s.layout = layout(s.items);
    s.dirty = true;
    s.loaded = { t0, t1, span, at: performance.now() };
    const errors = s.items.filter((it) => it.kind === "error");
    s.status.textContent = errors.length ? `${errors.length} problem(s): ${errors[0].label}` : "";
  } catch (err) {
    if (st !== s) return;
    s.status.textContent = err.message;
    s.loaded = { t0, t1, span, at: performance.now() }; // do not hammer a failing server
  } finally {
    if (st === s) s.loading = false;
  }
}

function zoom(s, factor, atX) {
  s.dirty = true;
  const span = s.view.t1 - s.view.t0;
  const next = Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, span * factor));
  const frac = atX === undefined ? (s.follow ? FOLLOW_AT : 0.5) : atX / s.width;
  const pivot = s.view.t0 + frac * span;
  s.view.t0 = pivot - frac * next;
  s.view.t1 = s.view.t0 + next;
}

function pan(s, dxMs) {
  s.dirty = true;
  s.follow = false;
  s.view.t0 += dxMs;
  s.view.t1 += dxMs;
}

function hover(s, ev) {
  const r = s.canvas.getBoundingClientRect();
  const x = ev.clientX - r.left, y = ev.clientY - r.top;
  const hit = [...s.hits].reverse().find((k) => x >= k.x0 && x <= k.x1 && y >= k.y0 && y <= k.y1);
  if (!hit) {
    s.tip.hidden = true;
    return;
  }
  const it = hit.it;
  const rows = [
    h("strong", {}, it.label),
    h("div", { class: "muted" }, `${it.kind} · ${it.lane}`),
    h("div", { class: "num" }, it.t1 > it.t0
      ? `${utcText(it.t0)} – ${utcText(it.t1, false)} (${duration(it.t1 - it.t0)})` : utcText(it.t0)),
    Object.entries(it.detail || {}).map(([k, v]) => h("div", { class: "tl-kv" },
      h("span", { class: "muted" }, `${k} `), String(v))),
  ];
  put(s.tip, rows);
  s.tip.hidden = false;
  const box = s.wrap.getBoundingClientRect();
  const left = Math.min(ev.clientX - box.left + 14, box.width - 320);
  s.tip.style.left = `${Math.max(0, left)}px`;
  s.tip.style.top = `${ev.clientY - box.top + 14}px`;
}

function colours() {
  const cs = getComputedStyle(document.documentElement);
  const v = (name, fallback) => cs.getPropertyValue(name).trim() || fallback;
  return {
    panel: v("--panel", "#161b22"), panel2: v("--panel-2", "#1c2330"), border: v("--border", "#2d333b"),
    fg: v("--fg", "#e4e8ee"), muted: v("--muted", "#8b949e"), accent: v("--accent", "#58a6ff"),
    crit: v("--crit", "#f85149"), mono: v("--mono", "monospace"),
  };
}

export async function mount(el, ctx) {
  const canvas = h("canvas", { class: "tl-canvas", tabindex: "0", role: "img",
    "aria-label": "timeline: wheel or + and - to zoom, drag or arrow keys to pan, n for now" });
  const tip = h("div", { class: "tl-tip", role: "tooltip", hidden: true });
  const laneNames = h("div", { class: "tl-lanes" });
  const wrap = h("div", { class: "tl-wrap" }, laneNames, h("div", { class: "tl-plot" }, canvas), tip);
  const status = h("p", { class: "tl-status error", role: "status" });
  const nowEl = h("span", { class: "tl-now num", id: "tl-now" }, "—");
  const speedEl = h("span", { class: "muted" }, "");
  const followBtn = h("button", { type: "button", "data-test": "tl-now" }, "Now");
  const zoomIn = h("button", { type: "button", "data-test": "tl-zoom-in", title: "zoom in (+)" }, "+");
  const zoomOut = h("button", { type: "button", "data-test": "tl-zoom-out", title: "zoom out (−)" }, "−");
  const spans = [["1 h", 3600e3], ["6 h", 6 * 3600e3], ["1 d", 86400e3], ["7 d", 7 * 86400e3]];
  const spanBtns = spans.map(([label, ms]) => h("button", {
    type: "button", "data-span": label, onclick: () => { setSpan(ms); },
  }, label));
  const root = h("div", { class: "pg-timeline" },
    h("div", { class: "tl-bar" }, h("h2", {}, `Timeline · ${ctx.spacecraft}`), nowEl, speedEl,
      h("span", { class: "spacer" }), zoomOut, zoomIn, ...spanBtns, followBtn),
    status, wrap);
  el.append(root);
  const s = {
    ctx, root, canvas, tip, wrap, laneNames, status, nowEl, speedEl, followBtn,
    colours: colours(), follow: true, items: [], layout: { lanes: [], height: AXIS_H },
    hits: [], width: 800, loaded: null, loading: false, timers: [], laneKey: null,
    view: { t0: Date.now() - FOLLOW_AT * 6 * 3600e3, t1: Date.now() + 0.75 * 6 * 3600e3 },
    showInstantLabels: true, dirty: true, lastDraw: 0,
  };
  st = s;
  function setSpan(ms) {
    const now = runNow(s);
    s.view.t0 = s.follow ? now - FOLLOW_AT * ms : (s.view.t0 + s.view.t1) / 2 - ms / 2;
    s.view.t1 = s.view.t0 + ms;
    s.dirty = true;
  }
  zoomIn.addEventListener("click", () => zoom(s, 0.5));
  zoomOut.addEventListener("click", () => zoom(s, 2));
  followBtn.addEventListener("click", () => {
    s.follow = true;
    setSpan(s.view.t1 - s.view.t0);
  });
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoom(s, Math.exp(ev.deltaY * 0.0015), ev.clientX - r.left);
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("pointerdown", (ev) => {
    drag = { x: ev.clientX, t0: s.view.t0, t1: s.view.t1 };
    canvas.setPointerCapture(ev.pointerId);
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (drag) {
      const dx = ev.clientX - drag.x;
      if (Math.abs(dx) > 2) s.follow = false;
      const ms = (dx / s.width) * (drag.t1 - drag.t0);
      s.view.t0 = drag.t0 - ms;
      s.view.t1 = drag.t1 - ms;
      s.dirty = true;
      s.tip.hidden = true;
    } else hover(s, ev);
  });
  const endDrag = () => { drag = null; canvas.classList.remove("dragging"); };
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("pointerleave", () => { if (!drag) s.tip.hidden = true; });
  canvas.addEventListener("keydown", (ev) => {
    const span = s.view.t1 - s.view.t0;
    if (ev.key === "ArrowLeft") pan(s, -0.1 * span);
    else if (ev.key === "ArrowRight") pan(s, 0.1 * span);
    else if (ev.key === "+" || ev.key === "=") zoom(s, 0.5);
    else if (ev.key === "-" || ev.key === "_") zoom(s, 2);
    else if (ev.key === "n" || ev.key === "Home") followBtn.click();
    else return;
    ev.preventDefault();
  });
  await syncClock(s);
  if (st !== s) return;
  setSpan(6 * 3600e3);
  s.timers.push(setInterval(() => syncClock(s), CLOCK_SYNC_MS));
  s.timers.push(setInterval(() => { if (st === s && !s.loading) load(s); }, REFRESH_MS));
  await load(s);
  if (st !== s) return;
  s.raf = requestAnimationFrame(frame);
}

export function unmount() {
  if (!st) return;
  for (const t of st.timers) clearInterval(t);
  cancelAnimationFrame(st.raf);
  st = null;
}
