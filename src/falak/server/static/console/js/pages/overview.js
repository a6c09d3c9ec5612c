// Overview: every spacecraft the user may see, with its links (state, packet and byte
// rates), uplink, current alarms by severity, its light time and the times of its newest
// telemetry; UTC on top. Polled over REST every POLL_MS (the numbers are the server's
// own counters, so a missed poll loses nothing).

import { h } from "./common.js";

const POLL_MS = 2000;
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
  );
  return { el, counts, links, kv };
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
  if (!state) return;
  const { ctx } = state;
  let list;
  try {
    list = await ctx.api("spacecraft");
  } catch (err) {
    state.error.textContent = err.message;
    return;
  }
  state.error.textContent = "";
  const seen = new Set();
  for (const sc of list) {
    seen.add(sc.name);
    let entry = state.cards.get(sc.name);
    if (!entry) {
      entry = card(sc);
      state.cards.set(sc.name, entry);
      state.grid.append(entry.el);
    }
    const base = `spacecraft/${encodeURIComponent(sc.name)}/`;
    const [alarms, latest] = await Promise.all([
      ctx.api(`${base}alarms`).catch(() => null),
      state.tick % 3 === 0 || !entry.latest
        ? ctx.api(`${base}parameters/latest`).then(newest).catch(() => null)
        : Promise.resolve(entry.latest),
    ]);
    entry.latest = latest;
    if (!state) return;
    render(entry, sc, alarms, latest);
  }
  for (const [name, entry] of state.cards) {
    if (!seen.has(name)) {
      entry.el.remove();
      state.cards.delete(name);
    }
  }
  state.tick += 1;
}

function clock() {
  if (!state) return;
  const now = new Date().toISOString();
  state.utc.textContent = `${now.slice(0, 10)} ${now.slice(11, 19)} UTC`;
  state.doy.textContent = `day ${String(dayOfYear(new Date())).padStart(3, "0")}`;
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
  state = { ctx, utc, doy, error, grid, cards: new Map(), tick: 0, timers: [] };
  clock();
  state.timers.push(setInterval(clock, 200));
  await poll();
  state.timers.push(setInterval(poll, POLL_MS));
}

export function unmount() {
  if (!state) return;
  for (const t of state.timers) clearInterval(t);
  state = null;
}
