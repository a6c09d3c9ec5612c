"""A server hosting two spacecraft, TESTSAT and TIANGONG, built from a configuration file:
UDP telemetry links on free ports, each spacecraft's uplink to its own UDP socket (so a test
sees where each telecommand went), and users whose roles differ per spacecraft."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from falak.mdb import MissionDatabase, load
from falak.server import Runtime, load_config
from falak.tm.encoder import ContainerEncoder
from tests.processor.testsat import TAI_1958_TO_UNIX_S, TAI_MINUS_UTC_S, hk_packet
from tests.server.test_config import TESTSAT_MDB, TIANGONG_MDB

#: user name → (password, roles as the config file gives them)
MULTI_USERS = {
    "olga": ("olga-pw", "[operator]"),  # operator of both
    "tina": ("tina-pw", '{TIANGONG: [operator], "*": [viewer]}'),  # commands the station only
    "sam": ("sam-pw", "{TESTSAT: [viewer]}"),  # sees TESTSAT only
    "ada": ("ada-pw", "[admin]"),
}

#: TIANGONG STATION_HK entries (mdb.yaml, APID 300), raw values: 0 unless given
STATION_HK = (
    "STN_PAYLOAD_POWER_AVAIL_W",
    "STN_PAYLOAD_POWER_USED_W",
    "STN_PAYLOAD_POWER_MARGIN_W",
    "STN_SERVICE_POWER_W",
    "STN_SUNLIGHT",
    "STN_ATTITUDE_MODE",
    "STN_IN_SAA",
    "STN_SPARE",
    "STN_LAT_DEG",
    "STN_LON_DEG",
    "STN_ALT_KM",
    "STN_TC_ACCEPTED",
    "STN_TC_REJECTED",
    "REC_FILL_PCT",
    "REC_PACKETS",
    "REC_OVERWRITTEN",
)


def obt_now() -> float:
    """On-board time now: TAI seconds since 1958 (the CUC epoch of both MDBs)."""
    return time.time() + TAI_1958_TO_UNIX_S + TAI_MINUS_UTC_S


def station_hk(mdb: MissionDatabase, seq: int, obt_s: float, alt_counts: int = 39_000) -> bytes:
    """One TIANGONG STATION_HK packet; STN_ALT_KM is 0.01 km per count (mdb.yaml AltitudeKm)."""
    values: dict[str, object] = dict.fromkeys(STATION_HK, 0)
    values.update(
        CCSDS_VERSION=0,
        CCSDS_TYPE=0,
        CCSDS_SEC_HDR_FLAG=1,
        CCSDS_SEQ_FLAGS=3,
        CCSDS_SEQ_COUNT=seq % 16384,
        CCSDS_LENGTH=0,
        OBT=obt_s,
        STN_ALT_KM=alt_counts,
        STN_PAYLOAD_POWER_MARGIN_W=50_000,  # 5000 W: above the 200 W warning
    )
    pkt = bytearray(ContainerEncoder(mdb).encode("STATION_HK", values))
    pkt[4:6] = (len(pkt) - 7).to_bytes(2, "big")  # CCSDS packet length field
    return bytes(pkt)


@dataclass
class TwoSpacecraft:
    runtime: Runtime
    config: Path
    uplinks: dict[str, socket.socket]
    """Where each spacecraft's telecommands arrive."""
    tiangong: MissionDatabase

    def tm_port(self, spacecraft: str) -> int:
        link = self.runtime.get(spacecraft).processor.links["udp0"]
        return int(link.port)  # type: ignore[attr-defined]

    def send(self, spacecraft: str, packets: list[bytes]) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for p in packets:
                s.sendto(p, ("127.0.0.1", self.tm_port(spacecraft)))

    def send_testsat_hk(self, n: int = 1, batt_v_counts: int = 7400) -> None:
        self.send("TESTSAT", [hk_packet(i, obt_now(), batt_v_counts) for i in range(n)])

    def send_station_hk(self, n: int = 1, alt_counts: int = 39_000) -> None:
        self.send(
            "TIANGONG", [station_hk(self.tiangong, i, obt_now(), alt_counts) for i in range(n)]
        )


def write_config(
    tmp_path: Path, uplink_ports: dict[str, int], testsat_link: str = "udp://127.0.0.1:0"
) -> Path:
    """The two-spacecraft server configuration (TESTSAT first: the default spacecraft)."""
    users = "\n".join(
        f"  - {{name: {name}, roles: {roles}, password: {pw}}}"
        for name, (pw, roles) in MULTI_USERS.items()
    )
    cfg = tmp_path / "server.yaml"
    cfg.write_text(
        f"""archive: ./archive
users:
{users}
spacecraft:
  - name: TESTSAT
    mdb: {TESTSAT_MDB}
    links: ["{testsat_link}"]
    uplink: udp://127.0.0.1:{uplink_ports["TESTSAT"]}
    confirm_window_s: 5
  - name: TIANGONG
    mdb: {TIANGONG_MDB}
    links: [udp://127.0.0.1:0, udp://127.0.0.1:0]
    uplink: udp://127.0.0.1:{uplink_ports["TIANGONG"]}
    light_time_s: 0.005
"""
    )
    return cfg


@contextmanager
def two_spacecraft(
    tmp_path: Path, testsat_link: str = "udp://127.0.0.1:0"
) -> Iterator[TwoSpacecraft]:
    """The started two-spacecraft runtime (stopped on exit); ``testsat_link``: its link URL."""
    uplinks = {}
    for name in ("TESTSAT", "TIANGONG"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(5.0)
        uplinks[name] = s
    cfg = write_config(tmp_path, {k: s.getsockname()[1] for k, s in uplinks.items()}, testsat_link)
    rt = Runtime.from_config(load_config(cfg))
    rt.start()
    try:
        yield TwoSpacecraft(rt, cfg, uplinks, load(TIANGONG_MDB))
    finally:
        rt.stop()
        for s in uplinks.values():
            s.close()
