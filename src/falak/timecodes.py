"""UTC-aware time for falak, and the CCSDS time codes CUC and CDS.

References
----------
- CCSDS 301.0-B-4, *Time Code Formats*, Blue Book, November 2010:
  §3.2 CCSDS Unsegmented Time Code (CUC): a coarse time of 1 to 4 octets counting seconds and
  a fine time of 0 to 3 octets counting binary fractions of a second (2^-8 s per octet),
  from the 1958-01-01 TAI epoch (level 1, §3.2.2) or an agency-defined epoch (level 2).
  (B-4 also allows up to 7 coarse and 10 fine octets through a P-field extension; falak
  supports the basic sizes.)
  §3.3 CCSDS Day Segmented Time Code (CDS): a day count of 16 or 24 bits from the
  1958-01-01 epoch (or an agency epoch), milliseconds of the day in 32 bits, and an optional
  submillisecond field of 16 bits (microseconds) or 32 bits (picoseconds). CDS counts days,
  so it is a UTC-style code: every day is 86,400 s and a leap second shows as milliseconds of
  day from 86,400,000 to 86,400,999.
  §3.2.2 / §3.3.2: the P-field octet that can describe either code (:func:`decode_pfield`).
- IERS Bulletin C (Paris Observatory) for TAI−UTC: 10 s from 1972-01-01, one more second at
  each announced leap second, 37 s since 2017-01-01 (Bulletin C 52 of July 2016 announced the
  last one, at the end of 2016-12-31; no leap second has been announced since).

Conventions
-----------
- Inside falak, a time is float64 seconds on a named scale, or ``datetime64[ns]`` holding UTC
  (which cannot hold 23:59:60). At the edges it is a timezone-aware UTC ``datetime``; ISO 8601
  text is parsed and formatted there by :mod:`falak.utctime` (one set of rules for the CLI,
  the server and files).
- "TAI seconds" are SI seconds since 1958-01-01T00:00:00 TAI. Float64 resolves about 0.5 µs
  at the 2020s' magnitude (~2.1e9 s).
- Before 1972-01-01 falak takes TAI−UTC = 0, as Yamcs does (its Green Book test expects 4383
  days after the 1958 TAI epoch to print as 1970-01-01T00:00:00.000Z). The real offset grew
  from 0 to about 10 s over 1958-1971 in "rubber seconds"; the 10 s jump on 1972-01-01 is
  treated as 10 inserted seconds.
- A TAI instant inside a leap second has no ``datetime64`` value: it maps to
  23:59:59.999999999 of that day (times never go backwards). :func:`format_tai_utc` prints it
  as ``23:59:60``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from falak.errors import InputError, TimeCodeError

__all__ = [
    "CDS_DAY_BYTES",
    "CDS_SUBMS_BYTES",
    "CUC_COARSE_BYTES",
    "CUC_FINE_BYTES",
    "EPOCH_GPS_TAI_S",
    "EPOCH_J2000_TAI_S",
    "EPOCH_TAI_S",
    "EPOCH_UNIX_TAI_S",
    "LEAP_SECONDS",
    "PField",
    "cds_from_ints",
    "cds_seconds_to_datetime64",
    "cds_to_datetime64",
    "cds_to_seconds",
    "cuc_from_ints",
    "cuc_to_seconds",
    "datetime64_to_datetimes",
    "datetime64_to_tai_seconds",
    "datetime64_to_unix",
    "datetimes_to_datetime64",
    "decode_pfield",
    "epoch_seconds_to_datetime64",
    "format_tai_utc",
    "format_utc",
    "iso_to_datetime64_ns",
    "seconds_to_cds",
    "seconds_to_cuc",
    "tai_minus_utc",
    "tai_seconds_to_datetime64",
    "unix_to_datetime64",
]

# ------------------------------------------------------------------------------ epochs

_SECONDS_PER_DAY = 86_400
_NS = 1_000_000_000
_EPOCH_1958 = np.datetime64("1958-01-01T00:00:00", "ns")
_UNIX_MINUS_1958_S = 4383 * _SECONDS_PER_DAY  # days 1958-01-01 → 1970-01-01

EPOCH_TAI_S = 0.0
"""1958-01-01T00:00:00 TAI, the CCSDS level-1 epoch (CCSDS 301.0-B-4 §3.2.2), in TAI seconds."""
EPOCH_UNIX_TAI_S = float(_UNIX_MINUS_1958_S)
"""1970-01-01T00:00:00 UTC in TAI seconds (TAI−UTC = 0 before 1972, see module notes)."""
EPOCH_GPS_TAI_S = float(8040 * _SECONDS_PER_DAY + 19)
"""1980-01-06T00:00:00 UTC in TAI seconds; GPS time = TAI − 19 s."""
EPOCH_J2000_TAI_S = float(15340 * _SECONDS_PER_DAY) + 43_167.816
"""J2000.0 = 2000-01-01T12:00:00 TT = 11:59:27.816 TAI = 11:58:55.816 UTC, in TAI seconds."""

# ------------------------------------------------------------------------------ leap seconds

LEAP_SECONDS: tuple[tuple[str, int], ...] = (
    ("1972-01-01", 10),
    ("1972-07-01", 11),
    ("1973-01-01", 12),
    ("1974-01-01", 13),
    ("1975-01-01", 14),
    ("1976-01-01", 15),
    ("1977-01-01", 16),
    ("1978-01-01", 17),
    ("1979-01-01", 18),
    ("1980-01-01", 19),
    ("1981-07-01", 20),
    ("1982-07-01", 21),
    ("1983-07-01", 22),
    ("1985-07-01", 23),
    ("1988-01-01", 24),
    ("1990-01-01", 25),
    ("1991-01-01", 26),
    ("1992-07-01", 27),
    ("1993-07-01", 28),
    ("1994-07-01", 29),
    ("1996-01-01", 30),
    ("1997-07-01", 31),
    ("1999-01-01", 32),
    ("2006-01-01", 33),
    ("2009-01-01", 34),
    ("2012-07-01", 35),
    ("2015-07-01", 36),
    ("2017-01-01", 37),
)
"""(UTC date from which it holds, TAI−UTC in seconds), from IERS Bulletin C."""

# UTC seconds since 1958-01-01 (86,400 per day) at which each value starts, and the values
_LEAP_UTC_S = np.array(
    [
        (np.datetime64(d, "s") - np.datetime64("1958-01-01", "s")).astype(np.int64)
        for d, _ in LEAP_SECONDS
    ],
    dtype=np.int64,
)
_LEAP_AFTER = np.array([v for _, v in LEAP_SECONDS], dtype=np.int64)
_LEAP_BEFORE = np.concatenate([[0], _LEAP_AFTER[:-1]]).astype(np.int64)
# TAI second at which each inserted stretch starts (UTC reaches 23:59:60 of the day before)
_LEAP_TAI_START = _LEAP_UTC_S + _LEAP_BEFORE


def _utc_s_to_tai_offset(utc_s: NDArray[np.int64]) -> NDArray[np.int64]:
    """TAI−UTC for UTC seconds since 1958 (86,400 per day)."""
    idx = np.searchsorted(_LEAP_UTC_S, utc_s, side="right") - 1
    out: NDArray[np.int64] = np.where(idx >= 0, _LEAP_AFTER[np.maximum(idx, 0)], 0)
    return out


def tai_minus_utc(utc: NDArray[np.datetime64]) -> NDArray[np.int64]:
    """Return TAI−UTC in seconds at each UTC instant (0 before 1972, see module notes)."""
    utc_ns = _as_datetime64_ns(utc).astype(np.int64) - _EPOCH_1958.astype(np.int64)
    return _utc_s_to_tai_offset(np.floor_divide(utc_ns, _NS))


# ------------------------------------------------------------------------------ TAI <-> UTC


def _as_datetime64_ns(values: ArrayLike) -> NDArray[np.datetime64]:
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.datetime64):
        raise InputError(
            f"expected datetime64 values (UTC), got dtype {arr.dtype}; "
            "fix: np.asarray(times, dtype='datetime64[ns]') or datetimes_to_datetime64(...)"
        )
    return arr.astype("datetime64[ns]")


def _split_seconds(sec: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Whole seconds and nanoseconds (0..1e9) of float seconds, without float overflow."""
    whole = np.floor(sec)
    ns = np.rint((sec - whole) * _NS).astype(np.int64)
    whole_i = whole.astype(np.int64) + ns // _NS
    return whole_i, ns % _NS


def tai_seconds_to_datetime64(sec: ArrayLike) -> NDArray[np.datetime64]:
    """Convert TAI seconds since 1958-01-01 TAI to UTC ``datetime64[ns]``.

    An instant inside a leap second maps to 23:59:59.999999999 of the day it ends. NaN gives
    NaT.
    """
    arr = np.asarray(sec, dtype=np.float64)
    finite = np.isfinite(arr)
    whole, ns = _split_seconds(np.where(finite, arr, 0.0))
    idx = np.searchsorted(_LEAP_TAI_START, whole, side="right") - 1
    safe = np.maximum(idx, 0)
    after = np.where(idx >= 0, _LEAP_AFTER[safe], 0)
    in_leap = (idx >= 0) & (whole < _LEAP_UTC_S[safe] + after)
    utc_whole = whole - after
    total_ns = utc_whole * _NS + ns
    total_ns = np.where(in_leap, _LEAP_UTC_S[safe] * _NS - 1, total_ns)
    out = (_EPOCH_1958 + total_ns.astype("timedelta64[ns]")).astype("datetime64[ns]")
    out[~finite] = np.datetime64("NaT")
    result: NDArray[np.datetime64] = out
    return result


def datetime64_to_tai_seconds(utc: ArrayLike) -> NDArray[np.float64]:
    """Convert UTC ``datetime64`` to TAI seconds since 1958-01-01 TAI (NaT gives NaN)."""
    arr = _as_datetime64_ns(utc)
    nat = np.isnat(arr)
    rel_ns = np.where(nat, 0, arr.astype(np.int64) - _EPOCH_1958.astype(np.int64))
    whole = np.floor_divide(rel_ns, _NS)
    frac_ns = rel_ns - whole * _NS
    tai = (whole + _utc_s_to_tai_offset(whole)).astype(np.float64) + frac_ns / _NS
    out: NDArray[np.float64] = np.where(nat, np.nan, tai)
    return out


def unix_to_datetime64(unix_s: ArrayLike) -> NDArray[np.datetime64]:
    """Convert POSIX seconds (UTC, no leap seconds) to ``datetime64[ns]``; NaN gives NaT."""
    arr = np.asarray(unix_s, dtype=np.float64)
    finite = np.isfinite(arr)
    whole, ns = _split_seconds(np.where(finite, arr, 0.0))
    out = (whole * _NS + ns).astype("datetime64[ns]")
    out[~finite] = np.datetime64("NaT")
    result: NDArray[np.datetime64] = out
    return result


def datetime64_to_unix(utc: ArrayLike) -> NDArray[np.float64]:
    """Convert UTC ``datetime64`` to POSIX seconds (float64); NaT gives NaN."""
    arr = _as_datetime64_ns(utc)
    nat = np.isnat(arr)
    ns = arr.astype(np.int64)
    whole = np.floor_divide(ns, _NS)
    out: NDArray[np.float64] = np.where(
        nat, np.nan, whole.astype(np.float64) + (ns - whole * _NS) / _NS
    )
    return out


# ------------------------------------------------------------------------------ edges


def datetimes_to_datetime64(times: _dt.datetime | Iterable[_dt.datetime]) -> NDArray[np.datetime64]:
    """Convert timezone-aware ``datetime`` (one or many) to UTC ``datetime64[ns]``.

    Raises :class:`~falak.errors.InputError` for a naive datetime: falak never guesses a zone.
    """
    items = [times] if isinstance(times, _dt.datetime) else list(times)
    ns = np.empty(len(items), dtype=np.int64)
    for k, t in enumerate(items):
        if not isinstance(t, _dt.datetime) or t.tzinfo is None or t.utcoffset() is None:
            raise InputError(
                f"expected a timezone-aware datetime, got {t!r}; "
                "fix: datetime(..., tzinfo=timezone.utc) or falak.utctime.parse_utc('2028-01-01')"
            )
        u = t.astimezone(_dt.UTC).replace(tzinfo=None)
        delta = u - _dt.datetime(1970, 1, 1)
        ns[k] = (delta.days * _SECONDS_PER_DAY + delta.seconds) * _NS + delta.microseconds * 1000
    out: NDArray[np.datetime64] = ns.astype("datetime64[ns]")
    return out


def datetime64_to_datetimes(utc: ArrayLike) -> list[_dt.datetime | None]:
    """Convert UTC ``datetime64`` to timezone-aware UTC ``datetime`` (µs; NaT gives None)."""
    arr = _as_datetime64_ns(np.atleast_1d(np.asarray(utc)))
    out: list[_dt.datetime | None] = []
    for v in arr.astype(np.int64).tolist():
        if v == np.iinfo(np.int64).min:
            out.append(None)
            continue
        us = (v + 500) // 1000
        out.append(_dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=us))
    return out


def format_utc(utc: ArrayLike, digits: int = 3) -> list[str]:
    """Format UTC ``datetime64`` as ISO 8601 with 'Z', e.g. ``2028-01-01T00:00:00.000Z``.

    ``digits`` is the number of decimals of the second (0..9, rounded). NaT gives "NaT".
    """
    if not 0 <= digits <= 9:
        raise InputError(f"digits must be within 0..9, got {digits}")
    arr = _as_datetime64_ns(np.atleast_1d(np.asarray(utc)))
    nat = np.isnat(arr)
    unit = 10 ** (9 - digits)
    ns = arr.astype(np.int64)
    rounded = np.where(nat, ns, np.floor_divide(ns + unit // 2, unit) * unit)
    text = np.datetime_as_string(rounded.astype("datetime64[ns]"), unit="ns")
    out: list[str] = []
    for s in text.tolist():
        if s == "NaT":
            out.append("NaT")
            continue
        head, _, frac = s.partition(".")
        out.append(head + ("." + frac[:digits] if digits else "") + "Z")
    return out


def format_tai_utc(tai_s: ArrayLike, digits: int = 3) -> list[str]:
    """Format TAI seconds as UTC ISO 8601 text, writing leap seconds as ``23:59:60``."""
    arr = np.atleast_1d(np.asarray(tai_s, dtype=np.float64))
    text = format_utc(tai_seconds_to_datetime64(arr), digits)
    whole, ns = _split_seconds(np.where(np.isfinite(arr), arr, 0.0))
    idx = np.searchsorted(_LEAP_TAI_START, whole, side="right") - 1
    safe = np.maximum(idx, 0)
    in_leap = (idx >= 0) & (whole < _LEAP_UTC_S[safe] + _LEAP_AFTER[safe]) & np.isfinite(arr)
    for k in np.flatnonzero(in_leap).tolist():
        # 23:59:60 + (seconds into the inserted stretch); the 1972 stretch is 10 s long
        into = int(whole[k] - _LEAP_TAI_START[safe[k]])
        frac = f"{int(ns[k]):09d}"[:digits]
        day = str(
            np.datetime64("1958-01-01")
            + np.timedelta64(int(_LEAP_UTC_S[safe[k]]) // 86400 - 1, "D")
        )
        text[k] = f"{day}T23:59:{60 + into:02d}" + ("." + frac if digits else "") + "Z"
    return text


# ------------------------------------------------------------------------------ XTCE epochs

_NAMED_EPOCHS_TAI_S = {
    "TAI": EPOCH_TAI_S,
    "GPS": EPOCH_GPS_TAI_S,
    "J2000": EPOCH_J2000_TAI_S,
}
_EPOCH_HELP = "TAI, GPS, J2000, UNIX or an ISO 8601 UTC time such as 2020-01-01T00:00:00Z"


_NS_RANGE_S = (-9_223_372_036, 9_223_372_036)
"""Whole seconds from 1970 that ``datetime64[ns]`` holds (1677-09-21 .. 2262-04-11)."""


def iso_to_datetime64_ns(text: str) -> np.datetime64:
    """Read an ISO 8601 date/time (no zone, or ``Z``) as ``datetime64[ns]``, refusing what wraps.

    ``np.datetime64("9999-12-31T23:59:59", "ns")`` silently wraps to 1816; this reads the text in
    its own unit first and raises :class:`~falak.errors.InputError` naming the valid range when
    the instant lies outside 1677-09-21 .. 2262-04-11, and ``ValueError`` for text numpy cannot
    read.
    """
    body = text.strip()
    body = body[:-1] if body[-1:] in ("Z", "z") else body
    coarse = np.datetime64(body)
    if np.isnat(coarse):
        raise ValueError(f"{text!r} is not an ISO 8601 time")
    whole_s = int(coarse.astype("datetime64[s]").astype(np.int64))
    if not _NS_RANGE_S[0] < whole_s < _NS_RANGE_S[1]:
        raise InputError(
            f"time {text!r} is outside the range a nanosecond time can hold "
            "(1677-09-21T00:12:44Z .. 2262-04-11T23:47:16Z)"
        )
    result: np.datetime64 = coarse.astype("datetime64[ns]")
    return result


def _epoch_utc(epoch: str) -> np.datetime64:
    """UTC ``datetime64[ns]`` of an XTCE epoch: a name or an ISO 8601 UTC date/time."""
    key = epoch.strip().upper()
    if key in _NAMED_EPOCHS_TAI_S:
        named: np.datetime64 = tai_seconds_to_datetime64([_NAMED_EPOCHS_TAI_S[key]])[0]
        return named
    if key == "UNIX":
        return np.datetime64("1970-01-01T00:00:00", "ns")
    text = key[:-1] if key.endswith("Z") else key
    start: np.datetime64
    try:
        start = iso_to_datetime64_ns(text)
    except ValueError:
        raise TimeCodeError(f"time epoch {epoch!r} is not {_EPOCH_HELP}") from None
    except InputError as exc:
        raise TimeCodeError(f"time epoch {epoch!r}: {exc}") from None
    return start


def epoch_seconds_to_datetime64(sec: ArrayLike, epoch: str = "TAI") -> NDArray[np.datetime64]:
    """Convert seconds counted from an XTCE epoch to UTC ``datetime64[ns]`` (NaN gives NaT).

    For CUC (CCSDS 301.0-B-4 §3.2: a count of SI seconds) and plain scaled numbers. ``TAI``
    (1958-01-01 TAI, the CCSDS level-1 epoch), ``GPS`` and ``J2000`` count continuous TAI
    seconds, so leap seconds are applied; ``UNIX`` and an explicit ISO 8601 date count UTC
    seconds (86,400 per day). Day-segmented codes (CDS) use
    :func:`cds_seconds_to_datetime64` instead.
    """
    arr = np.asarray(sec, dtype=np.float64)
    key = epoch.strip().upper()
    if key in _NAMED_EPOCHS_TAI_S:
        return tai_seconds_to_datetime64(arr + _NAMED_EPOCHS_TAI_S[key])
    if key == "UNIX":
        return unix_to_datetime64(arr)
    return _utc_seconds_after(_epoch_utc(epoch), arr)


def _utc_seconds_after(start: np.datetime64, arr: NDArray[np.float64]) -> NDArray[np.datetime64]:
    """``start`` plus float seconds of UTC (86,400 per day), exact to the ns; NaN gives NaT."""
    finite = np.isfinite(arr)
    whole, ns = _split_seconds(np.where(finite, arr, 0.0))
    out = (start + (whole * _NS + ns).astype("timedelta64[ns]")).astype("datetime64[ns]")
    out[~finite] = np.datetime64("NaT")
    result: NDArray[np.datetime64] = out
    return result


def cds_seconds_to_datetime64(sec: ArrayLike, epoch: str = "TAI") -> NDArray[np.datetime64]:
    """Convert CDS seconds (days × 86,400 + seconds of day) to UTC ``datetime64[ns]``.

    CDS (CCSDS 301.0-B-4 §3.3) counts days from its epoch and milliseconds of the day: it is
    a UTC-based code, so no leap seconds are applied. Day 0 is the UTC date of ``epoch``:
    ``TAI`` names the CCSDS level-1 epoch, 1958-01-01; ``UNIX`` 1970-01-01; ``GPS``
    1980-01-06; an ISO 8601 date itself. Float seconds cannot tell a leap second's
    milliseconds (86,400,000..86,400,999) from the next day's first second, where they land;
    :func:`cds_to_datetime64` decodes the T-field bytes and holds them at 23:59:59.999999999.
    """
    arr = np.asarray(sec, dtype=np.float64)
    key = epoch.strip().upper()
    start = np.datetime64("1958-01-01T00:00:00", "ns") if key == "TAI" else _epoch_utc(epoch)
    return _utc_seconds_after(start, arr)


# ------------------------------------------------------------------------------ CUC

CUC_COARSE_BYTES = (1, 2, 3, 4)
"""Coarse-time octets of a basic CUC (CCSDS 301.0-B-4 §3.2.2)."""
CUC_FINE_BYTES = (0, 1, 2, 3)
"""Fine-time octets of a basic CUC (CCSDS 301.0-B-4 §3.2.2)."""
CDS_DAY_BYTES = (2, 3)
"""Day-segment octets of CDS (CCSDS 301.0-B-4 §3.3.2: 16 or 24 bits)."""
CDS_SUBMS_BYTES = (0, 2, 4)
"""Submillisecond octets of CDS: none, microseconds (16 bits) or picoseconds (32 bits)."""


def _check_size(name: str, value: int, allowed: Sequence[int], section: str) -> None:
    if value not in allowed:
        raise TimeCodeError(
            f"{name} must be one of {', '.join(map(str, allowed))} octets "
            f"(CCSDS 301.0-B-4 {section}), got {value}"
        )


def _raw_matrix(raw: ArrayLike, width: int, what: str) -> NDArray[np.int64]:
    arr = np.asarray(raw)
    if arr.dtype != np.uint8:
        raise TimeCodeError(f"{what} bytes must be uint8, got {arr.dtype}")
    if arr.ndim == 1 and arr.shape[0] == width:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != width:
        raise TimeCodeError(
            f"{what} needs an (N, {width}) uint8 array for this size, got shape {arr.shape}"
        )
    return arr.astype(np.int64)


def _be_uint(cols: NDArray[np.int64]) -> NDArray[np.int64]:
    """Big-endian unsigned integer from the columns of a byte matrix (0 columns → 0)."""
    out = np.zeros(cols.shape[0], dtype=np.int64)
    for j in range(cols.shape[1]):
        out = (out << 8) | cols[:, j]
    return out


def cuc_from_ints(coarse: ArrayLike, fine: ArrayLike, fine_bytes: int) -> NDArray[np.float64]:
    """Return CUC seconds since the code's epoch: ``coarse + fine / 256**fine_bytes``."""
    _check_size("CUC fine time", fine_bytes, CUC_FINE_BYTES, "§3.2.2")
    c = np.asarray(coarse, dtype=np.float64)
    f = np.asarray(fine, dtype=np.float64)
    out: NDArray[np.float64] = c + f / float(256**fine_bytes)
    return out


def cuc_to_seconds(raw: ArrayLike, coarse_bytes: int, fine_bytes: int) -> NDArray[np.float64]:
    """Decode (N, coarse_bytes + fine_bytes) CUC T-fields to seconds since the code's epoch.

    Add :data:`EPOCH_TAI_S` (level 1) or the agency epoch in TAI seconds for TAI seconds.
    float64 is exact to 53 significant bits, so a 4 + 3 octet code (56 bits) loses up to its
    3 lowest bits (2^-21 s) in the upper half of its range.
    """
    _check_size("CUC coarse time", coarse_bytes, CUC_COARSE_BYTES, "§3.2.2")
    _check_size("CUC fine time", fine_bytes, CUC_FINE_BYTES, "§3.2.2")
    m = _raw_matrix(raw, coarse_bytes + fine_bytes, "CUC")
    return cuc_from_ints(_be_uint(m[:, :coarse_bytes]), _be_uint(m[:, coarse_bytes:]), fine_bytes)


def seconds_to_cuc(sec: ArrayLike, coarse_bytes: int, fine_bytes: int) -> NDArray[np.uint8]:
    """Encode seconds since the code's epoch as (N, coarse_bytes + fine_bytes) CUC T-fields.

    The fine time is rounded to the nearest 256**-fine_bytes s. Raises
    :class:`~falak.errors.TimeCodeError` for negative times or times past the coarse range.
    """
    _check_size("CUC coarse time", coarse_bytes, CUC_COARSE_BYTES, "§3.2.2")
    _check_size("CUC fine time", fine_bytes, CUC_FINE_BYTES, "§3.2.2")
    arr = np.atleast_1d(np.asarray(sec, dtype=np.float64))
    scale = 256**fine_bytes
    if not np.all(np.isfinite(arr)):
        raise TimeCodeError("CUC times must be finite seconds, got NaN or infinity")
    whole = np.floor(arr)
    fine = np.rint((arr - whole) * scale).astype(np.int64)
    coarse = whole.astype(np.int64) + fine // scale
    fine %= scale
    top = 256**coarse_bytes
    if arr.size and (coarse.min() < 0 or coarse.max() >= top):
        raise TimeCodeError(
            f"CUC with {coarse_bytes} coarse octets holds 0..{top - 1} s since its epoch, "
            f"got {arr.min()}..{arr.max()} s"
        )
    out = np.empty((arr.shape[0], coarse_bytes + fine_bytes), dtype=np.uint8)
    for j in range(coarse_bytes):
        out[:, j] = (coarse >> (8 * (coarse_bytes - 1 - j))) & 0xFF
    for j in range(fine_bytes):
        out[:, coarse_bytes + j] = (fine >> (8 * (fine_bytes - 1 - j))) & 0xFF
    return out


# ------------------------------------------------------------------------------ CDS


def cds_from_ints(
    day: ArrayLike, ms_of_day: ArrayLike, subms: ArrayLike | None = None, subms_bytes: int = 0
) -> NDArray[np.float64]:
    """Return CDS seconds since the code's epoch: ``day * 86400 + ms / 1e3 + submillisecond``.

    ``subms`` counts microseconds (``subms_bytes`` = 2) or picoseconds (4).
    """
    _check_size("CDS submillisecond", subms_bytes, CDS_SUBMS_BYTES, "§3.3.2")
    d = np.asarray(day, dtype=np.float64)
    ms = np.asarray(ms_of_day, dtype=np.float64)
    out: NDArray[np.float64] = d * _SECONDS_PER_DAY + ms / 1e3
    if subms_bytes:
        if subms is None:
            raise TimeCodeError(f"subms_bytes={subms_bytes} needs the submillisecond values")
        unit = 1e-6 if subms_bytes == 2 else 1e-12
        out = out + np.asarray(subms, dtype=np.float64) * unit
    return out


def _cds_fields(
    raw: ArrayLike, day_bytes: int, subms_bytes: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    _check_size("CDS day segment", day_bytes, CDS_DAY_BYTES, "§3.3.2")
    _check_size("CDS submillisecond", subms_bytes, CDS_SUBMS_BYTES, "§3.3.2")
    m = _raw_matrix(raw, day_bytes + 4 + subms_bytes, "CDS")
    day = _be_uint(m[:, :day_bytes])
    ms = _be_uint(m[:, day_bytes : day_bytes + 4])
    sub = _be_uint(m[:, day_bytes + 4 :])
    return day, ms, sub


def cds_to_seconds(raw: ArrayLike, day_bytes: int = 2, subms_bytes: int = 0) -> NDArray[np.float64]:
    """Decode (N, day_bytes + 4 + subms_bytes) CDS T-fields to seconds since the code's epoch.

    Days count 86,400 s each (CDS is a UTC-style day count), so a leap second's
    milliseconds (86,400,000..86,400,999) fall on the next day's first second.
    """
    day, ms, sub = _cds_fields(raw, day_bytes, subms_bytes)
    return cds_from_ints(day, ms, sub, subms_bytes)


def cds_to_datetime64(
    raw: ArrayLike,
    day_bytes: int = 2,
    subms_bytes: int = 0,
    epoch: np.datetime64 | str = "1958-01-01",
) -> NDArray[np.datetime64]:
    """Decode CDS T-fields carrying UTC to ``datetime64[ns]`` (exact to the nanosecond).

    ``epoch`` is the UTC date of day 0 (1958-01-01 for a level-1 code). Milliseconds of day
    beyond 86,399,999 (a leap second) are held at 23:59:59.999999999.
    """
    day, ms, sub = _cds_fields(raw, day_bytes, subms_bytes)
    sub_ns = (
        sub * 1000
        if subms_bytes == 2
        else (sub // 1000 if subms_bytes == 4 else np.zeros_like(sub))
    )
    in_day_ns = np.minimum(ms * 1_000_000 + sub_ns, _SECONDS_PER_DAY * _NS - 1)
    base = np.asarray(epoch).astype("datetime64[ns]")
    out: NDArray[np.datetime64] = base + (day * _SECONDS_PER_DAY * _NS + in_day_ns).astype(
        "timedelta64[ns]"
    )
    return out


def seconds_to_cds(sec: ArrayLike, day_bytes: int = 2, subms_bytes: int = 0) -> NDArray[np.uint8]:
    """Encode seconds since the code's epoch (86,400 per day) as CDS T-fields.

    Rounds to the resolution of the last field (1 ms, 1 µs or 1 ps, within float64 limits).
    Raises :class:`~falak.errors.TimeCodeError` for times before the epoch or past the day range.
    """
    _check_size("CDS day segment", day_bytes, CDS_DAY_BYTES, "§3.3.2")
    _check_size("CDS submillisecond", subms_bytes, CDS_SUBMS_BYTES, "§3.3.2")
    arr = np.atleast_1d(np.asarray(sec, dtype=np.float64))
    if not np.all(np.isfinite(arr)):
        raise TimeCodeError("CDS times must be finite seconds, got NaN or infinity")
    ticks_per_ms = {0: 1, 2: 1000, 4: 1_000_000_000}[subms_bytes]
    day = np.floor(arr / _SECONDS_PER_DAY).astype(np.int64)
    rem = arr - day * float(_SECONDS_PER_DAY)  # seconds into the day
    ms = np.floor(rem * 1e3).astype(np.int64)
    sub = np.rint((rem * 1e3 - ms) * ticks_per_ms).astype(np.int64)
    ms += sub // ticks_per_ms
    sub %= ticks_per_ms
    day += ms // (_SECONDS_PER_DAY * 1000)
    ms %= _SECONDS_PER_DAY * 1000
    top = 256**day_bytes
    if arr.size and (day.min() < 0 or day.max() >= top):
        raise TimeCodeError(
            f"CDS with a {8 * day_bytes}-bit day segment holds days 0..{top - 1} after its epoch, "
            f"got {arr.min()}..{arr.max()} s"
        )
    out = np.empty((arr.shape[0], day_bytes + 4 + subms_bytes), dtype=np.uint8)
    fields = ((day, day_bytes, 0), (ms, 4, day_bytes), (sub, subms_bytes, day_bytes + 4))
    for values, width, start in fields:
        for j in range(width):
            out[:, start + j] = (values >> (8 * (width - 1 - j))) & 0xFF
    return out


# ------------------------------------------------------------------------------ P-field


@dataclass(frozen=True)
class PField:
    """What a one-octet CCSDS time-code P-field says (CCSDS 301.0-B-4 §3.2.3, §3.3.3)."""

    code: str
    """"CUC" or "CDS"."""
    agency_epoch: bool
    """True for a level-2 (agency-defined) epoch, False for 1958-01-01."""
    coarse_bytes: int = 0
    fine_bytes: int = 0
    day_bytes: int = 0
    subms_bytes: int = 0
    extended: bool = False
    """The extension flag: a second P-field octet follows (not decoded here)."""

    @property
    def t_field_bytes(self) -> int:
        """Length of the T-field this P-field describes."""
        if self.code == "CUC":
            return self.coarse_bytes + self.fine_bytes
        return self.day_bytes + 4 + self.subms_bytes


def decode_pfield(octet: int) -> PField:
    """Decode the first P-field octet of a CUC or CDS time code.

    Bits (MSB first): extension flag; time code id (001 CUC level 1, 010 CUC level 2,
    100 CDS); then for CUC coarse octets − 1 (2 bits) and fine octets (2 bits), for CDS the
    epoch id, day-segment length (0: 16 bits, 1: 24 bits) and submillisecond resolution
    (00 none, 01 µs, 10 ps).
    """
    if not 0 <= octet <= 0xFF:
        raise TimeCodeError(f"a P-field octet is 0..255, got {octet}")
    extended = bool(octet & 0x80)
    code_id = (octet >> 4) & 0b111
    if code_id in (0b001, 0b010):
        return PField(
            "CUC",
            agency_epoch=code_id == 0b010,
            coarse_bytes=((octet >> 2) & 0b11) + 1,
            fine_bytes=octet & 0b11,
            extended=extended,
        )
    if code_id == 0b100:
        res = octet & 0b11
        if res == 0b11:
            raise TimeCodeError(
                "CDS P-field submillisecond code 11 is reserved (allowed 00, 01, 10)"
            )
        return PField(
            "CDS",
            agency_epoch=bool(octet & 0b1000),
            day_bytes=3 if octet & 0b100 else 2,
            subms_bytes=(0, 2, 4)[res],
            extended=extended,
        )
    raise TimeCodeError(
        f"P-field time code id {code_id:03b} is not CUC (001, 010) or CDS (100); octet {octet:#04x}"
    )
