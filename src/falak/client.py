"""A Python client of the falak server, for scripts and procedures.

.. code-block:: python

    from falak.client import Client

    with Client.login("http://127.0.0.1:8000", "operator", "secret") as fc:
        print(fc.latest("BATT_V").eng)
        cmd = fc.issue("SET_HEATER", {"SETPOINT": 12.5})
        done = fc.wait(cmd.id, stage="complete")
        assert done.stage("complete") == "OK"

On a server hosting several spacecraft, ``Client.login(url, user, password,
spacecraft="TIANGONG")`` talks to that one (default: the server's first), ``fc.for_spacecraft
("TESTSAT")`` gives a client of another with the same token, and ``fc.spacecraft_list()``
lists them with their links' state.

Files received from the spacecraft (CFDP) are listed with ``fc.files()`` (:class:`FileInfo`),
downloaded with ``fc.file_bytes(id)`` (checked against the archive's SHA-256), and the CFDP
transactions are ``fc.transfers()`` (:class:`Transfer`); ``fc.send_file(data, name)`` sends
one up.

Results are typed (:class:`Sample`, :class:`Series`, :class:`CommandRecord`, ...). An error
answer raises :class:`ApiError` carrying the HTTP status and the server's message; a command
the server rejects raises :class:`falak.errors.CommandRejected` naming the argument.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import orjson
from numpy.typing import NDArray

from falak.errors import CommandRejected, FalakError

__all__ = [
    "ApiError",
    "Client",
    "CommandRecord",
    "FileInfo",
    "Sample",
    "Series",
    "Stream",
    "Transfer",
]


class ApiError(FalakError):
    """The server answered with an error: ``status`` (HTTP) and ``detail`` (what was wrong)."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}")


@dataclass(frozen=True)
class Sample:
    """One value of a parameter; ``time_ns`` since 1970 (UTC), ``status`` its monitoring
    level (``"NORMAL"``, ``"WARNING"``...)."""

    parameter: str
    time_ns: int
    raw: Any
    eng: Any
    status: str
    seq: int | None = None
    """Stream messages only: the message's sequence number in its subscription."""

    @property
    def time(self) -> np.datetime64:
        """The sample time as ``datetime64[ns]`` (UTC)."""
        return np.datetime64(self.time_ns, "ns")


@dataclass(frozen=True)
class Series:
    """A parameter over a time range, oldest first (whole arrays)."""

    parameter: str
    time_ns: NDArray[np.int64]
    raw: NDArray[Any]
    eng: NDArray[Any]
    status: list[str]
    truncated: bool = False

    def __len__(self) -> int:
        return int(self.time_ns.size)

    @property
    def time(self) -> NDArray[np.datetime64]:
        """Sample times as ``datetime64[ns]`` (UTC)."""
        return self.time_ns.astype("datetime64[ns]")


@dataclass(frozen=True)
class CommandRecord:
    """A command's history record: state (``queued``, ``released``, ``completed``,
    ``failed``...), verifier outcomes by stage, and every other field in ``data``."""

    id: int
    command: str
    state: str
    user: str
    verifiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def stage(self, name: str) -> str | None:
        """Outcome of a verification stage (``OK``, ``NOK``, ``TIMEOUT``...), None if none."""
        v = self.verifiers.get(name)
        return None if v is None else v.get("outcome")

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CommandRecord:
        """Build from the API's JSON."""
        return cls(
            int(d["id"]),
            str(d["command"]),
            str(d["state"]),
            str(d["user"]),
            dict(d.get("verifiers") or {}),
            dict(d),
        )


@dataclass(frozen=True)
class FileInfo:
    """A file received from the spacecraft and archived (``GET /archive/files``).

    ``time``: ISO 8601 UTC of its last part; ``size`` in octets; ``checksum`` the transfer's
    (``"modular:..."``); ``sha256`` the archive's digest of the stored bytes; an incomplete file
    has ``complete`` False and the ``missing`` octet ranges ``(start, end)``; ``attrs`` any
    further metadata (camera, instrument...).
    """

    id: int
    time: str | None
    name: str
    source: str
    size: int
    checksum: str
    sha256: str
    complete: bool
    missing: list[tuple[int, int]]
    attrs: dict[str, Any]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FileInfo:
        """Build from the API's JSON."""
        return cls(
            int(d["id"]),
            d.get("time"),
            str(d["name"]),
            str(d["source"]),
            int(d["size"]),
            str(d["checksum"]),
            str(d["sha256"]),
            bool(d["complete"]),
            [(int(a), int(b)) for a, b in d.get("missing") or []],
            dict(d.get("attrs") or {}),
        )


@dataclass(frozen=True)
class Transfer:
    """A CFDP transaction with the spacecraft (``GET /archive/transfers``).

    ``role``: ``receive`` (a file coming down) or ``send`` (going up); ``cls`` the CFDP class
    (1 or 2); ``size`` and ``progress`` in octets (``size`` None until known); ``state``
    ``active``, ``suspended`` (between contacts), ``finished`` or ``cancelled``; ``condition``
    the CFDP condition (``NO_ERROR``...); ``missing`` the octet ranges not yet received.
    """

    source_id: int
    seq: int
    role: str
    peer_id: int
    cls: int
    name: str
    size: int | None
    progress: int
    state: str
    condition: str
    missing: list[tuple[int, int]]

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Transfer:
        """Build from the API's JSON."""
        size = d.get("size")
        return cls(
            int(d["source_id"]),
            int(d["seq"]),
            str(d["role"]),
            int(d["peer_id"]),
            int(d["cls"]),
            str(d["name"]),
            None if size is None else int(size),
            int(d["progress"]),
            str(d["state"]),
            str(d["condition"]),
            [(int(a), int(b)) for a, b in d.get("missing") or []],
        )


def _time(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:
        raise FalakError(f"time {t.isoformat()} has no time zone; use UTC (tzinfo=UTC)")
    return t.isoformat()


class Stream:
    """Live samples from a WebSocket subscription, one per value, with the stream's ``seq``.

    Iteration raises :class:`ApiError` when nothing came for ``timeout_s`` (status 408) or
    the server closed the subscription, e.g. a slow reader dropped (410, with the reason).
    """

    def __init__(self, cm: Any, ws: Any, timeout_s: float) -> None:
        self._cm = cm
        self._ws = ws
        self.timeout_s = timeout_s
        self._pending: list[Sample] = []

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Sample:
        from websockets.exceptions import ConnectionClosed

        while not self._pending:
            try:
                frame = self._ws.recv(timeout=self.timeout_s)
            except TimeoutError:
                raise ApiError(408, f"no value within {self.timeout_s:g} s") from None
            except ConnectionClosed as exc:
                raise ApiError(410, f"stream closed: {exc.reason or exc}") from None
            for m in orjson.loads(frame):
                if m["type"] in ("closed", "error"):
                    raise ApiError(410, f"stream closed: {m['reason']}")
                if m["type"] != "parameter":
                    continue
                d = m["data"]
                self._pending += [
                    Sample(d["parameter"], t, d["raw"][i], d["eng"][i], d["status"][i], m["seq"])
                    for i, t in enumerate(d["time_ns"])
                ]
        return self._pending.pop(0)

    def close(self) -> None:
        """Unsubscribe."""
        self._cm.__exit__(None, None, None)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client:
    """Talk to a falak server at ``url`` with a bearer ``token`` (or use :meth:`login`).

    ``spacecraft``: the spacecraft every telemetry, alarm, link, command and stack method
    talks about (its routes under ``/api/v1/spacecraft/{sc}``); None: the server's default
    spacecraft (the first it hosts). :meth:`for_spacecraft` gives a client of another one
    with the same token; :meth:`spacecraft_list` lists them.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout_s: float = 30.0,
        spacecraft: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.spacecraft = spacecraft
        self.timeout_s = timeout_s
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s)

    @classmethod
    def login(cls, url: str, username: str, password: str, **kw: Any) -> Client:
        """Return a client authenticated as ``username``."""
        c = cls(url, **kw)
        try:
            d = c._call("POST", "/auth/token", json={"username": username, "password": password})
        except BaseException:
            c.close()
            raise
        c.token = str(d["access_token"])
        c.user = str(d["user"])
        c.roles = list(d["roles"])
        return c

    user: str = ""
    roles: list[str] = []  # noqa: RUF012 - replaced per instance by login()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        on = f" on {self.spacecraft}" if self.spacecraft else ""
        return f"<falak Client {self.url}{on} as {self.user or 'unknown user'}>"

    def for_spacecraft(self, name: str | None) -> Client:
        """A client of spacecraft ``name`` (None: the default) with this one's token (and
        its own connection pool: close it too, or use it in a ``with``)."""
        c = Client(self.url, token=self.token, timeout_s=self.timeout_s, spacecraft=name)
        c.user, c.roles = self.user, list(self.roles)
        return c

    def spacecraft_list(self) -> list[dict[str, Any]]:
        """The spacecraft the server hosts (those this user may see), the default first,
        with their links (state, packets, last reception), uplink and light time."""
        return list(self._call("GET", "/spacecraft"))

    # -- plumbing ------------------------------------------------------------------------

    @property
    def _prefix(self) -> str:
        """The path prefix of this client's spacecraft's routes (after ``/api/v1``)."""
        return "" if self.spacecraft is None else f"/spacecraft/{quote(self.spacecraft, safe='')}"

    def _sc(self, method: str, path: str, **kw: Any) -> Any:
        """Call a route of this client's spacecraft."""
        return self._call(method, self._prefix + path, **kw)

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        return self._decode(self._request(method, path, **kw))

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Send a request; raise on an error answer; return the response."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(kw.pop("headers", None) or {})
        r = self._http.request(method, "/api/v1" + path, headers=headers, **kw)
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {"detail": r.text}
            detail = body.get("detail")
            if r.status_code == 422 and isinstance(detail, str):  # falak's CommandRejected
                raise CommandRejected(detail, argument=body.get("argument"))
            if not isinstance(detail, str):  # request validation: a list of problems
                detail = json.dumps(detail)
            raise ApiError(r.status_code, detail)
        return r

    @staticmethod
    def _decode(r: httpx.Response) -> Any:
        if r.status_code == 204:
            return None
        if r.headers.get("content-type", "").startswith("text/"):
            return r.text
        return r.json()

    # -- telemetry -----------------------------------------------------------------------

    def latest(self, parameter: str) -> Sample:
        """The newest value of a parameter."""
        d = self._sc("GET", f"/parameters/{parameter}/latest")
        return Sample(d["parameter"], int(d["time_ns"]), d["raw"], d["eng"], d["status"])

    def history(
        self, parameter: str, start: datetime | None = None, stop: datetime | None = None
    ) -> Series:
        """Archived values in ``[start, stop)`` (timezone-aware UTC datetimes)."""
        params = {k: v for k, v in (("start", _time(start)), ("stop", _time(stop))) if v}
        d = self._sc("GET", f"/parameters/{parameter}/history", params=params)
        return Series(
            d["parameter"],
            np.asarray(d["time_ns"], dtype=np.int64),
            np.asarray(d["raw"]),
            np.asarray(d["eng"]),
            list(d["status"]),
            bool(d["truncated"]),
        )

    def export_csv(
        self, parameters: Sequence[str], start: datetime | None = None, stop: datetime | None = None
    ) -> str:
        """Archived parameters aligned by time, as CSV text."""
        params: dict[str, Any] = {"names": list(parameters), "format": "csv"}
        params.update({k: v for k, v in (("start", _time(start)), ("stop", _time(stop))) if v})
        return str(self._sc("GET", "/archive/export", params=params))

    def subscribe(
        self, parameters: Sequence[str], *, timeout_s: float = 10.0, maxsize: int = 10_000
    ) -> Stream:
        """Subscribe now to live values of ``parameters``; iterate the returned
        :class:`Stream` for :class:`Sample` objects (close it, or use ``with``)."""
        from websockets.sync.client import connect

        query = "&".join(f"names={p}" for p in parameters)
        url = self.url.replace("http", "ws", 1) + f"/api/v1{self._prefix}/ws/parameters?{query}"
        url += f"&maxsize={maxsize}&token={self.token}"
        # websockets >= 17.1 wants connect() entered as a context manager; the stream exits it
        cm = connect(url)
        return Stream(cm, cm.__enter__(), timeout_s)

    # -- alarms and links ----------------------------------------------------------------

    def alarms(self) -> list[dict[str, Any]]:
        """Active alarms, most severe first."""
        return list(self._sc("GET", "/alarms"))

    def acknowledge(self, parameter: str, comment: str = "") -> dict[str, Any]:
        """Acknowledge a parameter's alarm."""
        return dict(self._sc("POST", f"/alarms/{parameter}/acknowledge", json={"comment": comment}))

    def links(self) -> list[dict[str, Any]]:
        """Telemetry links and their counters."""
        return list(self._sc("GET", "/links"))

    # -- commands ------------------------------------------------------------------------

    def issue(
        self,
        command: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        queue: str = "default",
        release_at: datetime | None = None,
        dry_run: bool = False,
    ) -> CommandRecord:
        """Issue a command (or only encode it with ``dry_run``)."""
        body = {
            "command": command,
            "arguments": dict(arguments or {}),
            "queue": queue,
            "release_at": _time(release_at),
            "dry_run": dry_run,
        }
        return CommandRecord.from_json(self._sc("POST", "/commands", json=body))

    def arm(self, command_id: int) -> CommandRecord:
        """Arm a queued critical command (flight director)."""
        return CommandRecord.from_json(self._sc("POST", f"/commands/{command_id}/arm"))

    def confirm(self, command_id: int) -> CommandRecord:
        """Confirm an armed critical command (flight director)."""
        return CommandRecord.from_json(self._sc("POST", f"/commands/{command_id}/confirm"))

    def command(self, command_id: int) -> CommandRecord:
        """A command's current record."""
        return CommandRecord.from_json(self._sc("GET", f"/commands/{command_id}"))

    def wait(
        self, command_id: int, *, stage: str | None = None, timeout_s: float = 30.0
    ) -> CommandRecord:
        """Wait until the command is final or ``stage`` has an outcome (at most
        ``timeout_s``); return its record."""
        params: dict[str, Any] = {"timeout_s": timeout_s}
        if stage is not None:
            params["stage"] = stage
        return CommandRecord.from_json(
            self._sc("GET", f"/commands/{command_id}/wait", params=params)
        )

    def command_history(self) -> list[CommandRecord]:
        """The archived command history, oldest first."""
        return [CommandRecord.from_json(d) for d in self._sc("GET", "/commands")]

    # -- command stacks ------------------------------------------------------------------

    def stacks(self) -> list[dict[str, Any]]:
        """Every command stack with its state and steps."""
        out: list[dict[str, Any]] = self._sc("GET", "/stacks")
        return out

    def load_stack(self, text: str, *, file: str = "<stack>") -> dict[str, Any]:
        """Load a command stack from its YAML text (operator); ``file`` names it in errors."""
        out: dict[str, Any] = self._sc("POST", "/stacks", json={"text": text, "file": file})
        return out

    def stack(self, name: str) -> dict[str, Any]:
        """One command stack with the status of each step."""
        out: dict[str, Any] = self._sc("GET", f"/stacks/{name}")
        return out

    def stack_action(self, name: str, action: str, *, arm_critical: bool = False) -> dict[str, Any]:
        """``start``, ``pause``, ``resume`` or ``abort`` a command stack (operator);
        ``arm_critical`` (start, resume) arms its critical steps as you."""
        body = {"arm_critical": arm_critical} if action in ("start", "resume") else None
        out: dict[str, Any] = self._sc("POST", f"/stacks/{name}/{action}", json=body)
        return out

    # -- files (CFDP) --------------------------------------------------------------------

    def files(self, start: datetime | None = None, stop: datetime | None = None) -> list[FileInfo]:
        """Files received from the spacecraft whose last part came in ``[start, stop)``
        (timezone-aware UTC datetimes; None: unbounded), oldest first, with their metadata."""
        params = {k: v for k, v in (("start", _time(start)), ("stop", _time(stop))) if v}
        return [FileInfo.from_json(d) for d in self._sc("GET", "/archive/files", params=params)]

    def file_bytes(self, file_id: int) -> bytes:
        """A received file's bytes, checked against the archive's SHA-256 (an incomplete
        file's bytes have zeros where parts are missing: see :attr:`FileInfo.missing`)."""
        r = self._request("GET", f"{self._prefix}/archive/files/{int(file_id)}")
        data = r.content
        want = r.headers.get("x-falak-sha256")
        got = hashlib.sha256(data).hexdigest()
        if want is not None and got != want:
            raise FalakError(
                f"file {file_id}: the {len(data)} octets downloaded have SHA-256 {got}, "
                f"the server's is {want}: the download was damaged; fetch it again"
            )
        return data

    def transfers(self) -> list[Transfer]:
        """The CFDP transactions with the spacecraft (files coming down and
        going up, their progress and state)."""
        return [Transfer.from_json(d) for d in self._sc("GET", "/archive/transfers")]

    def send_file(self, data: bytes, name: str, *, cls: int = 2) -> Transfer:
        """Send ``data`` to the spacecraft by CFDP as ``name`` (a relative path on board), class
        1 or 2 (operator); return the new transaction (its state from :meth:`transfers`)."""
        if cls not in (1, 2):
            raise FalakError(f"CFDP class must be 1 or 2, got {cls}")
        d = self._sc(
            "POST",
            "/archive/files",
            params={"name": name, "cls": cls},
            content=bytes(data),
            headers={"Content-Type": "application/octet-stream"},
        )
        key = (int(d["source_id"]), int(d["seq"]))
        for t in self.transfers():
            if (t.source_id, t.seq) == key:
                return t
        raise FalakError(f"transfer {key} of {name!r} was accepted but is not listed")
