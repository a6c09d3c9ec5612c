"""CCSDS 502.0-B-3 Orbit Data Messages: the Orbit Ephemeris Message (OEM) in KVN form.

An OEM is a header (``CCSDS_OEM_VERS``, ``CREATION_DATE``, ``ORIGINATOR``), then one or more
segments, each a metadata block between ``META_START`` and ``META_STOP`` (OBJECT_NAME,
OBJECT_ID, CENTER_NAME, REF_FRAME, TIME_SYSTEM, START_TIME, STOP_TIME, optional
INTERPOLATION…) followed by data lines ``epoch x y z vx vy vz [ax ay az]`` in km and km/s
(CCSDS 502.0-B-3 §5.2–5.3, §7.4 for the epoch formats). falak writes lunar orbits with
CENTER_NAME = MOON and REF_FRAME = ICRF (Moon-centred ICRF axes), TIME_SYSTEM UTC.

The reader accepts several segments (joined in order), COMMENT and blank lines, calendar
(``YYYY-MM-DDThh:mm:ss.sss``) and day-of-year (``YYYY-DDDThh:mm:ss``) epochs, the optional
acceleration columns and covariance blocks (skipped), and TIME_SYSTEM UTC or TDB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from falak.errors import InputError
from falak.timecodes import iso_to_datetime64_ns

__all__ = ["OemEphemeris", "format_oem", "parse_oem", "read_oem", "write_oem"]

_DOY = re.compile(r"^(\d{4})-(\d{3})T(\d{2}):(\d{2}):(\d{2}(?:\.\d*)?)Z?$")
_FIXED = ("CENTER_NAME", "REF_FRAME", "TIME_SYSTEM")
_CAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d*)?Z?$")


@dataclass(frozen=True)
class OemEphemeris:
    """States from an OEM: ``times`` as ``datetime64[ns]`` in ``time_system``; km and km/s."""

    times: NDArray[np.datetime64]
    r_km: NDArray[np.float64]
    v_km_s: NDArray[np.float64]
    header: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def time_system(self) -> str:
        """TIME_SYSTEM of the (first) segment."""
        return self.metadata.get("TIME_SYSTEM", "UTC")


def _parse_epoch(text: str, where: str) -> np.datetime64:
    text = text.strip()
    m = _DOY.match(text)
    if m:
        year, doy, hh, mm, ss = m.groups()
        try:
            base = iso_to_datetime64_ns(f"{year}-01-01T00:00:00")
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        seconds = (int(doy) - 1) * 86400 + int(hh) * 3600 + int(mm) * 60 + float(ss)
        return base + np.timedelta64(round(seconds * 1e9), "ns")
    if _CAL.match(text):
        try:
            return iso_to_datetime64_ns(text)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
        except ValueError:
            pass
    raise InputError(
        f"{where}: epoch {text!r} is not 'YYYY-MM-DDThh:mm:ss[.s]' or 'YYYY-DDDThh:mm:ss[.s]'"
    )


def parse_oem(text: str, source: str = "<oem>") -> OemEphemeris:
    """Parse the KVN text of an OEM into arrays.

    Raises :class:`~falak.errors.InputError` naming ``source:line`` for malformed content.
    """
    header: dict[str, str] = {}
    metadata: dict[str, str] = {}
    times: list[np.datetime64] = []
    rows: list[list[float]] = []
    state = "header"
    seen_version = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        where = f"{source}:{lineno}"
        if not line or line.startswith("COMMENT"):
            continue
        if line == "META_START":
            state = "meta"
            continue
        if line == "META_STOP":
            for key in ("CENTER_NAME", "REF_FRAME", "TIME_SYSTEM"):
                if key not in metadata:
                    raise InputError(f"{where}: metadata block lacks {key}")
            state = "data"
            continue
        if line == "COVARIANCE_START":
            state = "covariance"
            continue
        if line == "COVARIANCE_STOP":
            state = "data"
            continue
        if state == "covariance":
            continue
        if state in ("header", "meta"):
            key, sep, value = line.partition("=")
            if not sep:
                raise InputError(f"{where}: expected 'KEY = value', found {line[:60]!r}")
            key, value = key.strip(), value.strip()
            if state == "header":
                header[key] = value
                if key == "CCSDS_OEM_VERS":
                    seen_version = True
            else:
                if key in _FIXED and key in metadata and metadata[key] != value:
                    raise InputError(
                        f"{where}: {key} changes from {metadata[key]} to {value} between "
                        "segments; falak joins segments only in one frame and time system"
                    )
                if key not in metadata or key == "STOP_TIME":
                    metadata[key] = value
            continue
        # data line
        fields = line.split()
        if len(fields) not in (7, 10):
            raise InputError(
                f"{where}: data line has {len(fields)} fields; expected 'epoch x y z vx vy vz' "
                "(7) or with accelerations (10)"
            )
        times.append(_parse_epoch(fields[0], where))
        try:
            rows.append([float(v) for v in fields[1:7]])
        except ValueError as exc:
            raise InputError(f"{where}: state values must be numbers (km, km/s)") from exc
    if not seen_version:
        raise InputError(f"{source}: not an OEM: the first keyword must be CCSDS_OEM_VERS")
    if not rows:
        raise InputError(f"{source}: the OEM holds no data lines")
    t = np.array(times, dtype="datetime64[ns]")
    if np.any(np.diff(t) <= np.timedelta64(0, "ns")):
        raise InputError(f"{source}: epochs must increase strictly")
    data = np.array(rows, dtype=float)
    return OemEphemeris(t, data[:, :3].copy(), data[:, 3:].copy(), header, metadata)


def read_oem(path: str | Path) -> OemEphemeris:
    """Read an OEM (KVN) file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise InputError(f"cannot read OEM file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: an OEM in KVN form is ASCII text") from exc
    return parse_oem(text, str(path))


def _iso(times: NDArray[np.datetime64]) -> NDArray[np.str_]:
    return np.datetime_as_string(times.astype("datetime64[us]"), unit="us")


def format_oem(
    times: NDArray[np.datetime64],
    r_km: NDArray[np.float64],
    v_km_s: NDArray[np.float64],
    *,
    object_name: str = "FALAK ORBITER",
    object_id: str = "UNKNOWN",
    center_name: str = "MOON",
    ref_frame: str = "ICRF",
    time_system: str = "UTC",
    originator: str = "FALAK",
    comments: tuple[str, ...] = (),
    creation_date: datetime | None = None,
) -> str:
    """Return the KVN text of a one-segment OEM (CCSDS 502.0-B-3).

    ``times`` are ``datetime64`` in ``time_system``; positions in km (written to 1 mm) and
    velocities in km/s (to 1 µm/s).
    """
    t = np.asarray(times).astype("datetime64[ns]")
    r = np.asarray(r_km, dtype=float).reshape(-1, 3)
    v = np.asarray(v_km_s, dtype=float).reshape(-1, 3)
    if not (len(t) == len(r) == len(v)) or len(t) == 0:
        raise InputError("an OEM needs the same, non-zero number of epochs, positions, velocities")
    created = (creation_date or datetime.now(UTC)).astimezone(UTC)
    iso = _iso(t)
    lines = [
        "CCSDS_OEM_VERS = 3.0",
        f"CREATION_DATE = {created:%Y-%m-%dT%H:%M:%S}",
        f"ORIGINATOR = {originator}",
        "",
        "META_START",
        f"OBJECT_NAME = {object_name}",
        f"OBJECT_ID = {object_id}",
        f"CENTER_NAME = {center_name}",
        f"REF_FRAME = {ref_frame}",
        f"TIME_SYSTEM = {time_system}",
        f"START_TIME = {iso[0]}",
        f"STOP_TIME = {iso[-1]}",
        "INTERPOLATION = HERMITE",
        "INTERPOLATION_DEGREE = 3",  # falak reads states back with cubic Hermite
        "META_STOP",
        "",
    ]
    lines += [f"COMMENT {c}" for c in comments]
    body = [
        f"{iso[i]} {r[i, 0]:.6f} {r[i, 1]:.6f} {r[i, 2]:.6f} "
        f"{v[i, 0]:.9f} {v[i, 1]:.9f} {v[i, 2]:.9f}"
        for i in range(len(t))
    ]
    return "\n".join(lines + body) + "\n"


def write_oem(path: str | Path, text: str) -> None:
    """Write OEM text to ``path`` (ASCII)."""
    try:
        Path(path).write_text(text, encoding="ascii")
    except OSError as exc:
        raise InputError(f"cannot write OEM file {path}: {exc.strerror}") from exc
