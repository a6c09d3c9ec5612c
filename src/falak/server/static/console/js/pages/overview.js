// Overview: every spacecraft the user may see, with its links (state, packet and byte
// rates), uplink, current alarms by severity, its light time and the times of its newest
// telemetry, its mission clock (the run clock's UTC, GET /clock, and the light time) and
// its next contacts (passes, relay contacts and uplink windows of GET .../timeline); UTC
// on top. Polled over REST every POLL_MS (the numbers are the server's own counters, so a
// missed poll loses nothing); the contacts every CONTACTS_MS.

import { h } from "./common.js";

const POLL_MS = 2000;
const CONTACTS_MS = 30000;
const CONTACT_KINDS = ["pass", "contact", "uplink_window"];
const NEXT_CONTACTS = 3;
const SEVERITIES = ["WATCH", "WARNING", "DISTRESS", "CRITICAL", "SEVERE"];
let state = null;

function fmtRate(v, unit) {
  if (v === null || v === undefined) return "—";
  return unit ? `${v.toFixed(1)} ${unit}` : v.toFixed(1);
}

function age(iso) {
  if (!iso) return "never";
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (!Number.isFinite(s)) return "—";
  // a simulated run's clock (falak demo --epoch) is far from this computer's: show the time
  if (Math.abs(s) > 86400) return utcText(iso).slice(0, 19) + "Z";
  if (s < 0) return "0 s ago";
  if (s < 120) return `${s.toFixed(0)} s ago`;
  if (s < 7200) return `${(s / 60).toFixed(0)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

function utcText(iso) {
  return iso ? String(iso).replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1Z") : "—";
}

const UP_STATES = ["listening", "connected", "bound", "reading", "replaying"];

function linkClass(lk) {
  if (!lk.enabled) return "link-down";
  return UP_STATES.includes(lk.state) ? "link-up" : "link-down";
}

function card(sc) {
  const el = h("article", { class: "card ov-sc", "data-spacecraft": sc.name });
  const counts = h("div", { class: "ov-alarms" });
  const links = h("tbody");
  const kv = h("dl", { class: "ov-kv" });
  const clock = h("span", { class: "ov-clock num", "data-clock": sc.name }, "—");
  const next = h("ul", { class: "ov-next", "data-next": sc.name });
  el.append(
    h("h2", {}, sc.name, h("span", { class: "badge sc-state" }, "")),
    h("h3", { class: "muted" }, "Alarms"),
    counts,
    h("h3", { class: "muted" }, "Links"),
    h(
      "table",
      { class: "grid ov-links" },
      h("colgroup", {}, h("col", { style: "width:16%" }), h("col", { style: "width:20%" }),
        h("col", { style: "width:18%" }), h("col", { style: "width:20%" }),
        h("col", { style: "width:26%" })),
      h("thead", {}, h("tr", {}, h("th", {}, "link"), h("th", {}, "state"),
        h("th", { class: "num" }, "packets/s"), h("th", { class: "num" }, "bytes/s"),
        h("th", {}, "last packet"))),
      links,
    ),
    kv,
    h("h3", { class: "muted" }, "Mission clock"),
    clock,
    h("h3", { class: "muted" }, "Next contacts"),
    next,
  );
  return { el, counts, links, kv, clock, next, lightTime: sc.light_time_s || 0, contacts: null };
}

function render(entry, sc, alarms, latest) {
  const running = sc.processor_running;
  const badge = entry.el.querySelector(".sc-state");
  badge.textContent = running ? "processing" : "stopped";
  badge.className = `badge sc-state ${running ? "link-up" : "link-down"}`;
  const byLevel = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const a of alarms || []) if (a.level in byLevel) byLevel[a.level] += 1;
  entry.counts.replaceChildren(
    ...SEVERITIES.map((s) =>
      h("div", { class: `lvl-${s}${byLevel[s] ? "" : " zero"}`, "data-level": s },
        h("span", { class: "n" }, alarms ? String(byLevel[s]) : "—"), s.toLowerCase()),
    ),
  );
  entry.links.replaceChildren(
    ...sc.links.map((lk) =>
      h("tr", { "data-link": lk.name },
        h("td", {}, lk.name),
        h("td", { class: linkClass(lk) }, lk.enabled ? lk.state : "disabled"),
        h("td", { class: "num" }, fmtRate(lk.packets_per_s, "")),
        h("td", { class: "num" }, fmtRate(lk.bytes_per_s, "")),
        h("td", { class: "num", title: lk.last_reception || "" }, age(lk.last_reception))),
    ),
  );
  const lt = sc.light_time_s || 0;
  const rows = [
    ["light time", lt ? `${lt.toFixed(3)} s one way, ${(2 * lt).toFixed(3)} s round trip` : "0 s"],
    ["newest TM (spacecraft time)", utcText(latest?.time)],
    ["received at (run clock)", utcText(latest?.recv)],
    ["uplink", sc.uplink ? `${sc.uplink.name}: ${sc.uplink.sent} sent, ${sc.uplink.queued} queued${
      sc.uplink.errors ? `, ${sc.uplink.errors} errors` : ""}` : "none"],
  ];
  entry.kv.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function newest(samples) {
  let best = null;
  for (const s of samples || []) if (!best || s.time_ns > best.time_ns) best = s;
  if (!best) return null;
  let recv = null;
  for (const s of samples) if (s.recv_time_ns && (!recv || s.recv_time_ns > recv)) recv = s.recv_time_ns;
  return {
    time: best.time,
    recv: recv ? new Date(recv / 1e6).toISOString() : null,
  };
}

async function poll() {
  // the page may be left (or shown again) while a poll waits for the server: every step
  // after an await checks that its own mount is still the one shown
  const mine = state;
  if (!mine) return;
  const { ctx } = mine;
  let list;
  try {
    list = await ctx.api("spacecraft");
  } catch (err) {
    if (state === mine) mine.error.textContent = err.message;
    return;
  }
  if (state !== mine) return;
  mine.error.textContent = "";
  const seen = new Set();
  for (const sc of list) {
    seen.add(sc.name);
    let entry = mine.cards.get(sc.name);
    if (!entry) {
      entry = card(sc);
      mine.cards.set(sc.name, entry);
      mine.grid.append(entry.el);
    }
    entry.lightTime = sc.light_time_s || 0;
    const base = `spacecraft/${encodeURIComponent(sc.name)}/`;
    const [alarms, latest] = await Promise.all([
      ctx.api(`${base}alarms`).catch(() => null),
      mine.tick % 3 === 0 || !entry.latest
        ? ctx.api(`${base}parameters/latest`).then(newest).catch(() => null)
        : Promise.resolve(entry.latest),
    ]);
    if (state !== mine) return;
    entry.latest = latest;
    render(entry, sc, alarms, latest);
  }
  for (const [name, entry] of mine.cards) {
    if (!seen.has(name)) {
      entry.el.remove();
      mine.cards.delete(name);
    }
  }
  mine.tick += 1;
}

/** Run-clock now (ms): the last GET /clock, advanced at its speed (this computer's clock
 * until it is read). */
function runNow(s) {
  if (!s.runClock) return Date.now();
  return s.runClock.utcMs + s.runClock.speed * (performance.now() - s.runClock.readAt);
}

async function syncClock() {
  const mine = state;
  if (!mine) return;
  try {
    const c = await mine.ctx.api("clock");
    if (state !== mine) return;
    mine.runClock = { utcMs: c.utc_ns / 1e6, speed: c.speed, readAt: performance.now() };
  } catch {
    // the clock shows this computer's time until the server answers
  }
}

async function pollContacts() {
  const mine = state;
  if (!mine) return;
  const now = runNow(mine);
  const query = { start: new Date(now).toISOString(), end: new Date(now + 86400e3).toISOString() };
  for (const [name, entry] of mine.cards) {
    let body;
    try {
      body = await mine.ctx.api(`spacecraft/${encodeURIComponent(name)}/timeline`, { query });
    } catch {
      body = null;
    }
    if (state !== mine) return;
    entry.contacts = body ? body.items
      .filter((it) => CONTACT_KINDS.includes(it.kind))
      .map((it) => ({ ...it, t0: Date.parse(it.start), t1: Date.parse(it.end) }))
      .sort((a, b) => a.t0 - b.t0) : null;
  }
  renderContacts(mine);
}

function inText(ms) {
  const s = ms / 1000;
  if (s < 90) return `in ${s.toFixed(0)} s`;
  if (s < 5400) return `in ${(s / 60).toFixed(0)} min`;
  return `in ${(s / 3600).toFixed(1)} h`;
}

function renderContacts(s) {
  const now = runNow(s);
  for (const entry of s.cards.values()) {
    if (entry.contacts === null) {
      entry.next.replaceChildren(h("li", { class: "muted" }, "—"));
      continue;
    }
    const next = entry.contacts.filter((c) => c.t1 > now).slice(0, NEXT_CONTACTS);
    if (!next.length) {
      entry.next.replaceChildren(h("li", { class: "muted" }, "none in the next 24 h"));
      continue;
    }
    entry.next.replaceChildren(...next.map((c) => {
      const on = c.t0 <= now;
      const span = `${utcText(c.start).slice(11, 16)}–${utcText(c.end).slice(11, 16)}Z`;
      return h("li", { "data-kind": c.kind, title: `${c.kind}: ${c.start} – ${c.end}` },
        h("span", {}, c.label), h("span", {}, span),
        h("span", { class: on ? "when now" : "when" }, on ? "now" : inText(c.t0 - now)));
    }));
  }
}

function clock() {
  if (!state) return;
  const now = new Date().toISOString();
  state.utc.textContent = `${now.slice(0, 10)} ${now.slice(11, 19)} UTC`;
  state.doy.textContent = `day ${String(dayOfYear(new Date())).padStart(3, "0")}`;
  const run = new Date(runNow(state)).toISOString();
  const speed = state.runClock && state.runClock.speed !== 1 ? ` (run clock ×${state.runClock.speed})` : "";
  for (const entry of state.cards.values()) {
    const lt = entry.lightTime;
    entry.clock.textContent = `${run.slice(0, 10)} ${run.slice(11, 19)} UTC${speed}` +
      (lt ? ` · light time ${lt.toFixed(2)} s` : "");
  }
  state.clockTicks = (state.clockTicks || 0) + 1;
  if (state.clockTicks % 5 === 0) renderContacts(state); // once a second: "in N min" counts down
}

function dayOfYear(d) {
  return Math.floor((d - Date.UTC(d.getUTCFullYear(), 0, 0)) / 86400000);
}

export async function mount(el, ctx) {
  const utc = h("span", { class: "ov-utc", id: "ov-utc" }, "");
  const doy = h("span", { class: "muted num" }, "");
  const error = h("p", { class: "error", role: "alert" });
  const grid = h("div", { class: "ov-grid" });
  el.append(h("div", { class: "ov-top" }, utc, doy), error, grid);
  const mine = { ctx, utc, doy, error, grid, cards: new Map(), tick: 0, timers: [], runClock: null };
  state = mine;
  clock();
  mine.timers.push(setInterval(clock, 200));
  await Promise.all([poll(), syncClock()]);
  if (state !== mine) return; // left while the first poll was out
  mine.timers.push(setInterval(poll, POLL_MS));
  mine.timers.push(setInterval(syncClock, 10000));
  pollContacts();
  mine.timers.push(setInterval(pollContacts, CONTACTS_MS));
}

export function unmount() {
  if (!state) return;
  for (const t of state.timers) clearInterval(t);
  state = null;
}
