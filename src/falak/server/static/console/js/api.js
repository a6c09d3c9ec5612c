// REST client of the console: every call goes to /api/v1 with the session's bearer token.
//
// api(path, {method, body}) → the parsed JSON answer (null for 204), or throws an Error whose
// message is the server's `detail` (and .status the HTTP status). A 401 on any call means the
// token expired or was revoked: the shell is told (onUnauthorized) and shows the login form.

const API = new URL("../../api/v1/", import.meta.url); // /console/js/api.js → /api/v1/
const TOKEN_KEY = "falak.token";

let unauthorized = () => {};
let reachability = () => {};

export function apiBase() {
  return API;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called on a 401 (the shell logs out) and on each success or network failure. */
export function onApiState({ onUnauthorized, onReachability }) {
  if (onUnauthorized) unauthorized = onUnauthorized;
  if (onReachability) reachability = onReachability;
}

function detailOf(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    // FastAPI validation errors: [{loc, msg}, ...]
    return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  }
  return `HTTP ${status}`;
}

export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(path.replace(/^\//, ""), API);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null) continue;
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, String(one));
    }
  }
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (exc) {
    reachability(false);
    const err = new Error(`server unreachable: ${exc.message}`);
    err.status = 0;
    throw err;
  }
  reachability(true);
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: text };
    }
  }
  if (!response.ok) {
    const err = new Error(detailOf(parsed, response.status));
    err.status = response.status;
    err.body = parsed;
    if (response.status === 401 && !path.startsWith("auth/token")) unauthorized(err.message);
    throw err;
  }
  return parsed;
}
