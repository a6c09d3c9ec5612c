"""TESTSAT housekeeping packets built with the container encoder, for processor tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import falak
from falak.mdb import MissionDatabase, load
from falak.tm.encoder import ContainerEncoder

#: The TESTSAT example MDB shipped with falak (src/falak/missions/testsat/mdb.yaml).
MDB_PATH = Path(falak.__file__).parent / "missions" / "testsat" / "mdb.yaml"

#: TAI - UTC = 37 s since 2017-01-01 (IERS Bulletin C); OBT is CUC with TAI epoch 1958-01-01.
TAI_1958_TO_UNIX_S = 378_691_200
TAI_MINUS_UTC_S = 37


@cache
def load_testsat() -> MissionDatabase:
    return load(MDB_PATH)


def hk_packet(seq: int, obt_s: float, batt_v_counts: int = 7400, mode: int = 2) -> bytes:
    """One HK packet (APID 100); BATT_V is 1 mV per count, in limits 6.6..8.4 V (WARNING)."""
    enc = ContainerEncoder(load_testsat())
    values = {
        "CCSDS_VERSION": 0,
        "CCSDS_TYPE": 0,
        "CCSDS_SEC_HDR_FLAG": 1,
        "CCSDS_SEQ_FLAGS": 3,
        "CCSDS_SEQ_COUNT": seq % 16384,
        "CCSDS_LENGTH": 0,
        "OBT": obt_s,
        "BATT_V": batt_v_counts,
        "BATT_I": -20,
        "TEMP_BATT": 1600,
        "TEMP_OBC": 1700,
        "MODE": mode,
        "HEATER": 1,
        "HK_SPARE": 0,
        "SW_VERSION": "1.2.3",
    }
    pkt = bytearray(enc.encode("HK", values))
    n = len(pkt) - 7
    pkt[4:6] = n.to_bytes(2, "big")
    return bytes(pkt)


def event_packet(seq: int, obt_s: float, event_id: int, severity: int, message: str) -> bytes:
    """One on-board EVENT packet (APID 101); severity 0 INFO, 1 WARNING, 2 ERROR, 3 CRITICAL."""
    enc = ContainerEncoder(load_testsat())
    values = {
        "CCSDS_VERSION": 0,
        "CCSDS_TYPE": 0,
        "CCSDS_SEC_HDR_FLAG": 1,
        "CCSDS_SEQ_FLAGS": 3,
        "CCSDS_SEQ_COUNT": seq % 16384,
        "CCSDS_LENGTH": 0,
        "OBT": obt_s,
        "EVENT_ID": event_id,
        "EVENT_SEVERITY": severity,
        "EVENT_MESSAGE": message,
    }
    pkt = bytearray(enc.encode("EVENT", values))
    pkt[4:6] = (len(pkt) - 7).to_bytes(2, "big")
    return bytes(pkt)
