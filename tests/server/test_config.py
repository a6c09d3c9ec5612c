"""The server configuration: the spacecraft list, the clock, per-spacecraft roles, and the
single-spacecraft form of earlier releases; every refusal names the file and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from falak.clock import SYSTEM_CLOCK, ScaledClock
from falak.errors import InputError
from falak.server import Runtime, load_config
from falak.server.config import SpacecraftConfig, UserConfig

MISSIONS = Path(__file__).parents[2] / "src" / "falak" / "missions"
TESTSAT_MDB = MISSIONS / "testsat" / "mdb.yaml"
TIANGONG_MDB = MISSIONS / "tiangong" / "mdb.yaml"

TWO = f"""
archive: ./archive
clock: {{epoch: "2023-09-08T00:00:00Z", speed: 60, reference_host_ns: 1765100000000000000}}
token_ttl_s: 600
users:
  - {{name: alice, roles: [operator], password: a}}
  - {{name: bob, roles: {{TIANGONG: [operator], "*": [viewer]}}, password: b}}
spacecraft:
  - name: TIANGONG
    mdb: {TIANGONG_MDB}
    links: [udp://127.0.0.1:10015, udp://127.0.0.1:10016]
    uplink: udp://127.0.0.1:10025
    light_time_s: 0.01
    confirm_window_s: 20
  - name: TESTSAT
    mdb: {TESTSAT_MDB}
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "server.yaml"
    p.write_text(text)
    return p


def _refusal(path: Path) -> str:
    with pytest.raises(InputError) as info:
        load_config(path)
    return str(info.value)


def test_the_spacecraft_list(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, TWO))
    assert cfg.archive == str((tmp_path / "archive").resolve())
    assert cfg.spacecraft == [
        SpacecraftConfig(
            name="TIANGONG",
            mdb=TIANGONG_MDB.resolve(),
            links=["udp://127.0.0.1:10015", "udp://127.0.0.1:10016"],
            uplink="udp://127.0.0.1:10025",
            light_time_s=0.01,
            confirm_window_s=20.0,
        ),
        SpacecraftConfig(name="TESTSAT", mdb=TESTSAT_MDB.resolve()),
    ]
    assert cfg.token_ttl_s == 600
    assert cfg.users[0] == UserConfig("alice", ("operator",), password="a")
    assert cfg.users[1] == UserConfig(
        "bob", ("viewer",), password="b", spacecraft_roles={"TIANGONG": ("operator",)}
    )
    # 2023-09-08T00:00:00Z = 1694131200 s since 1970 (date -d @1694131200 -u)
    assert isinstance(cfg.clock, ScaledClock)
    assert cfg.clock.as_dict() == {
        "epoch_ns": 1_694_131_200_000_000_000,
        "speed": 60.0,
        "reference_host_ns": 1_765_100_000_000_000_000,
    }


def test_the_single_spacecraft_form_keeps_working(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        f"mdb: {TESTSAT_MDB}\narchive: a\nlinks: [udp://127.0.0.1:0]\nconfirm_window_s: 5\n"
        "users:\n  - {name: u, roles: {TESTSAT: [operator]}, password: x}\n",
    )
    cfg = load_config(p)
    (sc,) = cfg.spacecraft
    assert (sc.name, sc.root_archive, sc.confirm_window_s) == ("", True, 5.0)
    assert cfg.clock is SYSTEM_CLOCK
    rt = Runtime.from_config(cfg)
    try:  # named after its MDB, archived at the root as before
        assert list(rt.spacecraft) == ["TESTSAT"]
        assert Path(rt.archive.path).resolve() == (tmp_path / "a").resolve()  # type: ignore[attr-defined]
        assert rt.users.authenticate("u", "x").roles_on("TESTSAT") == {"viewer", "operator"}  # type: ignore[union-attr]
    finally:
        rt.stop()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("  - name: TESTSAT\n", "  - name: TESTSAT\n    foo: 1\n"),
            "spacecraft TESTSAT: unknown keys ['foo']; allowed: cfdp, confirm_window_s, "
            "container, host_allowance_s, light_time_s, links, mdb, name, orbit, plans, site, "
            "uplink, uplink_windows",
        ),
        (
            ("  - name: TESTSAT\n    mdb", "  - name: TIANGONG\n    mdb"),
            "spacecraft TIANGONG is configured twice: give each a distinct name",
        ),
        (
            ("  - name: TESTSAT\n", "  - mdb: x\n"),
            "spacecraft[1] needs a name (its MDB's root name, e.g. TIANGONG)",
        ),
        (
            ("token_ttl_s: 600\n", "token_ttl_s: 600\nlinks: []\n"),
            "links at the top level and a 'spacecraft' list: move it into each spacecraft's entry",
        ),
        (
            ("light_time_s: 0.01", "light_time_s: -1"),
            "spacecraft TIANGONG: light_time_s must be a number >= 0 (seconds), got -1",
        ),
        (
            ('"*": [viewer]', '"ROVER": [viewer]'),
            "user bob: roles for unknown spacecraft ['ROVER']; spacecraft: TESTSAT, TIANGONG "
            '(use "*" for every spacecraft)',
        ),
        (
            ("TIANGONG: [operator]", "TIANGONG: [pilot]"),
            "user bob (spacecraft TIANGONG): unknown roles ['pilot']; roles: viewer, operator, "
            "flight_director, admin",
        ),
        (
            ("speed: 60", "speed: 0"),
            "clock: clock speed must be > 0 (1 = real time, 60 = 60x faster); got 0",
        ),
        (
            ('"2023-09-08T00:00:00Z"', '"2023-09-08T00:00:00"'),
            "clock: epoch",  # falak.utctime's own message follows: it needs a zone
        ),
    ],
)
def test_refusals_name_the_file_and_the_fix(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    assert edit[0] in TWO
    p = _write(tmp_path, TWO.replace(edit[0], edit[1], 1))
    text = _refusal(p)
    assert text.startswith(f"{p}: ")
    assert message in text


def test_a_name_that_is_not_the_mdb_s_is_refused_at_start(tmp_path: Path) -> None:
    p = _write(tmp_path, TWO.replace("  - name: TESTSAT\n", "  - name: ROVER\n"))
    cfg = load_config(p)
    with pytest.raises(InputError) as info:
        Runtime.from_config(cfg)
    assert str(info.value) == (
        f"{p}: spacecraft ROVER: its MDB {TESTSAT_MDB.resolve()} is the space system "
        "'TESTSAT': name the spacecraft TESTSAT (a spacecraft's name is its MDB's root name)"
    )
    assert not (tmp_path / "archive" / "spacecraft" / "ROVER").exists()


def test_the_clock_reaches_every_part_of_every_spacecraft(tmp_path: Path) -> None:
    text = TWO.replace("udp://127.0.0.1:10015, udp://127.0.0.1:10016", "udp://127.0.0.1:0")
    text = text.replace("udp://127.0.0.1:10025", "udp://127.0.0.1:9")  # never sent to here
    cfg = load_config(_write(tmp_path, text))
    rt = Runtime.from_config(cfg)
    try:
        assert rt.clock is cfg.clock
        for sc in rt.spacecraft.values():
            assert sc.processor.clock is cfg.clock
            assert sc.commands.clock is cfg.clock
            assert sc.stacks.clock is cfg.clock
            assert all(lk.clock is cfg.clock for lk in sc.processor.links.values())
        station = rt.get("TIANGONG")
        assert station.uplink is not None
        assert station.uplink.clock is cfg.clock
        assert station.commands.light_time_s == 0.01
        assert station.uplink.delay_s == 0.0  # light time widens windows, does not delay
    finally:
        rt.stop()


def test_the_documented_configuration_loads(tmp_path: Path) -> None:
    """docs/server.md's configuration block, with its MDB paths made absolute."""
    doc = (Path(__file__).parents[2] / "docs" / "server.md").read_text()
    (block,) = [b for b in doc.split("```yaml\n")[1:] if "spacecraft:" in b.split("```")[0]]
    text = block.split("```")[0].replace("../src/falak/missions", str(MISSIONS))
    cfg = load_config(_write(tmp_path, text))
    assert [sc.name for sc in cfg.spacecraft] == ["TIANGONG", "TESTSAT"]
    assert cfg.users[1].spacecraft_roles == {"TIANGONG": ("operator",)}
    assert cfg.clock.speed == 60


def test_orbit_is_a_tle_or_a_lunar_oem(tmp_path: Path) -> None:
    from falak.server.config import load_config

    (tmp_path / "o.oem").write_text("CCSDS_OEM_VERS = 2.0\n")
    (tmp_path / "s.tle").write_text("x\n")
    base = f"archive: ./a\nspacecraft:\n  - name: TESTSAT\n    mdb: {TESTSAT_MDB}\n"
    for orbit, tle, oem in (
        ("{oem: o.oem}", None, tmp_path / "o.oem"),
        ("{tle: s.tle}", tmp_path / "s.tle", None),
    ):
        (tmp_path / "c.yaml").write_text(base + f"    orbit: {orbit}\n")
        (sc,) = load_config(tmp_path / "c.yaml").spacecraft
        assert (sc.orbit_tle, sc.orbit_oem) == (tle, oem)
    (tmp_path / "c.yaml").write_text(base + "    orbit: {oem: o.oem, tle: s.tle}\n")
    with pytest.raises(InputError, match=r"orbit must be a mapping \{tle: FILE.tle\} \(Earth"):
        load_config(tmp_path / "c.yaml")
