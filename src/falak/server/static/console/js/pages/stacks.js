// Command stacks: the list, loading one (paste or upload its YAML; the server checks it against
// the MDB and answers FILE:LINE: message), start (arming the critical steps when it has some
// and the user may arm), pause, resume, abort, and each step's progress: the step's state and
// its command's verification stages live from the commands WebSocket. There is no stacks
// stream: the page reads GET /stacks every second while it is shown.

import {put, fillBody, h, scPath, stream, utc, utcNs} from "./common.js";

const POLL_MS = 1000;
let state = null;

function short(name) {
  return String(name || "").split("/").pop();
}

/** The step numbers of a stack whose commands must be armed (from the console's forms). */
function criticalSteps(rec) {
  const arming = new Set(state.forms.commands.filter((c) => c.needs_arming)
    .flatMap((c) => [c.name, c.qualified_name]));
  return rec.steps.filter((s) => arming.has(s.command)).map((s) => s.index);
}

async function act(name, action) {
  const s = state; // this page, even if it is unmounted meanwhile
  const rec = s.stacks.find((x) => x.name === name);
  const body = {};
  if (action === "start" || action === "resume") {
    if (criticalSteps(rec).length) body.arm_critical = s.armCritical.checked;
  }
  try {
    const out = await s.ctx.api(scPath(s.ctx, `stacks/${encodeURIComponent(name)}/${action}`),
      {method: "POST", body});
    s.ctx.toast(`stack ${name}: ${out.state}`, "success");
  } catch (err) {
    s.ctx.toast(err.message, "error");
    put(s.message, h("p", {class: "pg-error", id: "stack-error"}, err.message));
  }
  await load();
}

async function loadStack() {
  const s = state; // this page, even if it is unmounted meanwhile
  const text = s.text.value;
  if (!text.trim()) return s.ctx.toast("paste or upload a stack's YAML first", "error");
  try {
    const rec = await s.ctx.api(scPath(s.ctx, "stacks"),
      {method: "POST", body: {text, file: s.fileName || "<console>"}});
    s.selected = rec.name;
    put(s.message, h("p", {class: "pg-ok", id: "stack-loaded"},
      `Loaded ${rec.name}: ${rec.steps.length} steps.`));
    s.ctx.toast(`stack ${rec.name} loaded`, "success");
  } catch (err) {
    put(s.message, h("pre", {class: "pg-error", id: "stack-error"}, err.message));
  }
  await load();
}

function stackRow(rec) {
  const done = rec.steps.filter((s) => !["pending", "released"].includes(s.state)).length;
  return h("tr", {class: `state-${rec.state}${rec.name === state.selected ? " selected" : ""}`,
    tabindex: 0, dataset: {name: rec.name, state: rec.state},
    onclick: () => { state.selected = rec.name; render(); },
    onkeydown: (e) => { if (e.key === "Enter") { state.selected = rec.name; render(); } }},
  h("td", {class: "pg-mono"}, rec.name),
  h("td", {}, rec.state),
  h("td", {class: "pg-num"}, `${done} / ${rec.steps.length}`),
  h("td", {class: "pg-num"}, rec.failed_steps),
  h("td", {}, rec.user || rec.loaded_by || ""),
  h("td", {class: "pg-mono"}, utcNs(rec.start_ns)));
}

function stagesOf(cmd) {
  if (!cmd || !cmd.verifiers) return null;
  return h("ol", {class: "pg-stages"}, Object.entries(cmd.verifiers).map(([stage, s]) =>
    h("li", {class: `out-${String(s.outcome).toLowerCase()}`, dataset: {stage, outcome: s.outcome}},
      h("span", {class: "pg-stage-name"}, stage), h("span", {class: "pg-stage-out"}, s.outcome))));
}

function stepRow(step) {
  const cmd = step.command_id !== undefined && step.command_id !== null
    ? state.commands.get(step.command_id) : null;
  const when = step.at ? utc(step.at) : `+${step.offset_s ?? 0} s`;
  return h("tr", {class: `step-${step.state}`, dataset: {index: step.index, state: step.state}},
    h("td", {class: "pg-num"}, step.index),
    h("td", {class: "pg-mono"}, short(step.command)),
    h("td", {class: "pg-mono pg-wrap"}, JSON.stringify(step.arguments || {})),
    h("td", {class: "pg-mono"}, when),
    h("td", {}, step.state),
    h("td", {class: "pg-num"}, step.command_id ?? ""),
    h("td", {}, stagesOf(cmd)),
    h("td", {class: "pg-wrap"}, step.reason || step.comment || ""));
}

function render() {
  fillBody(state.listBody, state.stacks.map(stackRow), "No stacks loaded", 6);
  const rec = state.stacks.find((s) => s.name === state.selected);
  if (!rec) {
    put(state.detail, h("p", {class: "pg-muted"}, "Choose a stack."));
    return;
  }
  const canRun = state.ctx.can("operator");
  const crit = criticalSteps(rec);
  const buttons = [];
  if (canRun) {
    const b = (action, label, cls) => h("button", {class: cls, "data-action": action,
      onclick: () => act(rec.name, action)}, label);
    if (!["running", "paused"].includes(rec.state)) buttons.push(b("start", "Start", "primary"));
    if (rec.state === "running") buttons.push(b("pause", "Pause"));
    if (rec.state === "paused") buttons.push(b("resume", "Resume", "primary"));
    if (["running", "paused"].includes(rec.state)) buttons.push(b("abort", "Abort", "danger"));
  }
  const armNote = crit.length
    ? h("p", {class: "pg-warn", id: "stack-critical"},
      `Steps ${crit.join(", ")} are critical. `,
      state.forms.may_arm
        ? h("label", {}, state.armCritical, " arm and confirm them as me")
        : `Only a user with the role ${state.forms.arm_roles.join(" or ")} can start this stack.`)
    : null;
  const steps = h("tbody", {id: "step-rows"});
  fillBody(steps, rec.steps.map(stepRow), "No steps", 8);
  put(state.detail, 
    h("div", {class: "pg-cmd-head"}, h("h3", {class: "pg-mono"}, rec.name),
      h("span", {class: `pg-badge state-${rec.state}`, id: "stack-state"}, rec.state)),
    rec.description ? h("p", {}, rec.description) : null,
    rec.reason ? h("p", {class: "pg-muted"}, rec.reason) : null,
    armNote,
    canRun ? h("div", {class: "pg-actions"}, buttons) : null,
    h("div", {class: "pg-scroll"}, h("table", {class: "pg-table", id: "step-table"},
      h("thead", {}, h("tr", {}, ["#", "Command", "Arguments", "Release", "State", "Command id",
        "Verification", "Reason / comment"].map((t) => h("th", {}, t)))),
      steps)));
  state.detail.dataset.state = rec.state;
}

async function load() {
  const my = state; // an answer for a page unmounted meanwhile is dropped
  if (!my) return;
  try {
    const stacks = await my.ctx.api(scPath(my.ctx, "stacks"));
    if (state !== my) return;
    state.stacks = stacks;
    if (!state.selected && stacks.length) state.selected = stacks[0].name;
    render();
  } catch (err) {
    my.ctx.toast(`stacks: ${err.message}`, "error");
  }
}

export async function mount(el, ctx) {
  const text = h("textarea", {id: "stack-text", rows: 10, spellcheck: "false",
    placeholder: "stack: my-stack\nsteps:\n  - command: NOOP\n    offset_s: 0"});
  const upload = h("input", {type: "file", id: "stack-file", accept: ".yaml,.yml,.json,text/yaml"});
  const armCritical = h("input", {type: "checkbox", id: "stack-arm-critical"});
  const message = h("div", {id: "stack-message", "aria-live": "polite"});
  const listBody = h("tbody", {id: "stack-rows"});
  const detail = h("div", {id: "stack-detail"});
  state = {ctx, text, armCritical, message, listBody, detail, stacks: [], selected: null,
    commands: new Map(), forms: {commands: [], may_arm: false, arm_roles: []}, fileName: null,
    subs: [], timers: []};
  upload.addEventListener("change", async () => {
    const f = upload.files[0];
    if (!f) return;
    text.value = await f.text();
    state.fileName = f.name;
  });
  text.addEventListener("input", () => { state.fileName = null; });

  put(el, h("div", {class: "pg pg-stacks"},
    h("section", {class: "pg-card"},
      h("header", {class: "pg-toolbar"}, h("h2", {}, "Stacks")),
      h("table", {class: "pg-table", id: "stack-table"},
        h("thead", {}, h("tr", {}, ["Name", "State", "Steps done", "Failed", "User",
          "Started (UTC)"].map((t) => h("th", {}, t)))),
        listBody)),
    ctx.can("operator") ? h("section", {class: "pg-card", id: "stack-load"},
      h("header", {class: "pg-toolbar"}, h("h2", {}, "Load a stack"), upload),
      text,
      h("div", {class: "pg-actions"},
        h("button", {class: "primary", id: "stack-load-button", onclick: () => loadStack()}, "Load")),
      message) : null,
    h("section", {class: "pg-card pg-wide"}, detail)));

  const my = state;
  try {
    const forms = await ctx.api(scPath(ctx, "console/commands"));
    if (state !== my) return;
    state.forms = forms;
  } catch (err) {
    ctx.toast(`commands: ${err.message}`, "error");
  }
  if (state !== my) return;
  state.subs.push(stream(ctx, "commands", (m) => {
    if (!state || m.type !== "command" || !m.data) return; // a reconnect: the poll catches up
    state.commands.set(m.data.id, m.data);
  }));
  state.timers.push(setInterval(load, POLL_MS));
  await load();
}

export function unmount() {
  if (!state) return;
  state.subs.forEach((s) => s && s.close());
  state.timers.forEach(clearInterval);
  state = null;
}
