"""Uplink windows of a surface asset: when the Earth (or a relay) is above its terrain horizon.

A lunar rover talks to the Earth directly only while the Earth's centre is above the terrain
horizon where it stands (or through a relay that it sees and that sees the Earth past the
Moon). :func:`earth_windows` computes those windows on the rover simulator's own sky model:
the same terrain (:func:`falak.terrain.site.site_terrain`), the same DE421 apparent geometry
(:func:`falak.terrain.illumination.target_geometry`), the same per-cell horizon kernel
(:func:`falak.terrain.illumination.visibility_series`) on the same table of epochs (multiples of
``step_s`` since 1970, 60 s by default), and the same edges: a window opens at the first epoch
with the target in view and closes at the first epoch without it. So the ground's windows and
the simulator's contacts agree to the epoch (``falak.sim.rover``'s module doc, "Link").

The server's command manager reads them (:func:`read_windows`) to hold or refuse commands
released while the link is down. File format (JSON, :data:`FORMAT`), written by
``falak traverse windows`` and :func:`write_windows`::

    {"format": "falak-uplink-windows/1", "spacecraft": "ROVER",
     "what": "Earth above the terrain horizon at x=1.0, y=3031.0 m (site synth(...))",
     "contacts": "earth",
     "windows": [{"start": "2023-09-08T08:00:00Z", "end": "2023-09-09T02:13:00Z"}]}

Times are ISO 8601 UTC with ``Z``; windows are sorted and do not overlap; an empty list means
the link never opens. ``contacts`` (optional) says which link: ``earth``, ``relay`` or
``earth+relay``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from falak.errors import InputError
from falak.terrain.dem import Dem
from falak.terrain.horizons import Horizons
from falak.utctime import format_ns, parse_ns

__all__ = [
    "CONTACTS",
    "FORMAT",
    "RELAY_EPOCH",
    "UplinkWindows",
    "Window",
    "earth_windows",
    "read_windows",
    "write_windows",
]

FORMAT = "falak-uplink-windows/1"
"""The ``format`` value of an uplink-windows file."""

CONTACTS = ("earth", "relay", "earth+relay")
"""The links :func:`earth_windows` knows: direct to Earth, the relay, or either."""

RELAY_EPOCH = dt.datetime(2024, 4, 1, tzinfo=dt.UTC)
"""Epoch of the rover simulator's Queqiao-2-like relay orbit (``falak.sim.rover.build_site``)."""

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS
_EXAMPLE = '{"start": "2023-09-08T08:00:00Z", "end": "2023-09-09T02:13:00Z"}'


def _iso(t_ns: int) -> str:
    """ISO 8601 UTC, whole seconds when the time has no fraction (lossless either way)."""
    return format_ns(t_ns, 0 if t_ns % _NS == 0 else 9)


@dataclass(frozen=True, order=True)
class Window:
    """One uplink window ``[start_ns, end_ns)``, ns since 1970 UTC."""

    start_ns: int
    end_ns: int

    @property
    def start(self) -> str:
        """Start, ISO 8601 UTC."""
        return _iso(self.start_ns)

    @property
    def end(self) -> str:
        """End, ISO 8601 UTC."""
        return _iso(self.end_ns)

    @property
    def duration_s(self) -> float:
        """Length of the window, s."""
        return (self.end_ns - self.start_ns) / _NS

    def to_json(self) -> dict[str, str]:
        """``{"start": ISO, "end": ISO}``."""
        return {"start": self.start, "end": self.end}

    def __str__(self) -> str:
        return f"{self.start}–{self.end}"


_CLOSED = {
    "earth": "Earth below {sc}'s horizon",
    "relay": "relay out of {sc}'s view or of the Earth's",
    "earth+relay": "Earth and relay out of {sc}'s view",
}


class UplinkWindows:
    """Sorted, non-overlapping uplink windows (int ns), with what they are for.

    Parameters
    ----------
    windows
        :class:`Window` or ``(start_ns, end_ns)`` pairs, sorted, not overlapping (touching is
        allowed), each ending after it starts.
    spacecraft
        Whose windows (e.g. ``ROVER``).
    what
        What they are, in words (e.g. "Earth above the terrain horizon at x=..., y=... m").
    contacts
        ``earth``, ``relay``, ``earth+relay`` or None (unknown).
    file
        Where they were read from (messages name it).
    """

    def __init__(
        self,
        windows: Iterable[Window | tuple[int, int]] = (),
        *,
        spacecraft: str = "",
        what: str = "",
        contacts: str | None = None,
        file: str | None = None,
    ) -> None:
        items = tuple(w if isinstance(w, Window) else Window(int(w[0]), int(w[1])) for w in windows)
        where = f"{file}: " if file else ""
        for i, w in enumerate(items):
            if w.end_ns <= w.start_ns:
                raise InputError(
                    f"{where}window {i + 1} ({w}) ends before it starts; give end after start"
                )
            if i and w.start_ns < items[i - 1].end_ns:
                raise InputError(
                    f"{where}window {i + 1} ({w}) starts before window {i} ({items[i - 1]}) "
                    "ends; sort the windows by start and merge overlapping ones"
                )
        if contacts is not None and contacts not in CONTACTS:
            raise InputError(f"{where}contacts {contacts!r} must be one of {', '.join(CONTACTS)}")
        self.windows = items
        self.spacecraft = spacecraft
        self.what = what
        self.contacts = contacts
        self.file = file
        self._starts = [w.start_ns for w in items]

    def __len__(self) -> int:
        return len(self.windows)

    def __iter__(self) -> Iterator[Window]:
        return iter(self.windows)

    def __getitem__(self, i: int) -> Window:
        return self.windows[i]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UplinkWindows):
            return NotImplemented
        return (self.windows, self.spacecraft, self.what, self.contacts) == (
            other.windows,
            other.spacecraft,
            other.what,
            other.contacts,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable attributes: not hashable

    def __repr__(self) -> str:
        span = f", {self.windows[0].start}…{self.windows[-1].end}" if self.windows else ""
        source = f", file={self.file!r}" if self.file else ""
        return f"UplinkWindows({self.spacecraft or '?'}: {len(self.windows)} windows{span}{source})"

    def at(self, t_ns: int) -> Window | None:
        """The window holding ``t_ns`` (start inclusive, end exclusive), or None."""
        i = bisect.bisect_right(self._starts, int(t_ns)) - 1
        if i >= 0 and t_ns < self.windows[i].end_ns:
            return self.windows[i]
        return None

    def next_after(self, t_ns: int) -> Window | None:
        """The first window starting after ``t_ns``, or None (no window ahead)."""
        i = bisect.bisect_right(self._starts, int(t_ns))
        return self.windows[i] if i < len(self.windows) else None

    def closed_reason(self, spacecraft: str | None = None) -> str:
        """Why the link is down between windows, e.g. "Earth below ROVER's horizon"."""
        sc = spacecraft or self.spacecraft or "the spacecraft"
        if self.contacts is None:
            return f"outside {sc}'s uplink windows"
        return _CLOSED[self.contacts].format(sc=sc)

    def to_json(self) -> dict[str, Any]:
        """The file's document (:data:`FORMAT`)."""
        doc: dict[str, Any] = {"format": FORMAT, "spacecraft": self.spacecraft, "what": self.what}
        if self.contacts is not None:
            doc["contacts"] = self.contacts
        doc["windows"] = [w.to_json() for w in self.windows]
        return doc


def write_windows(
    path: str | Path,
    windows: UplinkWindows | Iterable[Window | tuple[int, int]],
    *,
    spacecraft: str,
    what: str,
    contacts: str | None = None,
) -> UplinkWindows:
    """Write ``windows`` to ``path`` as an uplink-windows file (module doc); return them."""
    if isinstance(windows, UplinkWindows):
        contacts = contacts if contacts is not None else windows.contacts
        windows = windows.windows
    out = UplinkWindows(windows, spacecraft=spacecraft, what=what, contacts=contacts)
    Path(path).write_text(json.dumps(out.to_json(), indent=1) + "\n", encoding="utf-8")
    return out


def read_windows(path: str | Path) -> UplinkWindows:
    """Read an uplink-windows file (module doc).

    Raises
    ------
    InputError
        The file is missing, not JSON, not :data:`FORMAT`, or its windows are malformed,
        unsorted or overlapping; the message names the file, the window and the fix.
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"{name}: cannot read uplink windows ({exc.strerror or exc}); write the file "
            "with 'falak traverse windows --out FILE'"
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{name}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg}); an uplink-windows file is "
            f'{{"format": "{FORMAT}", "spacecraft": ..., "what": ..., "windows": [{_EXAMPLE}]}}'
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(
            f'{name}: format is {found!r}, expected "{FORMAT}"; write the file with '
            "'falak traverse windows' or add the format key"
        )
    items = doc.get("windows")
    if not isinstance(items, list):
        raise InputError(
            f"{name}: 'windows' must be a list of {_EXAMPLE} (an empty list means never), "
            f"found {type(items).__name__}"
        )
    pairs: list[tuple[int, int]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not {"start", "end"} <= set(item):
            raise InputError(f"{name}: window {i + 1} is {item!r}; expected {_EXAMPLE}")
        pairs.append(
            (
                parse_ns(str(item["start"]), f"{name}: window {i + 1} start", zone_required=True),
                parse_ns(str(item["end"]), f"{name}: window {i + 1} end", zone_required=True),
            )
        )
    contacts = doc.get("contacts")
    return UplinkWindows(
        pairs,
        spacecraft=str(doc.get("spacecraft") or ""),
        what=str(doc.get("what") or ""),
        contacts=None if contacts is None else str(contacts),
        file=name,
    )


def _edges(times: Sequence[int] | Any, up: Any, start_ns: int, end_ns: int) -> list[Window]:
    """Windows of a boolean series on epochs ``times``, clipped to [start, end] (as the sim)."""
    out: list[Window] = []
    up = np.asarray(up, dtype=bool)
    if not up.size:
        return out
    change = np.flatnonzero(np.diff(up.astype(np.int8))) + 1
    opens = ([0] if up[0] else []) + [int(i) for i in change if up[i]]
    for i in opens:
        later = change[change > i]
        a = max(int(times[i]), start_ns)
        b = min(int(times[int(later[0])]) if later.size else end_ns, end_ns)
        if b > a:
            out.append(Window(a, b))
    return out


def _union(windows: Iterable[Window]) -> list[Window]:
    out: list[Window] = []
    for w in sorted(windows):
        if out and w.start_ns <= out[-1].end_ns:
            out[-1] = Window(out[-1].start_ns, max(out[-1].end_ns, w.end_ns))
        else:
            out.append(w)
    return out


def earth_windows(
    dem: Dem,
    horizons: Horizons,
    x_m: float,
    y_m: float,
    start_ns: int,
    end_ns: int,
    *,
    contacts: str = "earth",
    step_s: float = 60.0,
    spacecraft: str = "",
    progress: Callable[[float], None] | None = None,
) -> UplinkWindows:
    """Windows in [start, end] when the link ``contacts`` is up at (x, y) on the DEM.

    Parameters
    ----------
    dem, horizons
        The site's terrain (:func:`falak.terrain.site.site_terrain`, as the simulator's).
    x_m, y_m
        The rover's position, projected metres of the DEM (LOLA south-polar stereographic).
    start_ns, end_ns
        The span, ns since 1970 UTC.
    contacts
        ``earth``: the Earth's centre at or above the terrain horizon; ``relay``: the
        Queqiao-2-like relay (:func:`falak.dynamics.relay.queqiao2_like` at
        :data:`RELAY_EPOCH`, the simulator's) above the horizon and seeing the Earth past the
        Moon; ``earth+relay``: either (windows merged).
    step_s
        Table step, s (the simulator's is 60 s); epochs are multiples of it since 1970.
    progress
        Called with the share done (0…1) after each day.

    Raises
    ------
    InputError
        (x, y) outside the DEM, end not after start, an unknown ``contacts``, or epochs
        outside DE421's span.
    """
    from falak.terrain.illumination import cell_arrays, target_geometry, visibility_series

    if contacts not in CONTACTS:
        raise InputError(f"contacts {contacts!r} must be one of {', '.join(CONTACTS)}")
    if end_ns <= start_ns:
        raise InputError(
            f"end {format_ns(end_ns, 0)} is not after start {format_ns(start_ns, 0)}; give a "
            "positive span"
        )
    step_ns = round(step_s * _NS)
    if step_ns <= 0:
        raise InputError(f"step_s {step_s} must be positive, e.g. 60")
    rows, cols = dem.cell_of(x_m, y_m)
    relay = None
    if contacts != "earth":
        from falak.dynamics.relay import queqiao2_like

        relay = queqiao2_like(RELAY_EPOCH)
    cells = cell_arrays(dem)
    first = (start_ns // step_ns) * step_ns
    last = -(-end_ns // step_ns) * step_ns  # the first epoch at or after the end
    times: list[Any] = []
    earth: list[Any] = []
    relay_up: list[Any] = []
    t0 = first
    while t0 <= last:  # one day of epochs at a time, as the simulator's tables
        t1 = min(last, ((t0 // _DAY_NS) + 1) * _DAY_NS - 1)
        epochs = np.arange(t0, t1 + 1, step_ns, dtype=np.int64)
        geometry = target_geometry(dem, epochs.astype("datetime64[ns]"), relay)
        _, seen, relay_seen = visibility_series(dem, horizons, geometry, rows, cols, cells)
        times.append(epochs)
        earth.append(seen[:, 0])
        if relay is not None:
            from falak.dynamics.relay import occulted

            sees_earth = ~occulted(
                geometry.relay_me_m / 1e3, geometry.earth_me_m / 1e3, np.zeros(3)
            )
            relay_up.append(relay_seen[:, 0] & sees_earth)
        t0 = int(epochs[-1]) + step_ns
        if progress is not None:
            progress(min(1.0, (t0 - first) / max(1, last + step_ns - first)))
    all_times = np.concatenate(times)
    found: list[Window] = []
    if contacts in ("earth", "earth+relay"):
        found += _edges(all_times, np.concatenate(earth), start_ns, end_ns)
    if contacts in ("relay", "earth+relay"):
        found += _edges(all_times, np.concatenate(relay_up), start_ns, end_ns)
    target = {
        "earth": "Earth",
        "relay": "relay (seeing the Earth)",
        "earth+relay": "Earth or relay",
    }
    what = (
        f"{target[contacts]} above the terrain horizon at x={x_m:g}, y={y_m:g} m "
        f"(site {dem.source})"
    )
    return UplinkWindows(_union(found), spacecraft=spacecraft, what=what, contacts=contacts)
