"""CCSDS OEM (502.0-B-3 KVN) writing and parsing."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from falak.dynamics.oem import format_oem, parse_oem, read_oem, write_oem
from falak.errors import InputError

CREATED = datetime(2028, 1, 1, 12, tzinfo=UTC)


def _states() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(502)
    times = np.datetime64("2028-01-01T00:00:00", "ns") + np.arange(5) * np.timedelta64(
        60_500_000_000, "ns"
    )
    return times, rng.uniform(-9000, 9000, (5, 3)), rng.uniform(-2, 2, (5, 3))


def test_round_trip(tmp_path: Path) -> None:
    times, r, v = _states()
    text = format_oem(times, r, v, object_id="2028-001A", creation_date=CREATED)
    path = tmp_path / "orbit.oem"
    write_oem(path, text)
    oem = read_oem(path)
    np.testing.assert_array_equal(oem.times, times)
    # Written with 6 decimals in km and 9 in km/s: round trip within half a unit of the last.
    np.testing.assert_allclose(oem.r_km, r, rtol=0, atol=5e-7)
    np.testing.assert_allclose(oem.v_km_s, v, rtol=0, atol=5e-10)
    assert oem.metadata["CENTER_NAME"] == "MOON"
    assert oem.metadata["REF_FRAME"] == "ICRF"
    assert oem.time_system == "UTC"
    assert oem.header["CCSDS_OEM_VERS"] == "3.0"


def test_format_layout() -> None:
    times, r, v = _states()
    lines = format_oem(times[:1], r[:1], v[:1], creation_date=CREATED).splitlines()
    # CCSDS 502.0-B-3 §5.2.1: the first header line is the version keyword.
    assert lines[0] == "CCSDS_OEM_VERS = 3.0"
    assert "CREATION_DATE = 2028-01-01T12:00:00" in lines
    assert lines.index("META_START") < lines.index("CENTER_NAME = MOON") < lines.index("META_STOP")
    assert lines[-1].startswith("2028-01-01T00:00:00.000000 ")
    assert len(lines[-1].split()) == 7


SAMPLE = """CCSDS_OEM_VERS = 2.0
COMMENT two segments, day-of-year epochs, accelerations, a covariance block
CREATION_DATE = 2028-001T00:00:00
ORIGINATOR = TEST

META_START
OBJECT_NAME = SAT
OBJECT_ID = 2028-001A
CENTER_NAME = MOON
REF_FRAME = ICRF
TIME_SYSTEM = TDB
START_TIME = 2028-001T00:00:00
STOP_TIME = 2028-001T00:01:00
META_STOP
2028-001T00:00:00 1900.0 0.0 0.0 0.0 1.6 0.0 -0.001 0 0
2028-001T00:01:00.5 1899.0 96.0 0.0 -0.08 1.6 0.0 -0.001 0 0

COVARIANCE_START
EPOCH = 2028-001T00:00:00
COV_REF_FRAME = ICRF
1.0
COVARIANCE_STOP

META_START
OBJECT_NAME = SAT
OBJECT_ID = 2028-001A
CENTER_NAME = MOON
REF_FRAME = ICRF
TIME_SYSTEM = TDB
START_TIME = 2028-01-01T00:02:00
STOP_TIME = 2028-01-01T00:02:00
META_STOP
2028-01-01T00:02:00Z 1897.0 190.0 0.0 -0.16 1.6 0.0
"""


def test_parse_segments_doy_and_covariance() -> None:
    oem = parse_oem(SAMPLE)
    assert oem.time_system == "TDB"
    assert oem.metadata["STOP_TIME"] == "2028-01-01T00:02:00"
    expected = np.array(
        ["2028-01-01T00:00:00", "2028-01-01T00:01:00.5", "2028-01-01T00:02:00"],
        dtype="datetime64[ns]",
    )
    np.testing.assert_array_equal(oem.times, expected)
    assert oem.r_km.shape == (3, 3)
    assert oem.v_km_s[2, 0] == -0.16


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("META_START\n", r"<oem>: not an OEM: the first keyword must be CCSDS_OEM_VERS"),
        (
            SAMPLE.replace("1899.0 96.0 0.0", "1899.0 96.0"),
            r"<oem>:16: data line has 9 fields; expected 'epoch x y z vx vy vz' \(7\)",
        ),
        (
            SAMPLE.replace("2028-001T00:01:00.5", "2028-13-01T00:01:00"),
            r"<oem>:16: epoch '2028-13-01T00:01:00' is not 'YYYY-MM-DDThh:mm:ss\[\.s\]'",
        ),
        (
            SAMPLE.replace(
                "TIME_SYSTEM = TDB\nSTART_TIME = 2028-01-01",
                "TIME_SYSTEM = UTC\nSTART_TIME = 2028-01-01",
            ),
            r"<oem>:29: TIME_SYSTEM changes from TDB to UTC between segments",
        ),
        (
            SAMPLE.replace(
                "REF_FRAME = ICRF\nTIME_SYSTEM = TDB\nSTART_TIME = 2028-001",
                "X = 1\nSTART_TIME = 2028-001",
            ),
            r"<oem>:13: metadata block lacks REF_FRAME",
        ),
        # numpy's datetime64[ns] wraps 9999 silently to 1816 (issue 12): refused, range named
        (
            SAMPLE.replace("2028-001T00:01:00.5", "9999-12-31T23:59:59"),
            r"<oem>:16: time '9999-12-31T23:59:59' is outside the range a nanosecond time can "
            r"hold \(1677-09-21T00:12:44Z \.\. 2262-04-11T23:47:16Z\)",
        ),
        (
            SAMPLE.replace("2028-001T00:01:00.5", "2263-001T00:00:00"),
            r"<oem>:16: time '2263-01-01T00:00:00' is outside the range",
        ),
    ],
)
def test_malformed_messages(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_oem(text)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read OEM file .*nope.oem: No such file"):
        read_oem(tmp_path / "nope.oem")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAMPLE)), st.integers(0, 40), st.text(max_size=20))
def test_damaged_oem_gives_input_error_never_a_crash(pos: int, cut: int, insert: str) -> None:
    # A valid OEM with a random span replaced by random text: parses or raises InputError.
    with contextlib.suppress(InputError):
        oem = parse_oem(SAMPLE[:pos] + insert + SAMPLE[pos + cut :])
        assert oem.r_km.shape == oem.v_km_s.shape == (len(oem.times), 3)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(*[st.floats(-1e5, 1e5, allow_nan=False) for _ in range(6)]),
        min_size=1,
        max_size=20,
    )
)
def test_round_trip_random_states(rows: list[tuple[float, ...]]) -> None:
    data = np.array(rows)
    times = np.datetime64("2028-01-01T00:00:00", "ns") + np.arange(len(rows)) * np.timedelta64(
        1_000_001, "us"
    )
    oem = parse_oem(format_oem(times, data[:, :3], data[:, 3:], creation_date=CREATED))
    np.testing.assert_array_equal(oem.times, times)
    # Half a unit of the last printed decimal, plus float64 rounding of the value (rtol 1e-15).
    np.testing.assert_allclose(oem.r_km, data[:, :3], rtol=1e-15, atol=5e-7)
    np.testing.assert_allclose(oem.v_km_s, data[:, 3:], rtol=1e-15, atol=5e-10)
