"""Request limits: no body is read before authentication, and bodies are capped (413) —
in-process and against a real uvicorn server over raw sockets (chunked and Content-Length
bodies), measuring the body bytes the server handed to the app (``GuardStats``)."""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from falak.errors import InputError
from falak.server import Limits, create_app, load_config
from falak.server.auth import BAD_TOKEN, NO_TOKEN
from tests.server.conftest import USERS, Ground, RealServer

API = "/api/v1"
MIB = 1024 * 1024
TOO_LARGE = "request body too large: at most {} bytes here ({})"
CONFIG = "limits.max_body_bytes in the server config"


def test_unauthenticated_requests_are_refused_before_their_body(client: TestClient) -> None:
    guard = client.app.state.guard  # type: ignore[attr-defined]
    before = guard.body_bytes_received
    r = client.post(API + "/commands", content=b"x" * (2 * MIB))
    assert r.status_code == 401
    assert r.json() == {"detail": NO_TOKEN}
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.headers["connection"] == "close"  # the unread body is not drained
    r = client.post(API + "/commands", content=b"{}", headers={"Authorization": "Bearer nope"})
    assert (r.status_code, r.json()) == (401, {"detail": BAD_TOKEN})
    assert client.get("/nowhere").status_code == 401  # unknown paths need a token too
    assert guard.body_bytes_received == before
    assert client.get("/health").status_code == 200


def test_bodies_above_the_limit_are_413(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    r = client.post(
        API + "/commands",
        content=b'{"command": "NOOP", "pad": "' + b"x" * MIB + b'"}',
        headers=auth["otto"] | {"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json() == {"detail": TOO_LARGE.format(MIB, CONFIG)}
    # the login body is read before anyone is known: 16 KiB at most
    r = client.post(API + "/auth/token", json={"username": "otto", "password": "x" * 20_000})
    assert r.status_code == 413
    assert r.json() == {"detail": TOO_LARGE.format(16_384, "a login")}
    r = client.post(
        API + "/commands/dry-run", json={"command": "NOOP", "pad": "x" * 1000}, headers=auth["otto"]
    )
    assert r.status_code == 200, r.text  # small bodies pass


def test_the_limit_comes_from_the_config(
    live: Ground, auth: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(live.runtime, "limits", Limits(max_body_bytes=100))
    with TestClient(create_app(live.runtime)) as c:
        body = {"command": "NOOP", "pad": "x" * 100}
        r = c.post(API + "/commands/dry-run", json=body, headers=auth["vera"])
    assert (r.status_code, r.json()) == (413, {"detail": TOO_LARGE.format(100, CONFIG)})
    cfg = tmp_path / "server.yaml"
    cfg.write_text("mdb: m.yaml\narchive: a\nlimits: {max_body_bytes: 4096, login_failures: 3}\n")
    limits = load_config(cfg).limits
    assert (limits.max_body_bytes, limits.login_failures, limits.login_window_s) == (4096, 3, 900)
    cfg.write_text("mdb: m.yaml\narchive: a\nlimits: {max_body: 1}\n")
    with pytest.raises(InputError) as info:
        load_config(cfg)
    assert str(info.value) == (
        f"{cfg}: 'limits' must be a mapping with keys among max_body_bytes, login_failures, "
        "login_address_failures, login_window_s, login_lockout_s, login_lockout_max_s, "
        "login_concurrency"
    )
    cfg.write_text("mdb: m.yaml\narchive: a\nlimits: {login_window_s: -1}\n")
    with pytest.raises(InputError, match=r"limits: login_window_s must be a positive number"):
        load_config(cfg)


# -- against a real server ------------------------------------------------------------------


def _open(server: RealServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return s


def _stream(s: socket.socket, head: bytes, total_bytes: int) -> int:
    """Send ``head`` and then a chunked body of up to ``total_bytes``, stopping as soon as
    the server answers or closes; return the body bytes that went out."""
    s.sendall(head)
    chunk = b"x" * 65_536
    sent = 0
    deadline = time.monotonic() + 30  # bounded in time and bytes
    try:
        while sent < total_bytes and time.monotonic() < deadline:
            readable, writable, _ = select.select([s], [s], [], 1.0)
            if readable:
                break  # the answer (or the close) is there
            if writable:
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def _answer(s: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """Read the whole response (the server closes the connection after it)."""
    data = b""
    try:
        while chunk := s.recv(65_536):
            data += chunk
    except ConnectionResetError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return status.encode(), headers, body


def _token(server: RealServer, user: str) -> str:
    import httpx

    r = httpx.post(
        server.url + API + "/auth/token", json={"username": user, "password": USERS[user][0]}
    )
    return str(r.json()["access_token"])


def test_unauthenticated_100_mb_chunked_post_is_refused_early(real_server: RealServer) -> None:
    """The issue's probe: 100 MB POSTed without a token was read whole (server memory
    215 -> 808 MB). Now the app receives none of it and the server closes the connection
    after its 401; the client gets out only what the socket buffers hold."""
    guard = real_server.app.state.guard
    before = guard.body_bytes_received
    head = (
        b"POST /api/v1/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with _open(real_server) as s:
        sent = _stream(s, head, 100 * MIB)
        status, headers, body = _answer(s)
    assert status == b"HTTP/1.1 401 Unauthorized"
    assert headers["connection"] == "close"
    assert NO_TOKEN.encode() in body
    assert guard.body_bytes_received == before  # not one body byte reached the app
    assert sent < 32 * MIB  # loopback socket buffers, not the 100 MB


def test_chunked_body_above_the_limit_is_cut_off_while_streaming(real_server: RealServer) -> None:
    token = _token(real_server, "otto")
    guard = real_server.app.state.guard
    before = guard.body_bytes_received
    head = (
        b"POST /api/v1/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    with _open(real_server) as s:
        sent = _stream(s, head, 100 * MIB)
        status, headers, body = _answer(s)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert headers["connection"] == "close"
    assert TOO_LARGE.format(MIB, CONFIG).encode() in body
    received = guard.body_bytes_received - before
    # cut off at the first delivery that would pass 1 MiB (uvicorn delivers what it has
    # read ahead, up to its 64 KiB high-water mark, at a time)
    assert MIB - 256 * 1024 < received <= MIB
    assert sent < 32 * MIB


def test_content_length_above_the_limit_is_413_before_any_body(real_server: RealServer) -> None:
    token = _token(real_server, "otto")
    guard = real_server.app.state.guard
    before = guard.body_bytes_received
    head = (
        b"POST /api/v1/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n"
        b"Content-Length: 104857600\r\n\r\n"
    )
    with _open(real_server) as s:
        s.sendall(head)  # and no body at all: the answer must not wait for it
        status, headers, body = _answer(s)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert headers["connection"] == "close"
    assert TOO_LARGE.format(MIB, CONFIG).encode() in body
    assert guard.body_bytes_received == before
