// Helpers the alarms, commanding and stacks pages share (no framework, no build step).

/** Build an element: h("button", {class: "x", onclick: f}, "text", child...). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k === "value") node.value = v;
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** Replace a node's children (arrays flattened; null, undefined and false left out). */
export function put(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined
    && c !== false).map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return node;
}

/** The API path of a per-spacecraft resource of the current spacecraft. */
export function scPath(ctx, rest) {
  return ctx.spacecraft ? `spacecraft/${encodeURIComponent(ctx.spacecraft)}/${rest}` : rest;
}

/** Subscribe to a per-spacecraft stream; onMessage gets one message ({seq, type, data}). */
export function stream(ctx, name, onMessage) {
  return ctx.ws(scPath(ctx, `ws/${name}`), (m) => {
    if (Array.isArray(m)) m.forEach(onMessage);
    else onMessage(m);
  });
}

/** Call f at most once per wait_ms, after the last call (trailing edge). */
export function debounce(f, wait_ms) {
  let timer = null;
  const run = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => f(...args), wait_ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

/** ISO 8601 UTC as the console shows it: 2026-12-07 12:34:56Z (milliseconds dropped). */
export function utc(iso) {
  if (!iso) return "—";
  return String(iso).replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** ns since 1970 → the console's UTC text. */
export function utcNs(ns) {
  return ns === null || ns === undefined ? "—" : utc(new Date(Number(ns) / 1e6).toISOString());
}

export const LEVELS = ["NORMAL", "WATCH", "WARNING", "DISTRESS", "CRITICAL", "SEVERE"];

/** The rank of an alarm level name (NORMAL 0 ... SEVERE 5; unknown -1). */
export function levelRank(level) {
  return LEVELS.indexOf(String(level || "").toUpperCase());
}

/** Replace the children of a table body with rows, keeping the table (no layout jump). */
export function fillBody(tbody, rows, emptyText, columns) {
  put(tbody, rows);
  if (!rows.length) tbody.append(h("tr", {class: "empty"}, h("td", {colspan: columns}, emptyText)));
}

/** A modal dialog asking for fields; resolves to their values, or null when cancelled. */
export function askDialog(title, fields, okLabel) {
  return new Promise((resolve) => {
    const inputs = {};
    const form = h("form", {method: "dialog", class: "pg-dialog-form"},
      h("h3", {}, title),
      fields.map((f) => {
        const input = f.type === "textarea"
          ? h("textarea", {name: f.name, rows: 3, placeholder: f.placeholder || ""})
          : h("input", {name: f.name, type: f.type || "text", value: f.value ?? "",
            min: f.min, step: f.step, required: f.required, placeholder: f.placeholder || ""});
        inputs[f.name] = input;
        return h("label", {}, h("span", {}, f.label), input);
      }),
      h("div", {class: "pg-actions"},
        h("button", {type: "submit", value: "ok", class: "primary", "data-test": "dialog-ok"},
          okLabel || "OK"),
        h("button", {type: "submit", value: "cancel", formnovalidate: true}, "Cancel")));
    const dlg = h("dialog", {class: "pg-dialog"}, form);
    dlg.addEventListener("close", () => {
      const values = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value]));
      dlg.remove();
      resolve(dlg.returnValue === "ok" ? values : null);
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = Object.values(inputs)[0];
    if (first) first.focus();
  });
}
