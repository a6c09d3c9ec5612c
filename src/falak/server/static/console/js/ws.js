// WebSocket streams of the console: reconnection with backoff, seq tracking, catch-up.
//
// openStream(path, onMessage, {onState, probe}) → {close()}.
//   path: relative to /api/v1, e.g. "spacecraft/TIANGONG/ws/parameters?names=BATT_V".
//   onMessage(msg): every message the server sends ({seq, type, topic, data}), one at a time.
//     After a reconnect it first gets {type: "reconnected", last_seq, down_ms}: whatever
//     happened while the socket was down was missed, so the page catches up from the REST
//     routes (latest values, history since its last time). A jump in seq within one
//     connection (the server dropped messages) is reported as {type: "gap", from, to}.
//   onState(state): "connecting" | "open" | "retrying" | "closed".
//   probe(): called when a connection fails before it opened (the server refuses a bad
//     token with HTTP 401, which a browser cannot read): the shell checks the token over REST.

import { apiBase, token } from "./api.js";

const BACKOFF_MS = [250, 500, 1000, 2000, 4000, 8000];

export function streamUrl(path) {
  const url = new URL(path.replace(/^\//, ""), apiBase());
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const t = token();
  if (t) url.searchParams.set("token", t);
  return url;
}

export function openStream(path, onMessage, { onState = () => {}, probe = () => {} } = {}) {
  let socket = null;
  let closed = false;
  let attempt = 0;
  let lastSeq = 0;
  let everOpened = false;
  let downSince = null;
  let timer = null;

  function deliver(msg) {
    try {
      onMessage(msg);
    } catch (err) {
      console.error("stream handler failed", path, err);
    }
  }

  function connect() {
    if (closed) return;
    onState(attempt === 0 && !everOpened ? "connecting" : "retrying");
    let opened = false;
    let seq = 0;
    socket = new WebSocket(streamUrl(path));
    socket.onopen = () => {
      opened = true;
      attempt = 0;
      onState("open");
      if (everOpened) {
        deliver({ type: "reconnected", last_seq: lastSeq, down_ms: Date.now() - downSince });
      }
      everOpened = true;
      downSince = null;
    };
    socket.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      for (const msg of Array.isArray(frame) ? frame : [frame]) {
        if (typeof msg.seq === "number") {
          if (seq && msg.seq !== seq + 1) deliver({ type: "gap", from: seq + 1, to: msg.seq - 1 });
          seq = msg.seq;
          lastSeq = msg.seq;
        }
        deliver(msg);
      }
    };
    socket.onclose = () => {
      socket = null;
      if (closed) return;
      if (downSince === null) downSince = Date.now();
      if (!opened) probe();
      onState("retrying");
      const wait = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
      attempt += 1;
      timer = setTimeout(connect, wait);
    };
  }

  connect();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      if (socket) socket.close(1000, "page closed");
      onState("closed");
    },
  };
}
