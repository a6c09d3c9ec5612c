"""One archive, several spacecraft: each spacecraft's sub-archive sees only its own rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from falak.archive import AlarmRecord, ParameterColumn, list_spacecraft, open_archive
from falak.ccsds.spacepacket import encode_packet
from falak.errors import InputError

from .conftest import Backend, PgServer

T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z in ns


def _fill(arc: object, apid: int, n: int, tag: str) -> None:
    from falak.archive import Archive

    assert isinstance(arc, Archive)
    pkts = [encode_packet(apid, bytes([i]) * 8, seq_count=i) for i in range(n)]
    lengths = np.array([len(p) for p in pkts], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    arc.append_packets(
        b"".join(pkts), offsets, lengths, recv_time_ns=T0 + np.arange(n, dtype=np.int64),
        link=f"udp-{tag}",
    )  # fmt: skip
    arc.write_parameters(
        f"/{tag}/hk",
        T0 + np.arange(n, dtype=np.int64),
        {f"/{tag}/temp": ParameterColumn(np.arange(n), np.arange(n) * 0.5)},
    )
    arc.append_event(T0, "sim", "info", f"hello from {tag}")
    arc.append_alarm(AlarmRecord(T0, f"/{tag}/temp", "WARNING", "1", "triggered"))
    arc.append_command({"time_ns": T0, "name": f"/{tag}/PING", "args": {}})
    arc.save_stack({"name": f"stack-{tag}", "steps": []})


def test_two_spacecraft_are_isolated(backend: Backend) -> None:
    assert list_spacecraft(backend.location) == []
    with open_archive(backend.location, spacecraft="TIANGONG") as a:
        assert a.spacecraft == "TIANGONG"
        _fill(a, 100, 5, "TIANGONG")
    with open_archive(backend.location, spacecraft="test-sat_2") as b:
        _fill(b, 200, 3, "TESTSAT")
    assert list_spacecraft(backend.location) == ["TIANGONG", "test-sat_2"]
    with open_archive(backend.location, spacecraft="TIANGONG", create=False) as a:
        st = a.packet_stats()
        assert (st.n_packets, st.by_apid) == (5, {100: 5})
        assert a.parameter_names() == ["/TIANGONG/temp"]
        assert a.export(["temp"]).names == ["time", "temp"]
        assert len(a.export(["temp"])) == 5
        assert [e.message for e in a.read_events()] == ["hello from TIANGONG"]
        assert [r.parameter for r in a.read_alarms()] == ["/TIANGONG/temp"]
        assert [c["name"] for c in a.read_commands()] == ["/TIANGONG/PING"]
        assert [s["name"] for s in a.read_stacks()] == ["stack-TIANGONG"]
        assert {str(x) for batch in a.read_packets() for x in batch.links} == {"udp-TIANGONG"}
    with open_archive(backend.location, spacecraft="test-sat_2", create=False) as b:
        st = b.packet_stats()
        assert (st.n_packets, st.by_apid) == (3, {200: 3})
        assert b.parameter_names() == ["/TESTSAT/temp"]
        assert [e.message for e in b.read_events()] == ["hello from TESTSAT"]
        assert [c["name"] for c in b.read_commands()] == ["/TESTSAT/PING"]
        assert [s["name"] for s in b.read_stacks()] == ["stack-TESTSAT"]
    with open_archive(backend.location) as root:  # the root archive saw none of it
        assert root.spacecraft is None
        assert root.packet_stats().n_packets == 0
        assert root.parameter_names() == []
        assert root.read_events() == []
        assert root.read_commands() == []
        assert root.read_stacks() == []
    assert list_spacecraft(backend.location) == ["TIANGONG", "test-sat_2"]


def test_spacecraft_reopen_keeps_data(backend: Backend) -> None:
    with open_archive(backend.location, spacecraft="SC1") as a:
        _fill(a, 100, 2, "SC1")
    with open_archive(backend.location, spacecraft="SC1") as a:  # create=True again: no reset
        assert a.packet_stats().n_packets == 2


@pytest.mark.parametrize("name", ["", "a b", "x;DROP", "ü", "a/b", "..", "x" * 55])
def test_bad_spacecraft_names(backend: Backend, name: str) -> None:
    with pytest.raises(
        InputError,
        match=r"cannot key the archive; a spacecraft name is 1 to 54 ASCII letters, digits, "
        r"'_' and '-'",
    ):
        open_archive(backend.location, spacecraft=name)
    assert list_spacecraft(backend.location) == []


def test_unknown_spacecraft_without_create(backend: Backend) -> None:
    with pytest.raises(
        InputError, match=r"no spacecraft 'MARS' in archive .*; it holds no spacecraft"
    ):
        open_archive(backend.location, spacecraft="MARS", create=False)
    open_archive(backend.location, spacecraft="ROVER").close()
    with pytest.raises(InputError, match=r"no spacecraft 'MARS' in archive .*; it holds ROVER"):
        open_archive(backend.location, spacecraft="MARS", create=False)
    assert list_spacecraft(backend.location) == ["ROVER"]


def test_names_differing_in_case_refused(backend: Backend) -> None:
    open_archive(backend.location, spacecraft="Tiangong").close()
    with pytest.raises(InputError, match="'TIANGONG' differs only in case from 'Tiangong'"):
        open_archive(backend.location, spacecraft="TIANGONG")
    assert list_spacecraft(backend.location) == ["Tiangong"]


def test_sqlite_layout(tmp_path: Path) -> None:
    with open_archive(tmp_path / "arc", spacecraft="TIANGONG") as a:
        assert Path(a.location) == tmp_path / "arc" / "spacecraft" / "TIANGONG"
    assert (tmp_path / "arc" / "spacecraft" / "TIANGONG" / "archive.sqlite").is_file()
    assert not (tmp_path / "arc" / "archive.sqlite").exists()  # no root archive made
    assert list_spacecraft(f"sqlite://{tmp_path / 'arc'}") == ["TIANGONG"]
    assert list_spacecraft(tmp_path / "nowhere") == []


@pytest.mark.postgres
def test_postgres_schema_quoted(pg_server: PgServer) -> None:
    import psycopg

    dsn = pg_server.dsn()
    try:
        with open_archive(dsn, spacecraft="Sat-1") as a:  # '-' needs a quoted identifier
            assert a.location == f"{dsn} (spacecraft Sat-1)"
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'falak_sc_')"
            ).fetchall()
            meta = conn.execute(
                'SELECT value FROM "falak_sc_sat-1".meta WHERE key = %s', ["spacecraft"]
            ).fetchall()
        assert rows == [("falak_sc_sat-1",)]
        assert meta == [("Sat-1",)]  # the name as given; the schema is lower case
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute('DROP SCHEMA IF EXISTS "falak_sc_sat-1" CASCADE')
