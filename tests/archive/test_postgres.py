"""PostgreSQL-only behaviour: storage of segment blobs, reopening, redacted locations."""

from __future__ import annotations

import pytest

from falak.archive import open_archive
from falak.archive.postgres import PostgresArchive, _redact

from .conftest import PgServer


def test_redact_password() -> None:
    assert _redact("postgresql://ops:s3cret@db:5432/falak") == "postgresql://ops:***@db:5432/falak"
    assert _redact("postgresql://ops@db/falak") == "postgresql://ops@db/falak"


@pytest.mark.postgres
def test_segment_blobs_uncompressed_and_reopen(pg_server: PgServer) -> None:
    import psycopg

    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA storage_test")
    location = pg_server.dsn() + "?options=-csearch_path%3Dstorage_test"
    for _ in range(2):  # the second open must not alter the tables again
        with open_archive(location) as arc:
            assert isinstance(arc, PostgresArchive)
            rows = arc.params.conn.execute(
                "SELECT attname, attstorage FROM pg_attribute "
                "WHERE attrelid = 'segment_values'::regclass AND attname IN ('raw', 'eng')"
            ).fetchall()
            # 'e' = EXTERNAL: out of line, not compressed (PostgreSQL docs, pg_attribute)
            assert sorted(rows) == [("eng", "e"), ("raw", "e")]
