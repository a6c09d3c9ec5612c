"""ISO 8601 UTC text, ``datetime`` and int64 nanoseconds at falak's edges (CLI, server, files).

One set of rules for every place where a person or a file gives falak a time:

- **Forms accepted** by :func:`parse_ns` and :func:`parse_utc`: what Python's
  ``datetime.fromisoformat`` reads (``2028-01-01``, ``2028-01-01T06``, ``2028-01-01T06:30``,
  ``2028-01-01T06:30:00``, ``2028-01-01 06:30:00``, basic ``20280101T063000``) and the
  reduced precisions ``2028`` and ``2028-01`` (their first instant); seconds carry up to nine
  decimals (nanoseconds; a dot or a comma; decimals beyond the ninth are dropped); a zone is
  ``Z``/``z``, ``+00:00`` or any other offset (converted to UTC). A time without a zone is UTC.
- **Range**: falak stores a UTC time as int64 nanoseconds since 1970-01-01 (numpy
  ``datetime64[ns]``; the smallest int64 is NaT), so a time must lie within
  1677-09-21T00:12:43.145224193Z .. 2262-04-11T23:47:16.854775807Z. Outside it is an
  :class:`~falak.errors.InputError` naming this range — never a silent wrap-around (numpy's
  ``datetime64('9999-12-31', 'ns')`` is a day of 1816) nor an ``OverflowError``.
- **Leap seconds**: a second written ``60`` is refused with the reason. The int64 ns count,
  like POSIX time and ``datetime64``, has 86,400 s in every day and no value for 23:59:60.
  At the end of a day that had a leap second (IERS Bulletin C, :data:`falak.timecodes.LEAP_SECONDS`)
  the message gives the two nearest times falak can hold; time codes decoded inside a leap second
  are stamped 23:59:59.999999999 (see :mod:`falak.timecodes`), so that value includes them. On
  any other day the message says that no leap second happened then.
- **Formatting** (:func:`format_ns`): ``2028-01-01T00:00:00.000000000Z``, with 0..9 decimals,
  rounded half up to the last decimal shown.

Every conversion is integer arithmetic: float nanoseconds (``t.timestamp() * 1e9``) are exact
only up to 2**53 ns, about 104 days after 1970, and are never used here.
"""

from __future__ import annotations

import datetime as _dt
import re

from falak.errors import InputError
from falak.timecodes import LEAP_SECONDS

__all__ = [
    "MAX_NS",
    "MIN_NS",
    "VALID_RANGE",
    "check_order",
    "check_range",
    "datetime_to_ns",
    "format_datetime",
    "format_ns",
    "ns_to_datetime",
    "parse_ns",
    "parse_utc",
    "refuse_second_60",
]

_NS = 1_000_000_000
_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _EPOCH.replace(tzinfo=_dt.UTC)

MIN_NS = -(2**63) + 1
"""Earliest storable time, 1677-09-21T00:12:43.145224193Z, in ns since 1970 (−2**63 is NaT)."""
MAX_NS = 2**63 - 1
"""Latest storable time, 2262-04-11T23:47:16.854775807Z, in ns since 1970."""
VALID_RANGE = "1677-09-21T00:12:43.145224193Z .. 2262-04-11T23:47:16.854775807Z"
"""The range of :data:`MIN_NS` .. :data:`MAX_NS` as text, for messages."""

EXAMPLE = "2028-01-01T00:00:00Z"
_FORMS = (
    "UTC; also 2028-01-01, 2028-01-01T06:30, decimals of a second to the nanosecond, "
    "or an offset such as +00:00; a time without offset is UTC"
)

# the seconds field (with its decimals and zone) of a time that has one
_SECONDS = re.compile(
    r"(?P<head>.+[Tt ]\d\d:?\d\d:?)(?P<sec>\d\d)(?:[.,](?P<frac>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d\d(?::?\d\d)?)?"
)
_YEAR_MONTH = re.compile(r"\d{4}(?:-\d\d)?")
# days that ended with a leap second (the day before each change of TAI−UTC after 1972-01-01)
_LEAP_DAYS = frozenset(
    _dt.date.fromisoformat(d) - _dt.timedelta(days=1) for d, _ in LEAP_SECONDS[1:]
)


def _not_iso(what: str, text: str) -> InputError:
    return InputError(f"{what} {text!r} is not an ISO 8601 time; use e.g. {EXAMPLE} ({_FORMS})")


def _fields_ns(t: _dt.datetime) -> int:
    """ns since 1970 of a datetime's fields minus its offset (naive: taken as UTC), exactly."""
    offset = t.utcoffset() or _dt.timedelta(0)
    delta = t.replace(tzinfo=None) - _EPOCH - offset
    return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000


def check_range(t_ns: int, what: str = "time", text: str | None = None) -> int:
    """Return ``t_ns`` if it lies within :data:`VALID_RANGE`, else raise :class:`InputError`.

    ``text`` is how the user wrote the time (shown in the message instead of ``t_ns``).
    """
    if MIN_NS <= t_ns <= MAX_NS:
        return t_ns
    given = repr(text) if text is not None else f"{t_ns} ns since 1970"
    raise InputError(
        f"{what} {given} is outside the times falak can store, {VALID_RANGE} "
        "(int64 nanoseconds since 1970, numpy datetime64[ns]); give a time within it"
    )


def _leap_second_error(what: str, text: str, t: _dt.datetime) -> InputError:
    """The message for a seconds field of 60; ``t`` is the same time with second 59."""
    try:
        utc = t.replace(tzinfo=None) - (t.utcoffset() or _dt.timedelta(0))
    except OverflowError:  # an offset past year 1 or 9999: name the minute as written
        utc = t.replace(tzinfo=None)
    day = utc.date()
    if (utc.hour, utc.minute) == (23, 59) and day in _LEAP_DAYS:
        after = day + _dt.timedelta(days=1)
        return InputError(
            f"{what} {text!r} lies in the leap second at the end of {day} (IERS Bulletin C), "
            "which falak's UTC times (nanoseconds since 1970 with 86,400 s a day, like POSIX "
            f"time and numpy datetime64) cannot hold; give {day}T23:59:59.999999999Z (where "
            f"falak stamps time codes inside the leap second) or {after}T00:00:00Z"
        )
    last = max(_LEAP_DAYS)
    return InputError(
        f"{what} {text!r} has second 60, but no leap second ended the UTC minute "
        f"{utc:%Y-%m-%dT%H:%M} (leap seconds come only at 23:59:60 on the days IERS Bulletin C "
        f"announces; the last was {last}); seconds run 00..59"
    )


def parse_ns(text: str, what: str = "time", *, zone_required: bool = False) -> int:
    """Parse ISO 8601 text (see the module rules) to int64 ns since 1970-01-01 UTC.

    Parameters
    ----------
    text
        The time as written, e.g. ``2028-01-01T00:00:00.123456789Z``.
    what
        How the message names the value, e.g. ``--start``.
    zone_required
        Refuse a time without ``Z`` or an offset instead of taking it as UTC (the server).

    Raises
    ------
    InputError
        Not ISO 8601, a second 60, no zone (``zone_required``), or outside
        :data:`VALID_RANGE`; the message says which.
    """
    if not isinstance(text, str) or not text.strip():
        raise _not_iso(what, str(text))
    s = text.strip()
    frac_ns = 0
    leap = False
    m = _SECONDS.fullmatch(s)
    if m is not None:
        sec, frac, zone = m["sec"], m["frac"], m["zone"] or ""
        leap = sec == "60"
        frac_ns = int((frac or "")[:9].ljust(9, "0"))
        zone = "+00:00" if zone in ("Z", "z") else zone
        s = m["head"] + ("59" if leap else sec) + zone
    elif _YEAR_MONTH.fullmatch(s):  # ISO 8601 reduced precision: the first instant
        s = (s + "-01-01")[:10]
    elif s[-1:] in ("Z", "z"):
        s = s[:-1] + "+00:00"
    try:
        t = _dt.datetime.fromisoformat(s)
    except ValueError:
        raise _not_iso(what, text) from None
    if leap:
        raise _leap_second_error(what, text, t)
    if zone_required and t.tzinfo is None:
        raise InputError(
            f"{what} {text!r} has no time zone; add Z (UTC) or an offset, e.g. {EXAMPLE}"
        )
    return check_range(_fields_ns(t) + frac_ns, what, text)


def refuse_second_60(text: str, what: str = "time") -> None:
    """Raise :func:`parse_ns`'s leap-second :class:`InputError` if ``text`` has a second 60.

    For edges that parse with another library (the server's pydantic models) but should
    refuse 23:59:60 with the reason rather than "unexpected extra characters".
    """
    m = _SECONDS.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is not None and m["sec"] == "60":
        parse_ns(text, what)


def ns_to_datetime(t_ns: int) -> _dt.datetime:
    """Convert ns since 1970 to a timezone-aware UTC ``datetime`` (rounded down to the µs)."""
    return _EPOCH_UTC + _dt.timedelta(microseconds=int(t_ns) // 1000)


def parse_utc(text: str, what: str = "time") -> _dt.datetime:
    """Parse ISO 8601 text to a timezone-aware UTC ``datetime`` (rules as :func:`parse_ns`).

    The result has microseconds (nanoseconds given are rounded down); it lies within
    :data:`VALID_RANGE`, so it converts to ``datetime64[ns]`` without wrapping.
    """
    return ns_to_datetime(parse_ns(text, what))


def datetime_to_ns(t: _dt.datetime, what: str = "time") -> int:
    """Convert a timezone-aware ``datetime`` to int64 ns since 1970 UTC, exactly.

    Raises
    ------
    InputError
        ``t`` has no time zone (it would be ambiguous), or lies outside :data:`VALID_RANGE`.
    """
    if t.tzinfo is None or t.utcoffset() is None:
        raise InputError(
            f"{what} {t.isoformat()} has no time zone; give a UTC time "
            f"(e.g. {EXAMPLE} or datetime(..., tzinfo=timezone.utc))"
        )
    return check_range(_fields_ns(t), what, t.isoformat())


def format_ns(t_ns: int, digits: int = 9) -> str:
    """Format ns since 1970 as ISO 8601 UTC with ``digits`` decimals and ``Z``.

    E.g. ``2028-01-01T00:00:00.000000000Z``; the last decimal shown is rounded half up.
    """
    if not 0 <= digits <= 9:
        raise InputError(f"digits must be within 0..9, got {digits}")
    unit = 10 ** (9 - digits)
    sec, frac = divmod((int(t_ns) + unit // 2) // unit * unit, _NS)
    head = (_EPOCH + _dt.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")
    return head + ("." + f"{frac:09d}"[:digits] if digits else "") + "Z"


def format_datetime(t: _dt.datetime, digits: int = 6) -> str:
    """Format a timezone-aware ``datetime`` as ISO 8601 UTC like :func:`format_ns`."""
    return format_ns(datetime_to_ns(t), digits)


def check_order(
    start_ns: int | None, stop_ns: int | None, start: str = "start", stop: str = "stop"
) -> None:
    """Raise :class:`InputError` if ``stop_ns`` is before ``start_ns`` (either may be None).

    ``start`` and ``stop`` name the two bounds in the message (e.g. ``--start``).
    """
    if start_ns is not None and stop_ns is not None and stop_ns < start_ns:
        raise InputError(
            f"{stop} {format_ns(stop_ns)} is before {start} {format_ns(start_ns)}; "
            f"give a {stop.lstrip('-')} at or after the {start.lstrip('-')}"
        )
