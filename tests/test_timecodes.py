"""Time codes (CCSDS 301.0-B-4 CUC and CDS), leap seconds and UTC edges."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from falak.errors import InputError, TimeCodeError
from falak.timecodes import (
    EPOCH_GPS_TAI_S,
    EPOCH_J2000_TAI_S,
    EPOCH_TAI_S,
    EPOCH_UNIX_TAI_S,
    LEAP_SECONDS,
    cds_from_ints,
    cds_to_datetime64,
    cds_to_seconds,
    cuc_from_ints,
    cuc_to_seconds,
    datetime64_to_datetimes,
    datetime64_to_tai_seconds,
    datetime64_to_unix,
    datetimes_to_datetime64,
    decode_pfield,
    format_tai_utc,
    format_utc,
    seconds_to_cds,
    seconds_to_cuc,
    tai_minus_utc,
    tai_seconds_to_datetime64,
    unix_to_datetime64,
)

D64 = np.datetime64


def tai(text: str) -> float:
    return float(datetime64_to_tai_seconds(np.array([text], dtype="datetime64[ns]"))[0])


# ------------------------------------------------------------------------------ epochs


def test_yamcs_green_book_epoch_convention() -> None:
    # yamcs CcsdsGreenBookTmTest: 4383 days after the 1958 TAI epoch print as 1970-01-01
    utc = tai_seconds_to_datetime64(np.array([4383 * 86400.0]))
    assert format_utc(utc) == ["1970-01-01T00:00:00.000Z"]
    assert EPOCH_UNIX_TAI_S == 4383 * 86400.0
    assert tai_seconds_to_datetime64(np.array([EPOCH_TAI_S]))[0] == D64("1958-01-01", "ns")


def test_gps_epoch_is_tai_minus_19_s() -> None:
    # IS-GPS-200: GPS time began 1980-01-06T00:00:00 UTC and runs 19 s behind TAI
    assert tai_seconds_to_datetime64(np.array([EPOCH_GPS_TAI_S]))[0] == D64("1980-01-06", "ns")
    assert tai("1980-01-06T00:00:00") == EPOCH_GPS_TAI_S
    assert EPOCH_GPS_TAI_S - (8040 * 86400) == 19


def test_j2000_against_skyfield() -> None:
    # J2000.0 = JD 2451545.0 TT; skyfield gives its TAI Julian date (whole + fraction).
    # Tolerance 1 µs: float64 seconds since 1958 resolve ~0.2 µs at this magnitude.
    from skyfield.api import load

    ts = load.timescale(builtin=True)
    t = ts.tt_jd(2451545.0)
    tai_since_1958 = ((t.whole - 2436204.5) + t.tai_fraction) * 86400.0
    assert pytest.approx(tai_since_1958, abs=1e-6) == EPOCH_J2000_TAI_S
    # USNO/IAU: J2000.0 is 2000-01-01T11:58:55.816 UTC
    assert format_utc(tai_seconds_to_datetime64(np.array([EPOCH_J2000_TAI_S]))) == [
        "2000-01-01T11:58:55.816Z"
    ]


# ------------------------------------------------------------------------------ leap seconds


def test_leap_table_matches_skyfield() -> None:
    # skyfield's bundled leap-second table (from IERS) is an independent copy of Bulletin C
    from skyfield.api import load

    ts = load.timescale(builtin=True)
    theirs = [
        (str(D64("1958-01-01") + np.timedelta64(int(jd - 2436204.5), "D")), int(off))
        for jd, off in zip(ts.leap_dates, ts.leap_offsets, strict=True)
    ]
    # skyfield lists the steps from 1972-07-01; the 1972-01-01 start value of 10 s is the
    # definition of UTC with leap seconds (IERS Bulletin C: "from 1972 January 1")
    assert LEAP_SECONDS[0] == ("1972-01-01", 10)
    assert list(LEAP_SECONDS[1:]) == theirs


def test_leap_second_end_of_2016() -> None:
    # IERS Bulletin C 52: a positive leap second at 2016-12-31T23:59:60; TAI−UTC 36 s → 37 s
    before = tai("2016-12-31T23:59:59")
    after = tai("2017-01-01T00:00:00")
    assert after - before == 2.0  # 23:59:59 and 23:59:60 both elapse
    offsets = tai_minus_utc(
        np.array(["2016-12-31T23:59:59.999", "2017-01-01T00:00:00"], dtype="datetime64[ns]")
    )
    assert offsets.tolist() == [36, 37]
    # inside the leap second: held at the end of the day in datetime64, :60 in text
    leap = np.array([before + 1.0, before + 1.5])
    held = D64("2016-12-31T23:59:59.999999999", "ns")
    assert np.all(tai_seconds_to_datetime64(leap) == held)
    assert format_tai_utc(leap) == ["2016-12-31T23:59:60.000Z", "2016-12-31T23:59:60.500Z"]
    assert format_tai_utc(np.array([after, before])) == [
        "2017-01-01T00:00:00.000Z",
        "2016-12-31T23:59:59.000Z",
    ]


def test_37_seconds_throughout_2017_and_after() -> None:
    days = np.arange(np.datetime64("2017-01-01"), np.datetime64("2026-11-25")).astype(
        "datetime64[ns]"
    )
    utc_count = (days - D64("1958-01-01", "ns")) / np.timedelta64(1, "s")
    assert np.all(datetime64_to_tai_seconds(days) - utc_count == 37)


def test_1972_boundary() -> None:
    # before 1972 falak takes TAI−UTC = 0 (Yamcs convention); 10 s from 1972-01-01
    assert tai_minus_utc(
        np.array(["1971-12-31T23:59:59", "1972-01-01T00:00:00"], dtype="datetime64[ns]")
    ).tolist() == [0, 10]
    assert tai("1972-01-01T00:00:00") - tai("1971-12-31T23:59:59") == 11.0


@given(
    ns=st.integers(
        int(D64("1958-01-01", "ns").astype(np.int64)),
        int(D64("2100-01-01", "ns").astype(np.int64)),
    )
)
def test_utc_tai_round_trip(ns: int) -> None:
    # float64 TAI seconds resolve ≤ 0.5 µs up to 2100: allow 1 µs
    utc = np.array([ns], dtype="datetime64[ns]")
    back = tai_seconds_to_datetime64(datetime64_to_tai_seconds(utc))
    assert abs(int((back - utc)[0].astype(np.int64))) <= 1000


def test_unix_conversions() -> None:
    assert unix_to_datetime64(np.array([0.0, 1.5]))[1] == D64("1970-01-01T00:00:01.5", "ns")
    assert np.isnat(unix_to_datetime64(np.array([np.nan]))[0])
    utc = unix_to_datetime64(np.array([1.7e9]))
    assert datetime64_to_unix(utc)[0] == 1.7e9
    # 1.7e9 s is 2023-11-14: TAI−UTC = 37 s
    assert datetime64_to_tai_seconds(utc)[0] - 1.7e9 == EPOCH_UNIX_TAI_S + 37


# ------------------------------------------------------------------------------ edges


def test_format_utc() -> None:
    arr = np.array(["2028-01-01T00:00:00.123456789", "NaT"], dtype="datetime64[ns]")
    assert format_utc(arr) == ["2028-01-01T00:00:00.123Z", "NaT"]
    assert format_utc(arr[:1], digits=0) == ["2028-01-01T00:00:00Z"]
    assert format_utc(arr[:1], digits=9) == ["2028-01-01T00:00:00.123456789Z"]
    with pytest.raises(InputError, match="datetime64"):
        format_utc(np.array([1.0]))


def test_datetime_edges() -> None:
    times = [
        dt.datetime(2028, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2028, 1, 1, 8, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=5))),
    ]
    arr = datetimes_to_datetime64(times)
    assert arr.dtype == np.dtype("datetime64[ns]")
    assert arr[1] == D64("2028-01-01T03:00:00.000005", "ns")
    back = datetime64_to_datetimes(arr)
    assert back == [t.astimezone(dt.UTC) for t in times]
    assert back[0] is not None
    assert back[0].tzinfo is dt.UTC
    assert datetime64_to_datetimes(np.array(["NaT"], dtype="datetime64[ns]")) == [None]
    with pytest.raises(InputError, match="timezone-aware"):
        datetimes_to_datetime64([dt.datetime(2028, 1, 1)])


# ------------------------------------------------------------------------------ CUC


def test_cuc_known_values() -> None:
    # CCSDS 301.0-B-4 §3.2: coarse = whole seconds, fine = binary fractions (2^-8 per octet)
    raw = np.array([[0, 0, 0, 1, 0x80, 0x00], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]], np.uint8)
    sec = cuc_to_seconds(raw, 4, 2)
    assert sec[0] == 1.5
    assert sec[1] == 2**32 - 1 + (2**16 - 1) / 2**16
    assert cuc_from_ints(np.array([10]), np.array([64]), 1)[0] == 10.25
    assert cuc_to_seconds(np.array([7], np.uint8), 1, 0).tolist() == [7.0]


@given(
    coarse_bytes=st.sampled_from([1, 2, 3, 4]),
    fine_bytes=st.sampled_from([0, 1, 2, 3]),
    data=st.data(),
)
def test_cuc_round_trip(coarse_bytes: int, fine_bytes: int, data: st.DataObject) -> None:
    n = 8 * (coarse_bytes + fine_bytes)
    # float64 is exact to 53 bits: a 4 + 3 octet code (56 bits) round-trips below 2**53
    raw_ints = data.draw(st.lists(st.integers(0, min(2**n, 2**53) - 1), min_size=1, max_size=20))
    raw = np.array(
        [list(v.to_bytes(coarse_bytes + fine_bytes, "big")) for v in raw_ints], dtype=np.uint8
    )
    sec = cuc_to_seconds(raw, coarse_bytes, fine_bytes)
    np.testing.assert_array_equal(seconds_to_cuc(sec, coarse_bytes, fine_bytes), raw)


def test_cuc_bad_sizes_and_ranges() -> None:
    with pytest.raises(
        TimeCodeError,
        match=r"CUC coarse time must be one of 1, 2, 3, 4 octets \(CCSDS 301.0-B-4 §3.2.2\), got 5",
    ):
        cuc_to_seconds(np.zeros((1, 6), np.uint8), 5, 1)
    with pytest.raises(TimeCodeError, match=r"CUC fine time must be one of 0, 1, 2, 3 octets"):
        seconds_to_cuc([1.0], 4, 4)
    with pytest.raises(TimeCodeError, match=r"needs an \(N, 6\) uint8 array"):
        cuc_to_seconds(np.zeros((2, 5), np.uint8), 4, 2)
    with pytest.raises(TimeCodeError, match=r"holds 0\.\.255 s since its epoch"):
        seconds_to_cuc([256.0], 1, 0)
    with pytest.raises(TimeCodeError, match=r"holds 0\.\.255 s"):
        seconds_to_cuc([-0.5], 1, 1)


def test_cuc_rounding_carries_into_coarse() -> None:
    # 0.9999 s with one fine octet rounds to 256/256: the carry goes into the coarse time
    assert seconds_to_cuc([0.9999], 1, 1).tolist() == [[1, 0]]


# ------------------------------------------------------------------------------ CDS


def test_cds_day_zero_is_the_1958_epoch() -> None:
    raw = np.zeros((1, 6), np.uint8)
    assert cds_to_seconds(raw).tolist() == [0.0]
    assert cds_to_datetime64(raw)[0] == D64("1958-01-01", "ns")


def test_cds_from_jpss_secondary_header(testdata: Path) -> None:
    # jpss/TRUTH.md packet 0: DOY 23109 (days since 1958-01-01, = 2021-04-09), MSEC 7, USEC 137;
    # the secondary header (bytes 6..13) is a CDS T-field with a 16-bit day and µs
    raw = np.frombuffer(
        (
            testdata / "space_packet_parser/jpss/J01_G011_LZ_2021-04-09T00-00-00Z_V01.DAT1"
        ).read_bytes()[6:14],
        dtype=np.uint8,
    )
    assert dt.date(1958, 1, 1) + dt.timedelta(days=23109) == dt.date(2021, 4, 9)
    assert cds_to_datetime64(raw, 2, 2)[0] == D64("2021-04-09T00:00:00.007137", "ns")
    assert cds_to_seconds(raw, 2, 2)[0] == pytest.approx(23109 * 86400 + 0.007137, abs=1e-9)
    assert cds_from_ints([23109], [7], [137], 2)[0] == cds_to_seconds(raw, 2, 2)[0]


@given(
    day_bytes=st.sampled_from([2, 3]),
    subms_bytes=st.sampled_from([0, 2, 4]),
    data=st.data(),
)
def test_cds_round_trip(day_bytes: int, subms_bytes: int, data: st.DataObject) -> None:
    # float64 seconds resolve ≤ 0.24 µs below 2**31 s (24,855 days): µs round trips exactly
    # there; ms round trips to 60,000 days (5.2e9 s, resolution 1 µs)
    days = data.draw(st.integers(0, 24_000 if subms_bytes else 60_000))
    ms = data.draw(st.integers(0, 86_399_999))
    sub_top = {0: 0, 2: 999, 4: 999_999_999}[subms_bytes]
    sub = data.draw(st.integers(0, sub_top))
    fields = days.to_bytes(day_bytes, "big") + ms.to_bytes(4, "big")
    fields += sub.to_bytes(subms_bytes, "big") if subms_bytes else b""
    raw = np.frombuffer(fields, dtype=np.uint8)[None, :]
    sec = cds_to_seconds(raw, day_bytes, subms_bytes)
    if subms_bytes < 4:
        np.testing.assert_array_equal(seconds_to_cds(sec, day_bytes, subms_bytes), raw)
    else:
        # picoseconds do not survive float64 (resolution ≤ 0.24 µs here): within 1 µs
        back = cds_to_seconds(seconds_to_cds(sec, day_bytes, subms_bytes), day_bytes, 4)
        assert abs(back[0] - sec[0]) < 1e-6
    # the datetime64 route is exact (integer ns), picoseconds truncated to ns
    expected = D64("1958-01-01", "ns") + np.timedelta64(
        days * 86_400_000_000_000
        + ms * 1_000_000
        + {0: 0, 2: sub * 1000, 4: sub // 1000}[subms_bytes],
        "ns",
    )
    assert cds_to_datetime64(raw, day_bytes, subms_bytes)[0] == expected


def test_cds_leap_second_milliseconds_are_held() -> None:
    # CCSDS 301.0-B-4 §3.3: during a leap second ms of day runs to 86,400,999
    raw = np.frombuffer((100).to_bytes(2, "big") + (86_400_500).to_bytes(4, "big"), np.uint8)
    assert cds_to_datetime64(raw)[0] == D64("1958-04-11T23:59:59.999999999", "ns")


def test_cds_seconds_count_utc_days() -> None:
    """CCSDS 301.0-B-4 §3.3: CDS counts days from 1958-01-01 and ms of day, UTC-based: day
    24107 ms 0 is 2024-01-02T00:00:00 (issue 12), with no 37 s leap-second shift."""
    from falak.timecodes import cds_seconds_to_datetime64

    out = cds_seconds_to_datetime64([24107 * 86400.0, np.nan])
    assert out[0] == D64("2024-01-02T00:00:00", "ns")
    assert np.isnat(out[1])
    raw = np.frombuffer((24107).to_bytes(2, "big") + bytes(4), np.uint8)
    assert cds_to_datetime64(raw)[0] == out[0]
    # day 0 is the UTC date of the epoch: UNIX 1970-01-01, GPS 1980-01-06, or an ISO date
    assert cds_seconds_to_datetime64([86400.0], "UNIX")[0] == D64("1970-01-02", "ns")
    assert cds_seconds_to_datetime64([0.0], "GPS")[0] == D64("1980-01-06", "ns")
    assert cds_seconds_to_datetime64([1.5], "2020-01-01T00:00:00Z")[0] == D64(
        "2020-01-01T00:00:01.5", "ns"
    )
    # a leap second's milliseconds (day 21549 = 2016-12-31, ms 86,400,500) cannot be told
    # from the next day's first second in float seconds; the T-field route holds them
    assert cds_seconds_to_datetime64([21549 * 86400 + 86400.5])[0] == D64(
        "2017-01-01T00:00:00.5", "ns"
    )
    leap = np.frombuffer((21549).to_bytes(2, "big") + (86_400_500).to_bytes(4, "big"), np.uint8)
    assert cds_to_datetime64(leap)[0] == D64("2016-12-31T23:59:59.999999999", "ns")


def test_epoch_seconds_cuc_counts_si_seconds() -> None:
    """CUC from the 1958 TAI epoch counts SI seconds (CCSDS 301.0-B-4 §3.2): UTC is 37 s
    behind in 2024 (IERS Bulletin C); UNIX and explicit dates count UTC seconds."""
    from falak.timecodes import epoch_seconds_to_datetime64

    sec = 24107 * 86400.0 + 37
    assert epoch_seconds_to_datetime64([sec])[0] == D64("2024-01-02T00:00:00", "ns")
    assert epoch_seconds_to_datetime64([sec], "tai")[0] == D64("2024-01-02T00:00:00", "ns")
    assert epoch_seconds_to_datetime64([0.0], "GPS")[0] == D64("1980-01-06", "ns")
    # J2000 is 1.3e9 TAI seconds, held in float64 to 2**-22 s (0.24 µs)
    j2000 = epoch_seconds_to_datetime64([0.0], "J2000")[0]
    assert abs(int((j2000 - D64("2000-01-01T11:58:55.816", "ns")).astype(np.int64))) <= 240
    assert epoch_seconds_to_datetime64([1.0], "UNIX")[0] == D64("1970-01-01T00:00:01", "ns")
    assert epoch_seconds_to_datetime64([2.0], "2017-01-01")[0] == D64("2017-01-01T00:00:02", "ns")
    with pytest.raises(
        TimeCodeError,
        match=r"time epoch 'next tuesday' is not TAI, GPS, J2000, UNIX or an ISO 8601 UTC time",
    ):
        epoch_seconds_to_datetime64([0.0], "next tuesday")
    with pytest.raises(TimeCodeError, match=r"time epoch .. is not"):
        epoch_seconds_to_datetime64([0.0], "")


def test_cds_bad_sizes() -> None:
    with pytest.raises(
        TimeCodeError,
        match=r"CDS day segment must be one of 2, 3 octets \(CCSDS 301.0-B-4 §3.3.2\), got 4",
    ):
        cds_to_seconds(np.zeros((1, 8), np.uint8), 4)
    with pytest.raises(TimeCodeError, match=r"CDS submillisecond must be one of 0, 2, 4 octets"):
        seconds_to_cds([0.0], 2, 3)
    with pytest.raises(TimeCodeError, match=r"days 0\.\.65535 after its epoch"):
        seconds_to_cds([65536 * 86400.0], 2, 0)
    with pytest.raises(TimeCodeError, match="bytes must be uint8"):
        cds_to_seconds(np.zeros((1, 6), np.int16))


# ------------------------------------------------------------------------------ P-field


def test_decode_pfield() -> None:
    # CCSDS 301.0-B-4 §3.2.2 / §3.3.2 bit layouts, MSB first
    cuc = decode_pfield(0b0_001_11_10)  # CUC level 1, 4 coarse, 2 fine
    assert (cuc.code, cuc.agency_epoch, cuc.coarse_bytes, cuc.fine_bytes) == ("CUC", False, 4, 2)
    assert cuc.t_field_bytes == 6
    assert decode_pfield(0b0_010_11_11).agency_epoch
    cds = decode_pfield(0b0_100_0_1_01)  # CDS, 1958 epoch, 24-bit day, µs
    assert (cds.code, cds.day_bytes, cds.subms_bytes, cds.t_field_bytes) == ("CDS", 3, 2, 9)
    with pytest.raises(TimeCodeError, match="reserved"):
        decode_pfield(0b0_100_0_0_11)
    with pytest.raises(TimeCodeError, match=r"not CUC \(001, 010\) or CDS \(100\)"):
        decode_pfield(0b0_110_0000)


def test_iso_to_datetime64_ns_refuses_what_numpy_would_wrap() -> None:
    # np.datetime64("9999-12-31T23:59:59", "ns") is 1816-03-29T05:56:08.066277376 (int64 wraps)
    from falak.timecodes import iso_to_datetime64_ns

    assert iso_to_datetime64_ns("2024-01-02T00:00:00.5Z") == np.datetime64(
        "2024-01-02T00:00:00.500", "ns"
    )
    with pytest.raises(InputError, match=r"'9999-12-31T23:59:59Z' is outside the range"):
        iso_to_datetime64_ns("9999-12-31T23:59:59Z")
    with pytest.raises(ValueError, match="out of range"):  # numpy's own message
        iso_to_datetime64_ns("2024-13-01")


def test_xtce_epoch_far_future_is_an_error_not_a_wrap() -> None:
    from falak.timecodes import epoch_seconds_to_datetime64

    with pytest.raises(TimeCodeError, match=r"time epoch '9999-01-01T00:00:00Z': time .* outside"):
        epoch_seconds_to_datetime64([0.0], epoch="9999-01-01T00:00:00Z")
