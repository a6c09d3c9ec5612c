"""WebSocket streams: ``/ws/parameters``, ``/ws/alarms``, ``/ws/events``, ``/ws/commands``,
``/ws/links``, of the default spacecraft under ``/api/v1`` and of any under
``/api/v1/spacecraft/{sc}`` (an unknown one is refused with 404, one the user may not view
with 403, as the REST routes answer).

Authenticate with ``?token=TOKEN`` (browsers cannot set headers on WebSockets) or an
``Authorization: Bearer`` header; without a valid token the handshake is refused with an
HTTP 401 answer (``WWW-Authenticate: Bearer`` and a JSON ``detail``), as on the REST routes:
RFC 6455 §4.2.2 lets a server answer the opening handshake with any HTTP status, and 401 is
the one that means "no valid credentials". (The 403 that uvicorn sends for a socket closed
before it was accepted means "forbidden" and hid the reason.) Under a server without the
ASGI ``websocket.http.response`` extension the handshake is closed with code 1008 instead.
Every frame the server sends is a JSON array of messages::

    {"seq": 17, "type": "parameter", "topic": "/TESTSAT/BATT_V", "data": {...}}

``seq`` counts the messages of this connection 1, 2, 3...: a gap means messages were missed.
A client that reads too slowly is not buffered forever: once its bus queue (``maxsize``
messages, 10,000 by default) is full, or a frame has waited :data:`SEND_TIMEOUT_S` for its
socket, it is dropped, sent ``{"type": "closed", "reason": "slow subscriber: ..."}`` and the
socket closes with code 1013 (try again later); the other subscribers are not affected. Fetch
the gap from the REST history routes.

Frames are not compressed (see :func:`falak.server.app.uvicorn_config`); payloads are
JSON-encoded once for all subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from falak.archive import AlarmRecord
from falak.bus import Delivery, SubscriptionClosed
from falak.errors import FalakError
from falak.processor import ALARMS_TOPIC, EVENTS_TOPIC, ParameterValues
from falak.server.auth import User
from falak.server.routes.deps import forbidden, resolve_spacecraft
from falak.server.runtime import Runtime, SpacecraftRuntime
from falak.server.schemas import iso, jsonable

__all__ = ["router"]

router = APIRouter(prefix="/ws", tags=["streams"])

SEND_TIMEOUT_S = 5.0
"""A client that has not taken a frame within this time is dropped (its socket buffers are
full: it reads slower than the stream)."""

_LEVELS = ("NORMAL", "WATCH", "WARNING", "DISTRESS", "CRITICAL", "SEVERE")


def _level(v: int) -> str:
    return _LEVELS[v] if 0 <= v < len(_LEVELS) else str(v)


def _column(v: Any) -> Any:
    """A value column for orjson: plain numeric arrays as they are (orjson writes them
    natively), anything else (non-finite floats, strings, bytes, times) via ``jsonable``."""
    if isinstance(v, np.ndarray) and v.dtype.kind in "iub":
        return np.ascontiguousarray(v)
    if isinstance(v, np.ndarray) and v.dtype.kind == "f" and np.isfinite(v).all():
        return np.ascontiguousarray(v, dtype=np.float64)
    return jsonable(v)


def _data_of(d: Delivery) -> tuple[str, Any]:
    """(message type, data) of a delivery's payload; arrays may stay numpy (orjson)."""
    p = d.payload
    if isinstance(p, ParameterValues):
        sel = slice(None) if p.present is None else p.present
        status = (
            ["NORMAL"] * int(p.time_ns[sel].size)
            if p.status is None
            else [_level(int(v)) for v in p.status[sel]]
        )
        return "parameter", {
            "parameter": p.parameter,
            "time_ns": _column(p.time_ns[sel]),
            "recv_time_ns": _column(p.recv_time_ns[sel]),
            "raw": _column(p.raw[sel]),
            "eng": _column(p.eng[sel]),
            "status": status,
        }
    if isinstance(p, AlarmRecord):
        return "alarm", dataclasses.asdict(p) | {"time": iso(p.time_ns)}
    if d.topic == EVENTS_TOPIC and isinstance(p, tuple) and len(p) == 3:
        return "event", {"time_ns": p[0], "time": iso(p[0]), "severity": p[1], "message": p[2]}
    if dataclasses.is_dataclass(p) and not isinstance(p, type):
        return type(p).__name__.lower(), jsonable(dataclasses.asdict(p))
    return "message", jsonable(p)


def _dumps(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode()


class _EncodedCache:
    """JSON text of recent payloads: a payload published to many subscribers is encoded
    once (the event loop's thread only; the payload is kept so its id stays unique)."""

    def __init__(self, size: int = 16_384) -> None:
        self.size = size
        self._items: OrderedDict[int, tuple[Any, str]] = OrderedDict()

    def text(self, d: Delivery) -> str:
        key = id(d.payload)
        hit = self._items.get(key)
        if hit is not None and hit[0] is d.payload:
            body = hit[1]
        else:
            kind, data = _data_of(d)
            body = _dumps({"type": kind, "topic": d.topic, "data": data})[1:]
            self._items[key] = (d.payload, body)
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        return f'{{"seq":{d.seq},{body}'


_cache = _EncodedCache()


def _authenticate(ws: WebSocket, token: str | None) -> User | None:
    rt: Runtime = ws.app.state.runtime
    if token is None:
        header = ws.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:]
    return None if token is None else rt.tokens.lookup(token)


async def _open(ws: WebSocket, token: str | None) -> tuple[User, SpacecraftRuntime] | None:
    """The user and the spacecraft of a stream, or None once the handshake is refused: 401
    without a valid token, 404 for an unknown spacecraft, 403 without the viewer role on it."""
    user = _authenticate(ws, token)
    if user is None:
        await _refuse(ws, 401, NOT_AUTHENTICATED, "not authenticated: add ?token=TOKEN")
        return None
    try:
        sc = resolve_spacecraft(ws)
    except FalakError as exc:
        await _refuse(ws, 404, str(exc), "unknown spacecraft")
        return None
    refusal = forbidden(user, "viewer", sc)
    if refusal is not None:
        await _refuse(ws, 403, str(refusal.detail), "forbidden")
        return None
    return user, sc


NOT_AUTHENTICATED = (
    "not authenticated: add ?token=TOKEN or an 'Authorization: Bearer TOKEN' header "
    "(get a token with POST /api/v1/auth/token)"
)


async def _refuse(ws: WebSocket, status: int, detail: str, reason: str) -> None:
    """Refuse the handshake: HTTP ``status`` with ``detail`` where the server can send it,
    else close code 1008 with ``reason``."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        await ws.send_denial_response(JSONResponse({"detail": detail}, status, headers=headers))
    else:
        await ws.close(code=1008, reason=reason)


async def _until_disconnect(ws: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()


async def _serve(ws: WebSocket, produce: Callable[[], Awaitable[None]]) -> None:
    """Run ``produce`` until it ends or the client goes away."""
    reader = asyncio.ensure_future(_until_disconnect(ws))
    writer = asyncio.ensure_future(produce())
    done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    for t in pending:
        t.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await t
    for t in done:
        exc = t.exception()
        if exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
            raise exc


async def _bus_stream(
    ws: WebSocket, token: str | None, topics: list[str] | None, maxsize: int
) -> None:
    opened = await _open(ws, token)
    if opened is None:
        return
    user, rt = opened
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    flag = threading.Event()

    def notify() -> None:  # publisher thread: one wake-up per burst, not per message
        if not flag.is_set():
            flag.set()
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                loop.call_soon_threadsafe(wake.set)

    try:
        sub = (
            rt.processor.subscribe(topics, maxsize=maxsize, notify=notify)
            if topics
            else rt.bus.subscribe(None, maxsize=maxsize, notify=notify)
        )
    except FalakError as exc:
        await ws.accept()
        await ws.send_text(json.dumps([{"type": "error", "reason": str(exc)}]))
        await ws.close(code=1008, reason="bad subscription")
        return
    await ws.accept()

    async def drop(reason: str) -> None:
        """Tell the client why and close; bounded, since a stuck client may take nothing (it
        then sees the socket close without the reason; the events stream and the archive
        have it)."""
        rt.audit(user.name, "stream_dropped", f"dropped {ws.url.path} subscriber: {reason}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                ws.send_text(json.dumps([{"type": "closed", "reason": reason}])), SEND_TIMEOUT_S
            )
            await asyncio.wait_for(ws.close(code=1013, reason=reason[:120]), SEND_TIMEOUT_S)

    async def produce() -> None:
        while True:
            await wake.wait()
            wake.clear()
            flag.clear()
            try:
                items = sub.drain()
            except SubscriptionClosed as exc:
                await drop(exc.reason)
                return
            if items:
                frame = "[" + ",".join(_cache.text(d) for d in items) + "]"
                try:
                    await asyncio.wait_for(ws.send_text(frame), SEND_TIMEOUT_S)
                except TimeoutError:
                    reason = (
                        f"slow subscriber: a frame was not taken within {SEND_TIMEOUT_S:g} s "
                        f"(last seq {items[-1].seq}); resubscribe and fetch the gap from the "
                        "history routes"
                    )
                    sub.close()
                    await drop(reason)
                    return
            if sub.closed:  # no more notifications will come: read the reason next
                wake.set()

    try:
        await _serve(ws, produce)
    finally:
        sub.close()


Token = Query(None, description="Bearer token (or send an Authorization header)")
MaxSize = Query(10_000, ge=1, le=1_000_000, description="Messages queued before a drop")


@router.websocket("/parameters")
async def parameters(
    ws: WebSocket,
    names: list[str] = Query(default_factory=list, description="Parameters; none: all"),
    token: str | None = Token,
    maxsize: int = MaxSize,
) -> None:
    """New values of the named parameters (qualified or short names)."""
    await _bus_stream(ws, token, names or None, maxsize)


@router.websocket("/alarms")
async def alarms(ws: WebSocket, token: str | None = Token, maxsize: int = MaxSize) -> None:
    """Alarm changes (triggered, acknowledged, shelved, cleared...)."""
    await _bus_stream(ws, token, [ALARMS_TOPIC], maxsize)


@router.websocket("/events")
async def events(ws: WebSocket, token: str | None = Token, maxsize: int = MaxSize) -> None:
    """Processor, audit and on-board events."""
    await _bus_stream(ws, token, [EVENTS_TOPIC], maxsize)


async def _poll_stream(
    ws: WebSocket,
    token: str | None,
    period_s: float,
    snapshot: Callable[[SpacecraftRuntime], dict[str, Any]],
    kind: str,
) -> None:
    opened = await _open(ws, token)
    if opened is None:
        return
    _, rt = opened
    await ws.accept()

    async def produce() -> None:
        seen: dict[str, str] = {}
        seq = 0
        while True:
            out = []
            for key, value in snapshot(rt).items():
                text = json.dumps(value, sort_keys=True)
                if seen.get(key) != text:
                    seen[key] = text
                    seq += 1
                    out.append({"seq": seq, "type": kind, "topic": key, "data": value})
            if out:
                await ws.send_text(json.dumps(out))
            await asyncio.sleep(period_s)

    await _serve(ws, produce)


def _commands(rt: SpacecraftRuntime) -> dict[str, Any]:
    return {str(r["id"]): jsonable(r) for r in rt.commands.history.records()}


def _links(rt: SpacecraftRuntime) -> dict[str, Any]:
    out = {}
    for lk in rt.processor.links.values():
        s = lk.stats()
        out[s.name] = {
            "name": s.name,
            "url": s.url,
            "enabled": s.enabled,
            "state": s.state,
            "packets": s.packets,
            "rejected": sum(s.rejected.values()),
            "discarded_disabled": s.discarded_disabled,
        }
    return out


@router.websocket("/commands")
async def commands(ws: WebSocket, token: str | None = Token) -> None:
    """Command records as they change (state, verifier outcomes), checked every 0.1 s."""
    await _poll_stream(ws, token, 0.1, _commands, "command")


@router.websocket("/links")
async def links(ws: WebSocket, token: str | None = Token) -> None:
    """Link status when it changes (packet counters, enabled, state), checked every 1 s."""
    await _poll_stream(ws, token, 1.0, _links, "link")
