"""The shared rules for times at falak's edges (falak.utctime): forms, range, leap seconds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from falak.errors import InputError
from falak.utctime import (
    MAX_NS,
    MIN_NS,
    VALID_RANGE,
    check_order,
    datetime_to_ns,
    format_datetime,
    format_ns,
    ns_to_datetime,
    parse_ns,
    parse_utc,
)

#: 2028-01-01T00:00:00Z in ns: 21,184 days after 1970-01-01 (proleptic Gregorian) × 86,400 s
T2028_NS = 21_184 * 86_400 * 1_000_000_000
UTC = dt.UTC
RANGE_MESSAGE = (
    "is outside the times falak can store, 1677-09-21T00:12:43.145224193Z .. "
    "2262-04-11T23:47:16.854775807Z (int64 nanoseconds since 1970, numpy datetime64[ns]); "
    "give a time within it"
)


@pytest.mark.parametrize(
    ("text", "expected_ns"),
    [
        ("2028-01-01T00:00:00Z", T2028_NS),
        ("2028-01-01T00:00:00z", T2028_NS),
        ("2028-01-01T00:00:00+00:00", T2028_NS),
        ("2028-01-01T05:30:00+05:30", T2028_NS),
        ("2027-12-31T19:00:00-05:00", T2028_NS),
        ("2028-01-01T00:00:00", T2028_NS),  # no zone: UTC
        ("2028-01-01", T2028_NS),  # date only: midnight UTC
        ("2028-01", T2028_NS),  # ISO 8601 reduced precision (numpy read it, so did the CLI)
        ("2028", T2028_NS),
        ("2028-01-01T00", T2028_NS),
        ("2028-01-01T00:00Z", T2028_NS),
        (" 2028-01-01 00:00:00Z ", T2028_NS),
        ("20280101T000000Z", T2028_NS),  # ISO 8601 basic format
        ("2028-01-01T00:00:00.123456789Z", T2028_NS + 123_456_789),  # ns kept
        ("2028-01-01T00:00:00,5+00:00", T2028_NS + 500_000_000),  # ISO decimal comma
        ("2028-01-01T00:00:00.1234567891Z", T2028_NS + 123_456_789),  # past ns: dropped
    ],
)
def test_forms_accepted(text: str, expected_ns: int) -> None:
    assert parse_ns(text) == expected_ns


def test_parse_utc_gives_aware_utc_datetime() -> None:
    t = parse_utc("2028-01-01T05:00:00.1234567+05:00")
    assert t == dt.datetime(2028, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert t.tzinfo is UTC


def test_range_is_datetime64_ns_and_named() -> None:
    # bounds: pandas Timestamp.min / Timestamp.max (the datetime64[ns] range without NaT)
    assert parse_ns("1677-09-21T00:12:43.145224193Z") == MIN_NS == -(2**63) + 1
    assert parse_ns("2262-04-11T23:47:16.854775807Z") == MAX_NS == 2**63 - 1
    assert np.datetime64(MAX_NS, "ns") == np.datetime64("2262-04-11T23:47:16.854775807", "ns")
    assert VALID_RANGE in RANGE_MESSAGE
    for text in (
        "2262-04-11T23:47:16.854775808Z",
        "1677-09-21T00:12:43.145224192Z",
        "9999-12-31T23:59:59Z",  # numpy's datetime64 of this in ns is a day of 1816
        "9999-12-31T23:59:59+00:00",  # once an OverflowError in the archive CLI
        "9999-12-31T23:59:59-05:00",
        "0001-01-01",
    ):
        with pytest.raises(InputError) as exc:
            parse_ns(text, "--start")
        assert str(exc.value) == f"--start {text!r} {RANGE_MESSAGE}"


def test_leap_second_is_refused_with_the_reason() -> None:
    # IERS Bulletin C 52: a leap second at the end of 2016-12-31
    with pytest.raises(InputError) as exc:
        parse_ns("2016-12-31T23:59:60.5Z", "--stop")
    assert str(exc.value) == (
        "--stop '2016-12-31T23:59:60.5Z' lies in the leap second at the end of 2016-12-31 "
        "(IERS Bulletin C), which falak's UTC times (nanoseconds since 1970 with 86,400 s a "
        "day, like POSIX time and numpy datetime64) cannot hold; give "
        "2016-12-31T23:59:59.999999999Z (where falak stamps time codes inside the leap second) "
        "or 2017-01-01T00:00:00Z"
    )
    # the same second written with an offset
    with pytest.raises(InputError, match="leap second at the end of 2016-12-31"):
        parse_ns("2017-01-01T05:29:60+05:30")
    # no leap second at the end of 2016-06-30 (Bulletin C 51 announced none)
    with pytest.raises(InputError) as exc:
        parse_ns("2016-06-30T23:59:60Z")
    assert str(exc.value) == (
        "time '2016-06-30T23:59:60Z' has second 60, but no leap second ended the UTC minute "
        "2016-06-30T23:59 (leap seconds come only at 23:59:60 on the days IERS Bulletin C "
        "announces; the last was 2016-12-31); seconds run 00..59"
    )


@pytest.mark.parametrize("text", ["yesterday", "", "2028-13-01", "2028-01-01T25:00Z", "12:00"])
def test_not_iso(text: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_ns(text, "--epoch")
    assert str(exc.value) == (
        f"--epoch {text!r} is not an ISO 8601 time; use e.g. 2028-01-01T00:00:00Z (UTC; also "
        "2028-01-01, 2028-01-01T06:30, decimals of a second to the nanosecond, or an offset "
        "such as +00:00; a time without offset is UTC)"
    )


def test_datetime_to_ns_is_exact() -> None:
    t = dt.datetime(2026, 11, 25, 12, 0, 0, 123457, tzinfo=UTC)
    # float ns are exact only below 2**53 ns (~104 days after 1970): this one is not
    assert round(t.timestamp() * 1e9) % 1000 != 0
    assert datetime_to_ns(t) % 1000 == 0
    assert datetime_to_ns(t) == parse_ns("2026-11-25T12:00:00.123457Z")
    assert ns_to_datetime(datetime_to_ns(t)) == t
    assert datetime_to_ns(dt.datetime(2028, 1, 1, 5, tzinfo=dt.timezone(dt.timedelta(hours=5))))
    with pytest.raises(InputError) as exc:
        datetime_to_ns(dt.datetime(2028, 1, 1), "release time")
    assert str(exc.value) == (
        "release time 2028-01-01T00:00:00 has no time zone; give a UTC time "
        "(e.g. 2028-01-01T00:00:00Z or datetime(..., tzinfo=timezone.utc))"
    )
    with pytest.raises(InputError, match=r"start '9999-01-01T00:00:00\+00:00' is outside"):
        datetime_to_ns(dt.datetime(9999, 1, 1, tzinfo=UTC), "start")


def test_format() -> None:
    assert format_ns(T2028_NS + 123_456_789) == "2028-01-01T00:00:00.123456789Z"
    assert format_ns(T2028_NS + 123_456_789, 6) == "2028-01-01T00:00:00.123457Z"  # half up
    assert format_ns(T2028_NS + 999_999_999, 3) == "2028-01-01T00:00:01.000Z"
    assert format_ns(T2028_NS, 0) == "2028-01-01T00:00:00Z"
    assert format_ns(-1) == "1969-12-31T23:59:59.999999999Z"
    assert format_ns(MIN_NS) == "1677-09-21T00:12:43.145224193Z"
    assert format_datetime(dt.datetime(2028, 1, 1, 0, 0, 0, 1500, tzinfo=UTC), 3) == (
        "2028-01-01T00:00:00.002Z"
    )
    with pytest.raises(InputError, match=r"digits must be within 0\.\.9, got 10"):
        format_ns(0, 10)


def test_check_order() -> None:
    check_order(None, 5)
    check_order(5, 5)
    with pytest.raises(InputError) as exc:
        check_order(T2028_NS, T2028_NS - 1, "--start", "--stop")
    assert str(exc.value) == (
        "--stop 2027-12-31T23:59:59.999999999Z is before --start "
        "2028-01-01T00:00:00.000000000Z; give a stop at or after the start"
    )


@given(st.integers(MIN_NS, MAX_NS))
def test_format_parse_round_trip(t_ns: int) -> None:
    assert parse_ns(format_ns(t_ns)) == t_ns
    assert format_ns(t_ns) == str(np.datetime64(t_ns, "ns")) + "Z"
