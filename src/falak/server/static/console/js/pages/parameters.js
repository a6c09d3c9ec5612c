// Parameters: the spacecraft's MDB as a searchable tree; a live table of the parameters
// picked from it (over the parameters WebSocket, staleness visible on every row); a uPlot
// chart of the plotted ones, live or over any range: history comes from the server already
// decimated to min/max per pixel column (GET .../parameters/{name}/plot), drawn as a band,
// and a zoom (drag on the chart) fetches the new range at full resolution again. CSV export
// of the table and of the plotted range as shown.
//
// Zooming without waiting: each load asks for more than the view, a quarter of its span more
// on each side (PREFETCH_MARGIN) at 1.25 times the pixel resolution (PREFETCH_RESOLUTION), so
// that one wheel notch (in or out by 1.25, around any point of the plot) lands on data the
// page already holds at one min/max column per pixel or finer: the new range is drawn sharp at
// once, and the load for it (the next notch's margin) goes out at the same time. A second
// notch before that load lands, or a drag-zoom deeper than 1.25, waits for the server.
// Every drawing says whether it was sharp (the "plotdraw" event's detail: the data covers the
// view at a column per pixel or finer) and of which view (a counter of zooms).
//
// Staleness: a row is marked STALE when the server says the parameter expired (its
// staleness message: no value within 1.5 expected periods on the reception clock) or when
// no value reached this page within 1.5 expected periods (the MDB's expected_period_s) of
// this computer's clock, whichever comes first; a new value clears the mark.

import uPlot from "../vendor/uPlot.esm.js";
import { debounce, h } from "./common.js";

const STALE_FACTOR = 1.5;
const WINDOWS = [
  ["1 min", 60], ["10 min", 600], ["1 h", 3600], ["6 h", 6 * 3600],
  ["1 day", 86400], ["7 days", 7 * 86400], ["30 days", 30 * 86400], ["90 days", 90 * 86400],
  ["1 year", 365 * 86400],
];
const COLOURS = ["#58a6ff", "#3fb950", "#d29922", "#f778ba", "#a5d6ff", "#ff7b72", "#d2a8ff", "#7ee787"];
const MAX_LIVE_POINTS = 20000;
const ZOOM_STEP = 1.25; // a wheel notch
const PREFETCH_MARGIN = ZOOM_STEP - 1; // of the span, on each side: covers a notch out
const PREFETCH_RESOLUTION = ZOOM_STEP; // columns per pixel: covers a notch in
const MAX_COLUMNS = 10000; // the server's widest answer (routes/plots.py MAX_WIDTH)

let S = null; // the page's state while mounted

const short = (q) => q.slice(q.lastIndexOf("/") + 1);
const watchKey = (sc) => `falak.parameters.${sc}`;

function base() {
  return `spacecraft/${encodeURIComponent(S.ctx.spacecraft)}/`;
}

function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a >= 1e6 || (a > 0 && a < 1e-3)) return v.toExponential(4);
    return v.toFixed(3);
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  return String(v);
}

const isoOfNs = (ns) => (ns === null || ns === undefined ? "" : new Date(Number(ns) / 1e6).toISOString());
const utcOfNs = (ns) => (ns ? isoOfNs(ns).replace("T", " ").replace(/Z$/, "") : "—");

// ---------------------------------------------------------------- the MDB tree

function buildTree(params) {
  const root = { children: new Map(), leaves: [] };
  for (const p of params) {
    const parts = p.qualified_name.split("/").filter(Boolean);
    let node = root;
    for (const part of parts.slice(0, -1)) {
      if (!node.children.has(part)) node.children.set(part, { children: new Map(), leaves: [] });
      node = node.children.get(part);
    }
    node.leaves.push(p);
  }
  return root;
}

function renderTree() {
  const query = S.search.value.trim().toLowerCase();
  const match = (p) =>
    !query ||
    p.qualified_name.toLowerCase().includes(query) ||
    (p.description || "").toLowerCase().includes(query);
  let shown = 0;
  function walk(node, name, depth) {
    const items = [];
    for (const [child, sub] of [...node.children].sort((a, b) => a[0].localeCompare(b[0]))) {
      const li = walk(sub, child, depth + 1);
      if (li) items.push(li);
    }
    for (const p of node.leaves) {
      if (!match(p)) continue;
      shown += 1;
      const watched = S.rows.has(p.qualified_name);
      items.push(
        h("li", {},
          h("button", {
            type: "button",
            class: `leaf${watched ? " watched" : ""}`,
            "data-parameter": p.qualified_name,
            title: `${p.qualified_name}${p.description ? ` — ${p.description}` : ""}${p.units ? ` [${p.units}]` : ""}`,
            "aria-pressed": watched ? "true" : "false",
            onclick: () => toggleWatch(p.qualified_name),
          }, p.name)),
      );
    }
    if (!items.length) return null;
    if (name === null) return h("ul", {}, items);
    return h("li", {}, h("details", { open: depth < 2 || !!query }, h("summary", {}, name), h("ul", {}, items)));
  }
  const tree = walk(S.tree, null, 0);
  S.treeList.replaceChildren(tree || h("p", { class: "muted" }, "no parameter matches"));
  S.treeCount.textContent = `${shown} of ${S.params.length}`;
}

// ---------------------------------------------------------------- the live table

function newRow(q) {
  const info = S.info.get(q) || { qualified_name: q, name: short(q) };
  const value = h("td", { class: "value num" }, "—");
  const unit = h("td", { class: "muted" }, info.units || "");
  const status = h("td", { class: "status" }, "—");
  const time = h("td", { class: "num" }, "—");
  const plot = h("input", {
    type: "checkbox",
    "aria-label": `plot ${info.name}`,
    "data-plot": q,
    onchange: (ev) => setPlotted(q, ev.target.checked),
  });
  const remove = h("button", { type: "button", title: `stop watching ${q}`, "aria-label": `remove ${info.name}`,
    onclick: () => toggleWatch(q) }, "×");
  const tr = h("tr", { "data-parameter": q },
    h("td", { title: q }, info.name, " ", h("span", { class: "stale-mark" }, "STALE")),
    value, unit, status, time, h("td", {}, plot, " plot ", remove));
  return { q, info, tr, value, status, time, plot, shown: {}, visible: true,
    sample: null, arrivedMs: null, expired: false, stale: false, dirty: false };
}

function setSample(row, s) {
  row.sample = s;
  row.arrivedMs = Date.now();
  row.expired = false;
  row.dirty = true;
}

function paintRows() {
  const now = Date.now();
  for (const row of S.rows.values()) {
    const period = row.info.expected_period_s;
    const late = !!period && row.arrivedMs !== null && now - row.arrivedMs > STALE_FACTOR * period * 1000;
    const stale = row.expired || late;
    if (stale !== row.stale) {
      row.stale = stale;
      row.tr.classList.toggle("stale", stale);
      row.tr.dataset.stale = stale ? "true" : "false";
    }
    // a row off the screen keeps its new value until it scrolls into view: the table costs
    // the rows shown, not the rows watched (benchmarks/console.py: 200 parameters at 10 Hz)
    if (!row.dirty || !row.visible) continue;
    row.dirty = false;
    const s = row.sample;
    // a calibrated value that happens to be whole (390 km from 39000 counts) keeps its
    // decimals, so the column does not change width from one value to the next
    const calibrated = typeof s.eng === "number" && Number.isInteger(s.eng) && s.eng !== s.raw;
    // write only what changed: an unchanged text or class costs no style or layout work
    const shown = row.shown;
    const text = calibrated && Math.abs(s.eng) < 1e6 ? s.eng.toFixed(3) : fmt(s.eng);
    if (shown.value !== text) row.value.textContent = shown.value = text;
    const raw = `raw ${fmt(s.raw)}`;
    if (shown.raw !== raw) row.value.title = shown.raw = raw;
    if (shown.status !== s.status) {
      row.status.textContent = shown.status = s.status;
      row.status.className = `status lvl-${s.status}`;
    }
    const when = utcOfNs(s.time_ns);
    if (shown.time !== when) row.time.textContent = shown.time = when;
    // when the server received it (ns since 1970): benchmarks/console.py measures the lag
    if (s.recv_time_ns !== undefined) row.value.dataset.recvNs = String(s.recv_time_ns);
  }
}

function renderTable() {
  const rows = [...S.rows.values()];
  S.tbody.replaceChildren(...rows.map((r) => r.tr));
  S.onScreen.disconnect();
  for (const r of rows) S.onScreen.observe(r.tr);
  if (!rows.length) {
    S.tbody.append(h("tr", { class: "empty" }, h("td", { colspan: 6, class: "muted" },
      "Pick parameters in the tree to watch them here.")));
  }
  S.watchCount.textContent = `${rows.length} watched`;
}

async function loadLatest(names) {
  if (!names.length) return;
  let samples = [];
  try {
    samples = await S.ctx.api(`${base()}parameters/latest`, { query: { names } });
  } catch (err) {
    S.ctx.toast(`latest values: ${err.message}`, "error");
    return;
  }
  if (!S) return;
  for (const s of samples) {
    const row = S.rows.get(s.parameter);
    if (row && (!row.sample || s.time_ns >= row.sample.time_ns)) setSample(row, s);
  }
}

function saveWatch() {
  const data = { watched: [...S.rows.keys()], plotted: [...S.plotted] };
  sessionStorage.setItem(watchKey(S.ctx.spacecraft), JSON.stringify(data));
}

function toggleWatch(q) {
  if (S.rows.has(q)) {
    S.rows.delete(q);
    S.plotted.delete(q);
    S.series.delete(q);
    rebuildChart();
  } else {
    S.rows.set(q, newRow(q));
    loadLatest([q]);
  }
  saveWatch();
  renderTable();
  renderTree();
  resubscribe();
}

// ---------------------------------------------------------------- the stream

const resubscribe = debounce(() => {
  if (!S) return;
  if (S.stream) S.stream.close();
  S.stream = null;
  const names = [...S.rows.keys()];
  if (!names.length) return;
  const query = names.map((n) => `names=${encodeURIComponent(n)}`).join("&");
  S.stream = S.ctx.ws(`${base()}ws/parameters?${query}`, onMessage);
}, 150);

function onMessage(m) {
  if (!S) return;
  if (m.type === "parameter") {
    const d = m.data;
    const row = S.rows.get(d.parameter);
    const n = d.time_ns.length;
    if (!row || !n) return;
    const i = n - 1;
    setSample(row, { parameter: d.parameter, time_ns: d.time_ns[i], recv_time_ns: d.recv_time_ns?.[i],
      raw: d.raw[i], eng: d.eng[i], status: d.status[i] });
    if (S.plotted.has(d.parameter) && S.live) appendLive(d.parameter, d.time_ns, d.eng, d.raw);
  } else if (m.type === "staleness") {
    const row = S.rows.get(m.data.parameter);
    if (row) {
      row.expired = !!m.data.expired;
      if (!m.data.expired) row.arrivedMs = Date.now();
    }
  } else if (m.type === "gap") {
    loadLatest([...S.rows.keys()]); // the server dropped messages: read the latest values
  } else if (m.type === "reconnected") {
    // catch up what the socket missed: the latest values, and the plot's history
    loadLatest([...S.rows.keys()]);
    if (S.live) fetchHistory();
  }
}

// ---------------------------------------------------------------- the chart

function setPlotted(q, on) {
  if (on) {
    S.plotted.add(q);
    S.loaded = null; // the data at hand lacks it
  } else {
    S.plotted.delete(q);
    S.series.delete(q);
  }
  saveWatch();
  rebuildChart();
  if (on) fetchHistory();
}

function visibleRange() {
  if (!S.live) return [S.range[0], S.range[1]];
  const end = S.liveEnd || Date.now() / 1000;
  return [end - S.windowS, end];
}

function chartWidth() {
  return Math.max(200, Math.floor(S.chartBox.clientWidth || 800));
}

function rebuildChart() {
  if (S.chart) {
    S.chart.destroy();
    S.chart = null;
  }
  const names = [...S.plotted];
  S.chartBox.replaceChildren();
  S.chartEmpty.hidden = names.length > 0;
  if (!names.length) return;
  const series = [{ label: "UTC", value: (u, v) => (v === null ? "—" : new Date(v * 1000).toISOString().replace("T", " ").slice(0, 23)) }];
  const bands = [];
  // one y scale per unit: the first unit's axis on the left, the second's on the right
  const units = [];
  names.forEach((q, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const unit = S.info.get(q)?.units || "";
    if (!units.includes(unit)) units.push(unit);
    const scale = `y:${unit}`;
    const label = `${short(q)}${unit ? ` [${unit}]` : ""}`;
    series.push({ label: `${label} max`, scale, stroke: colour, width: 1.5, spanGaps: true, value: (u, v) => fmt(v) });
    series.push({ label: `${label} min`, scale, stroke: colour, width: 1, spanGaps: true, value: (u, v) => fmt(v) });
    bands.push({ series: [2 * i + 1, 2 * i + 2], fill: `${colour}33` });
  });
  const grid = { stroke: "#2d333b" };
  const box = S.chartBox;
  const yAxes = units.slice(0, 2).map((unit, k) => ({
    scale: `y:${unit}`, side: k === 0 ? 3 : 1, stroke: "#8b949e", grid: { ...grid, show: k === 0 },
    ticks: grid, size: 70, label: unit || undefined, labelSize: 18,
  }));
  const opts = {
    width: chartWidth(),
    height: 340,
    series,
    bands,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    scales: { x: { time: true } },
    axes: [{ stroke: "#8b949e", grid, ticks: grid, values: timeTicks, size: 44 }, ...yAxes],
    cursor: { drag: { x: true, y: false } },
    legend: { live: true },
    hooks: {
      // each drawing, for tests and benchmarks/console.py: "plotdraw" with the loads so far
      draw: [() => box.dispatchEvent(new CustomEvent("plotdraw", { bubbles: true,
        detail: { loads: Number(box.dataset.loads) || 0, view: S ? S.view : 0, sharp: S ? S.drawnSharp : false } }))],
      setSelect: [
        (u) => {
          if (u.select.width < 3) return;
          const a = u.posToVal(u.select.left, "x");
          const b = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, width: 0 }, false);
          zoomTo(a, b);
        },
      ],
    },
  };
  opts.cursor.drag.setScale = false; // the page sets the range itself (and refetches)
  S.chart = new uPlot(opts, emptyData(names.length), S.chartBox);
  S.chart.root.dataset.test = "chart";
  S.chart.over.addEventListener("wheel", onWheel, { passive: false });
  redraw();
}

/** Tick labels of the time axis in UTC, 24 h, as precise as the range needs. */
function timeTicks(u, splits) {
  const range = u.scales.x.max - u.scales.x.min;
  return splits.map((v) => {
    const iso = new Date(v * 1000).toISOString();
    if (range > 3 * 86400) return iso.slice(0, 10);
    if (range > 86400) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
    if (range > 600) return iso.slice(11, 16);
    if (range > 10) return iso.slice(11, 19);
    return iso.slice(11, 23);
  });
}

function emptyData(n) {
  return [[], ...Array.from({ length: 2 * n }, () => [])];
}

function zoomTo(a, b, { now = false } = {}) {
  if (!(b > a)) return;
  S.live = false;
  S.range = [a, b];
  S.view += 1;
  S.liveBtn.disabled = false;
  S.liveBtn.classList.remove("primary");
  fetchHistory(); // the requests go out first; meanwhile the new range is drawn with the
  if (now) redraw(); // data at hand, sharpened when the answers come
}

/** The mouse wheel zooms around the cursor's time: in by 1.25 per notch, or out. */
function onWheel(ev) {
  ev.preventDefault();
  const u = S.chart;
  const [a, b] = visibleRange();
  const x = u.posToVal(ev.offsetX, "x");
  const f = ev.deltaY < 0 ? 1 / ZOOM_STEP : ZOOM_STEP;
  zoomTo(x - (x - a) * f, x + (b - x) * f, { now: true });
}

/** Show four times the range around its centre (in live mode: the next longer window). */
function zoomOut() {
  if (S.live) {
    const next = WINDOWS.find(([, w]) => w > S.windowS);
    if (!next) return;
    S.windowS = next[1];
    S.windowSel.value = String(next[1]);
    goLive();
    return;
  }
  const [a, b] = S.range;
  const mid = (a + b) / 2;
  const half = 2 * (b - a);
  zoomTo(mid - half, mid + half);
}

function goLive() {
  S.live = true;
  S.view += 1;
  S.liveBtn.disabled = true;
  S.liveBtn.classList.add("primary");
  fetchHistory();
}

/** Fetch the plotted range now; a call while a fetch is out fetches once more after it (a burst
 * of wheel notches costs two round trips, and the first zoom is not delayed by a debounce). */
function fetchHistory() {
  const st = S;
  if (!st) return;
  if (st.fetching) {
    st.fetchAgain = true;
    return;
  }
  st.fetching = true;
  loadHistory().finally(() => {
    st.fetching = false;
    if (st.fetchAgain && S === st) {
      st.fetchAgain = false;
      fetchHistory();
    }
  });
}

async function loadHistory() {
  if (!S || !S.plotted.size) return;
  const ticket = ++S.fetchTicket;
  const names = [...S.plotted];
  const [a, b] = S.live ? [null, null] : S.range;
  if (S.live && !S.liveEnd) {
    // the newest value of the plotted parameters sets "now" (the mission's clock)
    for (const q of names) {
      const r = S.rows.get(q);
      if (r?.sample) S.liveEnd = Math.max(S.liveEnd || 0, r.sample.time_ns / 1e9);
    }
  }
  const [va, vb] = S.live ? visibleRange() : [a, b];
  const width = plotPixels();
  // the view and a margin on each side, finer than the pixels: a notch's zoom is at hand
  const margin = PREFETCH_MARGIN * (vb - va);
  const [start, stop] = [va - margin, vb + margin];
  const columns = Math.min(MAX_COLUMNS, Math.ceil(width * PREFETCH_RESOLUTION * (stop - start) / (vb - va)));
  if (!S.loaded) S.status.textContent = "loading…";
  performance.mark("plot:sent");
  const results = await Promise.all(
    names.map((q) =>
      S.ctx
        .api(`${base()}parameters/${encodeURIComponent(q)}/plot`, {
          query: {
            start: new Date(start * 1000).toISOString(),
            stop: new Date(stop * 1000 + 1).toISOString(),
            width: columns,
          },
        })
        .catch((err) => ({ error: err.message, parameter: q })),
    ),
  );
  performance.mark("plot:got");
  if (!S || ticket !== S.fetchTicket) return;
  let samples = 0;
  let failed = false;
  for (const [i, r] of results.entries()) {
    const q = names[i];
    if (r.error) {
      S.ctx.toast(`${short(q)}: ${r.error}`, "error");
      S.series.set(q, { t: [], mn: [], mx: [] });
      failed = true;
      continue;
    }
    // the samples in the view (the columns whose centre is in it), not in the margins
    for (let k = 0; k < r.count.length; k++) {
      const t = r.time_ns[k] / 1e9;
      if (t >= va && t <= vb) samples += r.count[k];
    }
    S.series.set(q, { t: r.time_ns.map((ns) => ns / 1e9), mn: r.min, mx: r.max, value: r.value });
  }
  // what the data at hand covers, at what resolution (s per column); none after a failure
  S.loaded = failed ? null : { start, stop, step: (stop - start) / columns, live: S.live };
  S.status.textContent = `${samples.toLocaleString("en")} samples in ${width} columns`;
  // for tests and for the curious: what this chart shows
  S.chartBox.dataset.loads = String((Number(S.chartBox.dataset.loads) || 0) + 1);
  S.chartBox.dataset.plotted = String(names.length);
  S.chartBox.dataset.live = String(S.live);
  redraw();
  performance.mark("plot:drawn");
}

function appendLive(q, times, eng, raw) {
  let s = S.series.get(q);
  if (!s) {
    s = { t: [], mn: [], mx: [] };
    S.series.set(q, s);
  }
  const useRaw = s.value === "raw";
  for (let i = 0; i < times.length; i++) {
    const v = useRaw ? raw[i] : eng[i];
    if (typeof v !== "number") continue;
    const t = times[i] / 1e9;
    s.t.push(t);
    s.mn.push(v);
    s.mx.push(v);
    if (t > (S.liveEnd || 0)) S.liveEnd = t;
  }
  if (s.t.length > MAX_LIVE_POINTS) {
    const cut = s.t.length - MAX_LIVE_POINTS;
    s.t.splice(0, cut);
    s.mn.splice(0, cut);
    s.mx.splice(0, cut);
  }
  S.needsRedraw = true;
}

/** min/max per pixel column of the view from the finer columns (and live samples) at hand:
 * each point goes to the pixel its time falls in (the view's pixels extended over the
 * margins); a pixel's min is the least of its points' mins, its max the greatest max. Drawing
 * one point per pixel costs the canvas a fraction of drawing the prefetched 1.9 per pixel. */
function perPixel(s, a, b) {
  const px = plotPixels();
  const step = (b - a) / px;
  const t = [];
  const mn = [];
  const mx = [];
  let bin = null;
  for (let i = 0; i < s.t.length; i++) {
    const k = Math.floor((s.t[i] - a) / step);
    if (k !== bin) {
      bin = k;
      t.push(a + (k + 0.5) * step);
      mn.push(s.mn[i]);
      mx.push(s.mx[i]);
    } else {
      const j = t.length - 1;
      if (s.mn[i] < mn[j]) mn[j] = s.mn[i];
      if (s.mx[i] > mx[j]) mx[j] = s.mx[i];
    }
  }
  return { t, mn, mx };
}

function alignedData() {
  const names = [...S.plotted];
  const [va, vb] = visibleRange();
  const tables = names.map((q) => {
    let s = S.series.get(q) || { t: [], mn: [], mx: [] };
    // live appends after history mostly come in order: then no sort
    let ordered = true;
    for (let i = 1; i < s.t.length && ordered; i++) ordered = s.t[i] > s.t[i - 1];
    if (!ordered) {
      const idx = s.t.map((_, i) => i).sort((x, y) => s.t[x] - s.t[y]);
      s = { t: idx.map((i) => s.t[i]), mn: idx.map((i) => s.mn[i]), mx: idx.map((i) => s.mx[i]) };
    }
    // one point per pixel of the view (the same times for every parameter: a cheap join)
    const p = vb > va ? perPixel(s, va, vb) : { t: s.t.slice(), mn: s.mn.slice(), mx: s.mx.slice() };
    return [p.t, p.mn, p.mx];
  });
  if (!tables.length) return null;
  return uPlot.join(tables.map((t) => [t[0], t[2], t[1]]));
}

function plotPixels() {
  return S.chart ? Math.max(100, Math.floor(S.chart.bbox.width / devicePixelRatio)) : chartWidth();
}

/** Whether the data at hand shows [a, b] at one min/max column per pixel or finer: it covers
 * the range (a live view: from its start, live values append the rest) and its columns are no
 * wider than a pixel's time. */
function sharpFor(a, b) {
  const L = S.loaded;
  if (!L) return false;
  const covers = L.start <= a && (L.stop >= b || (S.live && L.live));
  return covers && L.step <= (b - a) / plotPixels();
}

function redraw() {
  S.needsRedraw = false;
  if (!S.chart) return;
  const data = alignedData();
  if (!data) return;
  const [a, b] = visibleRange();
  S.drawnSharp = sharpFor(a, b);
  S.chartBox.dataset.view = String(S.view);
  S.chartBox.dataset.sharp = String(S.drawnSharp);
  S.chart.batch(() => {
    S.chart.setData(data, false);
    S.chart.setScale("x", { min: a, max: b });
  });
  S.rangeText.textContent = `${new Date(a * 1000).toISOString()} — ${new Date(b * 1000).toISOString()}`;
  S.chartBox.dataset.rangeS = String(b - a);
}

// ---------------------------------------------------------------- CSV export

function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function download(name, rows) {
  const text = rows.map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function stamp() {
  return new Date().toISOString().replace(/[:.]/g, "").slice(0, 15);
}

function exportTable() {
  const rows = [["parameter", "eng", "raw", "units", "status", "time_utc", "stale"]];
  for (const r of S.rows.values()) {
    const s = r.sample || {};
    rows.push([r.q, s.eng, s.raw, r.info.units || "", s.status || "", isoOfNs(s.time_ns), r.stale ? "stale" : ""]);
  }
  download(`falak-${S.ctx.spacecraft}-parameters-${stamp()}.csv`, rows);
}

function exportPlot() {
  const data = alignedData();
  if (!data) {
    S.ctx.toast("nothing plotted to export", "warning");
    return;
  }
  const names = [...S.plotted];
  const head = ["time_utc"];
  for (const q of names) head.push(`${q} max`, `${q} min`);
  const [a, b] = visibleRange();
  const rows = [head];
  for (let i = 0; i < data[0].length; i++) {
    const t = data[0][i];
    if (t < a || t > b) continue;
    const row = [new Date(t * 1000).toISOString()];
    for (let k = 1; k < data.length; k++) row.push(data[k][i] ?? "");
    rows.push(row);
  }
  download(`falak-${S.ctx.spacecraft}-plot-${stamp()}.csv`, rows);
}

// ---------------------------------------------------------------- mount

function frame() {
  if (!S) return;
  paintRows();
  // live: redraw when a new point can move a pixel (a column's time), at 5 Hz at most and
  // every 2 s at least (a week's window: a column is 10 min; redrawing it at 5 Hz was wasted)
  const columnMs = (1000 * S.windowS) / Math.max(1, S.chart ? S.chart.bbox.width / devicePixelRatio : 1000);
  if (S.needsRedraw && S.live && performance.now() - S.lastDraw > Math.min(2000, Math.max(200, columnMs))) {
    S.lastDraw = performance.now();
    redraw();
  }
  S.raf = requestAnimationFrame(frame);
}

export async function mount(el, ctx) {
  const search = h("input", { type: "search", placeholder: "search parameters", "aria-label": "search parameters" });
  const treeList = h("div", { class: "tree-list" });
  const treeCount = h("span", { class: "muted num" });
  const tbody = h("tbody");
  const watchCount = h("span", { class: "muted" });
  const chartBox = h("div", { class: "pp-chart-box", id: "chart" });
  const chartEmpty = h("p", { class: "muted" }, "Tick “plot” on a watched parameter to chart it.");
  const status = h("span", { class: "muted num", id: "plot-status" });
  const rangeText = h("span", { class: "pp-range" });
  const windowSel = h("select", { "aria-label": "live window" },
    WINDOWS.map(([label, s]) => h("option", { value: s, selected: s === 600 }, label)));
  const liveBtn = h("button", { type: "button", class: "primary", disabled: true, onclick: () => goLive() }, "Live");
  const outBtn = h("button", { type: "button", id: "zoom-out", title: "zoom out (four times the range)",
    onclick: () => zoomOut() }, "Zoom out");
  el.append(
    h("div", { class: "pp" },
      h("aside", { class: "card pp-tree" }, h("h2", {}, "Mission database ", treeCount), search, treeList),
      h("div", { class: "pp-right" },
        h("section", { class: "card pp-live" },
          h("div", { class: "pp-toolbar" }, h("h2", {}, "Live values"), watchCount,
            h("span", { class: "spacer" }),
            h("button", { type: "button", id: "export-table", onclick: () => exportTable() }, "Export table CSV")),
          h("table", { class: "grid" },
            h("colgroup", {}, ["name", "value", "unit", "status", "time", "act"].map((c) => h("col", { class: `c-${c}` }))),
            h("thead", {}, h("tr", {}, h("th", {}, "parameter"), h("th", { class: "num" }, "value"),
              h("th", {}, "unit"), h("th", {}, "status"), h("th", {}, "time (UTC)"), h("th", {}, ""))),
            tbody)),
        h("section", { class: "card pp-chart" },
          h("div", { class: "pp-toolbar" }, h("h2", {}, "Plot"), liveBtn, windowSel, outBtn, status,
            h("button", { type: "button", id: "export-plot", onclick: () => exportPlot() }, "Export plot CSV")),
          h("div", { class: "muted" }, "Drag across the chart to zoom; Live returns to the live window. ", rangeText),
          chartEmpty, chartBox))));
  S = {
    ctx, search, treeList, treeCount, tbody, watchCount, chartBox, chartEmpty, status, rangeText, liveBtn, windowSel,
    params: [], info: new Map(), tree: null, rows: new Map(), plotted: new Set(), series: new Map(),
    stream: null, chart: null, live: true, windowS: 600, range: null, liveEnd: null, fetchTicket: 0,
    view: 0, drawnSharp: false, loaded: null,
    needsRedraw: false, lastDraw: 0, raf: null, resize: null, fetching: false, fetchAgain: false,
    onScreen: new IntersectionObserver((entries) => {
      for (const e of entries) {
        const row = S && S.rows.get(e.target.dataset.parameter);
        if (row) row.visible = e.isIntersecting;
      }
    }, { rootMargin: "200px 0px" }),
  };
  windowSel.addEventListener("change", () => {
    S.windowS = Number(windowSel.value);
    goLive();
  });
  search.addEventListener("input", debounce(() => S && renderTree(), 120));
  try {
    S.params = await ctx.api(`${base()}mdb/parameters`);
  } catch (err) {
    ctx.toast(`mission database: ${err.message}`, "error");
    S.params = [];
  }
  if (!S) return;
  for (const p of S.params) S.info.set(p.qualified_name, p);
  S.tree = buildTree(S.params);
  let saved = { watched: [], plotted: [] };
  try {
    saved = JSON.parse(sessionStorage.getItem(watchKey(ctx.spacecraft))) || saved;
  } catch {
    // ignore a damaged entry
  }
  for (const q of saved.watched || []) if (S.info.has(q)) S.rows.set(q, newRow(q));
  for (const q of saved.plotted || []) {
    if (S.rows.has(q)) {
      S.plotted.add(q);
      S.rows.get(q).plot.checked = true;
    }
  }
  renderTree();
  renderTable();
  await loadLatest([...S.rows.keys()]);
  if (!S) return;
  resubscribe();
  rebuildChart();
  if (S.plotted.size) fetchHistory();
  S.resize = new ResizeObserver(() => {
    if (S && S.chart) S.chart.setSize({ width: chartWidth(), height: 340 });
  });
  S.resize.observe(chartBox);
  S.raf = requestAnimationFrame(frame);
}

export function unmount() {
  if (!S) return;
  cancelAnimationFrame(S.raf);
  S.onScreen.disconnect();
  if (S.resize) S.resize.disconnect();
  if (S.stream) S.stream.close();
  if (S.chart) S.chart.destroy();
  S = null;
}
