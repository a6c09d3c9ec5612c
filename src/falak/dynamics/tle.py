"""Two-line element sets and CCSDS Orbit Mean-elements Messages; vectorised SGP4; TEME → ITRS.

Element sets come from NORAD two-line elements (TLE, the punch-card format) or from CCSDS
502.0-B-2 Orbit Data Messages, OMM form, in KVN (``KEYWORD = value`` lines) or XML. Both
become :class:`Tle` objects that carry an initialised ``sgp4`` ``Satrec`` (WGS-72 constants,
as the element sets are fitted with).

Propagation runs SGP4 (Vallado, Crawford, Hujsak and Kelso, "Revisiting Spacetrack Report
#3", AIAA 2006-6753) for many satellites and many epochs at once through
``sgp4.api.SatrecArray``, giving TEME positions in km and velocities in km/s.
:func:`teme_to_itrs` rotates them to the Earth-fixed ITRS by GMST 1982 (AIAA 2006-6753
Appendix C) and, optionally, polar motion.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sgp4.api import WGS72, Satrec, SatrecArray

from falak.errors import InputError

__all__ = [
    "SGP4_ERRORS",
    "Tle",
    "TleError",
    "gmst1982_rad",
    "jd_split",
    "parse_omm",
    "parse_tle_text",
    "propagate_teme",
    "read_omm_file",
    "read_tle_file",
    "teme_to_itrs",
    "tle_from_elements",
    "tles_by_key",
]

#: The official column layout of each TLE line (N = digit), as printed by sgp4 and CelesTrak.
LINE1_FORMAT = "1 NNNNNC NNNNNAAA NNNNN.NNNNNNNN +.NNNNNNNN +NNNNN-N +NNNNN-N N NNNNN"
LINE2_FORMAT = "2 NNNNN NNN.NNNN NNN.NNNN NNNNNNN NNN.NNNN NNN.NNNN NN.NNNNNNNNNNNNNN"

#: SGP4 error codes (sgp4 ``Satrec.error``), AIAA 2006-6753 / sgp4 documentation.
SGP4_ERRORS: dict[int, str] = {
    0: "ok",
    1: "mean eccentricity is outside the range 0 ≤ e < 1",
    2: "mean motion has fallen below zero",
    3: "perturbed eccentricity is outside the range 0 ≤ e ≤ 1",
    4: "length of the orbit's semi-latus rectum has fallen below zero",
    5: "(no longer used)",
    6: "orbit has decayed: the satellite's computed position is underground",
}

# Columns (0-based) that must hold a space or a period in each line, from the official layout.
_FIXED_CHARS: dict[str, tuple[tuple[int, str], ...]] = {
    number: tuple((i, ch) for i, ch in enumerate(fmt) if ch in " .")
    for number, fmt in (("1", LINE1_FORMAT), ("2", LINE2_FORMAT))
}

_DAY_S = 86400.0
_ARCSEC_RAD = math.pi / 180.0 / 3600.0
_J2000_JD = 2451545.0


class TleError(InputError):
    """A TLE or OMM is malformed: says where (file, line), what was expected and what was found."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.expected = expected
        self.found = found
        where = ""
        if file is not None:
            where = f"{file}:{line}: " if line is not None else f"{file}: "
        elif line is not None:
            where = f"line {line}: "
        text = where + message
        if expected is not None:
            text += f"\n  expected: {expected}\n  found:    {found}"
        super().__init__(text)


@dataclass(frozen=True)
class Tle:
    """One element set: a name, the NORAD catalogue number, the two TLE lines and the epoch.

    ``epoch`` is a timezone-aware UTC datetime. ``satrec`` is the initialised ``sgp4`` record
    (from the lines, or straight from an OMM so no precision is lost to TLE columns).
    """

    name: str
    norad: int
    line1: str
    line2: str
    epoch: datetime
    satrec: Satrec = field(repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.satrec is None:
            object.__setattr__(self, "satrec", Satrec.twoline2rv(self.line1, self.line2, WGS72))

    @property
    def mean_motion_rev_per_day(self) -> float:
        """Kozai mean motion at epoch, revolutions per day (TLE line 2, columns 53-63)."""
        return float(self.satrec.no_kozai) * 1440.0 / (2.0 * math.pi)

    @property
    def period_min(self) -> float:
        """Orbital period from the Kozai mean motion, minutes."""
        return 1440.0 / self.mean_motion_rev_per_day


def _checksum(line: str) -> int:
    """Return the TLE checksum of the first 68 columns: digits summed, '-' counts 1, mod 10."""
    total = 0
    for ch in line[:68]:
        if ch.isdigit():
            total += int(ch)
        elif ch == "-":
            total += 1
    return total % 10


def _check_line(
    line: str, number: str, file: str | None, lineno: int | None, checksum: bool = True
) -> None:
    fmt = LINE1_FORMAT if number == "1" else LINE2_FORMAT
    if not line or line[0] != number:
        raise TleError(
            f"TLE line {number} must start with '{number}' in column 1, found "
            f"{line[:1]!r}; a TLE is an optional name line, then line 1, then line 2",
            file=file,
            line=lineno,
            expected=fmt,
            found=line,
        )
    if len(line) != 69:
        raise TleError(
            f"TLE line {number} must be exactly 69 characters (68 plus the checksum digit), "
            f"found {len(line)}",
            file=file,
            line=lineno,
            expected=fmt,
            found=line,
        )
    for col, ch in _FIXED_CHARS[number]:
        if line[col] != ch:
            raise TleError(
                f"TLE line {number} column {col + 1} must be {ch!r}, found {line[col]!r}; "
                "every field has a fixed column (N marks a digit)",
                file=file,
                line=lineno,
                expected=fmt,
                found=line,
            )
    if not line[68].isdigit():
        raise TleError(
            f"TLE line {number} column 69 must be the checksum digit, found {line[68]!r}",
            file=file,
            line=lineno,
            expected=fmt,
            found=line,
        )
    expected_sum = _checksum(line)
    if checksum and int(line[68]) != expected_sum:
        raise TleError(
            f"TLE line {number} checksum is wrong: expected {expected_sum}, found {line[68]} "
            "(sum of the digits in columns 1-68, '-' counts 1, modulo 10)",
            file=file,
            line=lineno,
        )


def _epoch_datetime(satrec: Satrec) -> datetime:
    """Return the element-set epoch as an aware UTC datetime (microsecond resolution)."""
    jd0 = float(satrec.jdsatepoch) - 2440587.5  # days since 1970-01-01
    days = jd0 + float(satrec.jdsatepochF)
    whole = math.floor(days)
    us = round((days - whole) * 86_400_000_000.0)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=whole, microseconds=us)


def _make_tle(
    name: str, line1: str, line2: str, file: str | None, lineno: int | None, checksum: bool
) -> Tle:
    _check_line(line1, "1", file, lineno, checksum)
    _check_line(line2, "2", file, None if lineno is None else lineno + 1, checksum)
    if line1[2:7] != line2[2:7]:
        raise TleError(
            f"TLE lines 1 and 2 have different satellite numbers ({line1[2:7].strip()!r} vs "
            f"{line2[2:7].strip()!r}); each line 2 must follow its own line 1",
            file=file,
            line=lineno,
        )
    try:
        satrec = Satrec.twoline2rv(line1, line2, WGS72)
    except ValueError as exc:  # sgp4's own field checks, with its layout message
        raise TleError(
            "TLE could not be read by sgp4: " + str(exc).splitlines()[0],
            file=file,
            line=lineno,
            expected=LINE1_FORMAT + " / " + LINE2_FORMAT,
            found=line1 + " / " + line2,
        ) from None
    if not name:
        name = line1[2:7].strip()
    return Tle(name, int(satrec.satnum), line1, line2, _epoch_datetime(satrec), satrec)


def parse_tle_text(text: str, file: str | None = None, *, checksum: bool = True) -> list[Tle]:
    """Parse two- or three-line element sets (name lines optional, ``0 NAME`` allowed).

    Blank lines and lines starting with ``#`` are skipped; trailing spaces and CR are ignored.
    ``checksum=False`` accepts lines whose column-69 checksum is wrong (some test sets have).
    Raises :class:`TleError` (an :class:`~falak.errors.InputError`) naming the file and line,
    the official column layout and the offending line, or the expected and found checksum.
    """
    rows = [
        (i, raw.rstrip("\r\n ").rstrip())
        for i, raw in enumerate(text.splitlines(), start=1)
        if raw.strip() and not raw.lstrip().startswith("#")
    ]
    tles: list[Tle] = []
    pending_name = ""
    k = 0
    while k < len(rows):
        lineno, line = rows[k]
        nxt = rows[k + 1][1] if k + 1 < len(rows) else ""
        if line.startswith("1 ") and (nxt.startswith("2") or len(nxt) >= 60):
            tles.append(_make_tle(pending_name, line, rows[k + 1][1], file, lineno, checksum))
            pending_name = ""
            k += 2
            continue
        if line.startswith(("1 ", "2 ")) or (line[:1] in "12" and len(line) >= 60):
            number = line[0]
            other = "2" if number == "1" else "1"
            raise TleError(
                f"TLE line {number} is not paired: line 1 must be followed directly by line 2"
                + (" (this looks like a line 1)" if number == "1" else f", found no line {other}"),
                file=file,
                line=lineno,
                expected=LINE1_FORMAT if number == "1" else LINE2_FORMAT,
                found=line,
            )
        if pending_name:
            raise TleError(
                f"two name lines in a row ({pending_name!r} then {line!r}); a name line must "
                "be followed by TLE line 1",
                file=file,
                line=lineno,
                expected=LINE1_FORMAT,
                found=line,
            )
        name = line[2:].strip() if line.startswith("0 ") else line.strip()
        pending_name = name or line
        k += 1
    if pending_name:
        raise TleError(
            f"name line {pending_name!r} at the end is not followed by TLE lines 1 and 2",
            file=file,
            line=rows[-1][0],
        )
    if not tles:
        raise TleError(
            "no element sets found; expected an optional name line, then line 1 and line 2",
            file=file,
            expected=LINE1_FORMAT,
            found=text[:69],
        )
    return tles


def read_tle_file(path: str | Path) -> list[Tle]:
    """Read a TLE file (2- or 3-line sets); see :func:`parse_tle_text`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read TLE file {str(p)!r}: {exc.strerror}") from None
    return parse_tle_text(text, file=str(p))


# --- OMM (CCSDS 502.0-B-2) ----------------------------------------------------------------------

_OMM_REQUIRED = (
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "NORAD_CAT_ID",
    "BSTAR",
)
_OMM_FLOATS = (
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "BSTAR",
    "MEAN_MOTION_DOT",
    "MEAN_MOTION_DDOT",
)
_KVN_LINE = re.compile(r"^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*(\[[^\]]*\])?\s*$")


def _omm_epoch(text: str, where: str) -> datetime:
    s = text.strip().removesuffix("Z")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%jT%H:%M:%S.%f", "%Y-%jT%H:%M:%S"):
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise TleError(
        f"OMM EPOCH {text!r} is not a CCSDS time; use YYYY-MM-DDThh:mm:ss[.d...] or "
        f"YYYY-DDDThh:mm:ss[.d...] in UTC ({where})"
    )


def _omm_to_tle(fields: dict[str, str], where: str, file: str | None, line: int | None) -> Tle:
    missing = [k for k in _OMM_REQUIRED if not fields.get(k)]
    if missing:
        raise TleError(
            f"OMM is missing required keyword(s) {', '.join(missing)}; SGP4 needs "
            f"{', '.join(_OMM_REQUIRED)} ({where})",
            file=file,
            line=line,
        )
    theory = fields.get("MEAN_ELEMENT_THEORY", "SGP4").strip().upper()
    if theory not in ("SGP4", "SGP/SGP4"):
        raise TleError(
            f"OMM MEAN_ELEMENT_THEORY is {theory!r}; only SGP4 mean elements can be "
            f"propagated here ({where})",
            file=file,
            line=line,
        )
    frame = fields.get("REF_FRAME", "TEME").strip().upper()
    tsys = fields.get("TIME_SYSTEM", "UTC").strip().upper()
    if frame != "TEME" or tsys != "UTC":
        raise TleError(
            f"OMM REF_FRAME/TIME_SYSTEM are {frame}/{tsys}; SGP4 elements must be TEME/UTC "
            f"({where})",
            file=file,
            line=line,
        )
    values: dict[str, float] = {}
    for key in _OMM_FLOATS:
        raw = fields.get(key, "0") or "0"
        try:
            values[key] = float(raw)
        except ValueError:
            raise TleError(
                f"OMM {key} = {raw!r} is not a number ({where})", file=file, line=line
            ) from None
    try:
        norad = int(fields["NORAD_CAT_ID"])
    except ValueError:
        raise TleError(
            f"OMM NORAD_CAT_ID = {fields['NORAD_CAT_ID']!r} is not an integer ({where})",
            file=file,
            line=line,
        ) from None
    if not 0.0 <= values["ECCENTRICITY"] < 1.0:
        raise TleError(
            f"OMM ECCENTRICITY = {values['ECCENTRICITY']} is outside 0 ≤ e < 1 ({where})",
            file=file,
            line=line,
        )
    if values["MEAN_MOTION"] <= 0.0:
        raise TleError(
            f"OMM MEAN_MOTION = {values['MEAN_MOTION']} rev/day must be positive ({where})",
            file=file,
            line=line,
        )
    epoch = _omm_epoch(fields["EPOCH"], where)
    epoch_1950 = (epoch - datetime(1949, 12, 31, tzinfo=UTC)).total_seconds() / _DAY_S
    deg = math.pi / 180.0
    sat = Satrec()
    sat.sgp4init(
        WGS72,
        "i",
        norad,
        epoch_1950,
        values["BSTAR"],
        values["MEAN_MOTION_DOT"] / (1036800.0 / math.pi),  # rev/day² → rad/min² (sgp4.omm)
        values["MEAN_MOTION_DDOT"] / (2985984000.0 / 2.0 / math.pi),  # rev/day³ → rad/min³
        values["ECCENTRICITY"],
        values["ARG_OF_PERICENTER"] * deg,
        values["INCLINATION"] * deg,
        values["MEAN_ANOMALY"] * deg,
        values["MEAN_MOTION"] / 720.0 * math.pi,  # rev/day → rad/min
        values["RA_OF_ASC_NODE"] * deg,
    )
    sat.classification = (fields.get("CLASSIFICATION_TYPE") or "U")[:1]
    object_id = fields.get("OBJECT_ID", "")
    sat.intldesg = object_id[2:].replace("-", "") if len(object_id) > 4 else ""
    sat.elnum = int(fields.get("ELEMENT_SET_NO") or 999) % 10000
    sat.revnum = int(fields.get("REV_AT_EPOCH") or 0) % 100000
    sat.ephtype = int(fields.get("EPHEMERIS_TYPE") or 0)
    from sgp4.exporter import export_tle

    line1, line2 = export_tle(sat)
    name = (fields.get("OBJECT_NAME") or str(norad)).strip()
    return Tle(name, norad, line1, line2, epoch, sat)


def tle_from_elements(
    name: str,
    norad: int,
    epoch: datetime,
    *,
    inclination_deg: float,
    raan_deg: float,
    eccentricity: float,
    arg_perigee_deg: float,
    mean_anomaly_deg: float,
    mean_motion_rev_per_day: float,
    bstar: float = 0.0,
    mean_motion_dot: float = 0.0,
) -> Tle:
    """Build a TLE from SGP4 mean elements (Kozai mean motion, TEME of epoch, UTC epoch).

    The lines are formatted by ``sgp4.exporter`` with valid checksums, then parsed back, so
    ``satrec`` is exactly what any TLE reader gets from ``line1``/``line2``.
    """
    fields = {
        "OBJECT_NAME": name,
        "NORAD_CAT_ID": str(norad),
        "EPOCH": _utc_iso(epoch),
        "INCLINATION": repr(inclination_deg),
        "RA_OF_ASC_NODE": repr(raan_deg % 360.0),
        "ECCENTRICITY": repr(eccentricity),
        "ARG_OF_PERICENTER": repr(arg_perigee_deg % 360.0),
        "MEAN_ANOMALY": repr(mean_anomaly_deg % 360.0),
        "MEAN_MOTION": repr(mean_motion_rev_per_day),
        "BSTAR": repr(bstar),
        "MEAN_MOTION_DOT": repr(mean_motion_dot),
    }
    tle = _omm_to_tle(fields, f"elements of {name}", None, None)
    (out,) = parse_tle_text(f"{name}\n{tle.line1}\n{tle.line2}")
    return out


def _utc_iso(t: datetime) -> str:
    if t.tzinfo is None:
        raise InputError(f"epoch {t.isoformat()} has no timezone; give an aware UTC datetime")
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _parse_omm_kvn(text: str, file: str | None) -> list[Tle]:
    blocks: list[tuple[int, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("COMMENT"):
            continue
        m = _KVN_LINE.match(line)
        if m is None:
            raise TleError(
                f"OMM KVN line is not 'KEYWORD = value [unit]': {line!r}",
                file=file,
                line=lineno,
                expected="KEYWORD = value",
                found=line,
            )
        key, value = m.group(1), m.group(2)
        if key == "CCSDS_OMM_VERS":
            current = {}
            blocks.append((lineno, current))
        if current is None:
            raise TleError(
                f"OMM KVN must start with CCSDS_OMM_VERS, found {key!r} first",
                file=file,
                line=lineno,
            )
        current[key] = value
    return [_omm_to_tle(fields, f"OMM starting at line {ln}", file, ln) for ln, fields in blocks]


def _parse_omm_xml(text: str, file: str | None) -> list[Tle]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise TleError(f"OMM XML is not well-formed: {exc}", file=file) from None

    def local(tag: str) -> str:
        return tag.rsplit("}", 1)[-1]

    omms = [el for el in root.iter() if local(el.tag) == "omm"]
    if not omms:
        raise TleError(
            f"OMM XML has no <omm> element (root is <{local(root.tag)}>); expected "
            "<ndm><omm>...</omm></ndm> or <omm>...</omm> per CCSDS 502.0-B-2",
            file=file,
        )
    out = []
    for k, omm in enumerate(omms, start=1):
        fields = {
            local(el.tag): (el.text or "").strip()
            for el in omm.iter()
            if len(el) == 0 and el.text and el.text.strip()
        }
        out.append(_omm_to_tle(fields, f"OMM #{k} in the XML", file, None))
    return out


def parse_omm(text: str, file: str | None = None) -> list[Tle]:
    """Parse CCSDS 502.0-B-2 OMMs (KVN or XML, one or many; also CelesTrak's JSON form).

    The ``satrec`` is built from the OMM values directly; ``line1``/``line2`` are the same
    elements exported to TLE form (rounded to TLE columns) for display and interchange.
    """
    head = text.lstrip()[:1]
    if head == "<":
        return _parse_omm_xml(text, file)
    if head in ("[", "{"):
        return _parse_omm_json(text, file)
    return _parse_omm_kvn(text, file)


def _parse_omm_json(text: str, file: str | None) -> list[Tle]:
    """OMM as JSON: one object or a list of objects keyed by the OMM keywords (CelesTrak)."""
    import json

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TleError(f"OMM JSON is not valid JSON: {exc}", file=file) from None
    items = doc if isinstance(doc, list) else [doc]
    if not all(isinstance(item, dict) for item in items):
        raise TleError(
            "OMM JSON must be an object or a list of objects keyed by OMM keywords "
            "(OBJECT_NAME, EPOCH, MEAN_MOTION, ...)",
            file=file,
        )
    return [
        _omm_to_tle(
            {str(k): "" if v is None else str(v) for k, v in item.items()},
            f"OMM #{k} in the JSON",
            file,
            None,
        )
        for k, item in enumerate(items, start=1)
    ]


def read_omm_file(path: str | Path) -> list[Tle]:
    """Read an OMM file (KVN, XML or JSON); see :func:`parse_omm`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read OMM file {str(p)!r}: {exc.strerror}") from None
    return parse_omm(text, file=str(p))


# --- propagation ------------------------------------------------------------------------------


def _as_satrecs(tles: Tle | Sequence[Tle]) -> list[Satrec]:
    if isinstance(tles, Tle):
        return [tles.satrec]
    return [t.satrec for t in tles]


def propagate_teme(
    tles: Tle | Sequence[Tle],
    jd_utc: ArrayLike,
    fr: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.uint8]]:
    """Propagate S element sets to T epochs at once with SGP4.

    Parameters
    ----------
    tles
        One :class:`Tle` or a sequence of S of them.
    jd_utc
        Julian dates (UTC), shape (T,). Pass the whole part here and the fraction in ``fr``
        to keep sub-microsecond precision (a single float64 JD resolves only ~40 µs).
    fr
        Optional day fractions added to ``jd_utc``, shape (T,).

    Returns
    -------
    pos_km, vel_km_s
        TEME position (km) and velocity (km/s), shape (S, T, 3). NaN where SGP4 failed.
    error_codes
        SGP4 error codes, shape (S, T); meanings in :data:`SGP4_ERRORS`.
    """
    jd = np.atleast_1d(np.asarray(jd_utc, dtype=np.float64))
    frac = np.zeros_like(jd) if fr is None else np.atleast_1d(np.asarray(fr, dtype=np.float64))
    jd, frac = np.broadcast_arrays(jd, frac)
    arr = SatrecArray(_as_satrecs(tles))
    err, r, v = arr.sgp4(np.ascontiguousarray(jd), np.ascontiguousarray(frac))
    bad = err != 0
    if bad.any():
        r[bad] = np.nan
        v[bad] = np.nan
    return r, v, err.astype(np.uint8)


def gmst1982_rad(jd_ut1: ArrayLike, fr_ut1: ArrayLike = 0.0) -> NDArray[np.float64]:
    """Return Greenwich mean sidereal time (IAU 1982), radians, the angle TEME → PEF.

    AIAA 2006-6753 Appendix C; UT1 Julian date split as whole + fraction for precision.
    """
    jd = np.asarray(jd_ut1, dtype=np.float64)
    f = np.asarray(fr_ut1, dtype=np.float64)
    t = (jd - _J2000_JD + f) / 36525.0
    g = 67310.54841 + (8640184.812866 + (0.093104 + (-6.2e-6) * t) * t) * t
    theta: NDArray[np.float64] = (jd % 1.0 + f + (g / _DAY_S) % 1.0) % 1.0 * (2.0 * np.pi)
    return theta


def teme_to_itrs(
    pos_km: NDArray[np.float64],
    jd_ut1: ArrayLike,
    fr_ut1: ArrayLike = 0.0,
    vel_km_s: NDArray[np.float64] | None = None,
    xp_arcsec: float = 0.0,
    yp_arcsec: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """Rotate TEME vectors to the Earth-fixed ITRS.

    PEF = R3(GMST82) · TEME, ITRS = W · PEF with polar motion W = R1(yp) R2(xp) (small-angle,
    as in AIAA 2006-6753 Appendix C); velocity gets the −ω × r term of Earth rotation.

    Parameters
    ----------
    pos_km, vel_km_s
        TEME vectors, shape (..., T, 3) with the time axis second to last.
    jd_ut1, fr_ut1
        UT1 Julian date (whole + fraction), shape (T,). UT1 = UTC + (UT1−UTC); using UTC
        directly shifts the Earth by ≤ 0.9 s of rotation (≤ 0.4 km at the equator).
    xp_arcsec, yp_arcsec
        Polar motion (IERS), arcseconds; zero gives the PEF frame (≤ ~15 m difference).

    Returns
    -------
    ITRS position (km) and velocity (km/s, or None), same shapes as the inputs.
    """
    theta = gmst1982_rad(jd_ut1, fr_ut1)
    c, s = np.cos(theta), np.sin(theta)
    x, y, z = pos_km[..., 0], pos_km[..., 1], pos_km[..., 2]
    px = c * x + s * y
    py = -s * x + c * y
    pz = z
    vout: NDArray[np.float64] | None = None
    if vel_km_s is not None:
        # Earth rotation rate used with GMST 1982, rad/s (AIAA 2006-6753 Appendix C)
        omega = 7.292115146706979e-5
        vx, vy, vz = vel_km_s[..., 0], vel_km_s[..., 1], vel_km_s[..., 2]
        qx = c * vx + s * vy + omega * py
        qy = -s * vx + c * vy - omega * px
        vout = np.stack([qx, qy, vz], axis=-1)
    if xp_arcsec or yp_arcsec:
        xp = xp_arcsec * _ARCSEC_RAD
        yp = yp_arcsec * _ARCSEC_RAD
        # ITRS = R1(yp) R2(xp) PEF, small angles: [[1, 0, xp], [0, 1, -yp], [-xp, yp, 1]]
        px, py, pz = px + xp * pz, py - yp * pz, -xp * px + yp * py + pz
        if vout is not None:
            vx2, vy2, vz2 = vout[..., 0], vout[..., 1], vout[..., 2]
            vout = np.stack([vx2 + xp * vz2, vy2 - yp * vz2, -xp * vx2 + yp * vy2 + vz2], axis=-1)
    return np.stack([px, py, pz], axis=-1), vout


def tles_by_key(tles: Iterable[Tle], key: str) -> list[Tle]:
    """Return the element sets whose name (case-insensitive) or NORAD number equals ``key``."""
    k = key.strip()
    out = [t for t in tles if t.name.casefold() == k.casefold() or str(t.norad) == k]
    return out


def jd_split(times: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Split numpy datetime64 UTC times into Julian date whole part and fraction (ns exact)."""
    t = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    day_ns = 86_400_000_000_000
    days = np.floor_divide(t, day_ns)
    rem = t - days * day_ns
    return days.astype(np.float64) + 2440587.5, rem.astype(np.float64) / day_ns
