"""What a spacecraft's timeline shows: plans, orbit windows and command stacks, as items.

The console's Timeline page (``GET /api/v1/spacecraft/{sc}/timeline``) draws items on one
time axis. Each :class:`Item` has a ``kind`` (:data:`KINDS`), a start and an end (UTC ns;
an instant has ``end == start``), a label, the ``lane`` it is drawn in and a ``detail``
mapping shown on hover. They come from:

- the spacecraft config's ``plans`` files (:func:`read_plan`, cached by file size and
  modification time): a campaign plan (``falak campaign plan``: each activity → a
  ``campaign`` item), a traverse route (``falak traverse plan --depart``: each drive and
  wait of its schedule → a ``traverse`` item), an uplink windows file
  (``falak-uplink-windows/1``, ``falak traverse windows``: each window → ``uplink_window``),
  and the JSON lists of ``falak orbiter imaging|contacts|eclipses --json`` (→ ``imaging``,
  ``contact``, ``eclipse``);
- the config's ``uplink_windows.file`` (the windows the uplink obeys), unless also a plan;
- the config's ``orbit.tle`` (:class:`OrbitWindows`): passes over every station of falak's
  catalogue (:func:`falak.dynamics.passes.find_passes`, each station's own elevation mask)
  → ``pass``; data-relay contacts (:func:`falak.dynamics.datarelay.relay_windows`, the
  catalogue's relays, as the station simulator computes them) → ``contact``; eclipses
  (:func:`falak.planning.campaign.orbit_env.eclipse_intervals`, conical, penumbra counted)
  → ``eclipse``. Computed in :data:`CHUNK_S` pieces aligned on UTC, cached, and joined
  where a window crosses a piece's edge;
- the spacecraft's command stacks (:class:`~falak.commanding.stack.StackExecutor`): each
  step with a release time (``at``, or the run's start plus ``offset_s``) → a ``stack``
  instant. A loaded stack of offsets that has not started has no times yet and shows no
  steps.

Nothing is left out silently: a plan file that cannot be read or is of no known form, and
an orbit that cannot be propagated, give an ``error`` item whose label names the file, what
was wrong and the fix.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from falak.errors import FalakError, InputError
from falak.utctime import format_ns, parse_ns

if TYPE_CHECKING:
    from falak.dynamics.tle import Tle
    from falak.server.runtime import SpacecraftRuntime

__all__ = [
    "CHUNK_S",
    "KINDS",
    "MAX_ORBIT_SPAN_S",
    "MAX_SPAN_S",
    "Item",
    "OrbitWindows",
    "read_plan",
    "timeline_items",
]

KINDS = (
    "pass",
    "contact",
    "eclipse",
    "uplink_window",
    "campaign",
    "traverse",
    "stack",
    "imaging",
    "error",
)
"""Item kinds (``error``: something could not be shown; its label says why)."""

LANES = {
    "pass": "ground passes",
    "contact": "relay contacts",
    "eclipse": "eclipses",
    "uplink_window": "uplink windows",
    "campaign": "campaign",
    "traverse": "traverse",
    "stack": "stacks",
    "imaging": "imaging",
    "error": "errors",
}
"""The lane each kind is drawn in."""

CHUNK_S = 6 * 3600
"""Orbit windows are computed (and cached) in pieces of this many seconds, aligned on UTC."""
MAX_ORBIT_SPAN_S = 14 * 86400
"""Longest window for which orbit windows are computed (longer: an ``error`` item says so)."""
MAX_SPAN_S = 400 * 86400
"""Longest window a timeline request may ask for."""
_NS = 1_000_000_000
_CHUNKS_KEPT = 256
_JOIN_NS = 1_000_000  # pieces of one window meeting within 1 ms at a chunk edge are one


@dataclass(frozen=True)
class Item:
    """One thing on the timeline (times int ns since 1970 UTC; an instant has end == start)."""

    kind: str
    start_ns: int
    end_ns: int
    label: str
    lane: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""
    """What pieces of one window share (station, relay), to join them at chunk edges."""

    def __post_init__(self) -> None:
        if not self.lane:
            object.__setattr__(self, "lane", LANES.get(self.kind, self.kind))

    def to_json(self) -> dict[str, Any]:
        """The item as the timeline route answers it (ISO 8601 UTC times)."""
        return {
            "kind": self.kind,
            "start": format_ns(self.start_ns, 3),
            "end": format_ns(self.end_ns, 3),
            "label": self.label,
            "lane": self.lane,
            "detail": dict(self.detail),
        }


def _error(message: str, at_ns: int = 0, **detail: Any) -> Item:
    return Item("error", at_ns, at_ns, " ".join(message.split()), detail=detail)


def _ns(text: Any, what: str) -> int:
    return parse_ns(str(text), what, zone_required=True)


def _dt_of(ns: int) -> _dt.datetime:
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=ns // 1000)


def _dt_ns(t: _dt.datetime) -> int:
    d = t - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return (d.days * 86400 + d.seconds) * _NS + d.microseconds * 1000


# -- plan files ----------------------------------------------------------------------------


def _campaign(data: Mapping[str, Any], name: str) -> list[Item]:
    if data.get("status") == "INFEASIBLE":
        conflicts = "; ".join(str(c) for c in data.get("conflicts") or [])
        return [_error(f"{name}: the campaign plan is INFEASIBLE ({conflicts}): no sessions")]
    out = []
    for i, a in enumerate(data["activities"]):
        where = f"{name}: activities[{i}]"
        if not isinstance(a, Mapping) or "start" not in a or "end" not in a:
            raise InputError(f"{where} needs start and end (ISO 8601 UTC)")
        crew = ", ".join(str(c) for c in a.get("crew") or [])
        detail = {
            "experiment": a.get("experiment"),
            "session": a.get("session"),
            "activity": a.get("kind"),
            "crew": crew or None,
            "rack": a.get("rack"),
            "plan": name,
        }
        out.append(
            Item(
                "campaign",
                _ns(a["start"], f"{where}.start"),
                _ns(a["end"], f"{where}.end"),
                f"{a.get('experiment', '?')} {a.get('session', '')}".strip(),
                detail={k: v for k, v in detail.items() if v is not None},
            )
        )
    return out


def _traverse(feature: Mapping[str, Any], name: str) -> list[Item]:
    props = feature.get("properties") or {}
    rows = props.get("timeline")
    if not isinstance(rows, list):
        return [
            _error(
                f"{name}: a traverse route without a schedule (no 'timeline' property): "
                "plan it with falak traverse plan --depart ISO to see its drives and waits"
            )
        ]
    out = []
    for i, r in enumerate(rows):
        where = f"{name}: timeline[{i}]"
        if not isinstance(r, Mapping) or "start" not in r or "end" not in r:
            raise InputError(f"{where} needs start and end (ISO 8601 UTC)")
        kind = str(r.get("kind", "drive"))
        dist = r.get("distance_m")
        label = (
            f"{kind} {dist:.0f} m" if kind == "drive" and isinstance(dist, int | float) else kind
        )
        detail = {
            "segment": kind,
            "distance_m": dist,
            "battery_start_wh": r.get("battery_start_wh"),
            "battery_end_wh": r.get("battery_end_wh"),
            "plan": name,
        }
        out.append(
            Item(
                "traverse",
                _ns(r["start"], f"{where}.start"),
                _ns(r["end"], f"{where}.end"),
                label,
                detail={k: v for k, v in detail.items() if v is not None},
            )
        )
    return out


def _windows(data: Mapping[str, Any], name: str) -> list[Item]:
    what = str(data.get("what") or "uplink window")
    wins = data.get("windows")
    if not isinstance(wins, list):
        raise InputError(f"{name}: a falak-uplink-windows/1 file needs a 'windows' list")
    out = []
    for i, w in enumerate(wins):
        where = f"{name}: windows[{i}]"
        if not isinstance(w, Mapping) or "start" not in w or "end" not in w:
            raise InputError(f"{where} needs start and end (ISO 8601 UTC)")
        out.append(
            Item(
                "uplink_window",
                _ns(w["start"], f"{where}.start"),
                _ns(w["end"], f"{where}.end"),
                "uplink window",
                detail={"what": what, "file": name},
            )
        )
    return out


def _orbiter_list(rows: Sequence[Any], name: str) -> list[Item]:
    out = []
    for i, w in enumerate(rows):
        where = f"{name}: [{i}]"
        if not isinstance(w, Mapping) or "start" not in w or "stop" not in w:
            raise InputError(
                f"{where} needs start and stop (ISO 8601 UTC), as falak orbiter ... --json "
                "writes them"
            )
        detail = {k: v for k, v in w.items() if k not in ("start", "stop") and v is not None}
        if "min_off_nadir_deg" in w:
            kind, label = "imaging", f"imaging {w['min_off_nadir_deg']:.1f}° off nadir"
        elif "station" in w:
            kind, label = "contact", f"{w['station']}"
        elif "body" in w:
            kind, label = "eclipse", f"eclipse by the {str(w['body']).capitalize()}"
        else:
            raise InputError(
                f"{where}: not an orbiter imaging, contact or eclipse window (no "
                "min_off_nadir_deg, station or body field)"
            )
        detail["plan"] = name
        out.append(
            Item(
                kind,
                _ns(w["start"], f"{where}.start"),
                _ns(w["stop"], f"{where}.stop"),
                label,
                detail=detail,
            )
        )
    return out


KNOWN_PLANS = (
    "a campaign plan (falak campaign plan), a traverse route (falak traverse plan --depart), "
    "uplink windows (falak traverse windows) or a JSON list from falak orbiter "
    "imaging|contacts|eclipses --json"
)


def parse_plan(data: Any, name: str) -> list[Item]:
    """Return the items of one plan document (JSON already parsed); raise on a bad one."""
    if isinstance(data, list):
        return _orbiter_list(data, name)
    if not isinstance(data, Mapping):
        raise InputError(f"{name}: not {KNOWN_PLANS}")
    if data.get("format") == "falak-uplink-windows/1":
        return _windows(data, name)
    if "format" in data and str(data["format"]).startswith("falak-uplink-windows/"):
        raise InputError(
            f"{name}: format {data['format']!r} is not supported; this server reads "
            "falak-uplink-windows/1"
        )
    if isinstance(data.get("activities"), list):
        return _campaign(data, name)
    if data.get("type") == "Feature":
        return _traverse(data, name)
    if data.get("type") == "FeatureCollection":
        return [it for f in data.get("features") or [] for it in _traverse(f, name)]
    raise InputError(f"{name}: not {KNOWN_PLANS}")


_plan_cache: dict[Path, tuple[tuple[int, int], list[Item]]] = {}
_plan_lock = threading.Lock()


def read_plan(path: Path) -> list[Item]:
    """Return the items of a plan file (cached until the file changes); a file that cannot
    be read or understood gives one ``error`` item naming it and the fix."""
    name = path.name
    try:
        st = path.stat()
    except OSError as exc:
        return [
            _error(f"{path}: cannot read the plan file ({exc.strerror}); fix the config's plans")
        ]
    stamp = (st.st_size, st.st_mtime_ns)
    with _plan_lock:
        hit = _plan_cache.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
    try:
        text = path.read_text(encoding="utf-8")
        items = parse_plan(json.loads(text), name)
    except json.JSONDecodeError as exc:
        items = [
            _error(
                f"{name}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                f"expected {KNOWN_PLANS}",
                file=str(path),
            )
        ]
    except (OSError, UnicodeDecodeError) as exc:
        items = [_error(f"{path}: cannot read the plan file ({exc})", file=str(path))]
    except FalakError as exc:
        items = [_error(str(exc), file=str(path))]
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        items = [
            _error(
                f"{name}: unexpected content ({type(exc).__name__}: {exc}); expected {KNOWN_PLANS}",
                file=str(path),
            )
        ]
    with _plan_lock:
        _plan_cache[path] = (stamp, items)
    return items


# -- orbit windows -------------------------------------------------------------------------


class OrbitWindows:
    """Passes, relay contacts and eclipses of one Earth orbiter (see the module doc)."""

    def __init__(self, tle: Tle) -> None:
        from falak.dynamics.datarelay import load_relays
        from falak.dynamics.stations import load_stations

        self.tle = tle
        self.stations = load_stations()
        self.relays = load_relays()
        self._chunks: OrderedDict[int, list[Item]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path) -> OrbitWindows:
        """The orbiter of the first element set of a TLE file."""
        from falak.dynamics.tle import read_tle_file

        tles = read_tle_file(path)
        if not tles:
            raise InputError(f"{path}: no element set found (orbit: tle: needs a TLE file)")
        return cls(tles[0])

    def _compute(self, a_ns: int) -> list[Item]:
        from falak.dynamics.datarelay import relay_windows
        from falak.dynamics.passes import find_passes
        from falak.planning.campaign.orbit_env import eclipse_intervals

        a, b = _dt_of(a_ns), _dt_of(a_ns + CHUNK_S * _NS)
        out: list[Item] = []
        for p in find_passes(self.tle, self.stations, a, b):
            out.append(
                Item(
                    "pass",
                    _dt_ns(p.rise),
                    _dt_ns(p.set),
                    p.station,
                    detail={
                        "station": p.station,
                        "max_elevation_deg": round(p.max_elevation_deg, 1),
                        "culminate": format_ns(_dt_ns(p.culminate), 0),
                    },
                    key=p.station,
                )
            )
        for w in relay_windows(self.tle, self.relays, a, b, stations=self.stations):
            out.append(
                Item(
                    "contact",
                    _dt_ns(w.start),
                    _dt_ns(w.stop),
                    f"{w.relay} relay",
                    detail={"relay": w.relay, "light_time_s": round(w.light_time_s, 4)},
                    key=w.relay,
                )
            )
        for e0, e1 in eclipse_intervals(self.tle, a, b):
            out.append(
                Item(
                    "eclipse",
                    _dt_ns(e0),
                    _dt_ns(e1),
                    "eclipse",
                    detail={"model": "conical, penumbra counted"},
                    key="eclipse",
                )
            )
        return out

    def chunk(self, a_ns: int) -> list[Item]:
        """The windows of the piece starting at ``a_ns`` (a multiple of :data:`CHUNK_S`)."""
        with self._lock:
            hit = self._chunks.get(a_ns)
            if hit is not None:
                self._chunks.move_to_end(a_ns)
                return hit
            items = self._compute(a_ns)
            self._chunks[a_ns] = items
            while len(self._chunks) > _CHUNKS_KEPT:
                self._chunks.popitem(last=False)
            return items

    def items(self, start_ns: int, end_ns: int) -> list[Item]:
        """The windows overlapping [start_ns, end_ns], pieces joined across chunk edges
        (the chunks either side are read too, so a window crossing an edge of the request's
        chunks is whole; a window longer than a chunk may still be cut)."""
        step = CHUNK_S * _NS
        first = start_ns // step * step - step
        raw: list[Item] = []
        for a in range(first, end_ns + step, step):
            raw.extend(self.chunk(a))
        return [it for it in _join(raw) if it.end_ns >= start_ns and it.start_ns <= end_ns]


def _join(items: Iterable[Item]) -> list[Item]:
    """Join the pieces of one window (same kind and key) that meet at a chunk edge."""
    out: list[Item] = []
    open_: dict[tuple[str, str], int] = {}
    for it in sorted(items, key=lambda i: (i.start_ns, i.kind, i.key)):
        k = (it.kind, it.key)
        j = open_.get(k)
        if j is not None and abs(out[j].end_ns - it.start_ns) <= _JOIN_NS:
            prev = out[j]
            detail = dict(prev.detail)
            if "max_elevation_deg" in detail:
                detail["max_elevation_deg"] = max(
                    detail["max_elevation_deg"], it.detail.get("max_elevation_deg", -90.0)
                )
            out[j] = Item(
                prev.kind, prev.start_ns, it.end_ns, prev.label, prev.lane, detail, prev.key
            )
            continue
        open_[k] = len(out)
        out.append(it)
    return out


# -- a spacecraft's timeline ---------------------------------------------------------------


class _Orbit:
    """A spacecraft's orbit windows, built once from its TLE file (or the error it gave)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.windows: OrbitWindows | None = None
        self.error: str | None = None
        try:
            self.windows = OrbitWindows.from_file(path)
        except FalakError as exc:
            self.error = f"orbit: {exc}"
        except OSError as exc:
            self.error = f"orbit: cannot read {path} ({exc.strerror}); fix the config's orbit.tle"


_orbits: weakref.WeakKeyDictionary[SpacecraftRuntime, _Orbit] = weakref.WeakKeyDictionary()
_orbits_lock = threading.Lock()


def _orbit_of(sc: SpacecraftRuntime, path: Path) -> _Orbit:
    with _orbits_lock:
        orb = _orbits.get(sc)
        if orb is None or orb.path != path:
            orb = _Orbit(path)
            _orbits[sc] = orb
        return orb


def _stack_items(records: Iterable[Mapping[str, Any]]) -> list[Item]:
    out = []
    for rec in records:
        start_ns = rec.get("start_ns")
        for i, step in enumerate(rec.get("steps") or [], start=1):
            if step.get("at") is not None:
                t = parse_ns(str(step["at"]), "stack step time")
            elif start_ns is not None:
                t = int(start_ns) + round(float(step.get("offset_s") or 0.0) * _NS)
            else:
                continue  # a loaded stack of offsets: no times until it starts
            command = str(step.get("command", "?")).rsplit("/", 1)[-1]
            detail = {
                "stack": rec.get("name"),
                "step": i,
                "command": step.get("command"),
                "state": step.get("state"),
                "stack_state": rec.get("state"),
                "comment": step.get("comment"),
            }
            out.append(
                Item(
                    "stack",
                    t,
                    t,
                    f"{rec.get('name')} #{i} {command}",
                    detail={k: v for k, v in detail.items() if v is not None},
                )
            )
    return out


def timeline_items(sc: SpacecraftRuntime, start_ns: int, end_ns: int) -> list[Item]:
    """Every item of ``sc``'s timeline overlapping [start_ns, end_ns], sorted by start.

    ``error`` items (a bad plan file, an orbit that cannot be propagated, a window too long
    for orbit windows) are placed at the run clock's now, kept within the window.
    """
    if end_ns <= start_ns:
        raise InputError(
            f"timeline: end {format_ns(end_ns, 0)} is not after start {format_ns(start_ns, 0)}"
        )
    if end_ns - start_ns > MAX_SPAN_S * _NS:
        raise InputError(
            f"timeline: the window is {(end_ns - start_ns) / _NS / 86400:.0f} days; ask for at "
            f"most {MAX_SPAN_S // 86400} days at a time"
        )
    items: list[Item] = []
    cfg = sc.config
    errors: list[Item] = []
    if cfg is not None:
        paths = list(cfg.plans)
        if cfg.uplink_windows is not None and cfg.uplink_windows.file not in paths:
            paths.append(cfg.uplink_windows.file)
        for p in paths:
            for it in read_plan(p):
                (errors if it.kind == "error" else items).append(it)
        if cfg.orbit_tle is not None:
            orb = _orbit_of(sc, cfg.orbit_tle)
            if orb.error is not None:
                errors.append(_error(orb.error, file=str(cfg.orbit_tle)))
            elif end_ns - start_ns > MAX_ORBIT_SPAN_S * _NS:
                errors.append(
                    _error(
                        f"passes, contacts and eclipses are computed for windows up to "
                        f"{MAX_ORBIT_SPAN_S // 86400} days: zoom in to see them"
                    )
                )
            elif orb.windows is not None:
                try:
                    items.extend(orb.windows.items(start_ns, end_ns))
                except FalakError as exc:
                    errors.append(_error(f"orbit: {exc}", file=str(cfg.orbit_tle)))
    items.extend(_stack_items(sc.stacks.records()))
    shown = [it for it in items if it.end_ns >= start_ns and it.start_ns <= end_ns]
    now = min(max(sc.clock.now_ns(), start_ns), end_ns)
    shown.extend(Item(e.kind, now, now, e.label, e.lane, e.detail) for e in errors)
    shown.sort(key=lambda i: (i.start_ns, i.lane, i.label))
    return shown
