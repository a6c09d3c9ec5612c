// Alarms and events: the live alarm list (acknowledge with a comment, shelve, clear), filters
// by severity and source, the events list with its filters, and a cue on a new critical alarm
// (a flashing banner always; a WebAudio beep when the operator turns sound on, off by default).
//
// The alarms WebSocket says *that* something changed; the page then reads the active alarms
// from GET /alarms, so what it shows is always the server's state (also after a reconnect).

import {put, askDialog, debounce, fillBody, h, levelRank, LEVELS, scPath, stream, utc} from "./common.js";

const SOUND_KEY = "falak.console.alarmSound";
let state = null;

/** The subsystem an alarm's parameter belongs to: /TIANGONG/FURNACE/FURN_TEMP_C → FURNACE. */
function sourceOf(parameter) {
  const parts = String(parameter).split("/").filter(Boolean);
  return parts.length > 2 ? parts.slice(1, -1).join("/") : parts[0] || "";
}

function beep() {
  try {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    state.audio = state.audio || new Ctx();
    const ac = state.audio;
    const osc = ac.createOscillator();
    const gain = ac.createGain();
    osc.type = "square";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, ac.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, ac.currentTime + 0.6);
    osc.connect(gain).connect(ac.destination);
    osc.start();
    osc.stop(ac.currentTime + 0.6);
    state.beeps += 1;
  } catch (err) {
    console.warn("alarm beep failed", err);
  }
}

function cue(alarm) {
  const banner = state.banner;
  banner.textContent = `NEW ${alarm.level} ALARM: ${alarm.parameter} = ${alarm.value}`;
  banner.hidden = false;
  banner.classList.remove("pg-flash");
  void banner.offsetWidth; // restart the animation
  banner.classList.add("pg-flash");
  if (state.sound.checked) beep();
}

function alarmKey(a) {
  return `${a.parameter}@${a.trigger_time}`;
}

async function act(a, action) {
  const ctx = state.ctx;
  const path = scPath(ctx, `alarms/${a.parameter.replace(/^\//, "")}/${action}`);
  let body;
  if (action === "shelve") {
    const v = await askDialog(`Shelve ${a.parameter}`, [
      {name: "minutes", label: "Shelve for (minutes)", type: "number", value: 30, min: 1,
        step: "any", required: true},
      {name: "comment", label: "Comment", type: "textarea"},
    ], "Shelve");
    if (!v) return;
    body = {comment: v.comment, duration_s: Number(v.minutes) * 60};
  } else {
    const label = {acknowledge: "Acknowledge", clear: "Clear", unshelve: "Unshelve"}[action];
    const v = await askDialog(`${label} ${a.parameter}`, [
      {name: "comment", label: "Comment", type: "textarea"},
    ], label);
    if (!v) return;
    body = {comment: v.comment};
  }
  try {
    await ctx.api(path, {method: "POST", body});
    ctx.toast(`${action}: ${a.parameter}`, "success");
  } catch (err) {
    ctx.toast(err.message, "error");
  }
  if (state && state.ctx === ctx) state.reloadAlarms();
}

function alarmRow(a) {
  const ctx = state.ctx;
  const actions = [];
  if (ctx.can("operator")) {
    if (!a.acknowledged) {
      actions.push(h("button", {class: "primary", "data-action": "acknowledge",
        onclick: () => act(a, "acknowledge")}, "Ack"));
    }
    actions.push(a.state === "shelved"
      ? h("button", {"data-action": "unshelve", onclick: () => act(a, "unshelve")}, "Unshelve")
      : h("button", {"data-action": "shelve", onclick: () => act(a, "shelve")}, "Shelve"));
    actions.push(h("button", {"data-action": "clear", onclick: () => act(a, "clear")}, "Clear"));
  }
  const who = [
    a.acknowledged ? `${a.ack_user || ""}${a.ack_comment ? `: ${a.ack_comment}` : ""}` : "",
    a.shelved_until ? `shelved by ${a.shelve_user} until ${utc(a.shelved_until)}` : "",
  ].filter(Boolean).join("; ");
  return h("tr", {class: `lvl-${a.max_level.toLowerCase()} st-${a.state}`,
    dataset: {parameter: a.parameter, state: a.state}},
  h("td", {class: "pg-level"}, a.level === a.max_level ? a.level : `${a.level} (max ${a.max_level})`),
  h("td", {class: "pg-mono"}, a.parameter),
  h("td", {class: "pg-num"}, String(a.value)),
  h("td", {}, a.state),
  h("td", {class: "pg-mono"}, utc(a.trigger_time)),
  h("td", {}, who),
  h("td", {class: "pg-actions"}, actions));
}

function renderAlarms() {
  const min = Number(state.severity.value);
  const src = state.source.value;
  const shown = state.alarms.filter((a) => levelRank(a.max_level) >= min
    && (!src || sourceOf(a.parameter) === src)
    && (state.showShelved.checked || a.state !== "shelved"));
  fillBody(state.alarmBody, shown.map(alarmRow), "No active alarms", 7);
  state.alarmCount.textContent = `${shown.length} shown of ${state.alarms.length}`;
  const sources = [...new Set(state.alarms.map((a) => sourceOf(a.parameter)))].sort();
  syncOptions(state.source, sources);
}

/** Keep a filter select's options in step with the values seen (its choice kept). */
function syncOptions(select, values) {
  const have = [...select.options].slice(1).map((o) => o.value);
  const all = [...new Set([...have, ...values])].sort();
  if (all.join("\n") === have.join("\n")) return;
  const chosen = select.value;
  put(select, select.options[0], ...all.map((v) => h("option", {value: v}, v)));
  select.value = chosen;
}

async function loadAlarms() {
  const my = state; // an answer for a page unmounted meanwhile is dropped
  const ctx = my.ctx;
  let alarms;
  try {
    alarms = await ctx.api(scPath(ctx, "alarms"));
  } catch (err) {
    ctx.toast(`alarms: ${err.message}`, "error");
    return;
  }
  if (state !== my) return;
  for (const a of alarms) {
    const key = alarmKey(a);
    const critical = levelRank(a.max_level) >= levelRank("CRITICAL");
    if (state.loadedOnce && critical && !a.acknowledged && !state.cued.has(key)) cue(a);
    if (critical) state.cued.add(key);
  }
  state.loadedOnce = true;
  state.alarms = alarms;
  renderAlarms();
}

function eventRow(e) {
  return h("tr", {class: `sev-${String(e.severity).toLowerCase()}`},
    h("td", {class: "pg-mono"}, utc(e.time)),
    h("td", {}, e.severity),
    h("td", {}, e.source),
    h("td", {class: "pg-wrap"}, e.message));
}

async function loadEvents() {
  const my = state;
  const ctx = my.ctx;
  const q = new URLSearchParams({limit: "300"});
  if (state.evSource.value) q.set("source", state.evSource.value);
  let events;
  try {
    events = await ctx.api(scPath(ctx, `events?${q}`));
  } catch (err) {
    ctx.toast(`events: ${err.message}`, "error");
    return;
  }
  if (state !== my) return;
  syncOptions(state.evSource, events.map((e) => e.source));
  syncOptions(state.evSeverity, events.map((e) => String(e.severity)));
  const sev = state.evSeverity.value;
  const text = state.evText.value.trim().toLowerCase();
  const shown = events.filter((e) => (!sev || String(e.severity) === sev)
    && (!text || e.message.toLowerCase().includes(text))).reverse();
  fillBody(state.eventBody, shown.map(eventRow), "No events", 4);
}

export function mount(el, ctx) {
  const severity = h("select", {id: "alarm-severity", "aria-label": "Minimum severity"},
    LEVELS.slice(1).map((l, i) => h("option", {value: i + 1}, `${l} and worse`)));
  const source = h("select", {id: "alarm-source", "aria-label": "Source"},
    h("option", {value: ""}, "all sources"));
  const showShelved = h("input", {type: "checkbox", id: "alarm-show-shelved", checked: true});
  const sound = h("input", {type: "checkbox", id: "alarm-sound"});
  sound.checked = localStorage.getItem(SOUND_KEY) === "on";
  const evSource = h("select", {id: "event-source", "aria-label": "Event source"},
    h("option", {value: ""}, "all sources"));
  const evSeverity = h("select", {id: "event-severity", "aria-label": "Event severity"},
    h("option", {value: ""}, "all severities"));
  const evText = h("input", {type: "search", id: "event-text", placeholder: "message contains…"});
  const banner = h("div", {class: "pg-banner", id: "alarm-banner", role: "alert", hidden: true,
    onclick: () => { banner.hidden = true; }});
  const alarmBody = h("tbody", {id: "alarm-rows"});
  const eventBody = h("tbody", {id: "event-rows"});
  const alarmCount = h("span", {class: "pg-muted", id: "alarm-count"});

  state = {ctx, severity, source, showShelved, sound, evSource, evSeverity, evText, banner,
    alarmBody, eventBody, alarmCount, alarms: [], cued: new Set(), loadedOnce: false, beeps: 0,
    audio: null, subs: [], timers: []};
  state.reloadAlarms = debounce(loadAlarms, 150);
  state.reloadEvents = debounce(loadEvents, 300);

  severity.addEventListener("change", renderAlarms);
  source.addEventListener("change", renderAlarms);
  showShelved.addEventListener("change", renderAlarms);
  sound.addEventListener("change", () => {
    localStorage.setItem(SOUND_KEY, sound.checked ? "on" : "off");
    if (sound.checked) beep(); // lets the browser start audio on this click; a test tone
  });
  for (const f of [evSource, evSeverity]) f.addEventListener("change", () => loadEvents());
  evText.addEventListener("input", state.reloadEvents);

  put(el, h("div", {class: "pg pg-alarms"},
    banner,
    h("section", {class: "pg-card"},
      h("header", {class: "pg-toolbar"},
        h("h2", {}, "Active alarms"), alarmCount,
        h("label", {}, "Severity ", severity),
        h("label", {}, "Source ", source),
        h("label", {}, showShelved, " shelved"),
        h("label", {title: "Beep on a new critical alarm"}, sound, " sound")),
      h("table", {class: "pg-table", id: "alarm-table"},
        h("thead", {}, h("tr", {},
          ["Level", "Parameter", "Value", "State", "Triggered (UTC)", "Acknowledged / shelved",
            ""].map((t) => h("th", {}, t)))),
        alarmBody)),
    h("section", {class: "pg-card"},
      h("header", {class: "pg-toolbar"},
        h("h2", {}, "Events"),
        h("label", {}, "Source ", evSource),
        h("label", {}, "Severity ", evSeverity),
        evText),
      h("div", {class: "pg-scroll"},
        h("table", {class: "pg-table", id: "event-table"},
          h("thead", {}, h("tr", {},
            ["Time (UTC)", "Severity", "Source", "Message"].map((t) => h("th", {}, t)))),
          eventBody)))));

  state.subs.push(stream(ctx, "alarms", () => state && state.reloadAlarms()));
  state.subs.push(stream(ctx, "events", () => state && state.reloadEvents()));
  // the streams say when; this also heals anything missed while a socket was down
  state.timers.push(setInterval(() => state && loadAlarms(), 10000));
  loadAlarms();
  loadEvents();
}

export function unmount() {
  if (!state) return;
  state.subs.forEach((s) => s && s.close());
  state.timers.forEach(clearInterval);
  state.reloadAlarms.cancel();
  state.reloadEvents.cancel();
  if (state.audio) state.audio.close();
  state = null;
}

/** For tests: how many beeps were played since the page was mounted. */
export function beepsPlayed() {
  return state ? state.beeps : 0;
}
