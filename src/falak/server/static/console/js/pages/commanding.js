// Commanding: a form built from the MDB command's arguments (GET /console/commands), values
// checked in the browser before anything is sent (the server checks them again), a dry run that
// shows the packet's bytes, arming and confirmation of critical commands (only for a user who
// may arm), each verification stage's progress live (the commands WebSocket), and the command
// history with filters.

import {put, askDialog, fillBody, h, scPath, stream, utc, utcNs} from "./common.js";

let state = null;

// -- checking values in the browser ---------------------------------------------------------

function inRange(v, r) {
  if (!r) return true;
  if (r.min !== null && r.min !== undefined && (r.min_inclusive ? v < r.min : v <= r.min)) {
    return false;
  }
  return !(r.max !== null && r.max !== undefined && (r.max_inclusive ? v > r.max : v >= r.max));
}

function rangeText(r, unit) {
  if (!r) return "";
  const lo = r.min === null || r.min === undefined ? "-∞" : r.min;
  const hi = r.max === null || r.max === undefined ? "∞" : r.max;
  return `${r.min_inclusive === false ? "(" : "["}${lo} … ${hi}${r.max_inclusive === false ? ")" : "]"}`
    + (unit ? ` ${unit}` : "");
}

/** Check one field's text against its argument; return [value to send, error or null]. */
export function checkArgument(arg, text) {
  const s = String(text ?? "").trim();
  if (s === "") {
    return arg.default !== null && arg.default !== undefined
      ? [undefined, null] // the server fills the default
      : [undefined, "required (no default)"];
  }
  if (arg.kind === "integer") {
    const v = /^[-+]?0[xX][0-9a-fA-F]+$|^[-+]?0[bB][01]+$|^[-+]?0[oO][0-7]+$/.test(s)
      ? Number(s.replace(/^\+/, "")) : /^[-+]?\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isInteger(v)) return [undefined, `${s} is not an integer`];
    if (!inRange(v, arg.range)) return [undefined, `${s} is outside ${rangeText(arg.range, arg.unit)}`];
    if (arg.encoded_min !== undefined && (v < arg.encoded_min || v > arg.encoded_max)) {
      return [undefined, `${s} does not fit: ${arg.encoded_min} … ${arg.encoded_max}`];
    }
    return [v, null];
  }
  if (arg.kind === "float") {
    const v = Number(s);
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) || !Number.isFinite(v)) {
      return [undefined, `${s} is not a number`];
    }
    if (!inRange(v, arg.range)) return [undefined, `${s} is outside ${rangeText(arg.range, arg.unit)}`];
    return [v, null];
  }
  if (arg.kind === "enumeration" || arg.kind === "boolean") {
    if (!arg.labels.includes(s)) return [undefined, `${s} is not one of ${arg.labels.join(", ")}`];
    return [s, null];
  }
  if (arg.kind === "binary" && !/^([0-9a-fA-F]{2})*$/.test(s.replace(/\s+/g, ""))) {
    return [undefined, "give the bytes as hex, two digits a byte"];
  }
  if (arg.kind === "array") {
    try {
      const v = JSON.parse(s);
      if (!Array.isArray(v)) throw new Error("not a list");
      return [v, null];
    } catch {
      return [undefined, "give a JSON list, e.g. [1, 2, 3]"];
    }
  }
  return [s, null];
}

function hexBytes(hex) {
  return String(hex || "").replace(/(..)/g, "$1 ").trim().toUpperCase();
}

// -- the form ---------------------------------------------------------------------------------

function field(arg) {
  const id = `arg-${arg.name}`;
  let input;
  if (arg.kind === "enumeration" || arg.kind === "boolean") {
    input = h("select", {id, name: arg.name},
      arg.default === null || arg.default === undefined
        ? h("option", {value: ""}, "— choose —") : null,
      arg.labels.map((l) => h("option", {value: l}, l)));
    if (arg.default !== null && arg.default !== undefined) input.value = arg.default;
  } else {
    input = h("input", {id, name: arg.name, type: "text", autocomplete: "off", spellcheck: "false",
      inputmode: arg.kind === "integer" || arg.kind === "float" ? "decimal" : undefined,
      placeholder: arg.default !== null && arg.default !== undefined ? `default ${arg.default}` : ""});
  }
  const hint = [arg.kind, rangeText(arg.range, arg.unit) || (arg.unit || ""),
    arg.description || ""].filter(Boolean).join(" · ");
  const error = h("span", {class: "pg-error", id: `${id}-error`, "aria-live": "polite"});
  const check = () => {
    const [, err] = checkArgument(arg, input.value);
    error.textContent = err || "";
    input.setAttribute("aria-invalid", err ? "true" : "false");
    return err;
  };
  input.addEventListener("input", check);
  input.addEventListener("change", check);
  return {arg, input, check, node: h("label", {class: "pg-field"},
    h("span", {class: "pg-field-name"}, arg.name), input,
    h("span", {class: "pg-hint"}, hint), error)};
}

function readForm() {
  const args = {};
  let ok = true;
  for (const f of state.fields) {
    if (f.check()) {
      ok = false;
      continue;
    }
    const [v] = checkArgument(f.arg, f.input.value);
    if (v !== undefined) args[f.arg.name] = v;
  }
  return ok ? args : null;
}

function chooseCommand(name) {
  const cmd = state.forms.commands.find((c) => c.name === name);
  state.command = cmd || null;
  state.fields = cmd ? cmd.arguments.map(field) : [];
  put(state.dryOut, );
  if (!cmd) {
    put(state.formBody, h("p", {class: "pg-muted"}, "Choose a command."));
    return;
  }
  const crit = cmd.needs_arming;
  put(state.formBody, 
    h("div", {class: "pg-cmd-head"},
      h("h3", {class: "pg-mono"}, cmd.qualified_name),
      cmd.significance !== "none"
        ? h("span", {class: `pg-badge sig-${cmd.significance}`}, cmd.significance.toUpperCase())
        : null),
    cmd.description ? h("p", {}, cmd.description) : null,
    crit ? h("p", {class: "pg-warn"}, `Critical: ${cmd.significance_reason || "must be armed and confirmed"}. `,
      state.forms.may_arm ? "You arm and confirm it after sending."
        : `It waits for a user with the role ${state.forms.arm_roles.join(" or ")} to arm it.`)
      : null,
    state.fields.length ? state.fields.map((f) => f.node) : h("p", {class: "pg-muted"}, "No arguments."),
    h("p", {class: "pg-muted"}, `Verification: ${cmd.verifiers.join(" → ") || "none"}`));
}

async function dryRun() {
  const s = state; // this page, even if it is unmounted meanwhile
  const args = readForm();
  if (!args) return s.ctx.toast("fix the marked arguments first", "error");
  try {
    const rec = await s.ctx.api(scPath(s.ctx, "commands/dry-run"),
      {method: "POST", body: {command: s.command.qualified_name, arguments: args}});
    const values = rec.arguments || {};
    put(s.dryOut, 
      h("h4", {}, `Dry run: ${(rec.binary || "").length / 2} bytes`),
      h("pre", {class: "pg-hex", id: "dry-run-hex"}, hexBytes(rec.binary)),
      h("dl", {class: "pg-kv"}, Object.entries(values).flatMap(([k, v]) =>
        [h("dt", {}, k), h("dd", {class: "pg-mono"}, JSON.stringify(v))])));
  } catch (err) {
    put(s.dryOut, h("p", {class: "pg-error", id: "dry-run-error"}, err.message));
  }
}

async function send() {
  const s = state; // this page, even if it is unmounted meanwhile
  const args = readForm();
  if (!args) return s.ctx.toast("fix the marked arguments first", "error");
  const cmd = s.command;
  try {
    const rec = await s.ctx.api(scPath(s.ctx, "commands"),
      {method: "POST", body: {command: cmd.qualified_name, arguments: args}});
    s.records.set(rec.id, rec);
    s.current = rec.id;
    s.ctx.toast(`command ${rec.id} ${cmd.name}: ${rec.state}`, "success");
    if (state === s) renderCurrent();
    if (state === s) renderHistory();
  } catch (err) {
    s.ctx.toast(err.message, "error");
    put(s.dryOut, h("p", {class: "pg-error", id: "send-error"}, err.message));
  }
}

async function armOrConfirm(id, action) {
  const s = state; // this page, even if it is unmounted meanwhile
  const rec = s.records.get(id);
  if (action === "confirm") {
    const v = await askDialog(`Confirm critical command ${id} ${short(rec.command)}`, [
      {name: "name", label: `Type ${short(rec.command)} to confirm`, required: true},
    ], "Confirm and release");
    if (!v) return;
    if (v.name.trim() !== short(rec.command)) {
      s.ctx.toast("the name typed does not match: not confirmed", "error");
      return;
    }
  }
  try {
    const out = await s.ctx.api(scPath(s.ctx, `commands/${id}/${action}`), {method: "POST"});
    s.records.set(out.id, {...rec, ...out});
    s.ctx.toast(`command ${id}: ${action === "arm" ? "armed" : "confirmed"}`, "success");
  } catch (err) {
    s.ctx.toast(err.message, "error");
  }
  if (state === s) renderCurrent();
  if (state === s) renderHistory();
}

async function cancel(id) {
  const s = state; // this page, even if it is unmounted meanwhile
  try {
    await s.ctx.api(scPath(s.ctx, `commands/${id}/cancel`), {method: "POST"});
  } catch (err) {
    s.ctx.toast(err.message, "error");
  }
}

function short(name) {
  return String(name || "").split("/").pop();
}

/** The buttons a queued command offers this user (arm, confirm, cancel). */
function controls(rec) {
  const out = [];
  const waiting = rec.state === "queued" || rec.state === "armed";
  if (!waiting) return out;
  if (state.forms.may_arm && rec.significance && needsArming(rec)) {
    if (rec.state === "queued") {
      out.push(h("button", {class: "danger", "data-action": "arm",
        onclick: () => armOrConfirm(rec.id, "arm")}, "ARM"));
    } else if (!rec.confirmed_by) {
      out.push(h("button", {class: "danger", "data-action": "confirm",
        onclick: () => armOrConfirm(rec.id, "confirm")}, "CONFIRM"));
    }
  }
  if (state.ctx.can("operator")) {
    out.push(h("button", {"data-action": "cancel", onclick: () => cancel(rec.id)}, "Cancel"));
  }
  return out;
}

function needsArming(rec) {
  const form = state.forms.commands.find((c) => c.qualified_name === rec.command);
  return form ? form.needs_arming : ["critical", "severe"].includes(rec.significance);
}

function stages(rec, withMessages = true) {
  const v = rec.verifiers || {};
  return h("ol", {class: "pg-stages"}, Object.entries(v).map(([stage, s]) =>
    h("li", {class: `out-${String(s.outcome).toLowerCase()}`, dataset: {stage, outcome: s.outcome}},
      h("span", {class: "pg-stage-name"}, stage), h("span", {class: "pg-stage-out"}, s.outcome),
      withMessages && s.message ? h("span", {class: "pg-muted"}, ` ${s.message}`) : null)));
}

function renderCurrent() {
  const rec = state.records.get(state.current);
  if (!rec) {
    put(state.currentBox, h("p", {class: "pg-muted"}, "No command sent from this page yet."));
    return;
  }
  put(state.currentBox, 
    h("div", {class: "pg-cmd-head"},
      h("h3", {}, `#${rec.id} ${short(rec.command)}`),
      h("span", {class: `pg-badge state-${rec.state}`, id: "current-state"}, rec.state)),
    rec.reason || rec.message ? h("p", {class: "pg-muted"}, rec.reason || rec.message) : null,
    stages(rec),
    h("div", {class: "pg-actions"}, controls(rec)));
  state.currentBox.dataset.state = rec.state;
}

function historyRow(rec) {
  return h("tr", {class: `state-${rec.state}`, dataset: {id: rec.id, state: rec.state}},
    h("td", {class: "pg-num"}, rec.id),
    h("td", {class: "pg-mono"}, rec.time ? utc(rec.time) : utcNs(rec.time_ns)),
    h("td", {class: "pg-mono"}, short(rec.command)),
    h("td", {class: "pg-mono pg-wrap"}, JSON.stringify(rec.requested_arguments || rec.arguments || {})),
    h("td", {}, rec.user),
    h("td", {}, rec.state),
    h("td", {}, stages(rec, false)),
    h("td", {class: "pg-actions"}, controls(rec)));
}

function renderHistory() {
  const f = state.filters;
  const text = f.command.value.trim().toLowerCase();
  const rows = [...state.records.values()]
    .filter((r) => !r.dry_run && r.state !== "dry_run")
    .filter((r) => (!text || String(r.command).toLowerCase().includes(text))
      && (!f.state.value || r.state === f.state.value)
      && (!f.user.value.trim() || r.user === f.user.value.trim()))
    .sort((a, b) => b.id - a.id)
    .slice(0, 300);
  fillBody(state.historyBody, rows.map(historyRow), "No commands", 8);
}

function onCommand(m) {
  if (!state) return;
  if (m.type === "reconnected") {
    loadHistory(); // what changed while the socket was down
    return;
  }
  if (m.type !== "command" || !m.data) return;
  const rec = m.data;
  state.records.set(rec.id, {...(state.records.get(rec.id) || {}), ...rec});
  state.renderSoon();
}

async function loadHistory() {
  const my = state; // an answer for a page unmounted meanwhile is dropped
  const ctx = my.ctx;
  try {
    const recs = await ctx.api(scPath(ctx, "commands?limit=300"));
    if (state !== my) return;
    for (const r of recs) state.records.set(r.id, {...(state.records.get(r.id) || {}), ...r});
  } catch (err) {
    ctx.toast(`history: ${err.message}`, "error");
    return;
  }
  state.renderSoon();
}

export async function mount(el, ctx) {
  const filters = {
    command: h("input", {type: "search", id: "history-command", placeholder: "command contains…"}),
    state: h("select", {id: "history-state", "aria-label": "State"},
      h("option", {value: ""}, "all states"),
      ["queued", "armed", "released", "completed", "failed", "rejected", "cancelled"]
        .map((s) => h("option", {value: s}, s))),
    user: h("input", {type: "search", id: "history-user", placeholder: "user"}),
  };
  const picker = h("select", {id: "command-select", "aria-label": "Command"});
  const search = h("input", {type: "search", id: "command-search", placeholder: "filter commands…"});
  const formBody = h("div", {class: "pg-form", id: "command-form"});
  const dryOut = h("div", {class: "pg-dry", id: "dry-run"});
  const currentBox = h("div", {class: "pg-current", id: "current-command"});
  const historyBody = h("tbody", {id: "history-rows"});
  const buttons = [h("button", {id: "dry-run-button", onclick: () => dryRun()}, "Dry run")];
  if (ctx.can("operator")) {
    buttons.push(h("button", {class: "primary", id: "send-button", onclick: () => send()}, "Send"));
  }
  state = {ctx, filters, picker, formBody, dryOut, currentBox, historyBody, records: new Map(),
    fields: [], command: null, current: null, forms: {commands: [], may_arm: false, arm_roles: []},
    subs: [], frame: null};
  state.renderSoon = () => {
    if (state.frame) return;
    state.frame = requestAnimationFrame(() => {
      if (!state) return;
      state.frame = null;
      renderCurrent();
      renderHistory();
    });
  };
  for (const f of Object.values(filters)) f.addEventListener("input", renderHistory);
  filters.state.addEventListener("change", renderHistory);

  put(el, h("div", {class: "pg pg-commanding"},
    h("section", {class: "pg-card pg-compose"},
      h("header", {class: "pg-toolbar"}, h("h2", {}, "Command"), search, picker),
      formBody,
      h("div", {class: "pg-actions"}, buttons),
      dryOut),
    h("section", {class: "pg-card"}, h("header", {class: "pg-toolbar"}, h("h2", {}, "Progress")),
      currentBox),
    h("section", {class: "pg-card pg-wide"},
      h("header", {class: "pg-toolbar"}, h("h2", {}, "History"),
        filters.command, filters.state, filters.user),
      h("div", {class: "pg-scroll"}, h("table", {class: "pg-table", id: "history-table"},
        h("thead", {}, h("tr", {}, ["#", "Issued (UTC)", "Command", "Arguments", "User", "State",
          "Verification", ""].map((t) => h("th", {}, t)))),
        historyBody)))));
  renderCurrent();

  const my = state;
  let forms;
  try {
    forms = await ctx.api(scPath(ctx, "console/commands"));
  } catch (err) {
    ctx.toast(`commands: ${err.message}`, "error");
    return;
  }
  if (state !== my) return;
  state.forms = forms;
  const fill = () => {
    const q = search.value.trim().toLowerCase();
    const chosen = picker.value;
    put(picker, h("option", {value: ""}, "— choose a command —"),
      state.forms.commands.filter((c) => !q || c.qualified_name.toLowerCase().includes(q))
        .map((c) => h("option", {value: c.name},
          `${c.name}${c.needs_arming ? "  ⚠ critical" : ""}`)));
    picker.value = chosen;
  };
  search.addEventListener("input", fill);
  picker.addEventListener("change", () => chooseCommand(picker.value));
  fill();
  chooseCommand("");

  await loadHistory();
  if (state !== my) return;
  state.subs.push(stream(ctx, "commands", onCommand));
}

export function unmount() {
  if (!state) return;
  state.subs.forEach((s) => s && s.close());
  if (state.frame) cancelAnimationFrame(state.frame);
  state = null;
}
