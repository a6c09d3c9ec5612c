"""Received files in the archive (CFDP transfers, issue 15): stored with their metadata,
listed by time, read back byte for byte, and replaced by key when a transfer resumes. Runs on
SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import hashlib

import pytest

from falak.archive import Archive, StoredFile
from falak.errors import InputError

from .conftest import Backend

T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z in ns


def test_a_file_round_trips_with_its_metadata(archive: Archive) -> None:
    data = bytes(range(256)) * 1000 + b"\x00"  # 256,001 bytes, NULs included
    fid = archive.store_file(
        T0, "img/0001.pgm", data, source="ORBITER:cfdp:1", checksum="modular:00c0ffee",
        key="cfdp:1:7", camera="NAC", exposure_ms=12,
    )  # fmt: skip
    meta, back = archive.read_file(fid)
    assert back == data
    assert meta == StoredFile(
        id=fid, time_ns=T0, name="img/0001.pgm", source="ORBITER:cfdp:1", size=len(data),
        checksum="modular:00c0ffee", sha256=hashlib.sha256(data).hexdigest(), complete=True,
        key="cfdp:1:7", missing=(), attrs={"camera": "NAC", "exposure_ms": 12},
    )  # fmt: skip
    assert archive.list_files() == [meta]


def test_files_are_listed_by_time_and_a_resumed_transfer_replaces_its_part(
    archive: Archive,
) -> None:
    a = archive.store_file(T0 + 10, "a.bin", b"a" * 10, source="X")
    part = archive.store_file(
        T0 + 5, "b.bin", b"bb", source="X", complete=False, missing=[(2, 8)], key="cfdp:1:9"
    )
    assert [f.name for f in archive.list_files()] == ["b.bin", "a.bin"]
    assert archive.list_files(T0 + 6, T0 + 20)[0].id == a
    (b,) = [f for f in archive.list_files() if f.id == part]
    assert (b.complete, b.missing, b.size) == (False, ((2, 8),), 2)
    whole = archive.store_file(T0 + 30, "b.bin", b"b" * 8, source="X", key="cfdp:1:9")
    files = archive.list_files()
    assert [(f.name, f.complete, f.size) for f in files] == [
        ("a.bin", True, 10),
        ("b.bin", True, 8),
    ]
    assert files[1].id == whole == part  # one file, whatever the contacts it took
    assert archive.read_file(part)[1] == b"b" * 8
    with pytest.raises(
        InputError, match=r"no file 99 in the archive \(ids are those of its list of files\)"
    ):
        archive.read_file(99)


def test_files_survive_reopening(backend: Backend) -> None:
    with backend.open() as a:
        fid = a.store_file(T0, "m.csv", b"t,bx\n", source="ORBITER")
    with backend.open() as a:
        assert a.read_file(fid)[1] == b"t,bx\n"
