"""Limit checks on values straight from the wire."""

from __future__ import annotations

import numpy as np

from falak.mdb.model import AlarmRanges, NumericAlarm, Range
from falak.tm.limits import check_numeric


def test_signalling_nan_from_the_wire_checks_without_a_warning() -> None:
    # 0x7F800001 is a float32 signalling NaN (IEEE 754: exponent all ones, quiet bit clear);
    # random telemetry bytes produce it, and widening it to float64 used to warn
    values = np.array([0x7F800001, 0x40A00000, 0x42480000], dtype=">u4").view(">f4")
    assert np.isnan(values[0])
    assert values.tolist()[1:] == [5.0, 50.0]
    level = check_numeric(NumericAlarm(static=AlarmRanges(warning=Range(0.0, 30.0))), values)
    assert level[1] == 0  # NORMAL
    assert level[2] == 2  # WARNING: 50 is outside [0, 30]
