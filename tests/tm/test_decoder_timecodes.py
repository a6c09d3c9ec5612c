"""Golden CCSDS time codes through the decoder and both encoders: definition, bytes, UTC.

References
----------
- CCSDS 301.0-B-4 §3.3 (CDS): a day count from 1958-01-01 and milliseconds of the day, an
  optional submillisecond field (16 bits: µs); a UTC-based code, so no leap seconds apply.
- CCSDS 301.0-B-4 §3.2 (CUC): SI seconds (coarse) and binary fractions (fine) from the
  1958-01-01 TAI epoch, so UTC = TAI − (TAI−UTC): 37 s since 2017-01-01 (IERS Bulletin C 52).
- space_packet_parser jpss/TRUTH.md, packet 0: secondary header DOY 23109, MSEC 7, USEC 137,
  i.e. 2021-04-09T00:00:00.007137 (the CDS T-field ``5A 45 00 00 00 07 00 89``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from falak.mdb import load
from falak.mdb.model import MissionDatabase
from falak.tc.encoder import CommandEncoder
from falak.tm.decoder import Decoder
from falak.tm.encoder import ContainerEncoder

MDB_YAML = """\
name: TIMES
types:
  CdsMs:
    kind: absolute_time
    timecode: {cds: {day: 2, submillis: 0}}
  CdsUs:
    kind: absolute_time
    timecode: {cds: {day: 2, submillis: 2}}
  CucTai:
    kind: absolute_time
    timecode: {cuc: {coarse: 4, fine: 2}}
    epoch: TAI
  CdsUnix:
    kind: absolute_time
    timecode: {cds: {day: 2, submillis: 0}}
    epoch: UNIX
parameters:
  T_CDS: CdsMs
  T_CDS_US: CdsUs
  T_CUC: CucTai
  T_CDS_UNIX: CdsUnix
containers:
  TIMES:
    entries: [T_CDS, T_CDS_US, T_CUC, T_CDS_UNIX]
commands:
  SET_TIME:
    arguments:
      AT: CdsMs
    entries: [AT]
"""

# (field, T-field bytes, seconds since the code's epoch, expected UTC, source)
GOLDEN = [
    (
        "T_CDS",
        "5E2B 00000000",  # day 24107, ms 0
        24107 * 86400.0,
        "2024-01-02T00:00:00.000000000",
        "issue 12: CDS day 24107, ms 0; 1958-01-01 + 24107 days (checked below)",
    ),
    (
        "T_CDS_US",
        "5A45 00000007 0089",  # day 23109, ms 7, µs 137
        23109 * 86400 + 0.007137,
        "2021-04-09T00:00:00.007137000",
        "jpss/TRUTH.md packet 0",
    ),
    (
        "T_CUC",
        "7C25 B0A5 8000",  # 2,082,844,837.5 s TAI
        24107 * 86400 + 37 + 0.5,
        "2024-01-02T00:00:00.500000000",
        "CUC = UTC + 37 s (IERS Bulletin C) since 1958 TAI; fine 0x8000 = 0.5 s",
    ),
    (
        "T_CDS_UNIX",
        "4D29 02932E00",  # day 19753 after 1970-01-01, ms 43,200,000
        19753 * 86400 + 43200.0,
        "2024-01-31T12:00:00.000000000",
        "1970-01-01 + 19753 days = 2024-01-31 (checked below), 12 h",
    ),
]


@pytest.fixture(scope="module")
def mdb(tmp_path_factory: pytest.TempPathFactory) -> MissionDatabase:
    path: Path = tmp_path_factory.mktemp("mdb") / "times.yaml"
    path.write_text(MDB_YAML)
    return load(path)


def _packet() -> bytes:
    return bytes.fromhex("".join(g[1] for g in GOLDEN))


def test_golden_day_counts() -> None:
    """The calendar arithmetic behind the expected dates (proleptic Gregorian days)."""
    assert dt.date(1958, 1, 1) + dt.timedelta(days=24107) == dt.date(2024, 1, 2)
    assert dt.date(1958, 1, 1) + dt.timedelta(days=23109) == dt.date(2021, 4, 9)
    assert dt.date(1970, 1, 1) + dt.timedelta(days=19753) == dt.date(2024, 1, 31)
    assert int("7C25B0A5", 16) == 24107 * 86400 + 37


def test_cds_and_cuc_decode_to_utc(mdb: MissionDatabase) -> None:
    """CDS counts UTC days (no leap seconds, CCSDS 301.0-B-4 §3.3); CUC from the TAI epoch
    counts SI seconds, 37 s ahead of UTC in 2024 (§3.2)."""
    data = _packet()
    res = Decoder(mdb).decode(data, [0], [len(data)])
    assert res.failed_counts() == {}
    c = res.container("TIMES")
    for name, _hex, seconds, utc, source in GOLDEN:
        col = c.column(name)
        assert col.raw[0] == pytest.approx(seconds, abs=1e-9), (name, source)
        assert col.eng.dtype == np.dtype("datetime64[ns]"), name
        # the decoder's raw value is float64 seconds, which resolve 2**-22 s (0.24 µs) at
        # 2.1e9 s: the UTC time is exact to that
        error_ns = abs(int((col.eng[0] - np.datetime64(utc, "ns")).astype(np.int64)))
        assert error_ns <= 240, (name, source, col.eng[0])
    assert c.trailing_bits.tolist() == [0]


def test_telemetry_encoder_writes_the_golden_bytes(mdb: MissionDatabase) -> None:
    values = {name: seconds for name, _hex, seconds, _utc, _src in GOLDEN}
    assert ContainerEncoder(mdb).encode("TIMES", values) == _packet()


def test_telemetry_encoder_reports_a_time_outside_the_code() -> None:
    from falak.errors import EncodeError
    from falak.mdb.model import CdsTimeCode
    from falak.tm.encoder import BitWriter, write_timecode

    with pytest.raises(EncodeError, match=r"16-bit day segment holds days 0\.\.65535"):
        write_timecode(BitWriter(), CdsTimeCode(2, 0), 65536 * 86400.0)


def test_command_argument_with_a_cds_time(mdb: MissionDatabase) -> None:
    """A CDS time argument is written by the same code (seconds since 1958-01-01 UTC)."""
    cmd = CommandEncoder(mdb).encode("SET_TIME", {"AT": 24107 * 86400.0})
    assert cmd.binary == bytes.fromhex("5E2B 00000000")
