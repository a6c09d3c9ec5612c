"""Decoder behaviour: calibration, alarms, include conditions, failures counted by reason."""

from __future__ import annotations

import numpy as np
import pytest

from falak.ccsds.spacepacket import encode_packet, split_packets
from falak.mdb.model import (
    AlarmLevel,
    AlarmRanges,
    Comparison,
    Derivation,
    EnumeratedType,
    EnumerationAlarm,
    EnumValue,
    FloatType,
    IntegerEncoding,
    IntegerType,
    NumericAlarm,
    Parameter,
    ParameterEntry,
    ParameterRef,
    PolynomialCalibrator,
    Range,
    SplineCalibrator,
)
from falak.tm.decoder import Decoder
from falak.tm.encoder import ContainerEncoder

from .mdbs import Builder, apid_is


def _hk_mdb(crc: bool = False) -> Builder:
    b = Builder()
    hdr = b.container("Header", b.header(), abstract=True)
    volts = FloatType(
        "VOLT_T",
        IntegerEncoding(12),
        calibrator=PolynomialCalibrator((0.0, 0.01)),  # 10 mV per count
        alarm=NumericAlarm(
            static=AlarmRanges(warning=Range(24.0, 34.0), critical=Range(22.0, 36.0)),
            contexts=(
                (
                    Comparison(ParameterRef("/T/MODE"), "==", "SAFE"),
                    AlarmRanges(warning=Range(20.0, 34.0)),
                ),
            ),
        ),
    )
    temp = FloatType(
        "TEMP_T",
        IntegerEncoding(8),
        calibrator=SplineCalibrator(((0, -50.0), (100, 0.0), (255, 77.5))),
    )
    mode = EnumeratedType(
        "MODE_T",
        IntegerEncoding(4),
        values=(EnumValue(0, "SAFE"), EnumValue(1, "NOMINAL"), EnumValue(2, "SCIENCE")),
        alarm=EnumerationAlarm(levels=(("SAFE", AlarmLevel.WARNING),)),
    )
    amps = FloatType("AMP_T", IntegerEncoding(12), calibrator=PolynomialCalibrator((0.0, 0.001)))
    entries = [
        ParameterEntry(b.param("MODE", mode)),
        ParameterEntry(b.param("BATT_V", volts)),
        ParameterEntry(b.param("TEMP", temp)),
        ParameterEntry(b.param("BATT_I", amps)),
        # heater current is only in the packet when the mode is SCIENCE
        ParameterEntry(
            b.uint("HEATER", 16),
            include_if=Comparison(ParameterRef("/T/MODE"), "==", "SCIENCE"),
        ),
    ]
    if crc:
        entries.append(ParameterEntry(b.uint("CRC", 16)))
    b.container(
        "HK",
        tuple(entries),
        base=hdr,
        restriction=apid_is(100),
        crc="CRC-16-CCITT" if crc else None,
    )
    b.types["POWER_T"] = FloatType("POWER_T", None, unit="W")
    b.params["POWER"] = Parameter(
        "POWER",
        "/T/POWER",
        "/T/POWER_T",
        data_source="derived",
        derivation=Derivation("numpy:multiply", ("/T/BATT_V", "/T/BATT_I")),
    )
    return b


def _packets(b: Builder, rows: list[dict[str, object]], crc: bool = False) -> bytes:
    enc = ContainerEncoder(b.build())
    out = b""
    for i, row in enumerate(rows):
        body = enc.encode(
            "HK",
            {
                **row,
                "SRC_SEQ_CTR": i,
                "PKT_LEN": 0,
                "VERSION": 0,
                "TYPE": 0,
                "SEC_HDR_FLG": 0,
                "SEQ_FLGS": 3,
                **({"CRC": 0} if crc else {}),
            },
        )
        pkt = encode_packet(100, body[6:], seq_count=i)
        if crc:
            from falak.ccsds.crc import crc16_ccitt

            pkt = pkt[:-2] + crc16_ccitt(pkt[:-2]).to_bytes(2, "big")
        out += pkt
    return out


ROWS = [
    {"MODE": 1, "BATT_V": 2800, "TEMP": 100, "BATT_I": 1500},  # 28.00 V, 0 °C
    {"MODE": 1, "BATT_V": 3500, "TEMP": 255, "BATT_I": 1500},  # 35.00 V: WARNING
    {"MODE": 0, "BATT_V": 2100, "TEMP": 50, "BATT_I": 1500},  # SAFE: context ranges, 21 V
    {"MODE": 2, "BATT_V": 2800, "TEMP": 0, "BATT_I": 1000, "HEATER": 777},
    {"MODE": 1, "BATT_V": 2800, "TEMP": 100, "BATT_I": 1500},
]


def _decode(data: bytes, b: Builder):
    split = split_packets(data)
    return Decoder(b.build()).decode(data, split.offsets, split.lengths)


def test_calibration_polynomial_spline_enumeration_and_derived() -> None:
    b = _hk_mdb()
    hk = _decode(_packets(b, ROWS), b).container("HK")
    np.testing.assert_allclose(hk.column("BATT_V").eng, [28.0, 35.0, 21.0, 28.0, 28.0])
    # spline: 50 counts is halfway from (0, -50) to (100, 0); 255 is the last point
    np.testing.assert_allclose(hk.column("TEMP").eng, [0.0, 77.5, -25.0, -50.0, 0.0])
    assert hk.column("MODE").eng.tolist() == ["NOMINAL", "NOMINAL", "SAFE", "SCIENCE", "NOMINAL"]
    assert hk.column("MODE").raw.tolist() == [1, 1, 0, 2, 1]
    np.testing.assert_allclose(hk.column("POWER").eng, [42.0, 52.5, 31.5, 28.0, 42.0])


def test_include_condition_marks_presence() -> None:
    b = _hk_mdb()
    heater = _decode(_packets(b, ROWS), b).container("HK").column("HEATER")
    assert heater.present is not None
    assert heater.present.tolist() == [False, False, False, True, False]
    assert heater.raw[3] == 777


def test_static_and_context_alarms_and_transitions() -> None:
    b = _hk_mdb()
    res = _decode(_packets(b, ROWS), b)
    hk = res.container("HK")
    lv = AlarmLevel
    # 21 V is below the static critical range, but in SAFE mode only the context's warning
    # range (20..34 V) applies: in limits.
    assert hk.column("BATT_V").monitoring.tolist() == [0, lv.WARNING, 0, 0, 0]
    assert hk.column("MODE").monitoring.tolist() == [0, 0, lv.WARNING, 0, 0]
    text = [str(t) for t in res.alarms]
    assert text == [
        "/T/BATT_V: NORMAL -> WARNING at sample 1 (value 35.0)",
        "/T/BATT_V: WARNING -> NORMAL at sample 2 (value 21.0)",
        "/T/MODE: NORMAL -> WARNING at sample 2 (value 'SAFE')",
        "/T/MODE: WARNING -> NORMAL at sample 3 (value 'SCIENCE')",
    ]


def test_failures_are_counted_by_reason_never_raised() -> None:
    b = _hk_mdb()
    good = _packets(b, ROWS[:2])
    unknown_apid = encode_packet(55, b"\x00" * 8)
    too_short = encode_packet(100, b"\x01")  # header says APID 100 but the body is 1 byte
    data = good + unknown_apid + too_short
    res = _decode(data, b)
    assert res.n_packets == 4
    assert res.n_decoded == 2
    assert res.failed_counts() == {"no_container": 1, "too_short": 1}
    assert res.failed["no_container"].tolist() == [2]
    assert res.failed["too_short"].tolist() == [3]


def test_crc_checked_when_the_container_asks() -> None:
    b = _hk_mdb(crc=True)
    data = bytearray(_packets(b, ROWS[:3], crc=True))
    data[10] ^= 0xFF  # corrupt the first packet's body
    res = _decode(bytes(data), b)
    assert res.failed_counts() == {"bad_crc": 1}
    assert res.container("HK").packet_index.tolist() == [1, 2]


def test_root_must_be_named_when_ambiguous() -> None:
    from falak.errors import MdbError

    b = Builder()
    b.container("A", (ParameterEntry(b.uint("X", 8)),))
    b.container("B", (ParameterEntry(b.uint("Y", 8)),))
    with pytest.raises(MdbError, match=r"cannot choose the root container.*candidates: /T/A, /T/B"):
        Decoder(b.build())
    assert Decoder(b.build(), "B").root.name == "B"


def test_integer_type_without_calibrator_keeps_integers() -> None:
    b = Builder()
    b.container("A", (ParameterEntry(b.param("X", IntegerType("X_T", IntegerEncoding(8)))),))
    res = Decoder(b.build(), "A").decode(b"\x05\x07", [0, 1], [1, 1])
    assert res.container("A").column("X").eng.tolist() == [5, 7]


def test_float32_text_is_the_same_in_typed_and_object_columns() -> None:
    """A float32 value prints as the double it is, whether its column is typed or holds
    gaps (object); reading the text back as float32 gives the same bits."""
    from falak.tm.tabular import format_column

    x = np.array([2.178796305569263e-39, 0.1, -785.8864135742188], dtype=np.float32)
    typed = format_column(x, np.ones(3, dtype=bool))
    objects = format_column(np.array(list(x), dtype=object), np.ones(3, dtype=bool))
    assert typed == objects
    assert np.array(typed, dtype=np.float64).astype(np.float32).tobytes() == x.tobytes()
