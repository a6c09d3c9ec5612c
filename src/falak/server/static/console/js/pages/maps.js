// Maps: the current spacecraft's map, of the kind its server config gives (GET map):
//   earth — an Earth orbiter: the Natural Earth 1:110m countries (maps/, shipped with falak),
//           the ground track from SGP4 (GET map/groundtrack; past grey, future blue, split at
//           the run clock's now), the spacecraft where it is now, each ground station's
//           visibility circle at the spacecraft's height;
//   site  — a surface spacecraft: the site's hillshade (GET map/site.png), the planned route(s)
//           of its plans, the sunlit and Earth-visible overlays of now (10-minute buckets), and
//           the rover where its telemetry puts it (ROV_EST_X_M/Y_M/HEADING_DEG, latest over
//           REST, then live over the parameters WebSocket; its trail: the archived positions
//           of the last 12 h, then the live ones). "Rover" centres the map on it.
//   moon  — a lunar orbiter: a selenographic lat/lon grid (no lunar imagery ships with falak),
//           the sub-orbiter track from its OEM (GET map/groundtrack, MOON_ME), the orbiter
//           now, the south-pole landmarks and the imaging windows' centres; "South pole"
//           toggles a south-polar stereographic view (60°S to the pole).
// Drawn on a canvas (no tiles, no CDN: everything comes from the falak server). Drag to pan,
// wheel or +/− to zoom (about the pointer), 0 or "Fit" to see it all; arrow keys pan when
// the map has the focus. The canvas carries data-* attributes of what it drew (points,
// marker pixels) for tests and for a quick look in the inspector.

import { apiBase, token } from "../api.js";
import { h, put, scPath, utc } from "./common.js";

const COLORS = {
  ocean: "#0a1622", land: "#1f2b38", border: "#3b4b5e", grid: "#16273a", gridText: "#4a5d72",
  past: "#8b949e", future: "#58a6ff", circle: "#3fb950", station: "#e4e8ee",
  spacecraft: "#f0883e", route: "#f0883e", start: "#3fb950", goal: "#f85149",
  rover: "#ff7b72", stale: "#6e7681", trail: "#d2a8ff", scale: "#e4e8ee", bg: "#0d1117",
};
const TRACK_REFRESH_MS = 60_000;
const BASEMAP_URL = new URL("../../maps/ne_110m_countries.geojson", import.meta.url);
let basemap = null; // the parsed GeoJSON, kept across mounts
let S = null; // the page's state; null once unmounted

// ------------------------------------------------------------------ helpers

function fmt(v, digits, unit = "") {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return "—";
  const gap = unit && unit !== "°" ? " " : "";
  return `${Number(v).toFixed(digits)}${gap}${unit}`;
}

function wrapLon(lon) {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

/** An image the API serves (the bearer token in a header: an <img> cannot send one). */
async function fetchImage(path) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  const r = await fetch(new URL(path.replace(/^\//, ""), apiBase()), { headers });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return createImageBitmap(await r.blob());
}

function kv(rows) {
  return rows.flatMap(([k, v, test]) => [h("dt", {}, k), h("dd", { "data-test": test || null }, v)]);
}

// ------------------------------------------------------------------ the view (pan/zoom)

/** World ↔ screen for a north-up map: world x right, world y up; ``scale`` px per unit. */
class View {
  constructor(canvas, bounds, draw) {
    this.canvas = canvas;
    this.bounds = bounds; // {x0, x1, y0, y1}
    this.drawFn = draw;
    this.w = 1;
    this.h = 1;
    this.dpr = 1;
    this.cx = (bounds.x0 + bounds.x1) / 2;
    this.cy = (bounds.y0 + bounds.y1) / 2;
    this.scale = 1;
    this.fitScale = 1;
    this.pending = false;
    this.fitted = false;
    this.drag = null;
    this.listen();
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const w = Math.max(1, Math.round(r.width));
    const hh = Math.max(1, Math.round(r.height));
    this.dpr = window.devicePixelRatio || 1;
    if (w === this.w && hh === this.h && this.fitted) return;
    this.w = w;
    this.h = hh;
    this.canvas.width = Math.round(w * this.dpr);
    this.canvas.height = Math.round(hh * this.dpr);
    const b = this.bounds;
    const fit = Math.min(w / (b.x1 - b.x0), hh / (b.y1 - b.y0));
    const zoom = this.fitted ? this.scale / this.fitScale : 1;
    this.fitScale = fit;
    this.scale = fit * zoom;
    this.fitted = true;
    this.clamp();
    this.request();
  }

  fit() {
    this.cx = (this.bounds.x0 + this.bounds.x1) / 2;
    this.cy = (this.bounds.y0 + this.bounds.y1) / 2;
    this.scale = this.fitScale;
    this.request();
  }

  sx(x) { return (x - this.cx) * this.scale + this.w / 2; }
  sy(y) { return this.h / 2 - (y - this.cy) * this.scale; }
  wx(px) { return (px - this.w / 2) / this.scale + this.cx; }
  wy(py) { return this.cy - (py - this.h / 2) / this.scale; }

  clamp() {
    const b = this.bounds;
    this.scale = Math.min(Math.max(this.scale, this.fitScale), this.fitScale * 64);
    this.cx = Math.min(Math.max(this.cx, b.x0), b.x1);
    this.cy = Math.min(Math.max(this.cy, b.y0), b.y1);
  }

  zoom(factor, px = this.w / 2, py = this.h / 2) {
    const x = this.wx(px);
    const y = this.wy(py);
    this.scale *= factor;
    this.clamp();
    // keep the world point under the pointer where it was
    this.cx = x - (px - this.w / 2) / this.scale;
    this.cy = y + (py - this.h / 2) / this.scale;
    this.clamp();
    this.request();
  }

  pan(dxPx, dyPx) {
    this.cx -= dxPx / this.scale;
    this.cy += dyPx / this.scale;
    this.clamp();
    this.request();
  }

  request() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      if (!this.canvas.isConnected) return;
      const ctx = this.canvas.getContext("2d");
      ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
      this.drawFn(ctx, this);
    });
  }

  listen() {
    const c = this.canvas;
    c.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const r = c.getBoundingClientRect();
      this.zoom(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    c.addEventListener("pointerdown", (ev) => {
      c.setPointerCapture(ev.pointerId);
      this.drag = { x: ev.clientX, y: ev.clientY };
      c.classList.add("dragging");
    });
    c.addEventListener("pointermove", (ev) => {
      const r = c.getBoundingClientRect();
      if (this.onHover) this.onHover(this.wx(ev.clientX - r.left), this.wy(ev.clientY - r.top));
      if (!this.drag) return;
      this.pan(ev.clientX - this.drag.x, ev.clientY - this.drag.y);
      this.drag = { x: ev.clientX, y: ev.clientY };
    });
    const end = () => {
      this.drag = null;
      c.classList.remove("dragging");
    };
    c.addEventListener("pointerup", end);
    c.addEventListener("pointercancel", end);
    c.addEventListener("dblclick", (ev) => {
      const r = c.getBoundingClientRect();
      this.zoom(2, ev.clientX - r.left, ev.clientY - r.top);
    });
    c.addEventListener("keydown", (ev) => {
      const step = 60;
      const keys = {
        "+": () => this.zoom(1.5), "=": () => this.zoom(1.5), "-": () => this.zoom(1 / 1.5),
        "0": () => this.fit(), ArrowLeft: () => this.pan(step, 0), ArrowRight: () => this.pan(-step, 0),
        ArrowUp: () => this.pan(0, step), ArrowDown: () => this.pan(0, -step),
      };
      const f = keys[ev.key];
      if (f && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
        f();
        ev.preventDefault();
      }
    });
  }
}

/** A polyline in lon/lat that breaks where it crosses the antimeridian (drawn to the edge). */
function lonLatPath(ctx, view, lats, lons, from = 0, to = lats.length) {
  let open = false;
  let pLat = null;
  let pLon = null;
  for (let i = from; i < to; i++) {
    const la = lats[i];
    const lo = lons[i];
    if (la === null || lo === null || la === undefined || lo === undefined) {
      open = false;
      pLat = null;
      continue;
    }
    if (open && pLat !== null && Math.abs(lo - pLon) > 180) {
      const edge = pLon > 0 ? 180 : -180; // leaves through this edge, comes back at -edge
      const span = 360 - Math.abs(lo - pLon);
      const f = (edge - pLon) / (edge > 0 ? span : -span);
      const laEdge = pLat + f * (la - pLat);
      ctx.lineTo(view.sx(edge), view.sy(laEdge));
      ctx.moveTo(view.sx(-edge), view.sy(laEdge));
    }
    if (open) ctx.lineTo(view.sx(lo), view.sy(la));
    else ctx.moveTo(view.sx(lo), view.sy(la));
    open = true;
    pLat = la;
    pLon = lo;
  }
}

function toolbar(title, view, extra = []) {
  return h("div", { class: "pg-toolbar mp-bar" },
    h("h2", {}, title),
    ...extra,
    h("span", { class: "spacer" }),
    h("button", { type: "button", title: "zoom in (+)", "aria-label": "zoom in",
      onclick: () => view().zoom(1.5) }, "+"),
    h("button", { type: "button", title: "zoom out (−)", "aria-label": "zoom out",
      onclick: () => view().zoom(1 / 1.5) }, "−"),
    h("button", { type: "button", title: "fit the map (0)", onclick: () => view().fit() }, "Fit"));
}

function toggle(name, label, checked, onChange) {
  const box = h("input", { type: "checkbox", name, "data-test": `layer-${name}`, checked });
  box.addEventListener("change", () => onChange(box.checked));
  return h("label", { class: "mp-toggle" }, box, label);
}

// ------------------------------------------------------------------ Earth

function simNowNs(st) {
  if (!st.track) return null;
  const hostMs = performance.now() - st.fetchedAt;
  return st.track.now_ns + hostMs * 1e6 * (st.track.speed || 1);
}

/** Interpolated sub-point at t_ns, or null outside the track. */
function positionAt(track, tNs) {
  const k = (tNs - track.start_ns) / (track.step_s * 1e9);
  const i = Math.floor(k);
  if (i < 0 || i + 1 >= track.count) return null;
  const f = k - i;
  const [la0, la1, lo0, lo1] = [track.lat_deg[i], track.lat_deg[i + 1], track.lon_deg[i], track.lon_deg[i + 1]];
  if ([la0, la1, lo0, lo1].some((v) => v === null)) return null;
  let d = lo1 - lo0;
  if (d > 180) d -= 360;
  if (d < -180) d += 360;
  const he = track.height_km[i] + f * ((track.height_km[i + 1] ?? track.height_km[i]) - track.height_km[i]);
  return { k, lat: la0 + f * (la1 - la0), lon: wrapLon(lo0 + f * d), height: he };
}

function drawEarth(ctx, view) {
  const st = S;
  if (!st || st.kind !== "earth") return;
  const { w, h: hh } = view;
  ctx.fillStyle = COLORS.bg;
  ctx.fillRect(0, 0, w, hh);
  const x0 = view.sx(-180), x1 = view.sx(180), y0 = view.sy(90), y1 = view.sy(-90);
  ctx.fillStyle = COLORS.ocean;
  ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
  // graticule
  const stepDeg = view.scale > 12 ? 10 : 30;
  ctx.strokeStyle = COLORS.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let lo = -180; lo <= 180; lo += stepDeg) { ctx.moveTo(view.sx(lo), y0); ctx.lineTo(view.sx(lo), y1); }
  for (let la = -90; la <= 90; la += stepDeg) { ctx.moveTo(x0, view.sy(la)); ctx.lineTo(x1, view.sy(la)); }
  ctx.stroke();
  // land
  if (basemap) {
    ctx.beginPath();
    for (const f of basemap.features) {
      for (const poly of f.geometry.coordinates) {
        for (const ring of poly) {
          ring.forEach(([lo, la], i) => (i ? ctx.lineTo(view.sx(lo), view.sy(la)) : ctx.moveTo(view.sx(lo), view.sy(la))));
          ctx.closePath();
        }
      }
    }
    ctx.fillStyle = COLORS.land;
    ctx.fill("evenodd");
    ctx.strokeStyle = COLORS.border;
    ctx.lineWidth = 0.7;
    ctx.stroke();
  }
  ctx.fillStyle = COLORS.gridText;
  ctx.font = "11px system-ui, sans-serif";
  for (let la = -60; la <= 60; la += 30) ctx.fillText(`${la}°`, Math.max(x0, 0) + 4, view.sy(la) - 3);
  const track = st.track;
  if (!track) return;
  const now = simNowNs(st);
  const here = positionAt(track, now);
  const split = here ? Math.min(track.count, Math.max(0, Math.floor(here.k) + 1)) : track.count;
  // station circles
  ctx.lineWidth = 1.5;
  for (const s of track.stations) {
    if (st.layers.circles) {
      ctx.strokeStyle = COLORS.circle;
      ctx.beginPath();
      lonLatPath(ctx, view, s.circle_lat_deg, s.circle_lon_deg);
      ctx.stroke();
    }
    const px = view.sx(s.lon_deg), py = view.sy(s.lat_deg);
    ctx.fillStyle = COLORS.station;
    ctx.fillRect(px - 3, py - 3, 6, 6);
    if (st.layers.labels) ctx.fillText(s.name, px + 6, py - 4);
  }
  // the track: past, then future from now
  ctx.lineWidth = 2;
  ctx.strokeStyle = COLORS.past;
  ctx.beginPath();
  lonLatPath(ctx, view, track.lat_deg, track.lon_deg, 0, split);
  if (here) ctx.lineTo(view.sx(here.lon), view.sy(here.lat));
  ctx.stroke();
  ctx.strokeStyle = COLORS.future;
  ctx.beginPath();
  if (here) ctx.moveTo(view.sx(here.lon), view.sy(here.lat));
  lonLatPath(ctx, view, track.lat_deg, track.lon_deg, split, track.count);
  ctx.stroke();
  // the spacecraft now
  const c = view.canvas;
  c.dataset.trackPoints = String(track.count);
  c.dataset.pastPoints = String(split);
  if (here) {
    const px = view.sx(here.lon), py = view.sy(here.lat);
    ctx.beginPath();
    ctx.arc(px, py, 7, 0, 2 * Math.PI);
    ctx.fillStyle = COLORS.spacecraft;
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = COLORS.station;
    ctx.stroke();
    ctx.fillStyle = COLORS.station;
    ctx.font = "600 13px system-ui, sans-serif";
    ctx.fillText(st.ctx.spacecraft, px + 11, py + 4);
    c.dataset.spacecraftPx = `${px.toFixed(1)},${py.toFixed(1)}`;
  } else {
    delete c.dataset.spacecraftPx;
  }
  c.dataset.drawn = "earth";
}

function earthPanel(st) {
  const track = st.track;
  const here = track ? positionAt(track, simNowNs(st)) : null;
  const now = track ? simNowNs(st) : null;
  put(st.panel,
    h("h3", {}, "Now (run clock)"),
    h("dl", { class: "pg-kv mp-kv" }, kv([
      ["UTC", now ? utc(new Date(now / 1e6).toISOString()).replace(/\.\d+/, "") : "—", "sc-time"],
      ["latitude", fmt(here?.lat, 3, "°"), "sc-lat"],
      ["longitude", fmt(here?.lon, 3, "°"), "sc-lon"],
      ["height", fmt(here?.height, 1, "km"), "sc-height"],
    ])),
    h("h3", {}, "Track"),
    h("dl", { class: "pg-kv mp-kv" }, kv([
      ["element set", st.info.tle.name],
      ["epoch", utc(st.info.tle.epoch)],
      ["period", fmt(st.info.tle.period_min, 2, "min")],
      ["from", track ? utc(track.start).replace(/\.\d+/, "") : "—"],
      ["points", track ? `${track.count} every ${track.step_s} s` : "—", "track-points"],
      ["SGP4 failures", track ? (Object.entries(track.errors).map(([k, n]) => `${n}: ${k}`).join("; ") || "none") : "—"],
    ])),
    h("h3", {}, "Station visibility"),
    h("p", { class: "pg-muted mp-note" },
      track?.circle_height_km
        ? `circles: where each station sees ${st.ctx.spacecraft} above its elevation limit at ${fmt(track.circle_height_km, 0, "km")} (spherical Earth)`
        : "—"),
    h("table", { class: "grid mp-stations" },
      h("thead", {}, h("tr", {}, h("th", {}, "station"), h("th", { class: "num" }, "min el"), h("th", { class: "num" }, "radius"))),
      h("tbody", {}, (track?.stations || []).map((s) => h("tr", {},
        h("td", {}, s.name), h("td", { class: "num" }, fmt(s.min_elevation_deg, 0, "°")),
        h("td", { class: "num" }, fmt(s.half_angle_deg, 1, "°")))))));
}

async function loadTrack(st) {
  try {
    const track = await st.ctx.api(st.info.groundtrack);
    if (S !== st) return;
    st.track = track;
    st.fetchedAt = performance.now();
    const failed = Object.values(track.errors).reduce((a, n) => a + n, 0);
    st.error.textContent = failed < track.count ? "" : `no ground track: SGP4 failed at every point (${
      Object.keys(track.errors).join("; ")}); the element set's epoch is ${utc(st.info.tle.epoch)}: give the server a recent TLE`;
    earthPanel(st);
    st.view.request();
  } catch (err) {
    if (S === st) st.error.textContent = `ground track: ${err.message}`;
  }
}

async function mountEarth(st) {
  st.layers = { circles: true, labels: true };
  const canvas = h("canvas", { class: "mp-canvas", tabindex: "0", "aria-label": `${st.ctx.spacecraft} ground track map`, "data-test": "map-canvas" });
  st.view = new View(canvas, { x0: -180, x1: 180, y0: -90, y1: 90 }, drawEarth);
  st.panel = h("div", { class: "pg-card mp-side" });
  st.el.append(
    toolbar(`${st.ctx.spacecraft}: ground track`, () => st.view, [
      toggle("circles", "station circles", true, (on) => { st.layers.circles = on; st.view.request(); }),
      toggle("labels", "station names", true, (on) => { st.layers.labels = on; st.view.request(); }),
      h("span", { class: "mp-legend" },
        h("i", { class: "mp-swatch", style: `background:${COLORS.past}` }), "past",
        h("i", { class: "mp-swatch", style: `background:${COLORS.future}` }), "next orbits"),
    ]),
    st.error,
    h("div", { class: "mp-body" }, h("div", { class: "mp-view" }, canvas), st.panel));
  st.ro = new ResizeObserver(() => st.view.resize());
  st.ro.observe(canvas);
  st.view.resize();
  earthPanel(st);
  if (!basemap) {
    try {
      const r = await fetch(BASEMAP_URL);
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      basemap = await r.json();
    } catch (err) {
      if (S === st) st.error.textContent = `Earth base map: ${err.message}`;
    }
  }
  if (S !== st) return;
  await loadTrack(st);
  st.timers.push(setInterval(() => {
    if (S !== st) return;
    st.view.request();
    earthPanel(st);
    const t = st.track;
    const periodNs = st.info.tle.period_min * 60e9;
    const endNs = t ? t.start_ns + (t.count - 1) * t.step_s * 1e9 : 0;
    if (t && (performance.now() - st.fetchedAt > TRACK_REFRESH_MS || simNowNs(st) > endNs - periodNs)) loadTrack(st);
  }, 1000));
}

// ------------------------------------------------------------------ the rover's site

function drawSite(ctx, view) {
  const st = S;
  if (!st || st.kind !== "site") return;
  const { w, h: hh } = view;
  ctx.fillStyle = COLORS.bg;
  ctx.fillRect(0, 0, w, hh);
  const b = st.site.bounds_m;
  const x0 = view.sx(b.x_min), y0 = view.sy(b.y_max);
  const dw = (b.x_max - b.x_min) * view.scale, dh = (b.y_max - b.y_min) * view.scale;
  ctx.imageSmoothingEnabled = view.scale * st.site.resolution_m < 3; // cells as squares when large
  if (st.image) ctx.drawImage(st.image, x0, y0, dw, dh);
  for (const o of st.site.overlays) {
    const img = st.overlayImages.get(o.url);
    if (st.layers[o.name] && img) ctx.drawImage(img, x0, y0, dw, dh);
  }
  ctx.strokeStyle = COLORS.border;
  ctx.lineWidth = 1;
  ctx.strokeRect(x0, y0, dw, dh);
  const c = view.canvas;
  // the planned route(s)
  let routePx = null;
  if (st.layers.route) {
    for (const f of st.site.route.features) {
      const lines = f.geometry.type === "LineString" ? [f.geometry.coordinates] : f.geometry.coordinates;
      ctx.strokeStyle = COLORS.route;
      ctx.lineWidth = 3;
      ctx.lineJoin = "round";
      ctx.beginPath();
      for (const line of lines) {
        line.forEach(([x, y], i) => (i ? ctx.lineTo(view.sx(x), view.sy(y)) : ctx.moveTo(view.sx(x), view.sy(y))));
        if (!routePx && line.length > 2) {
          const [mx, my] = line[Math.floor(line.length / 2)];
          routePx = `${view.sx(mx).toFixed(1)},${view.sy(my).toFixed(1)}`;
        }
      }
      ctx.stroke();
      for (const wp of f.properties.waypoints || []) {
        const px = view.sx(wp.x_m), py = view.sy(wp.y_m);
        ctx.beginPath();
        ctx.arc(px, py, 6, 0, 2 * Math.PI);
        ctx.fillStyle = wp.role === "start" ? COLORS.start : wp.role === "goal" ? COLORS.goal : COLORS.route;
        ctx.fill();
        ctx.strokeStyle = COLORS.bg;
        ctx.lineWidth = 2;
        ctx.stroke();
        ctx.fillStyle = COLORS.station;
        ctx.font = "12px system-ui, sans-serif";
        ctx.fillText(wp.role, px + 9, py + 4);
      }
    }
  }
  if (routePx) c.dataset.routePx = routePx;
  else delete c.dataset.routePx;
  // the rover's trail and where it is
  if (st.trail.length > 1) {
    ctx.strokeStyle = COLORS.trail;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    st.trail.forEach(([x, y], i) => (i ? ctx.lineTo(view.sx(x), view.sy(y)) : ctx.moveTo(view.sx(x), view.sy(y))));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  const p = st.pose;
  if (Number.isFinite(p.x) && Number.isFinite(p.y)) {
    const px = view.sx(p.x), py = view.sy(p.y);
    const hd = ((Number.isFinite(p.heading) ? p.heading : 0) * Math.PI) / 180;
    // map azimuth: clockwise from grid north (+y); on screen y grows downwards
    const fx = Math.sin(hd), fy = -Math.cos(hd);
    // a dart: its tip where the rover heads, a notch at the back
    const r = 17;
    const at = (along, across) => [px + fx * along - fy * across, py + fy * along + fx * across];
    ctx.beginPath();
    ctx.moveTo(...at(r, 0));
    ctx.lineTo(...at(-0.7 * r, 0.6 * r));
    ctx.lineTo(...at(-0.3 * r, 0));
    ctx.lineTo(...at(-0.7 * r, -0.6 * r));
    ctx.closePath();
    ctx.fillStyle = p.stale ? COLORS.stale : COLORS.rover;
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    ctx.strokeStyle = COLORS.bg;
    ctx.stroke();
    ctx.fillStyle = COLORS.station;
    ctx.font = "600 13px system-ui, sans-serif";
    ctx.fillText(st.ctx.spacecraft + (p.stale ? " (stale)" : ""), px + 16, py - 12);
    c.dataset.roverPx = `${px.toFixed(1)},${py.toFixed(1)}`;
  } else {
    delete c.dataset.roverPx;
  }
  // scale bar
  const targetM = 120 / view.scale;
  const pow = 10 ** Math.floor(Math.log10(targetM));
  const lenM = [1, 2, 5, 10].map((k) => k * pow).filter((m) => m <= targetM).pop() || pow;
  const lenPx = lenM * view.scale;
  ctx.strokeStyle = COLORS.scale;
  ctx.fillStyle = COLORS.scale;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(16, hh - 18); ctx.lineTo(16 + lenPx, hh - 18);
  ctx.moveTo(16, hh - 23); ctx.lineTo(16, hh - 13);
  ctx.moveTo(16 + lenPx, hh - 23); ctx.lineTo(16 + lenPx, hh - 13);
  ctx.stroke();
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText(`${lenM} m`, 20, hh - 26);
  c.dataset.drawn = st.image ? "site" : "site-frame";
}

function sitePanel(st) {
  const p = st.pose;
  const f = st.site.route.features[0];
  const props = f ? f.properties : {};
  put(st.panel,
    h("h3", {}, `${st.ctx.spacecraft} (estimated pose)`),
    h("dl", { class: "pg-kv mp-kv" }, kv([
      ["x", fmt(p.x, 2, "m"), "rover-x"],
      ["y", fmt(p.y, 2, "m"), "rover-y"],
      ["heading", fmt(p.heading, 1, "°"), "rover-heading"],
      ["sample", p.time ? utc(p.time).replace(/(\.\d{3})\d*Z$/, "$1Z") : "no telemetry yet", "rover-time"],
      ["state", p.stale ? "stale: no housekeeping within its expected period" : p.time ? "live" : "—", "rover-state"],
    ])),
    h("h3", {}, "Plan"),
    h("dl", { class: "pg-kv mp-kv" }, kv(f ? [
      ["route", props.file],
      ["length", fmt(props.length_m, 1, "m")],
      ["depart", props.depart ? utc(props.depart) : "—"],
      ["arrive", props.arrive ? utc(props.arrive) : "—"],
    ] : [["route", "no route among the plans"]])),
    h("h3", {}, "Overlays"),
    h("dl", { class: "pg-kv mp-kv" }, kv([
      ["for", utc(st.site.overlays[0]?.time).replace(/\.\d+/, ""), "overlay-time"],
      ...st.site.overlays.map((o) => [o.name, o.label]),
    ])),
    h("h3", {}, "Map"),
    h("dl", { class: "pg-kv mp-kv" }, kv([
      ["grid", `${st.site.shape[1]} × ${st.site.shape[0]} cells of ${st.site.resolution_m} m`],
      ["projection", st.site.crs.name],
      ["pointer", st.hover ? `x ${fmt(st.hover[0], 1)}  y ${fmt(st.hover[1], 1)} m` : "—", "pointer"],
    ])));
}

async function loadOverlays(st) {
  for (const o of st.site.overlays) {
    if (!st.layers[o.name] || st.overlayImages.has(o.url)) continue;
    try {
      const img = await fetchImage(o.url);
      if (S !== st) return;
      st.overlayImages.set(o.url, img);
      st.view.request();
    } catch (err) {
      if (S === st) st.error.textContent = `overlay ${o.name}: ${err.message}`;
    }
  }
}

const TRAIL_MAX = 20_000;
const TRAIL_HOURS = 12;

/** Add a position to the trail, in time order (x and y of one packet share its time). */
function addTrail(st, x, y, tNs) {
  const tr = st.trail;
  const last = tr[tr.length - 1];
  if (last && tNs <= last[2]) return; // already there (history and live overlap)
  if (!last || last[0] !== x || last[1] !== y) tr.push([x, y, tNs]);
  else last[2] = tNs;
  if (tr.length > TRAIL_MAX) tr.splice(0, tr.length - TRAIL_MAX);
}

function setSample(st, sample) {
  const p = st.pose;
  const names = st.site.pose;
  const v = Number(sample.eng);
  const t = Number(sample.time_ns);
  if (sample.parameter === names.x_m) [p.x, p.tx] = [v, t];
  else if (sample.parameter === names.y_m) [p.y, p.ty] = [v, t];
  else if (sample.parameter === names.heading_deg) p.heading = v;
  else return;
  p.time = sample.time || (Number.isFinite(t) ? new Date(t / 1e6).toISOString() : p.time);
  p.stale = false;
  if (p.tx === p.ty && Number.isFinite(p.x) && Number.isFinite(p.y)) addTrail(st, p.x, p.y, p.tx);
  st.dirty = true;
}

/** The rover's archived positions of the last TRAIL_HOURS (run clock): where it has been. */
async function loadTrail(st) {
  const short = (q) => q.split("/").pop();
  const stop = st.site.now_ns + 60e9;
  const query = {
    start: new Date((st.site.now_ns - TRAIL_HOURS * 3600e9) / 1e6).toISOString(),
    stop: new Date(stop / 1e6).toISOString(),
    limit: TRAIL_MAX,
  };
  try {
    const [xs, ys] = await Promise.all([st.site.pose.x_m, st.site.pose.y_m].map((q) =>
      st.ctx.api(scPath(st.ctx, `parameters/${encodeURIComponent(short(q))}/history`), { query })));
    if (S !== st) return;
    const yAt = new Map(ys.time_ns.map((t, i) => [t, ys.eng[i]]));
    const past = [];
    xs.time_ns.forEach((t, i) => {
      const y = yAt.get(t);
      if (y !== undefined && Number.isFinite(Number(xs.eng[i])) && Number.isFinite(Number(y))) {
        past.push([Number(xs.eng[i]), Number(y), t]);
      }
    });
    const live = st.trail;
    st.trail = [];
    for (const [x, y, t] of past) addTrail(st, x, y, t);
    for (const [x, y, t] of live) addTrail(st, x, y, t);
    st.view.request();
  } catch (err) {
    if (S === st) st.error.textContent = `rover trail: ${err.message}`;
  }
}

async function loadPose(st) {
  const names = Object.values(st.site.pose);
  try {
    const latest = await st.ctx.api(scPath(st.ctx, "parameters/latest"), { query: { names } });
    if (S !== st) return;
    for (const s of latest) setSample(st, s);
    sitePanel(st);
    st.view.request();
  } catch (err) {
    if (S === st) st.error.textContent = `rover position: ${err.message}`;
  }
}

function onPose(st, m) {
  if (S !== st) return;
  if (m.type === "parameter") {
    const d = m.data;
    const n = d.time_ns.length;
    if (!n) return;
    for (let i = 0; i < n; i++) setSample(st, { parameter: d.parameter, eng: d.eng[i], time_ns: d.time_ns[i] });
  } else if (m.type === "staleness") {
    if (Object.values(st.site.pose).includes(m.data.parameter) && m.data.expired) {
      st.pose.stale = true;
      st.dirty = true;
    }
  } else if (m.type === "reconnected" || m.type === "gap") {
    loadPose(st);
  }
}

async function refreshSite(st) {
  try {
    const site = await st.ctx.api(st.info.site);
    if (S !== st) return;
    const changed = site.overlays.some((o, i) => o.url !== st.site.overlays[i]?.url);
    st.site = site;
    if (changed) {
      st.overlayImages.clear();
      await loadOverlays(st);
    }
    sitePanel(st);
  } catch (err) {
    if (S === st) st.error.textContent = `site: ${err.message}`;
  }
}

async function mountSite(st) {
  st.layers = { route: true, lit: false, earth: false };
  st.pose = { x: NaN, y: NaN, heading: NaN, tx: NaN, ty: NaN, time: null, stale: false };
  st.trail = [];
  st.overlayImages = new Map();
  st.site = await st.ctx.api(st.info.site);
  if (S !== st) return;
  const b = st.site.bounds_m;
  const canvas = h("canvas", { class: "mp-canvas", tabindex: "0", "aria-label": `${st.ctx.spacecraft} site map`, "data-test": "map-canvas" });
  st.view = new View(canvas, { x0: b.x_min, x1: b.x_max, y0: b.y_min, y1: b.y_max }, drawSite);
  st.view.onHover = (x, y) => {
    st.hover = [x, y];
    const el = st.panel.querySelector("[data-test=pointer]");
    if (el) el.textContent = `x ${fmt(x, 1)}  y ${fmt(y, 1)} m`;
  };
  st.panel = h("div", { class: "pg-card mp-side" });
  const layer = (name) => (on) => {
    st.layers[name] = on;
    loadOverlays(st);
    st.view.request();
  };
  st.el.append(
    toolbar(`${st.ctx.spacecraft}: site`, () => st.view, [
      toggle("route", "route", true, layer("route")),
      toggle("lit", "sunlit now", false, layer("lit")),
      toggle("earth", "Earth in view now", false, layer("earth")),
      h("button", { type: "button", "data-test": "to-rover", title: "centre on the rover, 8x",
        onclick: () => {
          if (!Number.isFinite(st.pose.x) || !Number.isFinite(st.pose.y)) return;
          const v = st.view;
          v.scale = v.fitScale * 8;
          [v.cx, v.cy] = [st.pose.x, st.pose.y];
          v.clamp();
          v.request();
        } }, "Rover"),
    ]),
    st.error,
    h("div", { class: "mp-body" }, h("div", { class: "mp-view" }, canvas), st.panel));
  st.ro = new ResizeObserver(() => st.view.resize());
  st.ro.observe(canvas);
  st.view.resize();
  sitePanel(st);
  try {
    st.image = await fetchImage(st.info.image);
  } catch (err) {
    if (S === st) st.error.textContent = `hillshade: ${err.message}`;
  }
  if (S !== st) return;
  st.view.request();
  if (st.site.pose) {
    const query = Object.values(st.site.pose).map((n) => `names=${encodeURIComponent(n)}`).join("&");
    st.ctx.ws(scPath(st.ctx, `ws/parameters?${query}`), (m) => {
      for (const one of Array.isArray(m) ? m : [m]) onPose(st, one);
    });
    await loadPose(st);
    await loadTrail(st);
  }
  const speed = st.site.speed || 1;
  const everyMs = Math.max(10_000, (st.site.overlay_bucket_s * 1000) / speed);
  st.timers.push(setInterval(() => refreshSite(st), everyMs));
  st.timers.push(setInterval(() => {
    if (S !== st || !st.dirty) return;
    st.dirty = false;
    sitePanel(st);
    st.view.request();
  }, 250));
}

// ------------------------------------------------------------------ the Moon

const POLAR_EDGE_COLAT_DEG = 30; // the polar view shows 60°S to the pole

/** World x, y of a selenographic point: lon/lat, or south-polar stereographic (lon 0 up). */
function moonXY(st, la, lo) {
  if (!st.polar) return [lo, la];
  const c = ((90 + la) * Math.PI) / 180;
  const r = (2 * Math.tan(c / 2) * 180) / Math.PI;
  const a = (lo * Math.PI) / 180;
  return [r * Math.sin(a), r * Math.cos(a)];
}

function moonBounds(polar) {
  if (!polar) return { x0: -180, x1: 180, y0: -90, y1: 90 };
  const r = (2 * Math.tan((POLAR_EDGE_COLAT_DEG * Math.PI) / 360) * 180) / Math.PI;
  return { x0: -r, x1: r, y0: -r, y1: r };
}

function moonLine(ctx, st, view, lats, lons, from = 0, to = lats.length) {
  if (!st.polar) return lonLatPath(ctx, view, lats, lons, from, to);
  let open = false;
  for (let i = from; i < to; i++) {
    if (lats[i] === null || lons[i] === null || lats[i] > -90 + POLAR_EDGE_COLAT_DEG + 5) { open = false; continue; }
    const [x, y] = moonXY(st, lats[i], lons[i]);
    if (open) ctx.lineTo(view.sx(x), view.sy(y)); else ctx.moveTo(view.sx(x), view.sy(y));
    open = true;
  }
}

function drawMoon(ctx, view) {
  const st = S;
  if (!st || st.kind !== "moon") return;
  ctx.fillStyle = COLORS.bg;
  ctx.fillRect(0, 0, view.w, view.h);
  ctx.strokeStyle = COLORS.grid;
  ctx.fillStyle = COLORS.gridText;
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  ctx.beginPath();
  if (st.polar) {
    for (let la = -90 + POLAR_EDGE_COLAT_DEG; la < -89; la += 5) {
      const r = moonXY(st, la, 0)[1];
      ctx.moveTo(view.sx(r), view.sy(0));
      ctx.arc(view.sx(0), view.sy(0), r * view.scale, 0, 2 * Math.PI);
    }
    for (let lo = -180; lo < 180; lo += 30) {
      const [x, y] = moonXY(st, -90 + POLAR_EDGE_COLAT_DEG, lo);
      ctx.moveTo(view.sx(0), view.sy(0));
      ctx.lineTo(view.sx(x), view.sy(y));
    }
  } else {
    for (let lo = -180; lo <= 180; lo += 30) { ctx.moveTo(view.sx(lo), view.sy(90)); ctx.lineTo(view.sx(lo), view.sy(-90)); }
    for (let la = -90; la <= 90; la += 30) { ctx.moveTo(view.sx(-180), view.sy(la)); ctx.lineTo(view.sx(180), view.sy(la)); }
  }
  ctx.stroke();
  if (st.polar) {
    for (let la = -85; la >= -90 + POLAR_EDGE_COLAT_DEG; la -= 5) {
      const [x, y] = moonXY(st, la, 0);
      ctx.fillText(`${la}°`, view.sx(x) + 3, view.sy(y) - 3);
    }
  } else {
    for (let la = -60; la <= 60; la += 30) ctx.fillText(`${la}°`, view.sx(-180) + 4, view.sy(la) - 3);
  }
  const track = st.track;
  if (!track) return;
  const here = positionAt(track, simNowNs(st));
  const split = here ? Math.min(track.count, Math.max(0, Math.floor(here.k) + 1)) : track.count;
  ctx.lineWidth = 2;
  ctx.strokeStyle = COLORS.past;
  ctx.beginPath();
  moonLine(ctx, st, view, track.lat_deg, track.lon_deg, 0, split);
  ctx.stroke();
  ctx.strokeStyle = COLORS.future;
  ctx.beginPath();
  moonLine(ctx, st, view, track.lat_deg, track.lon_deg, Math.max(0, split - 1), track.count);
  ctx.stroke();
  const mark = (la, lo, colour, label, size) => {
    const [x, y] = moonXY(st, la, lo);
    const px = view.sx(x), py = view.sy(y);
    ctx.fillStyle = colour;
    ctx.fillRect(px - size / 2, py - size / 2, size, size);
    if (label) { ctx.fillStyle = COLORS.station; ctx.fillText(label, px + 6, py - 4); }
  };
  for (const m of track.landmarks || []) mark(m.lat_deg, m.lon_deg, COLORS.station, m.name, 6);
  for (const w of track.imaging || []) {
    if (w.centre && w.centre.lat_deg !== null) mark(w.centre.lat_deg, w.centre.lon_deg, COLORS.circle, "", 8);
  }
  const c = view.canvas;
  c.dataset.trackPoints = String(track.count);
  c.dataset.pastPoints = String(split);
  c.dataset.projection = st.polar ? "south-polar" : "latlon";
  if (here) {
    const [x, y] = moonXY(st, here.lat, here.lon);
    const px = view.sx(x), py = view.sy(y);
    ctx.beginPath();
    ctx.arc(px, py, 7, 0, 2 * Math.PI);
    ctx.fillStyle = COLORS.spacecraft;
    ctx.fill();
    ctx.fillStyle = COLORS.station;
    ctx.font = "600 13px system-ui, sans-serif";
    ctx.fillText(st.ctx.spacecraft, px + 11, py + 4);
    c.dataset.spacecraftPx = `${px.toFixed(1)},${py.toFixed(1)}`;
  } else {
    delete c.dataset.spacecraftPx;
  }
  c.dataset.drawn = "moon";
}

function moonPanel(st) {
  const track = st.track;
  const now = track ? simNowNs(st) : null;
  const here = track ? positionAt(track, now) : null;
  put(st.panel,
    h("h3", {}, "Now (run clock)"),
    h("dl", { class: "pg-kv mp-kv" }, kv([
      ["UTC", now ? utc(new Date(now / 1e6).toISOString()).replace(/\.\d+/, "") : "—", "sc-time"],
      ["latitude", fmt(here?.lat, 3, "°"), "sc-lat"],
      ["longitude", fmt(here?.lon, 3, "°"), "sc-lon"],
      ["height", fmt(here?.height, 1, "km"), "sc-height"],
    ])),
    h("h3", {}, "Track"),
    h("dl", { class: "pg-kv mp-kv" }, kv([
      ["ephemeris", st.info.oem],
      ["frame", "MOON_ME, selenocentric"],
      ["points", track ? `${track.count} every ${track.step_s} s` : "—", "track-points"],
      ["imaging windows", track ? String((track.imaging || []).length) : "—"],
    ])),
    h("p", { class: "pg-muted mp-note" }, "No lunar imagery ships with falak: a lat/lon grid only."));
}

async function loadMoonTrack(st) {
  try {
    const track = await st.ctx.api(`${st.info.groundtrack}?step_s=30`);
    if (S !== st) return;
    st.track = track;
    st.fetchedAt = performance.now();
    st.error.textContent = track.lat_deg.some((v) => v !== null) ? "" : `no track: the OEM ${st.info.oem} does not cover these times`;
    moonPanel(st);
    st.view.request();
  } catch (err) {
    if (S === st) st.error.textContent = `Moon track: ${err.message}`;
  }
}

async function mountMoon(st) {
  st.polar = true; // most of this mission is near the south pole
  const canvas = h("canvas", { class: "mp-canvas", tabindex: "0", "aria-label": `${st.ctx.spacecraft} track over the Moon`, "data-test": "map-canvas" });
  st.view = new View(canvas, moonBounds(st.polar), drawMoon);
  st.panel = h("div", { class: "pg-card mp-side" });
  st.el.append(
    toolbar(`${st.ctx.spacecraft}: track over the Moon`, () => st.view, [
      toggle("polar", "South pole", true, (on) => {
        st.polar = on;
        st.view.bounds = moonBounds(on);
        st.view.fitted = false;
        st.view.w = 0;
        st.view.resize();
        st.view.fit();
      }),
      h("span", { class: "mp-legend" },
        h("i", { class: "mp-swatch", style: `background:${COLORS.past}` }), "past",
        h("i", { class: "mp-swatch", style: `background:${COLORS.future}` }), "next",
        h("i", { class: "mp-swatch", style: `background:${COLORS.circle}` }), "imaging"),
    ]),
    st.error,
    h("div", { class: "mp-body" }, h("div", { class: "mp-view" }, canvas), st.panel));
  st.ro = new ResizeObserver(() => st.view.resize());
  st.ro.observe(canvas);
  st.view.resize();
  moonPanel(st);
  await loadMoonTrack(st);
  st.timers.push(setInterval(() => {
    if (S !== st) return;
    st.view.request();
    moonPanel(st);
    if (st.track && performance.now() - st.fetchedAt > TRACK_REFRESH_MS) loadMoonTrack(st);
  }, 1000));
}

// ------------------------------------------------------------------ the page

export async function mount(el, ctx) {
  const root = h("div", { class: "pg-maps" });
  el.append(root);
  const st = { ctx, el: root, timers: [], error: h("p", { class: "error mp-error", role: "alert" }) };
  S = st;
  const info = await ctx.api(scPath(ctx, "map"));
  if (S !== st) return;
  st.info = info;
  st.kind = info.kind;
  if (info.kind === "earth") await mountEarth(st);
  else if (info.kind === "site") await mountSite(st);
  else if (info.kind === "moon") await mountMoon(st);
  else {
    root.append(h("div", { class: "pg-toolbar mp-bar" }, h("h2", {}, `${ctx.spacecraft}: no map`)),
      h("p", { class: "na", "data-test": "no-map" }, info.detail || `no ${info.kind} map in this console yet`));
  }
}

export function unmount() {
  if (!S) return;
  for (const t of S.timers) clearInterval(t);
  if (S.ro) S.ro.disconnect();
  S = null;
}
