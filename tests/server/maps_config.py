"""A server hosting TIANGONG (an Earth orbiter: ``orbit.tle``) and ROVER (a surface site with a
planned route), for the map routes and the console's Maps page; ROVER_HK packets to move the
rover's estimated pose."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from falak.mdb import MissionDatabase, load
from falak.server import Runtime, load_config
from falak.tm.encoder import ContainerEncoder
from tests.processor.testsat import TAI_1958_TO_UNIX_S, TAI_MINUS_UTC_S
from tests.server.conftest import USERS
from tests.server.test_config import TIANGONG_MDB

MISSIONS = Path(__file__).parents[2] / "src" / "falak" / "missions"
ROVER_MDB = MISSIONS / "rover" / "mdb.yaml"
CSS_TLE = MISSIONS / "tiangong" / "css.tle"
EPOCH = "2023-09-08T06:00:00Z"
"""The run clock's epoch: a day after css.tle's epoch (2023-09-07T14:28Z), where SGP4 holds."""
SITE_SEED = 11
ROUTE_START_XY = (-150.0, 3032.0)
ROUTE_GOAL_XY = (150.0, 3100.0)

#: ROVER_HK entries (missions/rover/mdb.yaml, APID 510), raw values: 0 unless given
ROVER_HK = (
    "ROV_MODE",
    "ROV_MOB_STATE",
    "ROV_EST_X_M",
    "ROV_EST_Y_M",
    "ROV_EST_HEADING_DEG",
    "ROV_PITCH_DEG",
    "ROV_ROLL_DEG",
    "ROV_ODOMETER_M",
    "ROV_LAST_STOP",
    "ROV_TC_ACCEPTED",
    "ROV_TC_REJECTED",
    "REC_FILL_PCT",
    "REC_PACKETS",
    "REC_OVERWRITTEN",
)


def write_route(path: Path) -> Path:
    """A planned traverse as ``falak traverse plan`` writes it (its to_geojson), on the site
    terrain the server's map shows (site_terrain of the default options and SITE_SEED)."""
    from falak.planning.traverse import plan_route, to_geojson
    from falak.terrain.hazards import hazards
    from falak.terrain.site import site_terrain

    dem, _ = site_terrain({}, SITE_SEED)
    route = plan_route(dem, hazards(dem), ROUTE_START_XY, ROUTE_GOAL_XY)
    path.write_text(json.dumps(to_geojson(route)), encoding="utf-8")
    return path


def write_config(d: Path, speed: float = 1.0) -> Path:
    """The two-spacecraft config (TIANGONG first, the default); the users of tests.server."""
    route = write_route(d / "route.geojson")
    windows = d / "windows.json"
    windows.write_text(
        json.dumps({"format": "falak-uplink-windows/1", "spacecraft": "ROVER", "what": "test",
                    "windows": []}),
        encoding="utf-8",
    )  # fmt: skip
    users = "\n".join(
        f"  - {{name: {name}, roles: [{role}], password: {pw}}}"
        for name, (pw, role) in USERS.items()
    )
    users += "\n  - {name: sam, roles: {TIANGONG: [viewer]}, password: sam-pw}"  # not ROVER's
    config = d / "server.yaml"
    config.write_text(
        f"""archive: ./archive
clock: {{epoch: "{EPOCH}", speed: {speed}}}
users:
{users}
spacecraft:
  - name: TIANGONG
    mdb: {TIANGONG_MDB}
    links: [udp://127.0.0.1:0]
    orbit: {{tle: {CSS_TLE}}}
  - name: ROVER
    mdb: {ROVER_MDB}
    links: [udp://127.0.0.1:0]
    site: {{dem: synthetic, options: {{}}, seed: {SITE_SEED}}}
    plans: [{route.name}, {windows.name}]
""",
        encoding="utf-8",
    )
    return config


@dataclass
class MapsGround:
    runtime: Runtime
    config: Path
    rover: MissionDatabase
    route: Path

    def rover_port(self) -> int:
        link = self.runtime.get("ROVER").processor.links["udp0"]
        return int(link.port)  # type: ignore[attr-defined]

    def send_pose(self, x_m: float, y_m: float, heading_deg: float, seq: int = 0) -> None:
        """One ROVER_HK packet with this estimated pose, stamped with the run clock's now."""
        now_s = self.runtime.clock.now_ns() / 1e9
        packet = rover_hk(self.rover, seq, now_s + TAI_1958_TO_UNIX_S + TAI_MINUS_UTC_S,
                          x_m, y_m, heading_deg)  # fmt: skip
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(packet, ("127.0.0.1", self.rover_port()))


def rover_hk(
    mdb: MissionDatabase, seq: int, obt_s: float, x_m: float, y_m: float, heading_deg: float
) -> bytes:
    """One ROVER_HK packet; positions 1 cm per count (mdb.yaml PositionM), heading 0.01° per
    count (HeadingDeg)."""
    values: dict[str, object] = dict.fromkeys(ROVER_HK, 0)
    values.update(
        CCSDS_VERSION=0,
        CCSDS_TYPE=0,
        CCSDS_SEC_HDR_FLAG=1,
        CCSDS_SEQ_FLAGS=3,
        CCSDS_SEQ_COUNT=seq % 16384,
        CCSDS_LENGTH=0,
        OBT=obt_s,
        ROV_EST_X_M=round(x_m * 100),
        ROV_EST_Y_M=round(y_m * 100),
        ROV_EST_HEADING_DEG=round(heading_deg * 100),
    )
    pkt = bytearray(ContainerEncoder(mdb).encode("ROVER_HK", values))
    pkt[4:6] = (len(pkt) - 7).to_bytes(2, "big")  # CCSDS packet length field
    return bytes(pkt)


@contextmanager
def maps_ground(d: Path, speed: float = 1.0) -> Iterator[MapsGround]:
    """The started runtime of :func:`write_config` (stopped on exit)."""
    config = write_config(d, speed)
    cfg = load_config(config)
    rt = Runtime.from_config(cfg)
    rt.start()
    try:
        time.sleep(0.05)
        yield MapsGround(rt, config, load(ROVER_MDB), d / "route.geojson")
    finally:
        rt.stop()
