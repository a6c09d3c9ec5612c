// falak console: the shell (login, spacecraft selector, router, connection state, toasts).
//
// CONTRACT between the shell and the pages (W1 shell, W2 alarms/commanding/stacks):
//   A page is an ES module js/pages/NAME.js exporting mount(el, ctx) and optionally unmount().
//   The shell calls mount(el, ctx) with an emptied <section> whenever the page is shown or
//   the spacecraft changes (after calling the previous page's unmount()).
//   ctx = {
//     api(path, {method, body}) → parsed JSON (null for 204), or throws an Error whose message
//         is the server's detail (err.status: the HTTP status); path is relative to /api/v1,
//         e.g. "spacecraft/TIANGONG/alarms"; a 401 sends the user back to the login form;
//         optional {query: {name: value or [values]}} adds a query string;
//     ws(path, onMessage) → {close()}: a stream under /api/v1 (e.g.
//         "spacecraft/TIANGONG/ws/alarms"), reconnected with backoff; onMessage gets each
//         message ({seq, type, topic, data}) and, after a reconnect, {type: "reconnected"}
//         so the page catches up over REST; {type: "gap"} when seq jumped. The shell closes a
//         page's streams when the page goes, whether or not the page does;
//     user: {name, roles: {SPACECRAFT: [effective roles]} as GET /auth/me returns them};
//     spacecraft: the current spacecraft's name; spacecraftList: GET /spacecraft's answer;
//     can(role) → bool: the user holds role on the current spacecraft (roles include the
//         ones below them: viewer < operator < flight_director < admin);
//     toast(msg, kind): kind "info" | "success" | "warning" | "error";
//   }
//   Navigation: hash routes #/overview, #/parameters, #/alarms, #/commanding, #/stacks,
//   #/timeline, #/maps; a
//   page whose module does not load shows "not available". Colours: CSS variables of
//   css/console.css (--bg, --panel, --panel-2, --border, --fg, --muted, --accent, --ok,
//   --warn, --crit, --stale, --mono...); page styles may go in css/pages.css.
//   Keyboard: Alt+1..7 open the pages in the order of the bar.

import { api, onApiState, setToken, token } from "./api.js";
import { openStream } from "./ws.js";

const PAGES = ["overview", "parameters", "alarms", "commanding", "stacks", "timeline", "maps"];
const SC_KEY = "falak.spacecraft";

const $ = (id) => document.getElementById(id);
const shell = {
  user: null,
  spacecraftList: [],
  spacecraft: null,
  page: null, // {name, module, streams:Set}
  streams: new Map(), // stream id -> state
  reachable: true,
  nextStreamId: 1,
  mounting: 0,
};

export function toast(msg, kind = "info") {
  const el = document.createElement("div");
  el.className = `toast ${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.textContent = msg;
  $("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

function showConnection() {
  const el = $("conn");
  let state = "online";
  const states = [...shell.streams.values()];
  if (!shell.reachable) state = "offline";
  else if (states.some((s) => s === "retrying")) state = "reconnecting";
  else if (states.length && states.every((s) => s === "open")) state = "live";
  el.dataset.state = state;
  el.textContent = state;
  el.title = {
    live: "all live streams connected",
    online: "server reachable",
    reconnecting: "a live stream dropped: reconnecting",
    offline: "server unreachable",
  }[state];
}

function roleList(sc) {
  const roles = shell.user?.roles || {};
  return roles[sc] || [];
}

function makeCtx(streams) {
  return {
    api,
    ws(path, onMessage) {
      // a page gone (unmounted while it was still loading) opens no stream: nobody would
      // close it, and its messages would go to a page that is not shown
      if (streams.closed) return { close() {} };
      const id = shell.nextStreamId++;
      shell.streams.set(id, "connecting");
      const s = openStream(path, onMessage, {
        onState(state) {
          if (state === "closed") shell.streams.delete(id);
          else shell.streams.set(id, state);
          showConnection();
        },
        probe() {
          api("auth/me").catch(() => {});
        },
      });
      streams.add(s);
      return {
        close() {
          streams.delete(s);
          s.close();
        },
      };
    },
    user: shell.user,
    spacecraft: shell.spacecraft,
    spacecraftList: shell.spacecraftList,
    can: (role) => roleList(shell.spacecraft).includes(role),
    toast,
  };
}

function unmountPage() {
  const p = shell.page;
  if (!p) return;
  shell.page = null;
  try {
    if (p.module && typeof p.module.unmount === "function") p.module.unmount();
  } catch (err) {
    console.error("unmount failed", err);
  }
  p.streams.closed = true;
  for (const s of [...p.streams]) s.close();
}

function currentPage() {
  const m = location.hash.match(/^#\/([a-z]+)/);
  return m && PAGES.includes(m[1]) ? m[1] : "overview";
}

async function route() {
  if (!shell.user) return;
  const name = currentPage();
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  unmountPage();
  const ticket = ++shell.mounting;
  const el = $("page");
  el.replaceChildren();
  el.dataset.page = name;
  let module = null;
  try {
    module = await import(`./pages/${name}.js`);
  } catch (err) {
    console.warn(`page ${name} not loaded`, err);
  }
  if (ticket !== shell.mounting) return; // another route started meanwhile
  if (!module || typeof module.mount !== "function") {
    const na = document.createElement("p");
    na.className = "na";
    na.textContent = `The ${name} page is not available in this console yet.`;
    el.append(na);
    return;
  }
  const streams = new Set();
  shell.page = { name, module, streams };
  try {
    await module.mount(el, makeCtx(streams));
  } catch (err) {
    console.error(`page ${name} failed`, err);
    toast(`${name}: ${err.message}`, "error");
  }
}

function fillSpacecraft() {
  const sel = $("spacecraft");
  sel.replaceChildren();
  for (const sc of shell.spacecraftList) {
    const o = document.createElement("option");
    o.value = sc.name;
    o.textContent = sc.name;
    sel.append(o);
  }
  const saved = sessionStorage.getItem(SC_KEY);
  const names = shell.spacecraftList.map((s) => s.name);
  const byDefault = shell.spacecraftList.find((s) => s.default) || shell.spacecraftList[0];
  shell.spacecraft = names.includes(saved) ? saved : byDefault ? byDefault.name : null;
  sel.value = shell.spacecraft || "";
}

async function start() {
  try {
    const me = await api("auth/me");
    shell.user = { name: me.user, roles: me.spacecraft, base_roles: me.roles };
    shell.spacecraftList = await api("spacecraft");
  } catch (err) {
    showLogin(err.status === 401 ? "" : err.message);
    return;
  }
  $("login").hidden = true;
  $("bar").hidden = false;
  $("page").hidden = false;
  $("who").textContent = shell.user.name;
  fillSpacecraft();
  showConnection();
  await route();
}

function showLogin(message = "") {
  unmountPage();
  shell.user = null;
  $("bar").hidden = true;
  $("page").hidden = true;
  $("page").replaceChildren();
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login").elements.username.focus();
}

async function login(ev) {
  ev.preventDefault();
  const form = ev.target;
  $("login-error").textContent = "";
  try {
    const answer = await api("auth/token", {
      method: "POST",
      body: { username: form.elements.username.value, password: form.elements.password.value },
    });
    setToken(answer.access_token);
    form.elements.password.value = "";
    await start();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
}

async function logout() {
  try {
    await api("auth/logout", { method: "POST" });
  } catch {
    // the token may have expired already
  }
  setToken(null);
  showLogin("");
}

function tickUtc() {
  const now = new Date().toISOString();
  $("utc").textContent = `${now.slice(11, 19)} UTC`;
}

onApiState({
  onUnauthorized(detail) {
    setToken(null);
    if (shell.user) showLogin(`Logged out: ${detail}`);
  },
  onReachability(ok) {
    if (ok !== shell.reachable) {
      shell.reachable = ok;
      showConnection();
    }
  },
});

$("login").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
$("spacecraft").addEventListener("change", (ev) => {
  shell.spacecraft = ev.target.value;
  sessionStorage.setItem(SC_KEY, shell.spacecraft);
  route();
});
window.addEventListener("hashchange", route);
window.addEventListener("keydown", (ev) => {
  if (ev.altKey && !ev.ctrlKey && !ev.metaKey && /^[1-7]$/.test(ev.key)) {
    location.hash = `#/${PAGES[Number(ev.key) - 1]}`;
    ev.preventDefault();
  }
});
tickUtc();
setInterval(tickUtc, 200); // both UTC clocks turn within 0.2 s of the second
if (token()) start();
else showLogin("");
